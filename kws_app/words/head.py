"""The few-shot head: one logistic regression per custom word on the base model's embedding.

Five recordings cannot train a network, but the shipped model's penultimate layer already maps
speech to features that separate words, so a linear classifier on those features learns a new word
in well under a second (the approach of TensorFlow.js speech-commands' transfer recognizer).

Calibration matters more than the fit: the streaming decoder compares an averaged probability with
one threshold for every word, and a regression fitted on five examples is over-confident on them.
So the raw score is rescaled (Platt scaling) on scores the regression has NOT seen: each example
held out in turn (leave-one-example-out) against a held-out slice of the negatives. The final head
folds standardisation, regression and calibration into one weight vector and a bias.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeGuard

import numpy as np
import numpy.typing as npt
from scipy.linalg import cho_factor, cho_solve
from scipy.linalg.blas import ssymv as symv
from scipy.linalg.blas import ssyrk as syrk

from kws_app.errors import UserError

FloatArray = npt.NDArray[np.float32]

HEAD_FORMAT = "kws-word-head"
HEAD_VERSION = 1
MAX_EMBEDDING_SIZE = 4096
# A model's identity is "sha256:" and 64 hex digits; a command model with a word embedder joins
# two (kws_app/words/trainer.py, model_id_of). Room for a few, refusing anything longer.
MAX_MODEL_ID_CHARS = 512
MAX_ABS_PARAMETER = 1e6
MAX_HEAD_JSON_BYTES = 256 * 1024
"""Longest head.json accepted: MAX_EMBEDDING_SIZE weights written by `to_json` (indent 1, at
most 28 characters per float with its newline, indent and comma) take about 115 kB; twice that
leaves room for other writers' spacing and refuses anything else before json sees it."""
MAX_JSON_NUMBER_CHARS = 32
"""Longest number literal accepted in untrusted JSON. The longest number this app writes is a
float's repr (24 characters: sign, 17 digits, point, exponent), so a longer one is not ours; it is
refused before int() or float() see it, because Python refuses integers of over 4,300 digits with a
bare ValueError that json passes on instead of a JSONDecodeError."""
MAX_JSON_DEPTH = 16
"""Deepest nesting accepted in untrusted JSON: the app's files nest 3 levels (an object holding a
list of objects); 16 leaves room for new fields and keeps far below the interpreter's recursion
limit, which json's decoder spends one level of per bracket."""
# Newton solver: a tiny ridge keeps the Hessian invertible for a bias-only or separable problem.
_RIDGE = 1e-9
_MIN_STEP = 1e-6
_TOLERANCE = 1e-9
# A float32 Newton step whose residual is larger than this share of the gradient is solved
# again in float64.
_STEP_RESIDUAL = 1e-3
# Added to each embedding value's standard deviation before a head standardises by it, so a
# value that never varies does not divide by zero (bench/words_negatives.py standardises alike).
SPREAD_FLOOR = 1e-6
# Rows that together hold less than this share of the Hessian's trace enter it through its
# diagonal alone: well-separated negatives barely bend the loss, and summing their outer products
# was most of a word's training time.
_CURVATURE_TAIL = 1e-2


class HeadError(UserError, ValueError):
    """A head file that cannot be used; str() is a one-line message."""


class UntrustedJsonError(UserError, ValueError):
    """JSON text refused by `parse_untrusted_json`; str() is a one-line message that reads after
    the name of what was parsed ("is not valid JSON: ...", "holds a 5001-character number ...")."""


def parse_untrusted_json(text: str | bytes, max_bytes: int) -> object:
    """`json.loads` for text from strangers (word files, head files): every refusal is one line.

    Plain `json.loads` lets a 5,001-digit integer escape as a bare ValueError (a traceback for the
    user), turns NaN, Infinity and 1e999 into floats every validator would have to remember to
    check, and recurses once per bracket. Here the size is checked before parsing, every number
    literal is bounded before it is converted, and non-finite numbers and deep nesting are refused.
    """
    if len(text) > max_bytes or (
        isinstance(text, str) and len(text.encode("utf-8", "surrogatepass")) > max_bytes
    ):
        raise UntrustedJsonError(f"is larger than {max_bytes} bytes")
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as error:
            raise UntrustedJsonError(
                f"is not UTF-8 text ({error.reason} at byte {error.start})"
            ) from error
    try:
        value = json.loads(
            text,
            parse_int=_bounded_int,
            parse_float=_bounded_float,
            parse_constant=_refuse_constant,
        )
    except RecursionError as error:
        raise UntrustedJsonError(f"is nested more than {MAX_JSON_DEPTH} levels deep") from error
    except json.JSONDecodeError as error:
        raise UntrustedJsonError(f"is not valid JSON: {error}") from error
    _check_depth(value)
    return value


