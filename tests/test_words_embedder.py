"""A command model that names a word embedder: custom words read the embedder's embedding."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from model_factory import tone_model
from words_helpers import (
    LOW_HZ,
    OTHER_HZ,
    RATE,
    TEST_DECODER_ARGS,
    WHISTLE_HZ,
    detected_labels,
    examples,
    stream,
    words_tone_model,
    write_examples,
)

from kws_app.cli import main
from kws_app.config import FrontendConfig
from kws_app.inference.model import META_WORD_EMBEDDER, ModelError, OnnxModel
from kws_app.session.vocabulary import build_vocabulary
from kws_app.words.embedder import (
    PairedModel,
    command_model,
    identity_paths,
    load_embedder,
    words_model,
)
from kws_app.words.refresh import learn
from kws_app.words.store import WordStore
from kws_app.words.trainer import WordTrainer, model_id_of
from kws_app.words.wavio import write_wav
from training.word_embedder import PairingError, pair_embedder

EMBEDDER = "embedder.onnx"


def command_model_naming(folder: Path, embedder: str = EMBEDDER) -> OnnxModel:
    """A command model with no embedding of its own (it could never learn a word alone) that
    names `embedder` as its word embedder."""
    path = words_tone_model(
        folder / "commands.onnx",
        "commands",
        with_embedding=False,
        metadata={META_WORD_EMBEDDER: embedder},
    )
    return OnnxModel(path, prefer_gpu=False)


@pytest.fixture
def embedder_path(tmp_path: Path) -> Path:
    return words_tone_model(tmp_path / EMBEDDER, "embedder")


def test_words_learned_through_the_named_embedder_are_detected(
    tmp_path: Path, embedder_path: Path
) -> None:
    base = command_model_naming(tmp_path)
    model, problem = words_model(base)
    assert problem is None
    assert isinstance(model, PairedModel)
    assert command_model(model) is base
    trainer = WordTrainer(model, identity_paths(model))
    scorer = trainer.scorer(
        learn(trainer, WordStore(tmp_path / "words"), "whistle", examples(WHISTLE_HZ), RATE).heads
    )
    # The window shows the command model: its labels, its file.
    assert scorer.labels == (*base.labels, "whistle")
    assert scorer.path == base.path
    assert detected_labels(scorer, stream(WHISTLE_HZ, LOW_HZ, OTHER_HZ)) == ["whistle", "low"]


def test_the_pair_gives_the_command_models_probabilities_and_the_embedders_embedding(
    tmp_path: Path, embedder_path: Path
) -> None:
    base = OnnxModel(words_tone_model(tmp_path / "commands.onnx"), prefer_gpu=False)
    embedder = OnnxModel(embedder_path, prefer_gpu=False)
    features = np.random.default_rng(0).normal(size=(3, *base.frontend.input_shape))
    features = features.astype(np.float32)
    probabilities, embedding = PairedModel(base, embedder).run(features)
    np.testing.assert_array_equal(probabilities, base.predict(features))
    np.testing.assert_array_equal(embedding, embedder.run(features)[1])


def test_a_head_is_valid_only_for_the_pair_it_was_trained_on(
    tmp_path: Path, embedder_path: Path
) -> None:
    base = command_model_naming(tmp_path)
    model, _ = words_model(base)
    trainer = WordTrainer(model, identity_paths(model))
    store = WordStore(tmp_path / "words")
    ((_, head),) = learn(trainer, store, "whistle", examples(WHISTLE_HZ), RATE).heads
    assert head.model_id == model_id_of((base.path, embedder_path))
    assert head.model_id != model_id_of(base.path)
    # Stored and read back (the next start), it is still current: no retraining.
    (stored,) = store.words()
    reloaded = store.head(stored)
    assert reloaded is not None and trainer.head_is_current(reloaded)
    # Another embedder under the same name: the stored head is stale and retrains.
    words_tone_model(embedder_path, "another embedder")
    model, _ = words_model(base)
    assert not WordTrainer(model, identity_paths(model)).head_is_current(head)


def test_a_missing_embedder_leaves_words_working_and_says_so(tmp_path: Path) -> None:
    base = OnnxModel(
        words_tone_model(tmp_path / "commands.onnx", metadata={META_WORD_EMBEDDER: "missing.onnx"}),
        prefer_gpu=False,
    )
    model, problem = words_model(base)
    assert model is base
    assert problem is not None and "missing.onnx" in problem and "\n" not in problem
    store = WordStore(tmp_path / "words")
    learn(WordTrainer(base, base.path), store, "whistle", examples(WHISTLE_HZ), RATE)
    vocabulary = build_vocabulary(base, store)
    assert vocabulary.words == ("whistle",)
    assert any("missing.onnx" in message for message in vocabulary.messages)

    # The user puts the file back: the next build pairs again and retrains the word for it.
    words_tone_model(tmp_path / "missing.onnx", "embedder")
    again = build_vocabulary(base, store, trainer=vocabulary.trainer)
    assert again.trainer is not None and isinstance(again.trainer.model, PairedModel)
    assert again.words == ("whistle",)
    assert not again.messages
    assert again.base is base


@pytest.mark.parametrize("name", ["../elsewhere.onnx", "/etc/passwd", "sub/embedder.onnx", ".."])
def test_a_model_cannot_make_the_app_open_a_file_outside_its_folder(
    tmp_path: Path, name: str
) -> None:
    base = OnnxModel(
        words_tone_model(tmp_path / "commands.onnx", metadata={META_WORD_EMBEDDER: name}),
        prefer_gpu=False,
    )
    model, problem = words_model(base)
    assert model is base
    assert problem is not None and "file name beside the model" in problem


def test_an_embedder_with_another_front_end_is_refused(tmp_path: Path) -> None:
    base = OnnxModel(words_tone_model(tmp_path / "commands.onnx"), prefer_gpu=False)
    other = tone_model(tmp_path / "other.onnx", config=FrontendConfig(num_mel_bins=32))
    with pytest.raises(ModelError, match="other features"):
        load_embedder(other, base)


def test_an_embedder_without_an_embedding_is_refused(tmp_path: Path) -> None:
    base = OnnxModel(words_tone_model(tmp_path / "commands.onnx"), prefer_gpu=False)
    bare = tone_model(tmp_path / "bare.onnx", with_embedding=False)
    with pytest.raises(ModelError, match="no 'embedding' output"):
        load_embedder(bare, base)


def test_pair_embedder_names_the_embedder_in_the_model_file(
    tmp_path: Path, embedder_path: Path
) -> None:
    (tmp_path / "source").mkdir()
    source = words_tone_model(tmp_path / "source" / "commands.onnx", "commands")
    out = tmp_path / "paired.onnx"
    pair_embedder(source, embedder_path, out)
    paired = OnnxModel(out, prefer_gpu=False)
    assert paired.info.metadata[META_WORD_EMBEDDER] == EMBEDDER
    assert isinstance(words_model(paired)[0], PairedModel)
    # The source keeps its metadata; only the copy names the embedder.
    assert META_WORD_EMBEDDER not in OnnxModel(source, prefer_gpu=False).info.metadata


def test_pair_embedder_refuses_an_embedder_the_app_would_not_find(
    tmp_path: Path, embedder_path: Path
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    shutil.copy(embedder_path, elsewhere / EMBEDDER)
    source = words_tone_model(tmp_path / "commands.onnx", "commands")
    with pytest.raises(PairingError, match="output's folder"):
        pair_embedder(source, elsewhere / EMBEDDER, tmp_path / "paired.onnx")
    assert not (tmp_path / "paired.onnx").exists()


def test_the_command_line_learns_lists_and_replays_words_through_the_pair(
    tmp_path: Path, embedder_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = command_model_naming(tmp_path)
    store = tmp_path / "store"
    takes = write_examples(tmp_path / "takes", WHISTLE_HZ)
    common = ("words", "--store", str(store), "--model", str(base.path))
    assert main([*common, "add", "whistle", "--from-wav-dir", str(takes)]) == 0
    assert main([*common, "list"]) == 0
    listed = capsys.readouterr().out
    assert "whistle\t5 examples\ttrained, " in listed, listed
    wav = tmp_path / "stream.wav"
    write_wav(wav, stream(WHISTLE_HZ, LOW_HZ), RATE)
    code = main(
        ["--wav", str(wav), "--model", str(base.path), "--words-store", str(store)]
        + list(TEST_DECODER_ARGS)
    )
    out = capsys.readouterr().out
    assert code == 0
    assert [json.loads(line)["label"] for line in out.splitlines()] == ["whistle", "low"]


def test_a_blank_embedder_name_means_none_and_the_trainer_is_kept(tmp_path: Path) -> None:
    base = OnnxModel(
        words_tone_model(tmp_path / "commands.onnx", metadata={META_WORD_EMBEDDER: "  "}),
        prefer_gpu=False,
    )
    assert words_model(base) == (base, None)
    store = WordStore(tmp_path / "words")
    learn(WordTrainer(base, base.path), store, "whistle", examples(WHISTLE_HZ), RATE)
    first = build_vocabulary(base, store)
    again = build_vocabulary(base, store, trainer=first.trainer)
    assert again.trainer is first.trainer
    assert again.words == ("whistle",) and not again.messages
