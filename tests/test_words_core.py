"""Custom words end to end on tone models: learn, detect, forget, persist, retrain."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from model_factory import tone_model
from words_helpers import (
    HUM_HZ,
    LOW_HZ,
    OTHER_HZ,
    RATE,
    TEST_DECODER,
    TEST_STREAM,
    WHISTLE_HZ,
    detected_labels,
    examples,
    stream,
    tone,
    words_tone_model,
)

from kws_app.inference.model import OnnxModel
from kws_app.inference.pipeline import StreamingPipeline, replay
from kws_app.session.vocabulary import with_custom_words
from kws_app.words.calibration import describe_operating_point
from kws_app.words.head import HeadError, WordHead
from kws_app.words.refresh import learn
from kws_app.words.scorer import CustomWordScorer, available_shares, combine
from kws_app.words.store import WordStore, WordStoreError, normalise_name
from kws_app.words.synthetic import SYNTHETIC_TAKES_KEY, find_espeak
from kws_app.words.trainer import Augmenter, TrainerConfig, TrainingError, WordAudio, WordTrainer


@pytest.fixture
def words_model_path(tmp_path: Path) -> Path:
    """A tone model whose `_unknown_` fires on loud sounds outside its word bands."""
    return words_tone_model(tmp_path / "words_tone.onnx")


@pytest.fixture
def model(words_model_path: Path) -> OnnxModel:
    return OnnxModel(words_model_path, prefer_gpu=False)


@pytest.fixture
def store(tmp_path: Path) -> WordStore:
    return WordStore(tmp_path / "words")


def test_learned_word_is_detected_and_others_are_not(model: OnnxModel, store: WordStore) -> None:
    trainer = WordTrainer(model, model.path)
    heads = learn(trainer, store, "whistle", examples(WHISTLE_HZ), RATE).heads
    scorer = trainer.scorer(heads)
    assert scorer.labels == (*model.labels, "whistle")
    # The new word fires on its sound, base words still fire on theirs, and a sound the user
    # never taught (3 kHz) fires nothing.
    assert detected_labels(scorer, stream(WHISTLE_HZ, LOW_HZ, OTHER_HZ, WHISTLE_HZ)) == [
        "whistle",
        "low",
        "whistle",
    ]
    assert detected_labels(model, stream(WHISTLE_HZ)) == []


def test_two_words_are_told_apart(model: OnnxModel, store: WordStore) -> None:
    trainer = WordTrainer(model, model.path)
    learn(trainer, store, "whistle", examples(WHISTLE_HZ), RATE)
    heads = learn(trainer, store, "hum", examples(HUM_HZ, seed=3), RATE).heads
    assert [name for name, _ in heads] == ["whistle", "hum"]
    labels = detected_labels(trainer.scorer(heads), stream(HUM_HZ, WHISTLE_HZ))
    assert labels == ["hum", "whistle"]


def test_removed_word_is_no_longer_detected(model: OnnxModel, store: WordStore) -> None:
    learn(WordTrainer(model, model.path), store, "whistle", examples(WHISTLE_HZ), RATE)
    assert detected_labels(with_custom_words(model, store), stream(WHISTLE_HZ)) == ["whistle"]
    store.remove("whistle")
    assert store.words() == []
    assert with_custom_words(model, store) is model


def test_set_scorer_makes_a_word_live_in_a_running_pipeline(
    model: OnnxModel, store: WordStore
) -> None:
    pipeline = StreamingPipeline(model, RATE, TEST_STREAM, TEST_DECODER)
    audio = stream(WHISTLE_HZ, WHISTLE_HZ)
    half = audio.shape[0] // 2
    assert replay(pipeline, audio[:half], RATE // 10) == []
    trainer = WordTrainer(model, model.path)
    pipeline.set_scorer(
        trainer.scorer(learn(trainer, store, "whistle", examples(WHISTLE_HZ), RATE).heads)
    )
    assert [d.label for d in replay(pipeline, audio[half:], RATE // 10)] == ["whistle"]


def test_a_word_is_calibrated_and_decoded_at_the_same_command_share(model: OnnxModel) -> None:
    # Where the base model gives a command word all the mass, a word may take none of it at the
    # default share and all of it at share 1: the trainer's calibration and its scorer agree.
    row = np.zeros((1, len(model.labels)), dtype=np.float32)
    row[0, model.labels.index("low")] = 1.0
    taken = {}
    for command_share in (0.0, 1.0):
        trainer = WordTrainer(model, model.path, config=TrainerConfig(command_share=command_share))
        assert trainer.available_mass(row, 1)[0] == pytest.approx(command_share)
        head = trainer.train_audio(WordAudio("whistle", examples(WHISTLE_HZ), None), [])
        embedding = trainer.embed([examples(WHISTLE_HZ)[0]])
        rows = trainer.scorer([("whistle", head)]).scores_from_outputs(row, embedding)
        taken[command_share] = float(rows[0, -1])
    assert taken[0.0] == 0.0
    assert taken[1.0] > 0.5


def test_combined_rows_are_distributions() -> None:
    base = np.array([[0.1, 0.1, 0.7, 0.1], [0.25, 0.25, 0.25, 0.25]], dtype=np.float32)
    scores = np.array([[0.0, 0.0], [0.9, 0.3]], dtype=np.float32)
    for command_share in (0.0, 0.5, 1.0):
        shares = available_shares(("_silence_", "_unknown_", "low", "high"), command_share)
        rows = combine(base, scores, shares)
        assert rows.shape == (2, 6)
        np.testing.assert_allclose(rows.sum(axis=1), 1.0, rtol=1e-6)
        np.testing.assert_allclose(rows[0, :4], base[0], rtol=1e-6)  # no word, no change
        available = 0.25 + 0.5 * command_share  # all of _unknown_, none of _silence_
        assert rows[1, 4] == pytest.approx(0.9 * available * 0.75, rel=1e-5)
        assert rows[1, 5] == pytest.approx(0.9 * available * 0.25, rel=1e-5)


def test_a_model_change_retrains_from_the_stored_examples(
    model: OnnxModel, store: WordStore, tmp_path: Path
) -> None:
    learn(WordTrainer(model, model.path), store, "whistle", examples(WHISTLE_HZ), RATE)
    first = store.head(store.get("whistle"))
    other_path = words_tone_model(tmp_path / "other.onnx", name="retrained")
    other = OnnxModel(other_path, prefer_gpu=False)
    scorer = with_custom_words(other, store)
    assert isinstance(scorer, CustomWordScorer)
    second = store.head(store.get("whistle"))
    assert first is not None and second is not None and first.model_id != second.model_id
    assert detected_labels(scorer, stream(WHISTLE_HZ)) == ["whistle"]


def test_an_unreadable_head_is_retrained(model: OnnxModel, store: WordStore) -> None:
    learn(WordTrainer(model, model.path), store, "whistle", examples(WHISTLE_HZ), RATE)
    word = store.get("whistle")
    (word.folder / "head.json").write_text("{not json")
    assert store.head(word) is None
    assert detected_labels(with_custom_words(model, store), stream(WHISTLE_HZ)) == ["whistle"]
    assert store.head(word) is not None


@pytest.mark.parametrize(
    "text",
    [
        '{"format": "kws-word-head", "version": 1, "model_id": "x", "embedding_size": 2, '
        '"weights": [1, 2, 3], "bias": 0}',
        '{"format": "kws-word-head", "version": 1, "model_id": "x", "embedding_size": 1, '
        '"weights": ["1"], "bias": 0}',
        '{"format": "kws-word-head", "version": 1, "model_id": "x", "embedding_size": 1, '
        '"weights": [1e400], "bias": 0}',
        '{"format": "kws-word-head", "version": 9}',
        "[]",
    ],
)
def test_bad_heads_are_refused(text: str) -> None:
    with pytest.raises(HeadError):
        WordHead.from_json(text)


@pytest.mark.parametrize("name", ["", "   ", "_secret", "../etc", "a/b", "x" * 33, "dot."])
def test_bad_names_are_refused(name: str) -> None:
    with pytest.raises(WordStoreError):
        normalise_name(name)


def test_names_are_normalised_and_unique(model: OnnxModel, store: WordStore) -> None:
    assert normalise_name("  hey   Marvin ") == "hey Marvin"
    trainer = WordTrainer(model, model.path)
    with pytest.raises(WordStoreError, match="already a word of the model"):
        learn(trainer, store, "LOW", examples(WHISTLE_HZ), RATE)
    with pytest.raises(WordStoreError, match="at least|5 to"):
        learn(trainer, store, "whistle", examples(WHISTLE_HZ, count=3), RATE)
    learn(trainer, store, "whistle", examples(WHISTLE_HZ), RATE)
    with pytest.raises(WordStoreError, match="already exists"):
        learn(trainer, store, "Whistle", examples(WHISTLE_HZ), RATE)
    store.rename("whistle", "Pfeife")
    assert [w.name for w in store.words()] == ["Pfeife"]
    assert json.loads((store.get("pfeife").folder / "word.json").read_text())["name"] == "Pfeife"


def test_a_model_without_embedding_cannot_learn(tmp_path: Path) -> None:
    path = tone_model(tmp_path / "plain.onnx", with_embedding=False)
    with pytest.raises(TrainingError, match="embedding"):
        WordTrainer(OnnxModel(path, prefer_gpu=False), path)


def test_shipped_negatives_match_the_shipped_model() -> None:
    """A new default model or word embedder needs `bench/words_negatives.py` rerun, or heads
    lose their negatives."""
    from kws_app.paths import assets_dir, default_model_path
    from kws_app.words.embedder import (
        EMBEDDER_FILE_NAME,
        PairedModel,
        identity_paths,
        words_model,
    )
    from kws_app.words.trainer import NEGATIVES_FILE_NAME, load_shipped_negatives, model_id_of

    model_path = default_model_path()
    if not model_path.is_file():
        pytest.skip("no shipped model in assets/")
    base = OnnxModel(model_path, prefer_gpu=False)
    model, problem = words_model(base)
    # The shipped model names the shipped word embedder, and it loads.
    assert problem is None and isinstance(model, PairedModel)
    assert model.embedder.path == assets_dir() / EMBEDDER_FILE_NAME
    embedding_size = model.embedder.info.embedding_size
    assert embedding_size is not None
    negatives = load_shipped_negatives(
        assets_dir() / NEGATIVES_FILE_NAME, model_id_of(identity_paths(model)), embedding_size
    )
    assert negatives is not None, "assets/words-negatives.npz was made for another model"
    assert "_speech_" in negatives.labels and "nine" in negatives.labels
    assert negatives.excluding("Nine")[1].shape[0] < negatives.embeddings.shape[0]
    # The words the custom-word benchmark measures were never trained on, here or in the model.
    assert not {"happy", "house", "marvin", "sheila", "wow"} & set(negatives.labels)
    # Each row keeps the base model's probabilities: custom words are calibrated on them.
    assert negatives.probabilities is not None
    assert negatives.probabilities.shape == (negatives.embeddings.shape[0], len(base.labels))
    # And the whitening the heads are fitted through, one row and column per embedding value.
    assert negatives.whitening is not None
    assert negatives.whitening.shape == (embedding_size, embedding_size)


@pytest.mark.parametrize("as_noise", [False, True])
def test_the_users_own_speech_is_negatives_and_not_noise_under_the_word(
    model: OnnxModel, monkeypatch: pytest.MonkeyPatch, as_noise: bool
) -> None:
    talking = tone(HUM_HZ, 5.0, amplitude=0.3)  # the "your speech" recording
    noise_lists: list[list[np.ndarray]] = []
    real_variants = Augmenter.variants

    def recording(self: Augmenter, samples, count, noises):  # type: ignore[no-untyped-def]
        noise_lists.append(list(noises))
        return real_variants(self, samples, count, noises)

    monkeypatch.setattr(Augmenter, "variants", recording)
    config = TrainerConfig(background_as_noise=as_noise)
    trainer = WordTrainer(model, model.path, config=config)
    trainer.train_audio(WordAudio("whistle", examples(WHISTLE_HZ), talking), [])

    under_the_word = any(any(n is talking for n in noises) for noises in noise_lists)
    assert under_the_word == as_noise
    assert not TrainerConfig().background_as_noise, "the default keeps it out of the positives"


def test_synthetic_takes_teach_the_word_in_voices_the_users_takes_lack(model: OnnxModel) -> None:
    # The user's five takes are one "voice" (a 2 kHz whistle); synthetic takes add another one
    # (2.6 kHz, beyond the trainer's speed perturbation) and only then is it found there too.
    other_voice_hz = 2600.0
    trainer = WordTrainer(model, model.path)
    takes = examples(WHISTLE_HZ)
    alone = trainer.train_audio(WordAudio("whistle", takes, None), [])
    helped = trainer.train_audio(
        WordAudio("whistle", takes, None, synthetic=examples(other_voice_hz, count=8, seed=5)), []
    )
    heard = stream(WHISTLE_HZ, other_voice_hz, OTHER_HZ)
    assert detected_labels(trainer.scorer([("whistle", alone)]), heard) == ["whistle"]
    assert detected_labels(trainer.scorer([("whistle", helped)]), heard) == ["whistle", "whistle"]


def test_a_spelled_word_learns_from_synthetic_voices(model: OnnxModel, store: WordStore) -> None:
    if find_espeak() is None:
        pytest.skip("espeak-ng is not installed (apt-get install espeak-ng)")
    trainer = WordTrainer(model, model.path)
    heads = dict(
        learn(trainer, store, "whistle", examples(WHISTLE_HZ), RATE, spelling="whistle").heads
    )
    details = heads["whistle"].details
    assert details[SYNTHETIC_TAKES_KEY] == TrainerConfig().synthetic.takes
    assert "synthetic voices" in describe_operating_point(details)
    assert store.get("whistle").record.spelling == "whistle"
    assert detected_labels(trainer.scorer(list(heads.items())), stream(WHISTLE_HZ)) == ["whistle"]


def test_without_espeak_a_spelled_word_learns_from_its_own_takes(
    model: OnnxModel,
    store: WordStore,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no espeak-ng on it
    trainer = WordTrainer(model, model.path)
    heads = dict(
        learn(trainer, store, "whistle", examples(WHISTLE_HZ), RATE, spelling="whistle").heads
    )
    assert heads["whistle"].details[SYNTHETIC_TAKES_KEY] == 0
    assert "espeak-ng is not installed" in caplog.text
    assert detected_labels(trainer.scorer(list(heads.items())), stream(WHISTLE_HZ)) == ["whistle"]


def test_synthetic_negatives_are_among_the_words_negatives(
    model: OnnxModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    other_word = tone(OTHER_HZ, 0.5, amplitude=0.3)  # "another word, said synthetically"
    calls: list[tuple[np.ndarray, int]] = []
    real_variants = Augmenter.variants

    def recording(self: Augmenter, samples, count, noises):  # type: ignore[no-untyped-def]
        calls.append((samples, count))
        return real_variants(self, samples, count, noises)

    monkeypatch.setattr(Augmenter, "variants", recording)
    config = TrainerConfig(synthetic_on_users_floor=False)
    trainer = WordTrainer(model, model.path, config=config)
    takes = examples(WHISTLE_HZ)
    alone = trainer.train_audio(WordAudio("whistle", takes, None), [])
    audio = WordAudio("whistle", takes, None, synthetic_negatives=[other_word])
    helped = trainer.train_audio(audio, [])
    assert [count for samples, count in calls if samples is other_word] == [1]
    assert helped.details["negatives"] == alone.details["negatives"] + 1