def _check_number_length(literal: str) -> None:
    if len(literal) > MAX_JSON_NUMBER_CHARS:
        raise UntrustedJsonError(
            f"holds a {len(literal)}-character number; at most {MAX_JSON_NUMBER_CHARS} are accepted"
        )


def _bounded_int(literal: str) -> int:
    _check_number_length(literal)
    return int(literal)


def _bounded_float(literal: str) -> float:
    _check_number_length(literal)
    value = float(literal)
    if not math.isfinite(value):  # 1e999 overflows to infinity
        raise UntrustedJsonError(f"holds the number {literal}, which is out of range")
    return value


def _refuse_constant(name: str) -> float:
    raise UntrustedJsonError(f"holds {name}, which is not a JSON number")


def _check_depth(value: object) -> None:
    """Refuse nesting deeper than MAX_JSON_DEPTH; iterative, so no recursion limit applies."""
    pending: list[tuple[object, int]] = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, dict):
            children = list(item.values())
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > MAX_JSON_DEPTH:
            raise UntrustedJsonError(f"is nested more than {MAX_JSON_DEPTH} levels deep")
        pending.extend((child, depth + 1) for child in children)


@dataclass(frozen=True)
class HeadConfig:
    """Regression and calibration settings, chosen on bench/words_fewshot.py (see its doc)."""

    l2_penalty: float = 1e-2
    held_out_negative_fraction: float = 0.25
    platt_l2_penalty: float = 1e-3
    # The calibrated score of a word at the equal-error point of held-out positives and negatives.
    # A custom word's probability is its score times the base model's `_unknown_` mass, averaged
    # over the word's window, so the equal-error point must sit near the top for a said word to
    # reach a threshold above one half; chosen with bench/words_fewshot.py --sweep
    # (docs/benchmarks.md, "Custom words").
    positive_prior: float = 0.95
    max_iterations: int = 50
    seed: int = 0


@dataclass(frozen=True)
class WordHead:
    """score(embedding) = sigmoid(embedding @ weights + bias), valid only for `model_id`."""

    model_id: str
    weights: FloatArray
    bias: float
    details: dict[str, float | int]

    @property
    def embedding_size(self) -> int:
        return int(self.weights.shape[0])

    def logits(self, embeddings: FloatArray) -> FloatArray:
        return (
            np.asarray(embeddings, dtype=np.float32) @ self.weights + np.float32(self.bias)
        ).astype(np.float32)

    def scores(self, embeddings: FloatArray) -> FloatArray:
        return sigmoid(self.logits(embeddings))

    def to_json(self) -> str:
        return json.dumps(
            {
                "format": HEAD_FORMAT,
                "version": HEAD_VERSION,
                "model_id": self.model_id,
                "embedding_size": self.embedding_size,
                "weights": [float(value) for value in self.weights],
                "bias": float(self.bias),
                "details": self.details,
            },
            indent=1,
        )

    @classmethod
    def from_json(cls, text: str) -> WordHead:
        """Parses and validates untrusted JSON: types, sizes and finite values."""
        try:
            data = parse_untrusted_json(text, MAX_HEAD_JSON_BYTES)
        except UntrustedJsonError as error:
            raise HeadError(f"head {error}") from error
        if not isinstance(data, dict) or data.get("format") != HEAD_FORMAT:
            raise HeadError("not a kws word head")
        if data.get("version") != HEAD_VERSION:
            raise HeadError(f"head version {data.get('version')!r} is not supported")
        model_id = data.get("model_id")
        size = data.get("embedding_size")
        weights = data.get("weights")
        bias = data.get("bias")
        details = data.get("details", {})
        if not isinstance(model_id, str) or len(model_id) > MAX_MODEL_ID_CHARS:
            raise HeadError("head model_id must be a short string")
        if not isinstance(size, int) or not 0 < size <= MAX_EMBEDDING_SIZE:
            raise HeadError("head embedding_size is out of range")
        if not isinstance(weights, list) or len(weights) != size:
            raise HeadError("head weights must be a list of embedding_size numbers")
        if not _is_plain_number(bias) or not all(_is_plain_number(v) for v in weights):
            raise HeadError("head weights and bias must be numbers")
        array = np.asarray(weights, dtype=np.float64)
        if not np.all(np.isfinite(array)) or not math.isfinite(bias):
            raise HeadError("head weights and bias must be finite")
        if np.max(np.abs(array), initial=0.0) > MAX_ABS_PARAMETER or abs(bias) > MAX_ABS_PARAMETER:
            raise HeadError("head weights are implausibly large")
        if not isinstance(details, dict) or not all(
            isinstance(k, str) and isinstance(v, int | float) for k, v in details.items()
        ):
            raise HeadError("head details must map names to numbers")
        return cls(model_id, array.astype(np.float32), float(bias), dict(details))


