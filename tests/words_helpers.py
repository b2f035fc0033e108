"""Tone "words" for custom-word tests: tones at frequencies the tone model has no label for.

The tone model's embedding is the mean log-mel over the clip, so a tone at a new frequency lands
somewhere no base label looks, exactly like a new spoken word for a real model.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
from model_factory import HIGH_TONE_HZ, LOW_TONE_HZ, TONE_LABELS, _band_weights, silence, tone
from onnx import TensorProto, helper, numpy_helper

from kws_app.config import DecoderConfig, FrontendConfig, StreamConfig
from kws_app.config_flags import setting_args
from kws_app.inference.model import OnnxModel
from kws_app.words.store import WordStore
from kws_app.words.trainer import WordTrainer, model_id_of
from kws_app.words.vetoes import VetoConfig, kept_strides_path, save_kept_strides, stride_windows
from kws_app.words.wavio import write_wav

RATE = 16000
# The tone words are calibrated for these decoder settings; tests pass them explicitly so the
# app's defaults (chosen on real speech) can change without breaking them.
TEST_DECODER = DecoderConfig(
    average_window_ms=500, detection_threshold=0.7, suppression_ms=1000, minimum_count=3
)
TEST_STREAM = StreamConfig(clip_stride_ms=30)
TEST_DECODER_ARGS = (*setting_args(TEST_DECODER), *setting_args(TEST_STREAM))
WHISTLE_HZ = 2000.0
HUM_HZ = 500.0
OTHER_HZ = 3000.0
LOW_HZ = 1000.0
NOISE_RMS = 0.003


_SCALE = 1.5
# A band's clip-mean log-mel above this (about -1.5) means "something loud is there": quiet room
# noise sits near -4, a half-second tone at -20 dBFS near +1.7.
_LOUD_LEVEL = -1.5
_EXCLUDED = -100.0


def words_tone_model(
    path: Path,
    name: str = "words_tone",
    with_embedding: bool = True,
    metadata: dict[str, str] | None = None,
) -> Path:
    """Like model_factory.tone_model, but any loud sound outside the low/high bands is `_unknown_`.

    A real keyword model maps a word it was not trained on to `_unknown_` (not to silence), and
    custom words are carved out of that class, so the stand-in must behave the same way:
    unknown's logit follows the loudest mel band outside the two word bands.
    """
    config = FrontendConfig()
    frames, bins = config.input_shape
    labels = TONE_LABELS
    weights = np.zeros((bins, len(labels)), dtype=np.float32)
    weights[:, labels.index("low")] = _SCALE * _band_weights(config, LOW_TONE_HZ)
    weights[:, labels.index("high")] = _SCALE * _band_weights(config, HIGH_TONE_HZ)
    bias = np.zeros(len(labels), dtype=np.float32)
    bias[labels.index("_unknown_")] = -_SCALE * _LOUD_LEVEL
    unknown = np.zeros(len(labels), dtype=np.float32)
    unknown[labels.index("_unknown_")] = _SCALE
    mask = np.zeros(bins, dtype=np.float32)
    word_bands = (_band_weights(config, LOW_TONE_HZ) + _band_weights(config, HIGH_TONE_HZ)) > 0
    # The word bands' neighbours too: a loud tone leaks into the next mel filters.
    mask[np.convolve(word_bands.astype(float), np.ones(3), mode="same") > 0] = _EXCLUDED
    nodes = [
        helper.make_node("ReduceMean", ["features", "time_axis"], ["embedding"], keepdims=0),
        helper.make_node("MatMul", ["embedding", "weights"], ["band_logits"]),
        helper.make_node("Add", ["embedding", "mask"], ["other_bands"]),
        helper.make_node("ReduceMax", ["other_bands", "bin_axis"], ["loudest"], keepdims=1),
        helper.make_node("Mul", ["loudest", "unknown"], ["unknown_logits"]),
        helper.make_node("Add", ["band_logits", "unknown_logits"], ["summed"]),
        helper.make_node("Add", ["summed", "bias"], ["logits"]),
        helper.make_node("Softmax", ["logits"], ["probabilities"], axis=-1),
    ]
    initializers = [
        numpy_helper.from_array(np.array([1], dtype=np.int64), "time_axis"),
        numpy_helper.from_array(np.array([1], dtype=np.int64), "bin_axis"),
        numpy_helper.from_array(weights, "weights"),
        numpy_helper.from_array(bias, "bias"),
        numpy_helper.from_array(unknown, "unknown"),
        numpy_helper.from_array(mask, "mask"),
    ]
    outputs = [
        helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["batch", len(labels)])
    ]
    if with_embedding:
        outputs.append(
            helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["batch", bins])
        )
    graph = helper.make_graph(
        nodes,
        name,
        [helper.make_tensor_value_info("features", TensorProto.FLOAT, ["batch", frames, bins])],
        outputs,
        initializers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 9
    helper.set_model_props(
        model,
        {
            "kws.format_version": "1",
            "kws.labels": json.dumps(list(labels)),
            "kws.frontend": config.to_json(),
            "kws.model_name": name,
            **(metadata or {}),
        },
    )
    onnx.checker.check_model(model)
    onnx.save(model, path)
    return path


def tone_word(frequency_hz: float, rng: np.random.Generator, seconds: float = 0.5) -> np.ndarray:
    """One 1-second "recording": the tone somewhere in the middle, at a random level, in noise."""
    lead = rng.uniform(0.15, 0.35)
    wave = np.concatenate(
        (
            silence(lead),
            tone(frequency_hz, seconds, amplitude=rng.uniform(0.2, 0.6)),
            silence(1.0 - lead - seconds),
        )
    )
    return (wave + rng.normal(0.0, NOISE_RMS, wave.size)).astype(np.float32)


def examples(frequency_hz: float, count: int = 5, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [tone_word(frequency_hz, rng) for _ in range(count)]


def write_examples(folder: Path, frequency_hz: float, count: int = 5, seed: int = 0) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for index, wave in enumerate(examples(frequency_hz, count, seed)):
        write_wav(folder / f"take{index}.wav", wave, RATE)
    return folder


def stream(*frequencies: float, seed: int = 1, tone_seconds: float = 0.6) -> np.ndarray:
    """1 s of quiet, then each tone (`tone_seconds`) followed by 1.5 s of quiet, in low noise."""
    rng = np.random.default_rng(seed)
    parts = [silence(1.0)]
    for frequency in frequencies:
        parts += [tone(frequency, tone_seconds, amplitude=0.4), silence(1.5)]
    wave = np.concatenate(parts)
    return (wave + rng.normal(0.0, NOISE_RMS, wave.size)).astype(np.float32)


def detected_labels(scorer, audio: np.ndarray) -> list[str]:  # type: ignore[no-untyped-def]
    from kws_app.inference.pipeline import StreamingPipeline, replay

    pipeline = StreamingPipeline(scorer, RATE, TEST_STREAM, TEST_DECODER)
    return [detection.label for detection in replay(pipeline, audio, RATE // 10)]


def damage_recordings(store: WordStore, name: str) -> None:
    """Overwrite every stored take of the word with bytes no audio reader accepts."""
    word = store.get(name)
    for take in word.record.examples:
        (word.folder / take).write_bytes(b"RIFF, but not a wave file")


# ----- command-word vetoes (kws_app/words/vetoes.py) ------------------------------------

HUM_UNDER_HIGH_HZ = 700.0
HUM_AMPLITUDE = 0.05  # quiet enough that the tone model still calls the chord "high"
TONE_AMPLITUDES = (0.2, 0.3, 0.4, 0.6)
KEPT_DRAWS = 3  # of the room's noise under each level: the kept words vary as real ones do


def high_tone(amplitude: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    wave = np.concatenate([silence(1.0), tone(HIGH_TONE_HZ, 0.6, amplitude=amplitude), silence(1)])
    return (wave + rng.normal(0.0, NOISE_RMS, wave.size)).astype(np.float32)


def high_with_hum(seed: int = 1) -> np.ndarray:
    """Like `stream(HIGH_TONE_HZ)`, with a hum under the tone: not the word, but it fires."""
    rng = np.random.default_rng(seed)
    said = tone(HIGH_TONE_HZ, 0.6, amplitude=0.4) + tone(
        HUM_UNDER_HIGH_HZ, 0.6, amplitude=HUM_AMPLITUDE
    )
    wave = np.concatenate([silence(1.0), said, silence(1.5)])
    return (wave + rng.normal(0.0, NOISE_RMS, wave.size)).astype(np.float32)


def write_kept_strides(model: OnnxModel) -> Path:
    """The kept strides of the tone model's "high", beside it: the windows of clean high tones
    at several levels that the model calls "high" (what bench/command_kept.py keeps of a
    validation stream's correctly found words)."""
    trainer = WordTrainer(model, model.path)
    stride_ms = VetoConfig().stride_ms
    windows = [
        window
        for seed, amplitude in enumerate(TONE_AMPLITUDES * KEPT_DRAWS)
        for window in stride_windows(high_tone(amplitude, seed), model.frontend, stride_ms)
    ]
    probabilities, embeddings = trainer.outputs(windows)
    high = embeddings[probabilities[:, model.labels.index("high")] > 0.5]
    path = kept_strides_path(model.path)
    save_kept_strides(path, model_id_of(model.path), {"high": high})
    return path


def heard_sound(audio: np.ndarray) -> np.ndarray:
    """What the window's button keeps: the clip and averaging window before the detection."""
    return audio[int(0.5 * RATE) : int(2.0 * RATE)]
