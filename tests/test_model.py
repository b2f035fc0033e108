"""The model runner serves good models and refuses broken ones with one clear line."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from model_factory import TONE_LABELS, tone_model

from kws_app.config import FrontendConfig
from kws_app.inference.model import CPU_PROVIDER, CUDA_PROVIDER, ModelError, OnnxModel


def test_a_good_model_loads_with_its_labels_and_front_end(tone_model_path: Path) -> None:
    model = OnnxModel(tone_model_path)
    assert model.labels == TONE_LABELS
    assert model.frontend == FrontendConfig()
    assert model.info.has_embedding and model.info.embedding_size == 40
    assert model.provider in (CPU_PROVIDER, CUDA_PROVIDER)


def test_prediction_is_a_probability_per_label(tone_model_path: Path) -> None:
    model = OnnxModel(tone_model_path, prefer_gpu=False)
    probabilities = model.predict(np.zeros((3, 98, 40), dtype=np.float32))
    assert probabilities.shape == (3, len(TONE_LABELS))
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)
    assert model.provider == CPU_PROVIDER


def test_the_provider_reported_is_the_one_the_session_uses(tone_model_path: Path) -> None:
    model = OnnxModel(tone_model_path, prefer_gpu=True)
    assert model.provider == model.session.get_providers()[0]


def one_line(error: pytest.ExceptionInfo[ModelError]) -> str:
    message = str(error.value)
    assert "\n" not in message
    return message


@pytest.mark.parametrize(
    ("metadata", "reason"),
    [
        ({"kws.labels": None}, "lacks the 'kws.labels' metadata"),
        ({"kws.frontend": None}, "lacks the 'kws.frontend' metadata"),
        ({"kws.format_version": None}, "lacks the 'kws.format_version'"),
        ({"kws.format_version": "99"}, "model format '99'"),
        ({"kws.labels": "not json"}, "not valid JSON"),
        ({"kws.labels": json.dumps(["a", "a", "b", "c"])}, "duplicate"),
        ({"kws.labels": json.dumps(["a", "b"])}, "4 outputs but 2 labels"),
        ({"kws.frontend": '{"kind": "mfcc"}'}, "cannot reproduce its front end"),
        ({"kws.frontend": FrontendConfig(num_mel_bins=64).to_json()}, "does not match"),
    ],
)
def test_missing_or_wrong_metadata_is_refused(
    tmp_path: Path, metadata: dict[str, str | None], reason: str
) -> None:
    path = tone_model(tmp_path / "bad.onnx", metadata=metadata)  # type: ignore[arg-type]
    with pytest.raises(ModelError) as error:
        OnnxModel(path)
    assert reason in one_line(error)


def test_wrong_input_shape_is_refused(tmp_path: Path) -> None:
    path = tone_model(tmp_path / "shape.onnx", input_shape=["batch", 49, 40])
    with pytest.raises(ModelError) as error:
        OnnxModel(path)
    assert "does not match its front end" in one_line(error)


def test_a_truncated_file_is_refused(tone_model_path: Path, tmp_path: Path) -> None:
    truncated = tmp_path / "truncated.onnx"
    data = tone_model_path.read_bytes()
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelError) as error:
        OnnxModel(truncated)
    assert "not a valid ONNX model" in one_line(error)


def test_a_file_that_is_not_onnx_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "notes.onnx"
    path.write_text("these are not the weights you are looking for")
    with pytest.raises(ModelError) as error:
        OnnxModel(path)
    assert "not a valid ONNX model" in one_line(error)


def test_an_empty_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "empty.onnx"
    path.write_bytes(b"")
    with pytest.raises(ModelError, match="empty"):
        OnnxModel(path)


def test_a_missing_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="not found"):
        OnnxModel(tmp_path / "nowhere.onnx")


def test_onnxruntime_keeps_its_error_lines_off_the_terminal(
    tone_model_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    OnnxModel(tone_model_path, prefer_gpu=True)
    captured = capfd.readouterr()
    assert "onnxruntime" not in captured.err.lower()
    assert "[E:" not in captured.err
