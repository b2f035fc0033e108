"""Checkpoint -> one self-contained ONNX file the app can load (docs/model-format.md).

The export is only trusted after the app's own loader (`OnnxModel`) has accepted the file and
onnxruntime agrees with torch on real clips; otherwise the file is deleted and the export fails,
because a model that silently scores differently from the one we measured is worse than none.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import torch

from kws_app.config import FrontendConfig
from kws_app.errors import UserError, one_line
from kws_app.inference.model import (
    EMBEDDING_OUTPUT,
    FORMAT_VERSION,
    INPUT_NAME,
    META_CREATED,
    META_FORMAT_VERSION,
    META_FRONTEND,
    META_LABELS,
    META_MODEL_NAME,
    META_PARAMETER_COUNT,
    META_TEST_ACCURACY,
    META_TRAINING_DATA,
    PROBABILITIES_OUTPUT,
    OnnxModel,
)
from training.checkpoint import load_checkpoint
from training.models import (
    ExportModel,
    KwsModel,
    build_model,
    parameter_count,
    with_image_layout,
)

logger = logging.getLogger(__name__)

MAX_ABS_DIFFERENCE = 1e-4
OPSET_VERSION = 18
BATCH_DIM = "batch"


class ExportError(UserError):
    """The export failed or does not match torch; str() is one line for the user."""


@dataclass(frozen=True)
class ExportReport:
    path: Path
    max_abs_difference: float
    size_bytes: int
    parameter_count: int


def model_from_checkpoint(checkpoint: dict[str, Any]) -> tuple[KwsModel, FrontendConfig]:
    frontend = FrontendConfig.from_json(checkpoint["frontend"])
    frames, bins = frontend.input_shape
    model = build_model(checkpoint["model_name"], len(checkpoint["labels"]), frames, bins)
    model.load_state_dict(checkpoint["model"])
    model.eval()
    return model, frontend


def export_model(
    model: KwsModel,
    frontend: FrontendConfig,
    labels: tuple[str, ...],
    path: Path,
    check_features: torch.Tensor,
    training_data: str = "{}",
    test_accuracy: str = "{}",
) -> ExportReport:
    """Write `path` and verify it against torch on `check_features` (real clips' features)."""
    if check_features.ndim != 3 or check_features.shape[0] == 0:
        raise ExportError("export needs a non-empty batch of features to check the file against")
    path.parent.mkdir(parents=True, exist_ok=True)
    model = model.cpu().eval()
    wrapper = ExportModel(model).eval()
    check_features = check_features.float().contiguous()
    # The file runs the image layout; it is checked against the network as trained.
    write_graph(ExportModel(with_image_layout(model)).eval(), check_features[:2].contiguous(), path)
    proto = onnx.load(str(path))
    metadata = {
        META_FORMAT_VERSION: FORMAT_VERSION,
        META_LABELS: json.dumps(list(labels)),
        META_FRONTEND: frontend.to_json(),
        META_MODEL_NAME: model.name,
        META_PARAMETER_COUNT: str(parameter_count(model)),
        META_TRAINING_DATA: training_data,
        META_TEST_ACCURACY: test_accuracy,
        META_CREATED: datetime.now(UTC).isoformat(timespec="seconds"),
    }
    del proto.metadata_props[:]
    for key, value in metadata.items():
        proto.metadata_props.add(key=key, value=value)
    onnx.save(proto, str(path))
    stray = path.with_name(path.name + ".data")
    if stray.exists():
        stray.unlink()
    difference = verify_export(path, wrapper, check_features)
    return ExportReport(path, difference, path.stat().st_size, parameter_count(model))


def write_graph(wrapper: torch.nn.Module, example: torch.Tensor, path: Path) -> None:
    """The app's graph (docs/model-format.md: `features` in, probabilities and embedding out,
    a dynamic batch) of `wrapper`, traced on `example`, without metadata."""
    try:
        torch.onnx.export(
            wrapper,
            (example,),
            str(path),
            input_names=[INPUT_NAME],
            output_names=[PROBABILITIES_OUTPUT, EMBEDDING_OUTPUT],
            dynamic_axes={
                name: {0: BATCH_DIM}
                for name in (INPUT_NAME, PROBABILITIES_OUTPUT, EMBEDDING_OUTPUT)
            },
            opset_version=OPSET_VERSION,
            external_data=False,
            # The TorchScript exporter takes ~1 s where the dynamo one takes ~10-20 s here, and
            # these models use no construct it lacks; verify_export checks the result anyway.
            dynamo=False,
        )
    except Exception as error:  # the exporter raises many types; the user needs one line
        raise ExportError(f"torch.onnx.export failed: {one_line(error)}") from error


def output_difference(runner: OnnxModel, wrapper: ExportModel, features: torch.Tensor) -> float:
    """Largest difference between a file the app's loader runs and `wrapper` (eval mode) in
    torch, over both outputs."""
    probabilities, embedding = runner.run(features.numpy())
    with torch.no_grad():
        expected_probabilities, expected_embedding = wrapper.eval()(features)
    if embedding is None:
        raise ExportError(f"{runner.path.name}: the file has no embedding output")
    return max(
        float(np.max(np.abs(probabilities - expected_probabilities.numpy()))),
        float(np.max(np.abs(embedding - expected_embedding.numpy()))),
    )


def verify_export(path: Path, wrapper: ExportModel, check_features: torch.Tensor) -> float:
    """Load with the app's loader, compare both outputs with torch; delete the file on failure."""
    try:
        difference = output_difference(OnnxModel(path, prefer_gpu=False), wrapper, check_features)
        if not difference < MAX_ABS_DIFFERENCE:
            raise ExportError(
                f"{path.name}: onnxruntime differs from torch by {difference:.2e} "
                f"(limit {MAX_ABS_DIFFERENCE:.0e}); file removed"
            )
    except Exception:
        path.unlink(missing_ok=True)
        raise
    logger.info("%s verified: max abs difference to torch %.2e", path.name, difference)
    return difference


def export_checkpoint(checkpoint_path: Path, onnx_path: Path) -> ExportReport:
    try:
        checkpoint = load_checkpoint(checkpoint_path)
    except FileNotFoundError:
        raise
    except Exception as error:
        raise ExportError(f"cannot read checkpoint {checkpoint_path}: {error}") from error
    model, frontend = model_from_checkpoint(checkpoint)
    return export_model(
        model,
        frontend,
        tuple(checkpoint["labels"]),
        onnx_path,
        checkpoint["check_features"],
        training_data=checkpoint.get("training_data", "{}"),
        test_accuracy=checkpoint.get("test_accuracy", "{}"),
    )


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser("export", help="write a checkpoint as the app's .onnx file")
    parser.add_argument("--checkpoint", type=Path, required=True, help="best.pt from training")
    parser.add_argument("--output", type=Path, required=True, help="the .onnx file to write")
    parser.set_defaults(func=run_command)


def run_command(args: Any) -> int:
    report = export_checkpoint(args.checkpoint, args.output)
    print(
        f"wrote {report.path} ({report.size_bytes / 1024:.0f} KiB, "
        f"{report.parameter_count:,} parameters); onnxruntime vs torch max abs difference "
        f"{report.max_abs_difference:.1e}"
    )
    return 0
