"""import-onnx: a shipped model file becomes a checkpoint that computes what the file computes, in
eval mode and (on the clips its statistics came from) in training mode, and exports back to the
same outputs; files that are not kws models are refused in one line."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
from training_helpers import make_dataset

from kws_app.inference.model import OnnxModel
from kws_app.paths import assets_dir
from training.checkpoint import load_checkpoint
from training.cli import USER_ERROR_EXIT, main
from training.export import MAX_ABS_DIFFERENCE, export_checkpoint, model_from_checkpoint
from training.onnx_import import STATISTICS_BATCH, OnnxImportError, clip_features, import_onnx

SHIPPED = assets_dir() / "kws-words.onnx"


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_dataset(tmp_path_factory.mktemp("import") / "clips", speakers=6)


@pytest.fixture(scope="module")
def checkpoint(clips: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("checkpoint") / "imported.pt"
    assert main(["import-onnx", str(SHIPPED), "--clips", str(clips), "--output", str(path)]) == 0
    return path


def test_the_imported_network_computes_what_the_file_computes(checkpoint: Path) -> None:
    state = load_checkpoint(checkpoint)
    model, _ = model_from_checkpoint(state)
    features = state["check_features"] + 0.5 * torch.randn_like(state["check_features"])
    probabilities, embedding = OnnxModel(SHIPPED, prefer_gpu=False).run(features.numpy())
    with torch.no_grad():
        logits, word_embedding = model.logits_and_word_embedding(features)
    np.testing.assert_allclose(
        torch.softmax(logits, dim=1).numpy(), probabilities, atol=MAX_ABS_DIFFERENCE
    )
    np.testing.assert_allclose(word_embedding.numpy(), embedding, atol=MAX_ABS_DIFFERENCE)


def test_training_mode_starts_where_the_file_is(clips: Path) -> None:
    # On the clips its statistics were measured on, a batch norm that uses the batch's own
    # statistics (training mode) gives what the file gives.
    state = import_onnx(SHIPPED, clips, max_clips=STATISTICS_BATCH)
    model, frontend = model_from_checkpoint(state)
    features = clip_features(clips, frontend, STATISTICS_BATCH, seed=0)
    with torch.no_grad():
        _, evaluated = model.eval().logits_and_word_embedding(features)
        _, trained = model.train().logits_and_word_embedding(features)
    np.testing.assert_allclose(trained.numpy(), evaluated.numpy(), atol=1e-3)


def test_the_checkpoint_exports_to_a_file_with_the_same_outputs(
    checkpoint: Path, tmp_path: Path
) -> None:
    again = tmp_path / "again.onnx"
    export_checkpoint(checkpoint, again)
    features = load_checkpoint(checkpoint)["check_features"].numpy()
    original = OnnxModel(SHIPPED, prefer_gpu=False).run(features)
    exported = OnnxModel(again, prefer_gpu=False).run(features)
    np.testing.assert_allclose(exported[0], original[0], atol=MAX_ABS_DIFFERENCE)
    np.testing.assert_allclose(exported[1], original[1], atol=MAX_ABS_DIFFERENCE)


def test_a_file_without_kws_metadata_is_refused_in_one_line(
    clips: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    proto = onnx.load(str(SHIPPED))
    del proto.metadata_props[:]
    bare = tmp_path / "bare.onnx"
    onnx.save(proto, str(bare))
    out = tmp_path / "out.pt"
    code = main(["import-onnx", str(bare), "--clips", str(clips), "--output", str(out)])
    error = capsys.readouterr().err.strip()
    assert code == USER_ERROR_EXIT
    assert error.count("\n") == 0 and "not a kws model file" in error
    assert not out.exists()


def test_a_folder_without_audio_is_refused(tmp_path: Path) -> None:
    with pytest.raises(OnnxImportError, match="no audio files"):
        import_onnx(SHIPPED, tmp_path)
