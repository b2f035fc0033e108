"""The head's logistic regression reaches the true optimum, from any start, quickly enough, and
its single-precision Newton step falls back to double precision where float32 cannot factor the
Hessian. Its Hessian leaves out the outer products of the rows that barely bend the loss, and
the optimum does not move."""

from __future__ import annotations

import numpy as np

from kws_app.words.head import _CURVATURE_TAIL, _curved_rows, _newton_step, fit_logistic

L2_PENALTY = 1e-2
MAX_ITERATIONS = 50


def _problem(rows: int = 3000, dims: int = 64, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    features = rng.standard_normal((rows, dims))
    truth = rng.standard_normal(dims)
    targets = (features @ truth + rng.standard_normal(rows) > 2.0).astype(np.float64)
    return features, targets


def _gradient(features: np.ndarray, targets: np.ndarray, weights: np.ndarray, bias: float):  # type: ignore[no-untyped-def]
    """The exact float64 gradient of the balanced, L2-penalised loss."""
    positives = targets > 0.5
    sample_weight = np.where(positives, 0.5 / positives.sum(), 0.5 / (~positives).sum())
    probabilities = 1.0 / (1.0 + np.exp(-(features @ weights + bias)))
    residual = sample_weight * (probabilities - positives)
    return np.append(features.T @ residual + L2_PENALTY * weights, residual.sum())


def test_the_fit_is_the_optimum_although_the_hessian_is_summed_in_single_precision() -> None:
    features, targets = _problem()
    weights, bias = fit_logistic(features, targets, L2_PENALTY, MAX_ITERATIONS)
    assert np.linalg.norm(_gradient(features, targets, weights, bias)) < 1e-7


def test_a_warm_start_reaches_the_same_head() -> None:
    features, targets = _problem()
    cold = fit_logistic(features, targets, L2_PENALTY, MAX_ITERATIONS)
    nearby = fit_logistic(features[500:], targets[500:], L2_PENALTY, MAX_ITERATIONS)
    warm = fit_logistic(features, targets, L2_PENALTY, MAX_ITERATIONS, start=nearby)
    # Both stop where the gradient is under 1e-7 and the penalty makes every weight's curvature
    # at least L2_PENALTY (the bias has the data's), so the heads lie within about
    # 1e-7 / L2_PENALTY of the optimum and of each other.
    np.testing.assert_allclose(warm[0], cold[0], atol=1e-7 / L2_PENALTY)
    assert abs(warm[1] - cold[1]) < 1e-7 / L2_PENALTY


def test_a_hessian_float32_cannot_factor_is_solved_in_double_precision() -> None:
    # Two identical columns: the Hessian is singular but for a ridge that float32 rounds away.
    design = np.array([[1.0, 1.0], [1.0, 1.0], [2.0, 2.0]], dtype=np.float32)
    diagonal = np.full(2, 1e-9)
    gradient = np.array([1.0, -1.0])
    squared = np.square(design)
    curvature = np.ones(3)
    step = _newton_step(design, squared, squared.sum(axis=1), curvature, diagonal, gradient)
    hessian = design.astype(np.float64).T @ design.astype(np.float64) + np.diag(diagonal)
    np.testing.assert_allclose(hessian @ step, gradient, rtol=1e-6)


def test_the_rows_of_least_curvature_are_left_out_of_the_hessian_up_to_its_tail_share() -> None:
    contributions = np.array([5.0, 1e-6, 3.0, 2e-6, 2.0])
    kept = _curved_rows(contributions)
    np.testing.assert_array_equal(kept, [0, 2, 4])
    assert (
        contributions[np.setdiff1d(np.arange(5), kept)].sum()
        <= _CURVATURE_TAIL * contributions.sum()
    )
    # Nothing curves at all (every row certain): all rows are kept rather than none.
    np.testing.assert_array_equal(_curved_rows(np.zeros(3)), [0, 1, 2])


def test_a_fit_dominated_by_easy_negatives_is_still_the_optimum() -> None:
    # As for a word's head: a few positives, and many negatives far on the other side, most of
    # which end up with almost no curvature and are left out of the Hessian's outer products.
    rng = np.random.default_rng(1)
    dims = 32
    positives = rng.standard_normal((80, dims)) + 1.5
    negatives = rng.standard_normal((6000, dims)) - 1.5
    features = np.concatenate((positives, negatives))
    targets = np.concatenate((np.ones(len(positives)), np.zeros(len(negatives))))
    weights, bias = fit_logistic(features, targets, L2_PENALTY, MAX_ITERATIONS)
    assert np.linalg.norm(_gradient(features, targets, weights, bias)) < 1e-7
