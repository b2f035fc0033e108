"""`python -m training widen-embedding`: an exported model's custom-word embedding gains an earlier
stage's segment means in the graph itself, exactly what a fresh export of the same weights
carries, with the command words' probabilities untouched."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from kws_app.config import FrontendConfig
from kws_app.inference.model import OnnxModel
from training.cli import USER_ERROR_EXIT, main
from training.export import export_model
from training.models import build_model

LABELS = ("_silence_", "_unknown_", "yes", "no")


def _random_batch_norms(model: torch.nn.Module) -> None:
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm1d):
            module.running_mean.uniform_(-1, 1)
            module.running_var.uniform_(0.5, 2)


@pytest.fixture(scope="module")
def exports(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, np.ndarray]:
    """The same weights exported twice: with the last stage's means only (as models were before
    `word_stages`), and as they are exported now."""
    folder = tmp_path_factory.mktemp("widen")
    frames, bins = FrontendConfig().input_shape
    torch.manual_seed(0)
    model = build_model("ds_tcresnet", len(LABELS), frames, bins)
    _random_batch_norms(model)
    model.eval()
    features = torch.randn(4, frames, bins) * 3 - 5
    current = export_model(model, FrontendConfig(), LABELS, folder / "now.onnx", features).path
    model.backbone.word_stages = 1
    older = export_model(model, FrontendConfig(), LABELS, folder / "old.onnx", features).path
    return older, current, features.numpy()


def test_a_widened_file_carries_what_a_fresh_export_of_the_same_weights_carries(
    exports: tuple[Path, Path, np.ndarray], tmp_path: Path
) -> None:
    older, current, features = exports
    widened = tmp_path / "widened.onnx"
    assert main(["widen-embedding", str(older), "--out", str(widened)]) == 0
    old_probabilities, old_embedding = OnnxModel(older, prefer_gpu=False).run(features)
    new_model = OnnxModel(widened, prefer_gpu=False)
    probabilities, embedding = new_model.run(features)
    _, fresh_embedding = OnnxModel(current, prefer_gpu=False).run(features)
    assert old_embedding is not None and embedding is not None and fresh_embedding is not None
    np.testing.assert_array_equal(probabilities, old_probabilities)
    assert old_embedding.shape[1] < embedding.shape[1] == new_model.info.embedding_size
    np.testing.assert_allclose(embedding, fresh_embedding, atol=1e-5)
    # The older embedding is kept whole at the end: the earlier stage comes first.
    np.testing.assert_array_equal(embedding[:, -old_embedding.shape[1] :], old_embedding)
    assert new_model.labels == LABELS


def test_widening_twice_or_a_file_that_is_no_model_is_one_line_of_error(
    exports: tuple[Path, Path, np.ndarray], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, current, _ = exports
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"not a model")
    for source, words in (
        (current, "already holds"),
        (broken, "not a readable ONNX model"),
        (tmp_path / "absent.onnx", "not found"),
    ):
        target = tmp_path / "out.onnx"
        assert main(["widen-embedding", str(source), "--out", str(target)]) == USER_ERROR_EXIT
        error = capsys.readouterr().err.strip()
        assert error.startswith("error: ") and words in error and "\n" not in error
        assert not target.exists()
