"""Command-word vetoes: "Not 'on'" for the words of the command model.

A user cannot retrain the command model, but the false alarms they give back of one of its words
say what that word fires on in their voice and room; those are mostly the same few sounds again
and again. A veto per command word is a logistic regression on the word embedder's embedding
that separates those sounds from the strides before that command word as many speakers say it in
running speech and noise (the kept strides: `KEPT_FILE_NAME` beside the command model, shipped
with the default one and made by bench/command_kept.py from validation streams). Wherever it
fires, the word's probability goes to `_unknown_`, so the decoder cannot report the word there.
Its threshold lets through all but `VetoConfig.max_vetoed_share` of the kept strides, so the
words other people say are still found (docs/benchmarks.md, "Not 'word' for the command
words").
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt

from kws_app.config import MS_PER_SECOND, FrontendConfig, StreamConfig
from kws_app.words.archive import ZIP_ERRORS
from kws_app.words.head import fit_logistic

logger = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float32]
BoolArray = npt.NDArray[np.bool_]

KEPT_FILE_NAME = "command-kept.npz"
KEPT_FORMAT = "kws-command-kept-1"
FORMAT_KEY = "format"
MODEL_ID_KEY = "model_id"
LABELS_KEY = "labels"
EMBEDDINGS_KEY = "embeddings"
ROW_LABELS_KEY = "row_labels"
UNKNOWN_LABEL = "_unknown_"
# Keeps a standardised feature with no spread from dividing by zero.
SCALE_FLOOR = 1e-6
# Logit margin under a score the veto must pass: it scores in float32, its fit runs in float64.
SCORE_MARGIN = 1e-3


class KeptStridesError(ValueError):
    """A kept-strides file that cannot be read (the command words then cannot learn vetoes)."""


@dataclass(frozen=True)
class VetoConfig:
    # L2 penalty on standardised embeddings, divided by the rows fitted (the loss is a
    # class-balanced mean): a few dozen strides of false alarms against a few hundred kept ones
    # must not be separated along chance directions.
    l2_penalty: float = 1.0
    max_iterations: int = 50
    # Share of the kept strides a veto may fire on: what it may cost other people's words. It is
    # read from scores the kept strides get from vetoes fitted without them (`folds`), since
    # other people's words are never the ones a veto was fitted on.
    max_vetoed_share: float = 0.01
    folds: int = 5
    # The user's own takes may loosen a veto only while at least this share of the sounds given
    # back would still be stopped (a take may be a false alarm the user did not give back).
    min_stopped_share: float = 0.5
    # The clips a false alarm is embedded as end this far apart: the pipeline's stride, which
    # the kept strides were made at.
    stride_ms: int = field(default_factory=lambda: StreamConfig().clip_stride_ms)


@dataclass(frozen=True, eq=False)
class CommandVeto:
    """One command word's veto: where `scores` passes `threshold`, the word is not heard."""

    label: str
    weights: FloatArray
    bias: float
    mean: FloatArray
    scale: FloatArray
    threshold: float

    def scores(self, embeddings: npt.ArrayLike) -> FloatArray:
        """The regression's logit per row: above `threshold`, the row sounds like the false
        alarms rather than like the word."""
        rows = np.asarray(embeddings, dtype=np.float32)
        return (((rows - self.mean) / self.scale) @ self.weights + self.bias).astype(np.float32)

    def fires(self, embeddings: npt.ArrayLike) -> BoolArray:
        return self.scores(embeddings) > self.threshold


@dataclass(frozen=True, eq=False)
class KeptStrides:
    """Per command word, embeddings of strides before that word where a stream found it."""

    embeddings: Mapping[str, FloatArray]

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(self.embeddings)

    def of(self, label: str) -> FloatArray | None:
        """The word's kept strides; None where the file holds none (it cannot learn a veto)."""
        return self.embeddings.get(label)


