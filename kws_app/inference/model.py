"""Loads a kws ONNX model, checks it against docs/model-format.md, and runs it on GPU or CPU.

The app must never guess how a model was trained: labels and front-end settings come from the file,
and a file that does not carry them (or carries a front end this app cannot reproduce) is refused
with a one-line reason instead of producing silently wrong scores.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from kws_app.config import ConfigError, FrontendConfig
from kws_app.errors import UserError, one_line, os_error_reason
from kws_app.inference.operating_points import OperatingPoints, OperatingPointsError

logger = logging.getLogger(__name__)

FORMAT_VERSION = "1"
SUPPORTED_FORMAT_VERSIONS = frozenset({FORMAT_VERSION})
INPUT_NAME = "features"
PROBABILITIES_OUTPUT = "probabilities"
EMBEDDING_OUTPUT = "embedding"
META_FORMAT_VERSION = "kws.format_version"
META_LABELS = "kws.labels"
META_FRONTEND = "kws.frontend"
META_MODEL_NAME = "kws.model_name"
META_PARAMETER_COUNT = "kws.parameter_count"
META_TRAINING_DATA = "kws.training_data"
META_TEST_ACCURACY = "kws.test_accuracy"
META_CREATED = "kws.created"
META_OPERATING_POINTS = "kws.operating_points"
# The file name (beside the model) of the model whose embedding custom words read instead of this
# one's (kws_app/words/embedder.py); absent: this model's own embedding.
META_WORD_EMBEDDER = "kws.word_embedder"

CUDA_PROVIDER = "CUDAExecutionProvider"
CPU_PROVIDER = "CPUExecutionProvider"
_ORT_SEVERITY_ERROR = 3
# onnxruntime-gpu logs a failed CUDA load at ERROR level; only FATAL keeps it off the terminal.
_ORT_SEVERITY_FATAL = 4
BYTES_PER_MB = 1 << 20
# A kws model is a few MB. A file far larger is not one, and reading it would cost its size in
# memory twice over (our bytes, then onnxruntime's copy) before anything could refuse it.
MAX_MODEL_MB = 512
MAX_MODEL_BYTES = MAX_MODEL_MB * BYTES_PER_MB
# More digits than any real parameter count; int() of a huge digit string raises (Python 3.11).
MAX_PARAMETER_COUNT_DIGITS = 15


class ModelError(UserError):
    """A model file the app cannot serve; str() is a one-line message for the user."""


@dataclass(frozen=True)
class ModelInfo:
    labels: tuple[str, ...]
    frontend: FrontendConfig
    model_name: str
    parameter_count: int | None
    has_embedding: bool
    embedding_size: int | None
    metadata: dict[str, str]
    operating_points: OperatingPoints | None = None


class OnnxModel:
    """A validated model and its onnxruntime session.

    `provider` is what onnxruntime really runs on (from `session.get_providers()`), because
    onnxruntime-gpu lists CUDA as available even on machines where it cannot load.
    """

    def __init__(self, path: str | Path, prefer_gpu: bool = True, cpu_threads: int = 1) -> None:
        self.path = Path(path)
        import onnxruntime as ort  # deferred: importing kws_app.config must stay cheap

        ort.set_default_logger_severity(_ORT_SEVERITY_FATAL)
        model_bytes = _read_model_bytes(self.path)
        self.session = _create_session(ort, model_bytes, self.path, prefer_gpu, cpu_threads)
        self.provider: str = self.session.get_providers()[0]
        self.info = _validate(self.session, self.path)
        self._output_names = [PROBABILITIES_OUTPUT] + (
            [EMBEDDING_OUTPUT] if self.info.has_embedding else []
        )
        self._check_runs()
        logger.info(
            "loaded %s (%s, %d labels) on %s",
            self.path.name,
            self.info.model_name,
            len(self.info.labels),
            self.provider,
        )

    @property
    def labels(self) -> tuple[str, ...]:
        return self.info.labels

    @property
    def frontend(self) -> FrontendConfig:
        return self.info.frontend

    @property
    def operating_points(self) -> OperatingPoints | None:
        return self.info.operating_points

    @property
    def uses_gpu(self) -> bool:
        return self.provider == CUDA_PROVIDER

    def predict(self, features: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        """Probabilities for a batch of clips, shape (n, frames, bins) -> (n, labels)."""
        return self.run(features)[0]

    def run(
        self, features: npt.NDArray[np.float32]
    ) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32] | None]:
        """Probabilities and (when the model has one) the embedding for a batch of clips."""
        batch = np.ascontiguousarray(features, dtype=np.float32)
        if batch.ndim == 2:
            batch = batch[np.newaxis]
        outputs = self.session.run(self._output_names, {INPUT_NAME: batch})
        embedding = outputs[1] if self.info.has_embedding else None
        return outputs[0], embedding

    def _check_runs(self) -> None:
        silence = np.zeros((1, *self.frontend.input_shape), dtype=np.float32)
        try:
            probabilities, embedding = self.run(silence)
        except Exception as error:  # onnxruntime raises its own exception types
            raise ModelError(
                f"{self.path.name}: the model fails to run: {one_line(error)}"
            ) from error
        if probabilities.shape != (1, len(self.labels)):
            raise ModelError(
                f"{self.path.name}: output {PROBABILITIES_OUTPUT!r} has shape "
                f"{probabilities.shape}, expected (1, {len(self.labels)})"
            )
        if embedding is not None and embedding.ndim != 2:
            raise ModelError(f"{self.path.name}: output {EMBEDDING_OUTPUT!r} must be 2-D")


def _model_file_size(path: Path) -> int:
    """The size of a regular file, checked before any byte is read."""
    try:
        status = path.stat()
    except FileNotFoundError as error:
        if os.path.lexists(path):
            raise ModelError(f"model file is a link to a missing file: {path}") from error
        raise ModelError(f"model file not found: {path}") from error
    except OSError as error:
        raise ModelError(f"cannot read model file {path}: {os_error_reason(error)}") from error
    if stat.S_ISDIR(status.st_mode):
        raise ModelError(f"model path is a folder, not a file: {path}")
    if not stat.S_ISREG(status.st_mode):
        raise ModelError(f"model path is not a regular file (a device, pipe or socket): {path}")
    return status.st_size


def _too_large(path: Path, size: int) -> ModelError:
    return ModelError(
        f"{path.name} is {size // BYTES_PER_MB} MB, over the {MAX_MODEL_MB} MB limit for a kws "
        "model: is it the right file?"
    )


def _read_model_bytes(path: Path) -> bytes:
    size = _model_file_size(path)
    if size > MAX_MODEL_BYTES:
        raise _too_large(path, size)
    try:
        with path.open("rb") as file:
            # Exactly the size checked above: read(n) reserves n bytes up front, and a file that
            # grows meanwhile (a download in progress) must not slip past the limit.
            data = file.read(size)
            grew = bool(file.read(1))
    except OSError as error:
        raise ModelError(f"cannot read model file {path}: {os_error_reason(error)}") from error
    if grew:
        raise ModelError(f"{path.name} changed while it was read: is it still being written?")
    if not data:
        raise ModelError(f"{path.name} is empty, not an ONNX model")
    return data


@contextlib.contextmanager
def _stdout_to_log() -> Iterator[None]:
    """onnxruntime prints on stdout, where --wav and --headless print JSON; its words go to the
    log instead."""
    printed = io.StringIO()
    try:
        with contextlib.redirect_stdout(printed):
            yield
    finally:
        if printed.getvalue().strip():
            logger.info("onnxruntime said: %s", printed.getvalue().strip())


def _new_session(ort, model_bytes: bytes, options, providers: list[str]):  # type: ignore[no-untyped-def]
    """An InferenceSession with onnxruntime's own fallback off: it prints "EP Error" banners and
    parses the model a second time."""
    with _stdout_to_log():
        return ort.InferenceSession(
            model_bytes, sess_options=options, providers=providers, enable_fallback=0
        )


def _preload_cuda_libraries(ort) -> None:  # type: ignore[no-untyped-def]
    """onnxruntime-gpu does not look for the CUDA and cuDNN libraries that pip installs (the
    nvidia-* wheels of its `cuda`/`cudnn` extras, or those PyTorch brought) unless they are loaded
    first; without this a user with a working GPU and those wheels silently ran on the CPU."""
    preload = getattr(ort, "preload_dlls", None)  # onnxruntime >= 1.21
    if preload is None:
        return
    try:
        with _stdout_to_log():
            preload()
    except Exception as error:  # it raises RuntimeError and whatever ctypes raises
        logger.info("could not preload the CUDA libraries: %s", one_line(error))


def _create_session(ort, model_bytes: bytes, path: Path, prefer_gpu: bool, cpu_threads: int):  # type: ignore[no-untyped-def]
    options = ort.SessionOptions()
    options.intra_op_num_threads = cpu_threads
    options.inter_op_num_threads = 1
    options.log_severity_level = _ORT_SEVERITY_ERROR
    wants_cuda = prefer_gpu and CUDA_PROVIDER in ort.get_available_providers()
    providers = [CUDA_PROVIDER, CPU_PROVIDER] if wants_cuda else [CPU_PROVIDER]
    if wants_cuda:
        _preload_cuda_libraries(ort)
    try:
        session = _new_session(ort, model_bytes, options, providers)
    except Exception as error:  # onnxruntime raises Fail/InvalidProtobuf/RuntimeException
        # onnxruntime's own fallback retried only these, on the CPU; so does this one.
        if not (wants_cuda and isinstance(error, ValueError | RuntimeError)):
            raise _invalid_model(path, error) from error
        logger.info("the CUDA session failed (%s); trying the CPU", one_line(error))
        session = _cpu_session(ort, model_bytes, options, path)
    if wants_cuda and session.get_providers()[0] != CUDA_PROVIDER:
        logger.info("CUDA is not usable on this machine; running the model on the CPU")
    return session


def _cpu_session(ort, model_bytes: bytes, options, path: Path):  # type: ignore[no-untyped-def]
    try:
        return _new_session(ort, model_bytes, options, [CPU_PROVIDER])
    except Exception as error:  # onnxruntime raises its own exception types
        raise _invalid_model(path, error) from error


def _invalid_model(path: Path, error: BaseException) -> ModelError:
    return ModelError(f"{path.name} is not a valid ONNX model: {one_line(error)}")


def _validate(session, path: Path) -> ModelInfo:  # type: ignore[no-untyped-def]
    name = path.name
    metadata: dict[str, str] = dict(session.get_modelmeta().custom_metadata_map)
    for key in (META_FORMAT_VERSION, META_LABELS, META_FRONTEND):
        if key not in metadata:
            raise ModelError(
                f"{name} lacks the '{key}' metadata: it was not exported by kws training "
                "(see docs/model-format.md)"
            )
    version = metadata[META_FORMAT_VERSION]
    if version not in SUPPORTED_FORMAT_VERSIONS:
        raise ModelError(
            f"{name} uses model format {version!r}; this app reads format {FORMAT_VERSION}"
        )
    labels = _parse_labels(metadata[META_LABELS], name)
    try:
        frontend = FrontendConfig.from_json(metadata[META_FRONTEND])
    except (ConfigError, TypeError) as error:
        raise ModelError(f"{name}: cannot reproduce its front end: {error}") from error

    inputs = session.get_inputs()
    if len(inputs) != 1 or inputs[0].name != INPUT_NAME:
        found = ", ".join(i.name for i in inputs)
        raise ModelError(f"{name}: expected one input named {INPUT_NAME!r}, found: {found}")
    model_input = inputs[0]
    if model_input.type != "tensor(float)":
        raise ModelError(f"{name}: input must be float32, is {model_input.type}")
    shape = list(model_input.shape)
    expected = list(frontend.input_shape)
    if len(shape) != 3 or [d for d in shape[1:]] != expected:
        raise ModelError(
            f"{name}: input shape {shape} does not match its front end "
            f"[batch, {expected[0]}, {expected[1]}]"
        )

    outputs = {o.name: o for o in session.get_outputs()}
    if session.get_outputs()[0].name != PROBABILITIES_OUTPUT:
        raise ModelError(f"{name}: first output must be {PROBABILITIES_OUTPUT!r}")
    classes = outputs[PROBABILITIES_OUTPUT].shape[-1]
    if isinstance(classes, int) and classes != len(labels):
        raise ModelError(f"{name}: model has {classes} outputs but {len(labels)} labels")
    embedding = outputs.get(EMBEDDING_OUTPUT)
    embedding_size = embedding.shape[-1] if embedding is not None else None
    return ModelInfo(
        labels=labels,
        frontend=frontend,
        model_name=metadata.get(META_MODEL_NAME, path.stem),
        parameter_count=_parse_parameter_count(metadata.get(META_PARAMETER_COUNT, "")),
        has_embedding=embedding is not None,
        embedding_size=embedding_size if isinstance(embedding_size, int) else None,
        metadata=metadata,
        operating_points=_parse_operating_points(metadata, labels, path.name),
    )


def _parse_parameter_count(text: str) -> int | None:
    """Informational only: a count that is not a plain number of sane length is ignored."""
    if text.isascii() and text.isdigit() and len(text) <= MAX_PARAMETER_COUNT_DIGITS:
        return int(text)
    return None


def _parse_operating_points(
    metadata: dict[str, str], labels: tuple[str, ...], name: str
) -> OperatingPoints | None:
    """Calibrated thresholds, when the file has them; they must name only the model's labels."""
    text = metadata.get(META_OPERATING_POINTS)
    if text is None:
        return None
    try:
        points = OperatingPoints.from_json(text)
    except OperatingPointsError as error:
        raise ModelError(f"{name}: {META_OPERATING_POINTS}: {error}") from None
    unknown = sorted((set(points.thresholds) | set(points.windows_ms)) - set(labels))
    if unknown:
        raise ModelError(
            f"{name}: {META_OPERATING_POINTS} names labels the model does not have: "
            f"{', '.join(unknown)}"
        )
    return points


def _parse_labels(text: str, name: str) -> tuple[str, ...]:
    try:
        labels = json.loads(text)
    except json.JSONDecodeError as error:
        raise ModelError(f"{name}: '{META_LABELS}' is not valid JSON") from error
    if (
        not isinstance(labels, list)
        or not labels
        or not all(isinstance(label, str) and label for label in labels)
    ):
        raise ModelError(f"{name}: '{META_LABELS}' must be a non-empty list of strings")
    if len(set(labels)) != len(labels):
        raise ModelError(f"{name}: '{META_LABELS}' has duplicate labels")
    return tuple(labels)
