"""Small ONNX models built with onnx's helper API that honour docs/model-format.md.

They stand in for a trained network in core tests: a "tone word" model whose word labels fire on
energy in a mel band, so synthetic tones make predictable, meaningful detections.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from kws_app.config import DecoderConfig, FrontendConfig, StreamConfig
from kws_app.config_flags import setting_args
from kws_app.dsp.frontend import mel_filterbank

TONE_LABELS = ("_silence_", "_unknown_", "low", "high")
# Decoder settings the tone words are calibrated for; tests pass them explicitly so the app's
# defaults (chosen on real speech) can change without touching them.
TONE_DECODER = DecoderConfig(
    average_window_ms=500, detection_threshold=0.7, suppression_ms=1000, minimum_count=3
)
TONE_STREAM = StreamConfig(clip_stride_ms=30)
TONE_DECODER_ARGS = (*setting_args(TONE_DECODER), *setting_args(TONE_STREAM))
LOW_TONE_HZ = 1000.0
HIGH_TONE_HZ = 4000.0
# Log-mel of a loud tone sits near +5, of digital silence at log(1e-6) = -13.8; the band mean over a
# clip crosses zero when the tone fills about two thirds of it.
_SCALE = 1.5
_BAND_BINS = 2


def _band_weights(config: FrontendConfig, centre_hz: float) -> np.ndarray:
    """Averaging weights over the mel bins whose response peaks near `centre_hz`."""
    filterbank = mel_filterbank(config)
    fft_hz = np.arange(config.num_fft_bins) * config.sample_rate / config.fft_size
    peaks = fft_hz[filterbank.argmax(axis=0)]
    nearest = np.argsort(np.abs(peaks - centre_hz))[:_BAND_BINS]
    weights = np.zeros(config.num_mel_bins, dtype=np.float32)
    weights[nearest] = 1.0 / _BAND_BINS
    return weights


def tone_model(
    path: Path,
    config: FrontendConfig | None = None,
    labels: tuple[str, ...] = TONE_LABELS,
    metadata: dict[str, str] | None = None,
    input_shape: list[int | str] | None = None,
    with_embedding: bool = True,
    logit_bias: dict[str, float] | None = None,
) -> Path:
    """`logit_bias` adds to a label's logit whatever is heard (a label with no band: a constant)."""
    config = config or FrontendConfig()
    frames, bins = config.input_shape
    weights = np.zeros((bins, len(labels)), dtype=np.float32)
    bias = np.zeros(len(labels), dtype=np.float32)
    for index, label in enumerate(labels):
        if label == "low":
            weights[:, index] = _SCALE * _band_weights(config, LOW_TONE_HZ)
        elif label == "high":
            weights[:, index] = _SCALE * _band_weights(config, HIGH_TONE_HZ)
        elif label == "_unknown_":
            bias[index] = -4.0
        bias[index] += (logit_bias or {}).get(label, 0.0)
    # An empty band mean keeps silence on top when nothing is playing.
    nodes = [
        helper.make_node("ReduceMean", ["features", "axes"], ["embedding"], keepdims=0),
        helper.make_node("MatMul", ["embedding", "weights"], ["logits_raw"]),
        helper.make_node("Add", ["logits_raw", "bias"], ["logits"]),
        helper.make_node("Softmax", ["logits"], ["probabilities"], axis=-1),
    ]
    initializers = [
        numpy_helper.from_array(np.array([1], dtype=np.int64), "axes"),
        numpy_helper.from_array(weights, "weights"),
        numpy_helper.from_array(bias, "bias"),
    ]
    shape = input_shape if input_shape is not None else ["batch", frames, bins]
    outputs = [
        helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["batch", len(labels)])
    ]
    if with_embedding:
        outputs.append(
            helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["batch", bins])
        )
    graph = helper.make_graph(
        nodes,
        "tone_model",
        [helper.make_tensor_value_info("features", TensorProto.FLOAT, shape)],
        outputs,
        initializers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 9
    props = {
        "kws.format_version": "1",
        "kws.labels": json.dumps(list(labels)),
        "kws.frontend": config.to_json(),
        "kws.model_name": "tone_model",
        "kws.parameter_count": str(weights.size + bias.size),
    }
    if metadata is not None:
        props = {key: value for key, value in {**props, **metadata}.items() if value is not None}
    onnx.helper.set_model_props(model, props)
    onnx.checker.check_model(model)
    onnx.save(model, path)
    return path


def tone(
    frequency_hz: float, seconds: float, rate: int = 16000, amplitude: float = 0.5
) -> np.ndarray:
    t = np.arange(int(round(seconds * rate))) / rate
    return (amplitude * np.sin(2 * np.pi * frequency_hz * t)).astype(np.float32)


def silence(seconds: float, rate: int = 16000) -> np.ndarray:
    return np.zeros(int(round(seconds * rate)), dtype=np.float32)