def _is_plain_number(value: object) -> TypeGuard[int | float]:
    """A JSON number: int or float but not bool, which isinstance counts as an int."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def sigmoid(values: npt.ArrayLike) -> FloatArray:
    clipped = np.clip(np.asarray(values, dtype=np.float64), -60.0, 60.0)
    return (1.0 / (1.0 + np.exp(-clipped))).astype(np.float32)


def _newton_step(
    design_single: npt.NDArray[np.float32],
    squared_design: npt.NDArray[np.float32],
    squared_norms: npt.NDArray[np.float64],
    curvature: npt.NDArray[np.float64],
    diagonal: npt.NDArray[np.float64],
    gradient: npt.NDArray[np.float64],
) -> npt.NDArray[np.float64]:
    """Hessian⁻¹ gradient, the Hessian being the curvature-weighted sum of the rows' outer
    products plus `diagonal`.

    The Hessian only steers the step (the gradient and the line search are exact), so it may be
    approximate without moving the optimum: the rows of least curvature, `_CURVATURE_TAIL` of its
    trace in all, enter it by their diagonal alone. It is summed in float32: a symmetric rank-k
    update sums half of it, and a Cholesky factor (the Hessian is positive definite) solves in
    half the work of a general solve. A Hessian that float32 cannot factor (nearly singular,
    where the tiny ridge on the diagonal is lost to rounding) is solved in float64 instead.
    """
    kept = _curved_rows(curvature * squared_norms)
    tail_curvature = curvature.astype(np.float32)
    tail_curvature[kept] = 0.0
    full_diagonal = diagonal + tail_curvature @ squared_design
    root = np.sqrt(curvature[kept]).astype(np.float32)
    scaled = design_single[kept] * root[:, np.newaxis]
    # syrk computes A @ A.T of its upper triangle; scaled.T is Fortran-ordered, read without a copy.
    upper = syrk(1.0, scaled.T, lower=0)
    upper[np.diag_indices_from(upper)] += full_diagonal.astype(np.float32)
    target = gradient.astype(np.float32)
    try:
        factor = cho_factor(upper, lower=False, check_finite=False)
        step = cho_solve(factor, target, check_finite=False)
        residual = symv(1.0, upper, step, lower=0) - target
        if np.isfinite(step).all() and np.linalg.norm(residual) <= _STEP_RESIDUAL * np.linalg.norm(
            target
        ):
            return np.asarray(step, dtype=np.float64)
    except np.linalg.LinAlgError:
        pass
    hessian = (scaled.T @ scaled).astype(np.float64) + np.diag(full_diagonal)
    return np.asarray(np.linalg.solve(hessian, gradient), dtype=np.float64)


def _curved_rows(contributions: npt.NDArray[np.float64]) -> npt.NDArray[np.int64]:
    """Indices, in order, of the rows that hold all but `_CURVATURE_TAIL` of the trace."""
    order = np.argsort(contributions)
    tail = np.cumsum(contributions[order])
    if not tail.size or not tail[-1] > 0:
        return np.arange(contributions.shape[0])
    cut = int(np.searchsorted(tail, _CURVATURE_TAIL * tail[-1], side="right"))
    return np.sort(order[cut:])


def fit_logistic(
    features: npt.NDArray[np.float64],
    targets: npt.NDArray[np.float64],
    l2_penalty: float,
    max_iterations: int,
    start: tuple[npt.NDArray[np.float64], float] | None = None,
) -> tuple[npt.NDArray[np.float64], float]:
    """Class-balanced L2-regularised logistic regression; returns (weights, bias).

    Newton's method: with under a thousand dimensions the Hessian is small, the loss is
    strictly convex, and a dozen exact steps beat a quasi-Newton solver's hundreds of cheap ones.
    The Hessian, most of the cost, is summed in float32: it only steers the step, while the
    gradient and the line search stay in float64, so the optimum is the same. `start` (a nearby
    problem's solution) saves steps, not accuracy.
    """
    positives = targets > 0.5
    sample_weight = np.where(positives, 0.5 / positives.sum(), 0.5 / (~positives).sum())
    signs = np.where(positives, 1.0, -1.0)
    design = np.hstack((features, np.ones((features.shape[0], 1))))
    design_single = design.astype(np.float32)
    penalty = np.full(design.shape[1], l2_penalty)
    penalty[-1] = 0.0  # the bias is not shrunk

    def loss(params: npt.NDArray[np.float64]) -> float:
        margins = signs * (design @ params)
        return float(np.sum(sample_weight * np.logaddexp(0.0, -margins))) + 0.5 * float(
            np.sum(penalty * params**2)
        )

    params = np.zeros(design.shape[1]) if start is None else np.append(start[0], start[1])
    current = loss(params)
    diagonal = penalty + _RIDGE
    squared_design = np.square(design_single)
    squared_norms = squared_design.sum(axis=1, dtype=np.float64)
    for _ in range(max_iterations):
        probabilities = 1.0 / (1.0 + np.exp(-np.clip(design @ params, -60.0, 60.0)))
        gradient = design.T @ (sample_weight * (probabilities - positives)) + penalty * params
        curvature = sample_weight * probabilities * (1.0 - probabilities)
        step = _newton_step(
            design_single, squared_design, squared_norms, curvature, diagonal, gradient
        )
        size = 1.0
        while size > _MIN_STEP:
            candidate = params - size * step
            candidate_loss = loss(candidate)
            if candidate_loss <= current:
                break
            size /= 2.0
        else:
            break
        params, previous, current = candidate, current, candidate_loss
        if previous - current < _TOLERANCE * max(1.0, abs(current)):
            break
    return params[:-1], float(params[-1])


@dataclass(frozen=True)
class HeadFit:
    """A trained head and the scores it gave to what it was not fitted on.

    `held_out_positive_scores` are every positive variant (in the order of the concatenated
    groups) scored by a head fitted without its example; `held_out_negative_rows` index the
    negatives kept out of the final fit and `held_out_negative_scores` are the final head's
    scores for them. The word's operating point is chosen from these
    (kws_app.words.calibration).
    """

    head: WordHead
    held_out_positive_scores: FloatArray
    held_out_negative_scores: FloatArray
    held_out_negative_rows: npt.NDArray[np.int64]


def train_head(
    positives_per_example: Sequence[FloatArray],
    negatives: FloatArray,
    model_id: str,
    config: HeadConfig | None = None,
) -> WordHead:
    """Fit and calibrate one word's head (see `fit_head`)."""
    return fit_head(positives_per_example, negatives, model_id, config).head


def fit_head(
    positives_per_example: Sequence[FloatArray],
    negatives: FloatArray,
    model_id: str,
    config: HeadConfig | None = None,
    transform: FloatArray | None = None,
) -> HeadFit:
    """Fit and calibrate one word's head, keeping its held-out scores.

    `positives_per_example` holds, for each recorded example, the embeddings of its augmented
    variants; keeping them grouped lets calibration hold out a whole example (all its variants),
    which is what a new utterance looks like to the head. `transform` (the shipped within-word
    whitening, kws_app/words/trainer.py) multiplies the standardised embeddings before the fit
    and is folded into the weights, so the head still reads raw embeddings.
    """
    config = config or HeadConfig()
    groups = [np.asarray(group, dtype=np.float64) for group in positives_per_example if len(group)]
    if len(groups) < 2:
        raise ValueError("a word needs at least two examples")
    negative_array = np.asarray(negatives, dtype=np.float64)
    if negative_array.ndim != 2 or negative_array.shape[0] < 2:
        raise ValueError("a word needs negative examples")
    positives = np.concatenate(groups)
    centre = np.concatenate((positives, negative_array)).mean(axis=0)
    spread = np.concatenate((positives, negative_array)).std(axis=0) + SPREAD_FLOOR

    mapping = None if transform is None else np.asarray(transform, dtype=np.float64)

    def standard(values: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        scaled = (values - centre) / spread
        return scaled if mapping is None else scaled @ mapping

    rng = np.random.default_rng(config.seed)
    order = rng.permutation(negative_array.shape[0])
    held_count = max(1, int(round(config.held_out_negative_fraction * len(order))))
    held_negatives, fit_negatives = order[:held_count], order[held_count:]

    # Standardised once: every fit below reads the same negatives.
    fit_negative_features = standard(negative_array[fit_negatives])
    features = np.concatenate((standard(positives), fit_negative_features))
    targets = np.concatenate((np.ones(len(positives)), np.zeros(len(fit_negatives))))
    weights, bias = fit_logistic(features, targets, config.l2_penalty, config.max_iterations)
    held_negative_logits = standard(negative_array[held_negatives]) @ weights + bias

    # Each example held out in turn; the full fit is a close starting point for each.
    held_positive_logits: list[npt.NDArray[np.float64]] = []
    for index, group in enumerate(groups):
        others = np.concatenate([g for i, g in enumerate(groups) if i != index])
        features = np.concatenate((standard(others), fit_negative_features))
        targets = np.concatenate((np.ones(len(others)), np.zeros(len(fit_negatives))))
        held_weights, held_bias = fit_logistic(
            features, targets, config.l2_penalty, config.max_iterations, start=(weights, bias)
        )
        held_positive_logits.append(standard(group) @ held_weights + held_bias)

    # Platt scaling on unseen scores: one more (1-D) balanced logistic regression.
    calibration_logits = np.concatenate((*held_positive_logits, held_negative_logits))
    calibration_targets = np.concatenate(
        (np.ones(sum(len(g) for g in held_positive_logits)), np.zeros(len(held_negative_logits)))
    )
    (scale,), offset = fit_logistic(
        calibration_logits[:, np.newaxis],
        calibration_targets,
        config.platt_l2_penalty,
        config.max_iterations,
    )
    if not scale > 0:  # the held-out examples scored no higher than negatives: keep raw scores
        scale, offset = 1.0, 0.0
    offset += math.log(config.positive_prior / (1.0 - config.positive_prior))

    if mapping is not None:
        weights = mapping @ weights
    folded_weights = scale * weights / spread
    folded_bias = scale * (bias - float((centre / spread) @ weights)) + offset
    held_positive = np.concatenate(held_positive_logits)
    details: dict[str, float | int] = {
        "examples": len(groups),
        "positive_variants": int(len(positives)),
        "negatives": int(negative_array.shape[0]),
        "held_out_positive_median": float(np.median(sigmoid(scale * held_positive + offset))),
        "held_out_negative_p99": float(
            np.percentile(sigmoid(scale * held_negative_logits + offset), 99)
        ),
    }
    head = WordHead(model_id, folded_weights.astype(np.float32), float(folded_bias), details)
    return HeadFit(
        head=head,
        held_out_positive_scores=sigmoid(scale * held_positive + offset),
        held_out_negative_scores=sigmoid(scale * held_negative_logits + offset),
        held_out_negative_rows=np.asarray(held_negatives, dtype=np.int64),
    )
