"""The heads' within-word whitening: built from many speakers' command words, shipped in the
negatives file, folded into each head's weights, and refused when a file's matrix is malformed."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

from words_negatives import within_whitening  # noqa: E402

from kws_app.words.head import fit_head  # noqa: E402
from kws_app.words.trainer import (  # noqa: E402
    NEGATIVES_FORMAT,
    WHITENING_KEY,
    load_shipped_negatives,
)

DIMS = 6
MODEL_ID = "sha256:test"


def _groups(rng: np.random.Generator, centre: np.ndarray) -> list[np.ndarray]:
    return [centre + 0.3 * rng.standard_normal((16, DIMS)) for _ in range(5)]


def test_the_whitening_shrinks_the_directions_a_word_varies_along() -> None:
    rng = np.random.default_rng(0)
    negatives = rng.standard_normal((4000, DIMS))
    # Ten "words", each spoken with a large spread along the first axis only (speaker-like).
    labels = np.repeat(np.arange(10), 200)
    embeddings = rng.standard_normal((10, DIMS))[labels] * 2.0
    embeddings[:, 0] += 3.0 * rng.standard_normal(labels.size)
    transform = within_whitening(embeddings, labels, negatives, shrink=0.5)
    assert transform.shape == (DIMS, DIMS)
    np.testing.assert_allclose(transform, transform.T, atol=1e-6)
    gains = np.linalg.norm(transform, axis=0)
    assert gains[0] < 0.5 * gains[1:].min()
    # The negatives keep a unit mean variance, so the head's penalty keeps its strength.
    standard = (negatives - negatives.mean(axis=0)) / negatives.std(axis=0)
    assert np.mean(np.var(standard @ transform, axis=0)) == pytest.approx(1.0, rel=1e-3)


def test_shrinking_to_the_identity_leaves_the_input_as_it_is() -> None:
    rng = np.random.default_rng(1)
    negatives = rng.standard_normal((4000, DIMS))
    labels = np.repeat(np.arange(4), 50)
    transform = within_whitening(rng.standard_normal((200, DIMS)), labels, negatives, shrink=1.0)
    np.testing.assert_allclose(transform, np.eye(DIMS), atol=2e-3)


def test_a_head_fitted_through_a_rotation_is_the_head_fitted_without_it() -> None:
    # The L2 penalty does not see a rotation, so only a wrongly folded transform could change
    # the head: its scores on raw embeddings must be the same.
    rng = np.random.default_rng(2)
    positives = _groups(rng, np.full(DIMS, 1.0))
    negatives = rng.standard_normal((3000, DIMS))
    rotation, _ = np.linalg.qr(rng.standard_normal((DIMS, DIMS)))
    plain = fit_head(positives, negatives, MODEL_ID).head
    rotated = fit_head(positives, negatives, MODEL_ID, transform=rotation.astype(np.float32)).head
    probe = rng.standard_normal((50, DIMS)).astype(np.float32)
    np.testing.assert_allclose(rotated.logits(probe), plain.logits(probe), atol=1e-3)


def test_a_whitened_head_reads_raw_embeddings_and_still_finds_its_word() -> None:
    rng = np.random.default_rng(3)
    word = np.full(DIMS, 1.5)
    negatives = rng.standard_normal((3000, DIMS))
    transform = np.diag([0.2, 1, 1, 1, 1, 1.2]).astype(np.float32)
    head = fit_head(_groups(rng, word), negatives, MODEL_ID, transform=transform).head
    said = (word + 0.3 * rng.standard_normal((20, DIMS))).astype(np.float32)
    assert head.embedding_size == DIMS
    assert np.median(head.scores(said)) > np.percentile(head.scores(negatives), 99)


def _negatives_file(path: Path, whitening: np.ndarray) -> Path:
    rng = np.random.default_rng(4)
    np.savez(
        path,
        format=np.array(NEGATIVES_FORMAT),
        model_id=np.array(MODEL_ID),
        embeddings=rng.standard_normal((30, DIMS)).astype(np.float16),
        label_index=np.zeros(30, dtype=np.int16),
        label_names=np.array(["_speech_"]),
        **{WHITENING_KEY: whitening},
    )
    return path


def test_the_shipped_whitening_is_read_with_the_negatives(tmp_path: Path) -> None:
    whitening = np.eye(DIMS, dtype=np.float32) * 0.5
    path = _negatives_file(tmp_path / "negatives.npz", whitening)
    negatives = load_shipped_negatives(path, MODEL_ID, DIMS)
    assert negatives is not None and negatives.whitening is not None
    np.testing.assert_array_equal(negatives.whitening, whitening)


@pytest.mark.parametrize(
    "whitening",
    [np.eye(DIMS + 1, dtype=np.float32), np.full((DIMS, DIMS), np.nan, dtype=np.float32)],
    ids=["wrong size", "not finite"],
)
def test_a_malformed_whitening_makes_the_file_unused(
    tmp_path: Path, whitening: np.ndarray, caplog: pytest.LogCaptureFixture
) -> None:
    path = _negatives_file(tmp_path / "negatives.npz", whitening)
    with caplog.at_level(logging.WARNING):
        assert load_shipped_negatives(path, MODEL_ID, DIMS) is None
    assert "inconsistent shapes" in caplog.text
