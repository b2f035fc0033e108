"""A word embedder: custom words read another model's embedding than the command model's.

A model trained to separate sounds it was never taught (the contrastive recipe of
training/contrastive.py) gives custom words a better embedding, but it finds fewer command words
than the command model does (docs/benchmarks.md). Pairing them keeps each at what it is best at:
the command model's probabilities (command words, and the `_unknown_` mass a custom word takes
its share of) and the embedder's embedding for the heads. The pair costs a second model call per
stride, so the app makes one only when the user has custom words.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import numpy.typing as npt

from kws_app.config import FrontendConfig
from kws_app.errors import one_line
from kws_app.inference.model import META_WORD_EMBEDDER, ModelError, ModelInfo, OnnxModel
from kws_app.inference.operating_points import OperatingPoints

logger = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float32]
# The shipped word embedder, beside the default model in assets/ (its `kws.word_embedder`).
EMBEDDER_FILE_NAME = "kws-words.onnx"


class PairedModel:
    """The command model's probabilities with the word embedder's embedding, as one model.

    It answers everything else (labels, front end, operating points, path, provider) as the
    command model, so the pipeline, the decoder and the window see the model they loaded.
    """

    def __init__(self, base: OnnxModel, embedder: OnnxModel) -> None:
        if embedder.frontend != base.frontend:
            raise ModelError(
                f"{embedder.path.name} computes other features than {base.path.name}, "
                "so it cannot embed custom words for it"
            )
        if not embedder.info.has_embedding:
            raise ModelError(f"{embedder.path.name} has no 'embedding' output")
        self.base = base
        self.embedder = embedder

    @property
    def labels(self) -> tuple[str, ...]:
        return self.base.labels

    @property
    def frontend(self) -> FrontendConfig:
        return self.base.frontend

    @property
    def operating_points(self) -> OperatingPoints | None:
        return self.base.operating_points

    @property
    def path(self) -> Path:
        return self.base.path

    @property
    def paths(self) -> tuple[Path, ...]:
        """Both files: a custom word's head is only valid for this very pair."""
        return (self.base.path, self.embedder.path)

    @property
    def provider(self) -> str:
        return self.base.provider

    @property
    def info(self) -> ModelInfo:
        return self.base.info

    def predict(self, features: FloatArray) -> FloatArray:
        return self.base.predict(features)

    def run(self, features: FloatArray) -> tuple[FloatArray, FloatArray | None]:
        probabilities = self.base.predict(features)
        _, embedding = self.embedder.run(features)
        return probabilities, embedding


def load_embedder(path: Path, base: OnnxModel, cpu_threads: int = 1) -> PairedModel:
    """The pair of `base` and the embedder at `path` on the same provider; ModelError (one line)
    for a file that is missing, broken or made for another front end."""
    embedder = OnnxModel(path, prefer_gpu=base.uses_gpu, cpu_threads=cpu_threads)
    return PairedModel(base, embedder)


def named_embedder(base: OnnxModel) -> str:
    """The word embedder's name in `base`'s metadata; empty where it names none."""
    return base.info.metadata.get(META_WORD_EMBEDDER, "").strip()


def embedder_path_of(base: OnnxModel) -> Path | None:
    """The embedder `base` names in its metadata, beside it; None where it names none. Only a
    bare file name is followed: a model file must not make the app open files elsewhere."""
    name = named_embedder(base)
    if not name:
        return None
    if Path(name).name != name or name in (".", ".."):
        raise ModelError(
            f"{base.path.name}: {META_WORD_EMBEDDER} must be a file name beside the model, "
            f"not {name!r}"
        )
    return base.path.parent / name


def words_model(base: OnnxModel) -> tuple[OnnxModel | PairedModel, str | None]:
    """The model custom words are learned on: `base` with the embedder it names, else `base`
    alone; and, where it names one that cannot be used, why (custom words then still work, on
    `base`'s own embedding, so the user loses accuracy, not the words)."""
    try:
        path = embedder_path_of(base)
        if path is None:
            return base, None
        return load_embedder(path, base), None
    except ModelError as error:
        problem = f"custom words use the command model's own embedding: {one_line(error)}"
        logger.warning("%s", problem)
        return base, problem


def identity_paths(model: OnnxModel | PairedModel) -> Path | tuple[Path, ...]:
    """The file(s) a custom word's head is only valid for (WordTrainer's `model_path`)."""
    return model.paths if isinstance(model, PairedModel) else model.path


def command_model(model: OnnxModel | PairedModel) -> OnnxModel:
    """The model that gives the command words (itself when it is not a pair)."""
    return model.base if isinstance(model, PairedModel) else model
