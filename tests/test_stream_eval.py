"""eval-stream and sweep: TF's matching rules, exact decoder replay, and the commands end to end."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from model_factory import tone_model
from test_stream_data import make_tone_dataset

from kws_app.audio.files import read_audio
from kws_app.config import DecoderConfig, StreamConfig
from kws_app.inference.model import OnnxModel
from kws_app.inference.pipeline import Detection
from training.stream_cli import main as stream_main
from training.stream_data import PlacedWord
from training.stream_eval import (
    DecoderSweep,
    Outcome,
    StreamMetrics,
    SweepRow,
    choose_setting,
    decode,
    match_detections,
    score_stream,
    stream_metrics,
)

TOLERANCE_MS = 750
# Two command words ending at 2 s and 5 s, and an unknown word ending at 8 s.
WORDS = (
    PlacedWord("yes", 1600, 2000, ""),
    PlacedWord("no", 4500, 5000, ""),
    PlacedWord("_unknown_", 7500, 8000, ""),
)


def _outcomes(*detections: tuple[int, str]) -> list[Outcome]:
    found = [Detection(time_ms, label, 0.9) for time_ms, label in detections]
    return [m.outcome for m in match_detections(WORDS, found, TOLERANCE_MS)]


def test_correct_wrong_and_false_positive() -> None:
    assert _outcomes((2300, "yes")) == [Outcome.CORRECT]
    assert _outcomes((2300, "no")) == [Outcome.WRONG]
    assert _outcomes((3500, "yes")) == [Outcome.FALSE_POSITIVE]


def test_detection_on_an_unknown_word_is_a_false_positive() -> None:
    assert _outcomes((8200, "yes")) == [Outcome.FALSE_POSITIVE]


def test_double_hit_on_one_word_counts_the_second_as_wrong() -> None:
    assert _outcomes((2100, "yes"), (2600, "yes")) == [Outcome.CORRECT, Outcome.WRONG]
    metrics = stream_metrics(WORDS, [Detection(2100, "yes", 1), Detection(2600, "yes", 1)], 10.0)
    assert (metrics.matched, metrics.correct, metrics.wrong, metrics.repeats) == (1, 1, 1, 1)


def test_tolerance_edges_are_inclusive() -> None:
    assert _outcomes((2000 + TOLERANCE_MS, "yes")) == [Outcome.CORRECT]
    assert _outcomes((2000 - TOLERANCE_MS, "yes")) == [Outcome.CORRECT]
    assert _outcomes((2000 + TOLERANCE_MS + 1, "yes")) == [Outcome.FALSE_POSITIVE]
    assert _outcomes((2000 - TOLERANCE_MS - 1, "yes")) == [Outcome.FALSE_POSITIVE]


def test_the_first_word_in_reach_is_the_match() -> None:
    close = (PlacedWord("yes", 800, 1000, ""), PlacedWord("no", 1300, 1500, ""))
    matches = match_detections(close, [Detection(1400, "no", 0.9)], TOLERANCE_MS)
    assert matches[0].outcome is Outcome.WRONG  # "yes" (ends 1000) is first within 1400 +- 750
    assert matches[0].word == close[0]


def test_metrics_percentages_rates_and_latency() -> None:
    found = [Detection(2300, "yes", 1), Detection(5100, "no", 1), Detection(9000, "no", 1)]
    metrics = stream_metrics(WORDS, found, duration_s=1800.0, tolerance_ms=TOLERANCE_MS)
    assert metrics.command_words == 2
    assert (metrics.matched_percent, metrics.correct_percent, metrics.wrong_percent) == (
        100.0,
        100.0,
        0.0,
    )
    assert metrics.false_positives == 1
    assert metrics.false_accepts_per_hour == pytest.approx(2.0)
    assert metrics.latency_median_ms == pytest.approx(200.0)  # (300 + 100) / 2 after word ends
    assert metrics.latency_p95_ms == pytest.approx(290.0)


@pytest.fixture
def tone_stream(tmp_path: Path) -> tuple[Path, Path, Path]:
    """A 30-s stream of tone words at 10 dB SNR, its labels, and the tone model."""
    data = make_tone_dataset(tmp_path)
    wav, labels = tmp_path / "stream.wav", tmp_path / "stream.csv"
    code = stream_main(
        ["make-stream", "--data-dir", str(data), "--out", str(wav), "--labels", str(labels),
         "--duration-s", "30", "--words", "low,high", "--seed", "11"]
    )  # fmt: skip
    assert code == 0
    return wav, labels, tone_model(tmp_path / "tone.onnx")


def test_stored_scores_replay_the_pipeline_exactly(tone_stream: tuple[Path, Path, Path]) -> None:
    wav, _, model_path = tone_stream
    audio, rate = read_audio(wav)
    model = OnnxModel(model_path, prefer_gpu=False)
    settings = [
        DecoderConfig(),
        DecoderConfig(average_window_ms=300, detection_threshold=0.5, suppression_ms=500),
        DecoderConfig(average_window_ms=1000, detection_threshold=0.9, minimum_count=10),
        DecoderConfig(average_window_ms=200, detection_threshold=0.3, suppression_ms=0,
                      minimum_count=1),
    ]  # fmt: skip
    for config in settings:
        scores, pipeline_detections = score_stream(model, audio, rate, StreamConfig(), config)
        assert pipeline_detections, "the tone words should be heard"
        assert decode(scores, config) == pipeline_detections
        sweep = DecoderSweep(scores, config.average_window_ms, config.minimum_count)
        fast = sweep.detections(config.detection_threshold, config.suppression_ms)
        assert fast == pipeline_detections


def test_eval_stream_end_to_end(
    tone_stream: tuple[Path, Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    wav, labels, model_path = tone_stream
    details = tmp_path / "details.csv"
    code = stream_main(
        ["eval-stream", "--model", str(model_path), "--wav", str(wav), "--labels", str(labels),
         "--details", str(details), "--json", str(tmp_path / "figures.json")]
    )  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0
    assert "% correct" in out and "false accepts per hour" in out
    rows = list(csv.DictReader(details.open()))
    assert rows and sum(r["outcome"] == "correct" for r in rows) >= len(rows) - 1
    assert (tmp_path / "figures.json").exists()


def test_sweep_writes_csv_and_png(
    tone_stream: tuple[Path, Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    wav, labels, model_path = tone_stream
    out_csv, out_png = tmp_path / "sweep.csv", tmp_path / "sweep.png"
    code = stream_main(
        ["sweep", "--model", str(model_path), "--wav", str(wav), "--labels", str(labels),
         "--negatives-wav", str(wav), "--negatives-labels", str(labels),
         "--thresholds", "0.5,0.7,0.9", "--average-window-ms", "300,500",
         "--suppression-ms", "1000", "--minimum-count", "3", "--clip-stride-ms", "30,50",
         "--csv", str(out_csv), "--png", str(out_png)]
    )  # fmt: skip
    assert code == 0, capsys.readouterr().err
    rows = list(csv.DictReader(out_csv.open()))
    assert len(rows) == 3 * 2 * 2
    assert {r["clip_stride_ms"] for r in rows} == {"30", "50"}
    assert out_png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "best within" in capsys.readouterr().out


def _one_line_error(capsys: pytest.CaptureFixture) -> str:
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1, err
    return err


def test_eval_stream_user_errors(
    tone_stream: tuple[Path, Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    wav, labels, model_path = tone_stream
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"not a model")
    bad_labels = tmp_path / "bad.csv"
    bad_labels.write_text("label,time_ms\nlow,soon\n")
    cases = [
        (["--model", str(tmp_path / "none.onnx"), "--wav", str(wav), "--labels", str(labels)],
         "not found"),
        (["--model", str(broken), "--wav", str(wav), "--labels", str(labels)], "not a valid"),
        (["--model", str(model_path), "--wav", str(wav), "--labels", str(bad_labels)], "line 2"),
        (["--model", str(model_path), "--wav", str(tmp_path / "x.wav"), "--labels", str(labels)],
         "not found"),
        (["--model", str(model_path), "--wav", str(wav), "--labels", str(labels),
          "--clip-stride-ms", "25"], "multiple"),
    ]  # fmt: skip
    for arguments, message in cases:
        assert stream_main(["eval-stream", *arguments]) == 2
        assert message in _one_line_error(capsys)


def test_sweep_rejects_a_bad_grid(
    tone_stream: tuple[Path, Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    wav, labels, model_path = tone_stream
    base = ["sweep", "--model", str(model_path), "--wav", str(wav), "--labels", str(labels),
            "--csv", str(tmp_path / "s.csv"), "--png", str(tmp_path / "s.png")]  # fmt: skip
    assert stream_main([*base, "--thresholds", "0.5,high"]) == 2
    assert "--thresholds" in _one_line_error(capsys)
    assert stream_main([*base, "--thresholds", "1.5"]) == 2
    assert "threshold" in _one_line_error(capsys)


def test_real_data_stream_words_are_speech(shared_data: Path) -> None:
    """On real clips the trimmed word lies inside its clip and lasts a plausible time."""
    from training.stream_data import StreamSpec, collect_sources, generate_stream

    sources = collect_sources(shared_data / "speech_commands", "test")
    stream = generate_stream(sources, StreamSpec(duration_s=60.0, seed=0))
    durations = np.array([w.end_ms - w.start_ms for w in stream.words if w.is_command])
    assert len(durations) >= 10
    assert 150 < np.median(durations) < 900


def _row(threshold: float, correct: int, false_accepts: int, p95_ms: float) -> SweepRow:
    stream = StreamMetrics(100, correct, correct, 0, 0, 3600.0, 0, 100.0, p95_ms)
    negatives = StreamMetrics(0, 0, 0, 0, false_accepts, 3600.0, 0, None, None)
    return SweepRow(30, 500, 1000, 3, threshold, stream, negatives)


def test_choice_is_best_recall_within_the_budgets() -> None:
    rows = [
        _row(0.5, 95, 4, 300),
        _row(0.7, 90, 1, 600),
        _row(0.8, 85, 0, 400),
        _row(0.9, 85, 0, 400),
    ]
    assert choose_setting(rows, 1.0).threshold == 0.7
    assert choose_setting(rows, 1.0, max_latency_p95_ms=500).threshold == 0.9  # tie: higher
    assert choose_setting(rows, 5.0).threshold == 0.5
    assert choose_setting(rows[:1], 1.0) is None