def fit_veto(
    label: str,
    alarms: npt.ArrayLike,
    kept: npt.ArrayLike,
    config: VetoConfig,
    own: npt.ArrayLike | None = None,
    alarm_sounds: npt.ArrayLike | None = None,
    own_sounds: npt.ArrayLike | None = None,
) -> CommandVeto:
    """A class-balanced logistic regression, 1 for the false alarms' strides and 0 for the kept
    ones and for the strides of the user's `own` takes of the word (detections they kept).

    Its threshold is read from scores that regressions fitted without them give (out of fold;
    `alarm_sounds` / `own_sounds` say which sound each row came from, so a sound's overlapping
    strides stay in one fold): it fires on at most max_vetoed_share of the kept strides, nor,
    where the user's takes allow, of theirs. A veto learned from one voice could learn the voice,
    and the takes keep it off the user's own word; but a take is only a detection the user did
    not give back, maybe a false alarm they missed, so the takes may not raise the threshold
    past where `min_stopped_share` of the given-back sounds would still be stopped."""
    alarm_rows = np.asarray(alarms, dtype=np.float64)
    kept_rows = np.asarray(kept, dtype=np.float64)
    own_rows = np.zeros((0, kept_rows.shape[1])) if own is None else np.asarray(own, np.float64)
    if alarm_rows.shape[0] == 0 or kept_rows.shape[0] == 0:
        raise ValueError(f"a veto for {label!r} needs false alarms and kept strides")
    if not all(np.isfinite(part).all() for part in (alarm_rows, kept_rows, own_rows)):
        raise ValueError(f"the false alarms of {label!r} gave embeddings that are not numbers")
    alarm_ids = _sound_ids(alarm_sounds, len(alarm_rows))
    own_ids = _sound_ids(own_sounds, len(own_rows))
    rows = np.concatenate([alarm_rows, kept_rows, own_rows])
    mean, scale = rows.mean(axis=0), rows.std(axis=0) + SCALE_FLOOR
    design = (rows - mean) / scale
    targets = np.concatenate([np.ones(len(alarm_rows)), np.zeros(len(rows) - len(alarm_rows))])
    is_alarm = targets > 0.5

    def fit(keep: npt.NDArray[np.bool_]) -> tuple[npt.NDArray[np.float64], float]:
        penalty = config.l2_penalty / int(keep.sum())
        return fit_logistic(design[keep], targets[keep], penalty, config.max_iterations)

    weights, bias = fit(np.ones(len(rows), dtype=bool))
    folds = max(1, config.folds)
    fold_of = np.concatenate(
        [
            _sound_rank(alarm_ids) % folds,
            np.arange(len(kept_rows)) * folds // len(kept_rows),  # neighbours stay together
            _sound_rank(own_ids) % folds,
        ]
    )
    held_out = np.zeros(len(rows))
    for fold in range(folds):
        held = fold_of == fold
        if not held.any():
            continue
        train = ~held
        for part in (is_alarm, ~is_alarm):  # a fit needs both classes: a lone sound is in-sample
            if not (train & part).any():
                train |= part
        fold_weights, fold_bias = fit(train)
        held_out[held] = design[held] @ fold_weights + fold_bias
    quantile = 1 - config.max_vetoed_share
    kept_scores = held_out[len(alarm_rows) : len(alarm_rows) + len(kept_rows)]
    threshold = float(np.quantile(kept_scores, quantile, method="higher"))
    if own_rows.shape[0]:
        own_threshold = float(
            np.quantile(held_out[len(rows) - len(own_rows) :], quantile, method="higher")
        )
        # A sound is stopped where its loudest stride passes the threshold: keep the threshold
        # under the loudest stride of the `stopped`-th loudest sound given back, as this very
        # veto scores them (the sounds the user gave back stay stopped, whatever the takes).
        alarm_scores = design[: len(alarm_rows)] @ weights + bias
        loudest = sorted(alarm_scores[alarm_ids == i].max() for i in np.unique(alarm_ids))[::-1]
        stopped = max(1, math.ceil(config.min_stopped_share * len(loudest)))
        ceiling = float(loudest[stopped - 1]) - SCORE_MARGIN
        threshold = max(threshold, min(own_threshold, ceiling))
    return CommandVeto(
        label,
        weights.astype(np.float32),
        bias,
        mean.astype(np.float32),
        scale.astype(np.float32),
        threshold,
    )


