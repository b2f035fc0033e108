"""Per-label operating points: one slider moves calibrated thresholds together, in the decoder,
the model file and the pipeline."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from model_factory import HIGH_TONE_HZ, LOW_TONE_HZ, silence, tone, tone_model

from kws_app.config import DecoderConfig, StreamConfig
from kws_app.inference.decoder import RecognizeCommands
from kws_app.inference.model import ModelError, OnnxModel
from kws_app.inference.operating_points import (
    CROSS_CHECK_KEY,
    TARGET_RATE_KEY,
    VALIDATION_HOURS_KEY,
    OperatingPoints,
    OperatingPointsError,
    describe_calibration,
    label_thresholds,
    shift_threshold,
)
from kws_app.inference.pipeline import StreamingPipeline, replay

LABELS = ("_silence_", "_unknown_", "yes", "no")
POINTS = OperatingPoints(0.5, {"yes": 0.6, "no": 0.9})


def test_at_the_reference_every_label_sits_at_its_calibrated_threshold() -> None:
    thresholds = label_thresholds(LABELS, 0.5, POINTS)
    assert thresholds == pytest.approx([0.5, 0.5, 0.6, 0.9])


def test_the_slider_moves_every_threshold_the_same_way() -> None:
    stricter = label_thresholds(LABELS, 0.7, POINTS)
    looser = label_thresholds(LABELS, 0.3, POINTS)
    reference = label_thresholds(LABELS, 0.5, POINTS)
    assert np.all(stricter > reference) and np.all(looser < reference)
    assert np.all((stricter > 0) & (stricter < 1)) and np.all((looser > 0) & (looser < 1))
    # The order of the words never changes: "no" stays stricter than "yes".
    assert stricter[3] > stricter[2] and looser[3] > looser[2]


def test_the_slider_ends_mean_always_and_never() -> None:
    assert shift_threshold(0.9, 0.0, 0.5) == 0.0
    assert shift_threshold(0.6, 1.0, 0.5) == 1.0


def test_operating_points_round_trip_through_json() -> None:
    points = OperatingPoints(0.5, {"yes": 0.61}, {"target_false_accepts_per_hour": 1.0})
    assert OperatingPoints.from_json(points.to_json()) == points


def test_the_calibration_is_described_with_what_validation_measured() -> None:
    details = {
        TARGET_RATE_KEY: 1.0,
        VALIDATION_HOURS_KEY: 2.259,
        CROSS_CHECK_KEY: 6.25,
    }
    text = describe_calibration(OperatingPoints(0.5, {"yes": 0.9}, details))
    assert text == (
        "calibrated per word for 1 false accept per hour on ordinary speech "
        "(2.3 h of validation audio); 6.25 false accepts per hour on validation speech it was "
        "not fitted on"
    )


def test_a_model_without_a_cross_check_states_only_its_target() -> None:
    details = {TARGET_RATE_KEY: 2, VALIDATION_HOURS_KEY: 0.9}
    text = describe_calibration(OperatingPoints(0.5, {"yes": 0.9}, details))
    assert text == (
        "calibrated per word for 2 false accepts per hour on ordinary speech "
        "(0.9 h of validation audio)"
    )


def test_the_description_names_the_window_the_thresholds_hold_at() -> None:
    details = {TARGET_RATE_KEY: 1.0, VALIDATION_HOURS_KEY: 2.259, "average_window_ms": 300}
    text = describe_calibration(OperatingPoints(0.5, {"yes": 0.9}, details))
    assert text == (
        "calibrated per word for 1 false accept per hour on ordinary speech at a 300 ms "
        "averaging window (2.3 h of validation audio)"
    )


@pytest.mark.parametrize("target", [None, "1", True, float("inf")])
def test_odd_details_from_a_model_file_are_left_out(target: object) -> None:
    details = {TARGET_RATE_KEY: target, CROSS_CHECK_KEY: "many"}
    text = describe_calibration(OperatingPoints(0.5, {"yes": 0.9}, details))
    assert text == "calibrated per word"


@pytest.mark.parametrize(
    "text",
    [
        "not json",
        json.dumps({"format": "other", "version": 1}),
        json.dumps({"format": "kws-operating-points", "version": 99}),
        '{"format": "kws-operating-points", "version": 1, "reference_threshold": NaN,'
        ' "thresholds": {}}',
        json.dumps(
            {
                "format": "kws-operating-points",
                "version": 1,
                "reference_threshold": 0.5,
                "thresholds": {"yes": 1.5},
            }
        ),  # fmt: skip
        json.dumps(
            {
                "format": "kws-operating-points",
                "version": 1,
                "reference_threshold": 0.5,
                "thresholds": {"yes": "high"},
            }
        ),  # fmt: skip
    ],
)
def test_broken_operating_points_are_refused_with_a_message(text: str) -> None:
    with pytest.raises(OperatingPointsError):
        OperatingPoints.from_json(text)


def test_the_decoder_compares_the_top_label_with_its_own_threshold() -> None:
    config = DecoderConfig(
        average_window_ms=100, detection_threshold=0.5, suppression_ms=0, minimum_count=1
    )
    recognizer = RecognizeCommands(LABELS, config, POINTS)
    # 0.8 clears "yes" (0.6) but not "no" (0.9).
    recognizer.process([0.0, 0.2, 0.8, 0.0], 0)
    assert recognizer.process([0.0, 0.2, 0.8, 0.0], 30).is_new_command
    recognizer.reset()
    recognizer.process([0.0, 0.2, 0.0, 0.8], 0)
    assert not recognizer.process([0.0, 0.2, 0.0, 0.8], 30).is_new_command


def test_a_new_sensitivity_applies_to_every_label_on_the_next_stride() -> None:
    config = DecoderConfig(
        average_window_ms=100, detection_threshold=0.5, suppression_ms=0, minimum_count=1
    )
    recognizer = RecognizeCommands(LABELS, config, POINTS)
    recognizer.process([0.0, 0.2, 0.0, 0.8], 0)
    assert not recognizer.process([0.0, 0.2, 0.0, 0.8], 30).is_new_command
    recognizer.update_config(replace(config, detection_threshold=0.2))
    assert recognizer.process([0.0, 0.2, 0.0, 0.8], 60).is_new_command


def _tone_stream() -> np.ndarray:
    return np.concatenate(
        [silence(1.0), tone(LOW_TONE_HZ, 0.9), silence(1.5), tone(HIGH_TONE_HZ, 0.9), silence(1.5)]
    )


TONE_DECODER = DecoderConfig(
    average_window_ms=500, detection_threshold=0.5, suppression_ms=500, minimum_count=3
)


def test_a_model_file_brings_its_operating_points_to_the_pipeline(tmp_path: Path) -> None:
    # "high" is calibrated out of reach at the reference, "low" left at the slider's value.
    points = OperatingPoints(0.5, {"high": 0.999999})
    path = tone_model(
        tmp_path / "calibrated.onnx", metadata={"kws.operating_points": points.to_json()}
    )
    model = OnnxModel(path, prefer_gpu=False)
    assert model.operating_points == points
    pipeline = StreamingPipeline(model, 16000, StreamConfig(), TONE_DECODER)
    labels = [d.label for d in replay(pipeline, _tone_stream(), 320)]
    assert labels == ["low"]
    plain = OnnxModel(tone_model(tmp_path / "plain.onnx"), prefer_gpu=False)
    assert plain.operating_points is None
    plain_labels = [
        d.label
        for d in replay(
            StreamingPipeline(plain, 16000, StreamConfig(), TONE_DECODER), _tone_stream(), 320
        )
    ]
    assert plain_labels == ["low", "high"]


@pytest.mark.parametrize(
    "value",
    [
        "{broken",
        OperatingPoints(0.5, {"not-a-label": 0.7}).to_json(),
        OperatingPoints(0.5, {"low": 0.7}, windows_ms={"not-a-label": 600}).to_json(),
        OperatingPoints(0.5, {"low": 0.7})
        .to_json()
        .replace('"details"', '"windows_ms": {"low": 0}, "details"'),
        OperatingPoints(0.5, {"low": 0.7})
        .to_json()
        .replace('"details"', '"windows_ms": [600], "details"'),
    ],
)
def test_a_model_with_broken_operating_points_is_refused_in_one_line(
    tmp_path: Path, value: str
) -> None:
    path = tone_model(tmp_path / "broken.onnx", metadata={"kws.operating_points": value})
    with pytest.raises(ModelError) as caught:
        OnnxModel(path, prefer_gpu=False)
    assert "kws.operating_points" in str(caught.value) and "\n" not in str(caught.value)


def test_custom_words_keep_their_own_thresholds_on_any_model(
    tmp_path: Path,
) -> None:
    from kws_app.words.calibration import THRESHOLD_KEY
    from kws_app.words.head import WordHead
    from kws_app.words.scorer import CUSTOM_WORD_THRESHOLD, CustomWordScorer

    points = OperatingPoints(0.5, {"low": 0.7})
    calibrated = OnnxModel(
        tone_model(tmp_path / "c.onnx", metadata={"kws.operating_points": points.to_json()}),
        prefer_gpu=False,
    )
    plain = OnnxModel(tone_model(tmp_path / "p.onnx"), prefer_gpu=False)
    size = plain.info.embedding_size
    weights = np.ones(size, dtype=np.float32) / size
    calibrated_head = WordHead("sha256:x", weights, 0.0, {THRESHOLD_KEY: 0.42})
    old_head = WordHead("sha256:x", weights, 0.0, {})
    words = [("whistle", calibrated_head), ("hum", old_head)]
    on_plain = CustomWordScorer(plain, words)
    on_calibrated = CustomWordScorer(calibrated, words)
    assert CustomWordScorer(plain, []).operating_points is None
    # On a model without calibrated points the model's words follow the slider's value, and the
    # custom words still sit at their own points at the default sensitivity.
    plain_points = on_plain.operating_points
    assert plain_points is not None
    default_slider = DecoderConfig().detection_threshold
    assert plain_points.threshold_for("low", 0.6) == 0.6
    assert plain_points.threshold_for("whistle", default_slider) == pytest.approx(0.42)
    assert plain_points.threshold_for("whistle", 0.8) > 0.42
    assert on_calibrated.operating_points is not None
    assert on_calibrated.operating_points.thresholds == {
        "low": 0.7,
        "whistle": 0.42,
        "hum": CUSTOM_WORD_THRESHOLD,
    }
    # The slider moves a custom word's threshold with the command words'.
    stricter = on_calibrated.operating_points.threshold_for("whistle", 0.8)
    assert 0.42 < stricter < 1.0


def test_own_windows_survive_the_model_file_and_absurd_ones_are_refused() -> None:
    points = OperatingPoints(0.5, {"yes": 0.6}, windows_ms={"yes": 600})
    assert OperatingPoints.from_json(points.to_json()) == points
    assert "windows_ms" not in json.loads(POINTS.to_json())
    for absurd in (0, 600.5, 10**9, True):
        with pytest.raises(OperatingPointsError, match="averaging window"):
            OperatingPoints(0.5, {}, windows_ms={"yes": absurd})  # type: ignore[dict-item]
