"""Stream-shaped training: the speaker split of speech negatives, windows that end where the
stream puts a word's end, mined hard negatives, training with all of it, and calibration."""

from __future__ import annotations

import csv
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch
from model_factory import HIGH_TONE_HZ, LOW_TONE_HZ, silence, tone, tone_model
from training_helpers import WORD_TONES_HZ, make_dataset

from kws_app.config import FrontendConfig
from kws_app.dsp.frontend import FeatureExtractor
from kws_app.inference.model import OnnxModel
from training.config import AugmentConfig, DataConfig, StreamExampleConfig, TrainConfig
from training.speech_negatives import (
    TESTING,
    TRAINING,
    VALIDATION,
    SpeechNegativesError,
    SpeechSplit,
    read_manifest,
    speech_negatives,
)
from training.stream_cli import main as stream_main
from training.stream_data import read_ground_truth, speech_extent
from training.streams import NO_EXTENT, SpeechPool, StreamShaper, word_extents
from training.train import LAST_CHECKPOINT, train

RATE = 16000
FRONTEND = FrontendConfig()
CLIP = FRONTEND.clip_samples
UNKNOWN = 1
WORD_START_S, WORD_S = 0.3, 0.3


def write_speech_folder(root: Path, speakers: int = 40, with_command_row: bool = True) -> Path:
    """A negatives/speech-like folder: one 3-s recording per speaker and a manifest."""
    root.mkdir(parents=True)
    rng = np.random.default_rng(0)
    rows = []
    for index in range(speakers):
        path = root / f"corpus/spk{index}.flac"
        path.parent.mkdir(exist_ok=True)
        soundfile.write(path, 0.1 * rng.standard_normal(3 * RATE).astype(np.float32), RATE)
        rows.append((f"corpus/spk{index}.flac", "corpus", f"speaker-{index}", "3.0", "no"))
    if with_command_row:
        rows.append(("corpus/spk0.flac", "corpus", "speaker-cmd", "3.0", "yes"))
    with (root / "manifest.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(("path", "corpus", "speaker", "duration_s", "has_command_word"))
        writer.writerows(rows)
    return root


def test_every_speaker_lands_in_exactly_one_split(tmp_path: Path) -> None:
    folder = write_speech_folder(tmp_path / "speech")
    splits = {name: speech_negatives(folder, name) for name in (TRAINING, VALIDATION, TESTING)}
    speakers = {name: {r.speaker for r in rows} for name, rows in splits.items()}
    assert sum(len(s) for s in speakers.values()) == 40
    assert not (speakers[TRAINING] & speakers[TESTING] or speakers[TRAINING] & speakers[VALIDATION])
    assert speakers[TESTING] and speakers[VALIDATION] and speakers[TRAINING]
    assert "speaker-cmd" not in set().union(*speakers.values())
    # The rule depends only on the speaker's name, so it never moves.
    assert SpeechSplit().split_of("speaker-3") == SpeechSplit().split_of("speaker-3")


def test_growing_validation_moves_training_speakers_only() -> None:
    before = SpeechSplit(late_validation_percentage=0.0)
    after = SpeechSplit()
    speakers = [f"speaker-{index}" for index in range(2000)]
    moved = [s for s in speakers if before.split_of(s) != after.split_of(s)]
    assert moved, "the late validation share took no speaker"
    assert all(before.split_of(s) == TRAINING and after.split_of(s) == VALIDATION for s in moved)
    # Test speakers stay where they were, so test figures of older models still compare.
    assert [s for s in speakers if before.split_of(s) == TESTING] == [
        s for s in speakers if after.split_of(s) == TESTING
    ]


def test_a_folder_without_manifest_is_a_one_line_error(tmp_path: Path) -> None:
    with pytest.raises(SpeechNegativesError, match="manifest.csv"):
        read_manifest(tmp_path)


def _word_clip() -> np.ndarray:
    """A 1-s clip with a loud tone "word" at 0.3-0.6 s over quiet noise."""
    rng = np.random.default_rng(1)
    clip = 0.001 * rng.standard_normal(CLIP).astype(np.float32)
    start = int(WORD_START_S * RATE)
    clip[start : start + int(WORD_S * RATE)] += tone(LOW_TONE_HZ, WORD_S)
    return clip


def _shaper(config: StreamExampleConfig, pool: SpeechPool | None = None) -> StreamShaper:
    waves = np.stack([_word_clip()] * 4)
    shapeable = np.array([True, True, True, False])
    extents = word_extents(waves, shapeable)
    targets_are_words = np.array([True, True, True, False])
    return StreamShaper(
        config,
        FRONTEND,
        waves,
        extents,
        targets_are_words,
        UNKNOWN,
        pool or SpeechPool([], RATE),
    )


def test_word_extents_find_the_word_and_skip_unshapeable_rows() -> None:
    shaper = _shaper(StreamExampleConfig(enabled=True))
    start, end = shaper.extents[0]
    assert abs(start / RATE - WORD_START_S) < 0.03 and abs(end / RATE - 0.6) < 0.03
    assert shaper.extents[3, 0] == NO_EXTENT


def test_a_positive_window_ends_shortly_after_the_word() -> None:
    config = StreamExampleConfig(
        enabled=True, end_delay_ms=(50.0, 150.0), context_probability=0.0, cut_share=0.0,
        speech_share=0.0, hard_share=0.0,
    )  # fmt: skip
    shaper = _shaper(config)
    waves, targets = shaper.shape(
        np.array([0, 1, 2]), np.array([2, 2, 2]), np.random.default_rng(0)
    )
    assert list(targets) == [2, 2, 2]
    for wave in waves:
        extent = speech_extent(wave)
        assert extent is not None
        delay_ms = (CLIP - extent[1]) * 1000 / RATE
        assert 50 - 20 <= delay_ms <= 150 + 20  # 10 ms energy frames, smoothed


def test_cut_words_and_speech_are_unknown_examples() -> None:
    rng = np.random.default_rng(0)
    pool = SpeechPool([tone(HIGH_TONE_HZ, 3.0)], RATE)
    config = StreamExampleConfig(
        enabled=True, cut_share=0.25, speech_share=0.25, hard_share=0.0, context_probability=0.0
    )
    shaper = _shaper(config, pool)
    rows = np.zeros(8, dtype=np.int64)
    waves, targets = shaper.shape(rows, np.full(8, 2), rng)
    speech, hard, cut = shaper.batch_counts(8)
    assert (speech, hard, cut) == (2, 0, 2)
    assert list(targets) == [2] * 4 + [UNKNOWN] * 4
    for wave in waves[-cut:]:
        # A cut word is still sounding at the window's end.
        assert np.abs(wave[-RATE // 100 :]).max() > 0.1


def test_mining_collects_the_windows_the_model_fires_on() -> None:
    class LoudIsWord(torch.nn.Module):
        """Scores the last label high when the clip is loud: a stand-in keyword detector."""

        def forward(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            loud = features.amax(dim=(1, 2))
            logits = torch.stack([torch.zeros_like(loud), torch.zeros_like(loud), loud], dim=1)
            return logits, features.mean(dim=1)

    recording = np.concatenate([silence(3.0), tone(LOW_TONE_HZ, 1.5), silence(3.0)])
    pool = SpeechPool([0.001 * np.ones(RATE * 5, dtype=np.float32), recording], RATE)
    config = StreamExampleConfig(enabled=True, mining_threshold=0.9, mining_hop_ms=100)
    shaper = _shaper(config, pool)
    found = shaper.mine(LoudIsWord(), FeatureExtractor(FRONTEND), [2], torch.device("cpu"))
    assert found and all(h.recording == 1 for h in found)
    starts_s = [h.start / RATE for h in found]
    assert min(starts_s) >= 2.0 and max(starts_s) <= 4.5
    # The hard negatives join later batches as _unknown_.
    waves, targets = replace_shares(shaper).shape(
        np.zeros(10, np.int64), np.full(10, 2), np.random.default_rng(0)
    )
    assert (targets == UNKNOWN).sum() >= 2


def replace_shares(shaper: StreamShaper) -> StreamShaper:
    shaper.config = replace(shaper.config, hard_share=0.2, speech_share=0.0, cut_share=0.0)
    return shaper


@pytest.mark.slow
def test_training_with_stream_examples_runs_and_mines(tmp_path: Path) -> None:
    data = make_dataset(tmp_path / "data", speakers=12)
    speech = write_speech_folder(tmp_path / "speech", speakers=6)
    config = TrainConfig(
        model_name="tcresnet",
        epochs=2,
        batch_size=16,
        learning_rate=1e-2,
        warmup_epochs=0.1,
        device="cpu",
        threads=1,
        output_dir=str(tmp_path / "run"),
        data=DataConfig(data_dir=str(data), wanted_words=tuple(WORD_TONES_HZ)),
        augment=AugmentConfig(),
        stream=StreamExampleConfig(
            enabled=True, speech_dirs=(str(speech),), mining_points=(0.5,), mining_threshold=0.0
        ),
    )
    result = train(config, progress=False)
    assert (tmp_path / "run" / LAST_CHECKPOINT).exists()
    assert result.epochs_run == 2
    checkpoint = torch.load(tmp_path / "run" / LAST_CHECKPOINT, weights_only=True)
    assert '"speech_training_s"' in checkpoint["training_data"]


def _tone_data(root: Path) -> Path:
    from test_stream_data import make_tone_dataset

    return make_tone_dataset(root)


def test_make_stream_without_repeats_uses_each_negative_once(tmp_path: Path) -> None:
    data = _tone_data(tmp_path)
    wav, labels = tmp_path / "neg.wav", tmp_path / "neg.csv"
    code = stream_main(
        ["make-stream", "--data-dir", str(data), "--negatives-only", "--no-repeat",
         "--duration-s", "600", "--out", str(wav), "--labels", str(labels)]
    )  # fmt: skip
    assert code == 0
    sources = [word.source for word in read_ground_truth(labels)]
    assert len(sources) == len(set(sources)) == 3
    assert soundfile.info(str(wav)).duration < 60


def test_calibration_writes_per_word_thresholds_into_the_model(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    data = _tone_data(tmp_path)
    model = tone_model(tmp_path / "tone.onnx")
    cmd_wav, cmd_csv = tmp_path / "cmd.wav", tmp_path / "cmd.csv"
    neg_wav, neg_csv = tmp_path / "neg.wav", tmp_path / "neg.csv"
    assert stream_main(
        ["make-stream", "--data-dir", str(data), "--split", "validation", "--words", "low,high",
         "--duration-s", "40", "--seed", "3", "--out", str(cmd_wav), "--labels", str(cmd_csv)]
    ) == 0  # fmt: skip
    assert stream_main(
        ["make-stream", "--data-dir", str(data), "--negatives-only", "--duration-s", "30",
         "--out", str(neg_wav), "--labels", str(neg_csv)]
    ) == 0  # fmt: skip
    out = tmp_path / "calibrated.onnx"
    code = stream_main(
        ["calibrate", "--model", str(model), "--wav", str(cmd_wav), "--labels", str(cmd_csv),
         "--negatives-wav", str(neg_wav), "--negatives-labels", str(neg_csv),
         "--average-window-ms", "300,500", "--minimum-count", "3",
         "--max-latency-p95-ms", "2000", "--max-latency-median-ms", "2000", "--out", str(out)]
    )  # fmt: skip
    assert code == 0
    assert "chosen:" in capsys.readouterr().out
    points = OnnxModel(out, prefer_gpu=False).operating_points
    assert points is not None and set(points.thresholds) == {"low", "high"}
    assert points.details["average_window_ms"] in (300, 500)
    # What to expect on sentences calibration never saw is stored with the points.
    assert points.details["cross_check_false_accepts_per_hour"] >= 0.0
    # The copy keeps everything else of the model.
    assert OnnxModel(out, prefer_gpu=False).labels == OnnxModel(model, prefer_gpu=False).labels
