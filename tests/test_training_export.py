"""Export: one self-contained file the app's loader accepts, agreeing with torch; and the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import pytest
import soundfile as sf
import torch
from training_helpers import SAMPLE_RATE, WORD_TONES_HZ, make_dataset, tone

from kws_app.config import FrontendConfig
from kws_app.inference.model import (
    META_FRONTEND,
    META_LABELS,
    META_MODEL_NAME,
    META_PARAMETER_COUNT,
    META_TEST_ACCURACY,
    META_TRAINING_DATA,
    OnnxModel,
)
from training.cli import USER_ERROR_EXIT, main
from training.config import AugmentConfig, DataConfig, TrainConfig
from training.export import ExportError, export_checkpoint, export_model
from training.models import ARCHITECTURES, build_model, parameter_count, with_image_layout
from training.train import train

LABELS = ("_silence_", "_unknown_", *WORD_TONES_HZ)


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """(data dir, checkpoint, exported model) of one tiny training run shared by these tests."""
    root = tmp_path_factory.mktemp("export")
    data = make_dataset(root / "data", speakers=12)
    config = TrainConfig(
        model_name="tcresnet",
        epochs=1,
        batch_size=8,
        device="cpu",
        threads=1,
        output_dir=str(root / "run"),
        data=DataConfig(data_dir=str(data), wanted_words=tuple(WORD_TONES_HZ)),
        augment=AugmentConfig().disabled(),
    )
    result = train(config, progress=False)
    model_path = root / "model.onnx"
    export_checkpoint(result.best_checkpoint, model_path)
    return data, result.best_checkpoint, model_path


def test_export_is_self_contained_and_carries_its_metadata(
    trained: tuple[Path, Path, Path],
) -> None:
    _, checkpoint_path, model_path = trained
    assert not list(model_path.parent.glob("*.onnx.data"))
    proto = onnx.load(str(model_path), load_external_data=False)
    onnx.checker.check_model(proto)
    metadata = {p.key: p.value for p in proto.metadata_props}
    assert json.loads(metadata[META_LABELS]) == list(LABELS)
    assert FrontendConfig.from_json(metadata[META_FRONTEND]) == FrontendConfig()
    assert metadata[META_MODEL_NAME] == "tcresnet"
    checkpoint = torch.load(checkpoint_path, weights_only=True)
    assert int(metadata[META_PARAMETER_COUNT]) == checkpoint["parameter_count"]
    assert "accuracy_words" in json.loads(metadata[META_TEST_ACCURACY])
    assert json.loads(metadata[META_TRAINING_DATA])["clips"]["training"]["yes"] > 0


def test_app_runner_loads_the_export_and_agrees_with_torch(
    trained: tuple[Path, Path, Path],
) -> None:
    _, checkpoint_path, model_path = trained
    runner = OnnxModel(model_path, prefer_gpu=False)
    assert runner.labels == LABELS
    assert runner.info.has_embedding
    checkpoint = torch.load(checkpoint_path, weights_only=True)
    frames, bins = FrontendConfig().input_shape
    model = build_model("tcresnet", len(LABELS), frames, bins)
    model.load_state_dict(checkpoint["model"])
    model.eval()
    features = checkpoint["check_features"]
    for batch in (features[:1], features[:5]):
        probabilities, embedding = runner.run(batch.numpy())
        with torch.no_grad():
            logits, expected_embedding = model.logits_and_word_embedding(batch)
        np.testing.assert_allclose(probabilities, torch.softmax(logits, -1).numpy(), atol=1e-4)
        np.testing.assert_allclose(embedding, expected_embedding.numpy(), atol=1e-4)
        np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)


@pytest.mark.parametrize("name", sorted(set(ARCHITECTURES) - {"tcresnet"}))
def test_every_architecture_exports(name: str, tmp_path: Path) -> None:
    frames, bins = FrontendConfig().input_shape
    torch.manual_seed(0)
    model = build_model(name, len(LABELS), frames, bins)
    features = torch.randn(3, frames, bins) * 3 - 5
    report = export_model(model, FrontendConfig(), LABELS, tmp_path / f"{name}.onnx", features)
    assert report.parameter_count == parameter_count(model)
    assert OnnxModel(report.path, prefer_gpu=False).labels == LABELS


def test_export_refuses_a_file_that_disagrees_with_torch(
    trained: tuple[Path, Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import training.export as export_module

    monkeypatch.setattr(export_module, "MAX_ABS_DIFFERENCE", 0.0)
    target = tmp_path / "bad.onnx"
    with pytest.raises(ExportError, match="differs from torch"):
        export_checkpoint(trained[1], target)
    assert not target.exists()


def test_cli_evaluate_and_label_wav(
    trained: tuple[Path, Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data, _, model_path = trained
    assert main(["evaluate", "--model", str(model_path), "--data-dir", str(data), "--quiet",
                 "--split", "training",
                 "--json", str(tmp_path / "eval.json")]) == 0  # fmt: skip
    report = json.loads((tmp_path / "eval.json").read_text())
    assert report["labels"] == list(LABELS)
    assert "accuracy (all labels)" not in capsys.readouterr().out
    clip = tmp_path / "yes.flac"
    sf.write(clip, tone(WORD_TONES_HZ["yes"], np.random.default_rng(0)), SAMPLE_RATE)
    assert main(["label-wav", "--model", str(model_path), "--json", str(clip), str(clip)]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 2
    first = json.loads(lines[0])
    assert first["file"] == str(clip)
    assert len(first["top"]) == 3
    assert all(label in LABELS and 0.0 <= score <= 1.0 for label, score in first["top"])


def test_cli_errors_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad_model = tmp_path / "bad.onnx"
    bad_model.write_bytes(b"not a model")
    cases = [
        ["train", "--data-dir", str(tmp_path / "missing"), "--quiet"],
        ["evaluate", "--model", str(bad_model), "--data-dir", str(tmp_path)],
        ["label-wav", "--model", str(tmp_path / "absent.onnx"), "x.wav"],
        ["export", "--checkpoint", str(tmp_path / "absent.pt"), "--output", str(bad_model)],
    ]
    for argv in cases:
        assert main(argv) == USER_ERROR_EXIT
        error = capsys.readouterr().err.strip()
        assert error.startswith("error: ") and "\n" not in error


def test_cli_summary_prints_layers_and_totals(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["summary", "--model", "tf_low_latency_conv"]) == 0
    out = capsys.readouterr().out
    assert "Conv2d" in out and "Total params: 949,862" in out


def test_the_word_embedding_keeps_the_order_of_sounds_that_the_classifier_averages_away() -> None:
    frames, bins = FrontendConfig().input_shape
    torch.manual_seed(0)
    model = build_model("ds_tcresnet", len(LABELS), frames, bins).eval()
    sound = torch.randn(1, frames, bins)
    first_half, second_half = sound[:, : frames // 2], sound[:, frames // 2 :]
    swapped = torch.cat([second_half, first_half], dim=1)
    with torch.no_grad():
        logits, embedding = model.logits_and_word_embedding(sound)
        plain_logits, plain_embedding = model(sound)
        _, swapped_embedding = model.logits_and_word_embedding(swapped)
        _, plain_swapped = model(swapped)
    # The classifier sees exactly what it was trained on...
    torch.testing.assert_close(logits, plain_logits)
    # ...and the word embedding holds one mean per segment of the window, of the last stage and
    # of the one before it, so it is longer and moves more than the classifier's mean over time
    # when the two halves change places.
    backbone = model.backbone
    stages = backbone.stage_outputs(model.norm(sound))  # type: ignore[operator]
    widths = [int(stage.shape[1]) for stage in stages[-backbone.word_stages :]]  # type: ignore[index]
    assert len(widths) == 2 and widths[-1] == plain_embedding.shape[1]
    assert embedding.shape[1] == backbone.word_segments * sum(widths)

    def relative_change(before: torch.Tensor, after: torch.Tensor) -> float:
        return float(torch.linalg.norm(after - before) / torch.linalg.norm(before))

    assert relative_change(embedding, swapped_embedding) > relative_change(
        plain_embedding, plain_swapped
    )


@pytest.mark.parametrize("name", ["tcresnet", "ds_tcresnet", "ds_tcresnet_wide"])
def test_the_exported_graph_runs_temporal_convolutions_as_images_with_the_same_outputs(
    name: str, tmp_path: Path
) -> None:
    frames, bins = FrontendConfig().input_shape
    torch.manual_seed(0)
    model = build_model(name, len(LABELS), frames, bins)
    for module in model.modules():  # non-trivial batch norm statistics
        if isinstance(module, torch.nn.BatchNorm1d):
            module.running_mean.uniform_(-1, 1)
            module.running_var.uniform_(0.5, 2)
    model.eval()
    features = torch.randn(4, frames, bins) * 3 - 5
    image = with_image_layout(model)
    with torch.no_grad():
        for got, want in zip(
            image.logits_and_word_embedding(features),
            model.logits_and_word_embedding(features),
            strict=True,
        ):
            torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-4)
    assert not any(isinstance(m, torch.nn.Conv1d) for m in image.modules())
    assert any(isinstance(m, torch.nn.Conv1d) for m in model.modules())  # training keeps 1-D
    report = export_model(model, FrontendConfig(), LABELS, tmp_path / "m.onnx", features)
    proto = onnx.load(str(report.path))
    loaded = OnnxModel(report.path, prefer_gpu=False)
    assert loaded.info.embedding_size == image.logits_and_word_embedding(features)[1].shape[1]
    kernels = [
        onnx.helper.get_attribute_value(attribute)
        for node in proto.graph.node
        if node.op_type == "Conv"
        for attribute in node.attribute
        if attribute.name == "kernel_shape"
    ]
    assert kernels and all(len(kernel) == 2 and kernel[1] == 1 for kernel in kernels)


def test_networks_that_are_not_temporal_export_as_they_are() -> None:
    frames, bins = FrontendConfig().input_shape
    model = build_model("tf_conv", len(LABELS), frames, bins)
    assert with_image_layout(model) is model