def _sound_rank(ids: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """Each row's sound as its place among the distinct sounds (so sounds spread over folds)."""
    return np.unique(ids, return_inverse=True)[1].reshape(-1).astype(np.int64)


def _sound_ids(ids: npt.ArrayLike | None, rows: int) -> npt.NDArray[np.int64]:
    """Which sound each row came from; each row its own where that is not known."""
    if ids is None:
        return np.arange(rows)
    out = np.asarray(ids, dtype=np.int64).reshape(-1)
    if out.shape != (rows,):
        raise ValueError("one sound id per row is needed")
    return out


def stride_windows(
    sound: npt.ArrayLike, frontend: FrontendConfig, stride_ms: int
) -> list[FloatArray]:
    """The model's clips the pipeline would have scored over `sound` (at the model's rate):
    one ending every `stride_ms` from the first full clip to the end, the latest last."""
    samples = np.asarray(sound, dtype=np.float32).reshape(-1)
    clip = frontend.clip_samples
    hop = max(1, stride_ms * frontend.sample_rate // MS_PER_SECOND)
    if samples.size < clip:
        return []
    ends = range(samples.size, clip - 1, -hop)
    return [samples[end - clip : end] for end in reversed(ends)]


def learn_veto(
    label: str,
    sounds: Sequence[npt.ArrayLike],
    kept: KeptStrides,
    embed: Callable[[Sequence[FloatArray]], FloatArray],
    frontend: FrontendConfig,
    config: VetoConfig,
    own: Sequence[npt.ArrayLike] = (),
) -> CommandVeto | None:
    """The veto for `label` from the false alarms given back of it (each sound at the model's
    rate, windowed on its own: the pipeline never scored a clip across two of them) and the
    user's own takes of it that they kept (`own`, the same way); None where the kept strides
    hold no such word or no false alarm is as long as a clip."""
    kept_rows = kept.of(label)

    def windows_of(parts: Sequence[npt.ArrayLike]) -> tuple[list[FloatArray], list[int]]:
        windows: list[FloatArray] = []
        ids: list[int] = []
        for index, part in enumerate(parts):
            found = stride_windows(part, frontend, config.stride_ms)
            windows += found
            ids += [index] * len(found)
        return windows, ids

    (alarm_windows, alarm_ids), (own_windows, own_ids) = windows_of(sounds), windows_of(own)
    if kept_rows is None or not alarm_windows:
        return None
    own_rows = embed(own_windows) if own_windows else None
    return fit_veto(
        label, embed(alarm_windows), kept_rows, config, own_rows, alarm_ids, own_ids or None
    )


def apply_vetoes(
    probabilities: npt.ArrayLike,
    embeddings: npt.ArrayLike,
    labels: Sequence[str],
    vetoes: Sequence[CommandVeto],
) -> FloatArray:
    """Rows with each vetoed word's probability moved to `_unknown_` where its veto fires (rows
    still sum to what they summed to; a model without `_unknown_` loses the mass instead)."""
    out = np.array(probabilities, dtype=np.float32, copy=True)
    unknown = labels.index(UNKNOWN_LABEL) if UNKNOWN_LABEL in labels else None
    for veto in vetoes:
        fired = veto.fires(embeddings)
        if not fired.any():
            continue
        column = labels.index(veto.label)
        if unknown is not None:
            out[fired, unknown] += out[fired, column]
        out[fired, column] = 0.0
    return out


def save_kept_strides(path: Path, model_id: str, strides: Mapping[str, npt.ArrayLike]) -> None:
    """Write the kept strides for the model (pair) whose identity is `model_id` (float16)."""
    labels = sorted(label for label, rows in strides.items() if np.asarray(rows).shape[0])
    if not labels:
        raise ValueError("no kept strides to save")
    embeddings = np.concatenate([np.asarray(strides[label], dtype=np.float16) for label in labels])
    row_labels = np.concatenate(
        [np.full(np.asarray(strides[label]).shape[0], index) for index, label in enumerate(labels)]
    ).astype(np.int32)
    arrays: dict[str, npt.NDArray[np.generic]] = {
        FORMAT_KEY: np.array(KEPT_FORMAT),
        MODEL_ID_KEY: np.array(model_id),
        LABELS_KEY: np.array(labels),
        EMBEDDINGS_KEY: embeddings,
        ROW_LABELS_KEY: row_labels,
    }
    partial = path.with_name(f".{path.name}.partial.npz")  # a reader never sees half a file
    np.savez_compressed(partial, allow_pickle=False, **arrays)
    os.replace(partial, path)


def kept_strides_path(model_path: Path) -> Path:
    """Where the kept strides of the command model at `model_path` are: beside it, as the word
    embedder it names is (a model opened from elsewhere brings its own, or learns no vetoes)."""
    return model_path.parent / KEPT_FILE_NAME


def kept_labels(path: Path, model_id: str) -> tuple[str, ...]:
    """The command words `path` holds kept strides of, if it was made for this model (pair);
    none otherwise. Reads no embeddings (the app asks before it loads anything else)."""
    if not path.is_file():
        return ()
    try:
        with np.load(path, allow_pickle=False) as data:
            if str(data[FORMAT_KEY]) != KEPT_FORMAT or str(data[MODEL_ID_KEY]) != model_id:
                return ()
            return tuple(str(label) for label in data[LABELS_KEY])
    except (*ZIP_ERRORS, KeyError) as error:
        logger.warning("%s cannot be read: %s", path.name, error)
        return ()


def load_kept_strides(path: Path, model_id: str, size: int) -> KeptStrides | None:
    """The kept strides made for this model (pair); None where there is no file or it was made
    for another model. KeptStridesError for a damaged file."""
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            if str(data[FORMAT_KEY]) != KEPT_FORMAT:
                raise KeptStridesError(f"{path.name} is not a {KEPT_FORMAT} file")
            if str(data[MODEL_ID_KEY]) != model_id:
                logger.info("%s was made for another model: command words learn no vetoes", path)
                return None
            labels = [str(label) for label in data[LABELS_KEY]]
            embeddings = np.asarray(data[EMBEDDINGS_KEY], dtype=np.float32)
            row_labels = np.asarray(data[ROW_LABELS_KEY])
    except (*ZIP_ERRORS, KeyError) as error:
        raise KeptStridesError(f"{path.name} cannot be read: {error}") from error
    fits = embeddings.ndim == 2 and embeddings.shape[1] == size
    if not fits or row_labels.shape != (len(embeddings),):
        raise KeptStridesError(f"{path.name} does not fit this model's embedding")
    if row_labels.size and (row_labels.min() < 0 or row_labels.max() >= len(labels)):
        raise KeptStridesError(f"{path.name} names labels it does not hold")
    return KeptStrides({label: embeddings[row_labels == i] for i, label in enumerate(labels)})


__all__ = [
    "KEPT_FILE_NAME",
    "CommandVeto",
    "KeptStrides",
    "KeptStridesError",
    "VetoConfig",
    "apply_vetoes",
    "fit_veto",
    "kept_labels",
    "kept_strides_path",
    "learn_veto",
    "load_kept_strides",
    "save_kept_strides",
    "stride_windows",
]
