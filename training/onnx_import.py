"""`python -m training import-onnx`: a model file back into a checkpoint that training starts from.

Checkpoints live in runs/, which git ignores, so a fresh checkout has the shipped .onnx files but
none of the checkpoints they came from, and every model could only be trained again from scratch
(`--init-from` needs a checkpoint). The exporter folds each batch norm into the convolution before
it (ONNX constant folding), so a file holds fused weights: they are loaded into the architecture
the file names, each batch norm set so that in eval mode it adds the fused bias, and the network
then computes what the file does (checked with onnxruntime before anything is written).

In training mode a batch norm divides by the batch's own statistics, which would throw the
imported network far from the file at its first step. So each batch norm's running statistics
are measured on real clips (the mean and variance of its input), and its scale and shift are set
to cancel them: eval mode is unchanged, and training mode starts where the file is.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import onnx
import torch
from onnx import numpy_helper
from torch import nn

from kws_app.audio.files import list_audio_files, read_audio_at
from kws_app.config import FrontendConfig
from kws_app.dsp.frontend import FeatureExtractor
from kws_app.errors import UserError, one_line
from kws_app.inference.model import (
    META_FRONTEND,
    META_LABELS,
    META_MODEL_NAME,
    META_TRAINING_DATA,
    OnnxModel,
)
from training.checkpoint import CHECK_CLIPS, save_checkpoint
from training.config import TrainConfig
from training.export import MAX_ABS_DIFFERENCE, output_difference
from training.loop import features_of
from training.models import ARCHITECTURES, ExportModel, KwsModel, build_model, parameter_count
from training.onnx_files import load_onnx_file

logger = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float32]

# The initializers FeatureNorm and the classifier export under their own names (the exporter
# folds only what batch norm touches).
NORM_MEAN = "model.norm.mean"
NORM_STD = "model.norm.std"
CLASSIFIER_WEIGHT = "model.classifier.weight"
CLASSIFIER_BIAS = "model.classifier.bias"
DEFAULT_MAX_CLIPS = 512
# Clips run through the network at once while batch-norm inputs are measured.
STATISTICS_BATCH = 128


class OnnxImportError(UserError):
    """The file cannot become a checkpoint; str() is a one-line message."""


def _require_metadata(proto: onnx.ModelProto, path: Path) -> None:
    """Refuse, in the importer's words, a file training did not write (the app's loader would
    say the same of one key at a time)."""
    present = {prop.key for prop in proto.metadata_props}
    missing = [key for key in (META_LABELS, META_FRONTEND, META_MODEL_NAME) if key not in present]
    if missing:
        raise OnnxImportError(f"{path}: not a kws model file (no {', '.join(missing)} metadata)")


def _conv_weights(proto: onnx.ModelProto) -> list[tuple[FloatArray, FloatArray | None]]:
    """(weight, bias or None) of every convolution, in the graph's order."""
    initializers = {item.name: numpy_helper.to_array(item) for item in proto.graph.initializer}
    convs = []
    for node in proto.graph.node:
        if node.op_type != "Conv":
            continue
        weight = initializers.get(node.input[1])
        bias = initializers.get(node.input[2]) if len(node.input) > 2 else None
        if weight is None:
            raise OnnxImportError(f"convolution {node.name!r} has no constant weight")
        convs.append((weight.astype(np.float32), None if bias is None else bias.astype(np.float32)))
    return convs


def _norm_after(model: nn.Module) -> list[tuple[nn.Conv1d, nn.BatchNorm1d | None]]:
    """Each convolution in module order, with the batch norm that follows it (none inside a
    separable pair: the norm follows its pointwise half)."""
    pairs: list[tuple[nn.Conv1d, nn.BatchNorm1d | None]] = []
    for module in model.modules():
        if isinstance(module, nn.Conv1d):
            pairs.append((module, None))
        elif isinstance(module, nn.BatchNorm1d):
            if not pairs or pairs[-1][1] is not None:
                raise OnnxImportError("a batch norm without a convolution before it")
            pairs[-1] = (pairs[-1][0], module)
    return pairs


def _named(proto: onnx.ModelProto, name: str) -> FloatArray:
    for item in proto.graph.initializer:
        if item.name == name:
            return numpy_helper.to_array(item).astype(np.float32)
    raise OnnxImportError(f"the file has no {name}")


def load_weights(model: KwsModel, proto: onnx.ModelProto) -> list[nn.BatchNorm1d]:
    """Fused weights into `model`, each batch norm adding its conv's fused bias (identity
    statistics); returns the batch norms in order."""
    pairs = _norm_after(model.backbone)
    convs = _conv_weights(proto)
    if len(convs) != len(pairs):
        raise OnnxImportError(
            f"the file has {len(convs)} convolutions where {model.name} has {len(pairs)}"
        )
    norms = []
    with torch.no_grad():
        for (conv, norm), (weight, bias) in zip(pairs, convs, strict=True):
            if weight.size != conv.weight.numel():
                raise OnnxImportError(
                    f"a convolution of {weight.shape} where {model.name} has "
                    f"{tuple(conv.weight.shape)}"
                )
            if (bias is None) != (norm is None):
                raise OnnxImportError(f"the file's convolutions do not follow {model.name}'s norms")
            conv.weight.copy_(torch.from_numpy(weight.reshape(conv.weight.shape)))
            if norm is not None and bias is not None:
                norm.running_mean.zero_()
                norm.running_var.fill_(1.0 - norm.eps)
                norm.weight.fill_(1.0)
                norm.bias.copy_(torch.from_numpy(bias))
                norms.append(norm)
        model.norm.mean.copy_(torch.from_numpy(_named(proto, NORM_MEAN)))
        model.norm.std.copy_(torch.from_numpy(_named(proto, NORM_STD)))
        model.classifier.weight.copy_(torch.from_numpy(_named(proto, CLASSIFIER_WEIGHT)))
        model.classifier.bias.copy_(torch.from_numpy(_named(proto, CLASSIFIER_BIAS)))
    return norms


def measure_statistics(
    model: KwsModel, norms: list[nn.BatchNorm1d], features: torch.Tensor
) -> None:
    """Running statistics from `features`, with scale and shift that cancel them (see above)."""
    # Per batch norm: the count, sum and sum of squares of its input, per channel (float64, so
    # the variance keeps its precision however many clips are summed).
    moments = [torch.zeros(3, norm.num_features, dtype=torch.float64) for norm in norms]

    def accumulate(index: int, values: torch.Tensor) -> None:
        channels = values.detach().transpose(0, 1).reshape(values.shape[1], -1).double()
        moments[index][0] += channels.shape[1]
        moments[index][1] += channels.sum(dim=1)
        moments[index][2] += channels.square().sum(dim=1)

    hooks = [
        norm.register_forward_hook(
            lambda _module, args, _output, index=index: accumulate(index, args[0])
        )
        for index, norm in enumerate(norms)
    ]
    model.eval()
    try:
        with torch.no_grad():
            for start in range(0, features.shape[0], STATISTICS_BATCH):
                model(features[start : start + STATISTICS_BATCH])
    finally:
        for hook in hooks:
            hook.remove()
    with torch.no_grad():
        for norm, (count, total, squares) in zip(norms, moments, strict=True):
            mean = total / count
            variance = (squares / count - mean.square()).clamp_min(0.0)
            fused_bias = norm.bias.clone()
            norm.running_mean.copy_(mean)
            norm.running_var.copy_(variance)
            norm.weight.copy_(torch.sqrt(variance + norm.eps))
            norm.bias.copy_(fused_bias + mean)


def clip_features(
    folder: Path, frontend: FrontendConfig, max_clips: int, seed: int
) -> torch.Tensor:
    """Features of up to `max_clips` audio files under `folder` (a random, repeatable pick)."""
    paths = list_audio_files(folder)
    if not paths:
        raise OnnxImportError(f"no audio files under {folder}")
    picks = np.random.default_rng(seed).permutation(len(paths))[:max_clips]
    waves = []
    for index in sorted(picks):
        try:
            waves.append(read_audio_at(paths[index], frontend.sample_rate))
        except Exception as error:  # a broken file among many: skip it, say so
            logger.warning("skipped %s: %s", paths[index], one_line(error))
    if not waves:
        raise OnnxImportError(f"no readable audio files under {folder}")
    return torch.from_numpy(features_of(waves, FeatureExtractor(frontend)))


def import_onnx(
    path: Path, clips: Path, max_clips: int = DEFAULT_MAX_CLIPS, seed: int = 0
) -> dict[str, Any]:
    """A checkpoint (as training saves them, without optimiser state) holding the file's model."""
    proto = load_onnx_file(OnnxImportError, path)
    _require_metadata(proto, path)
    # The app's loader reads (and validates) labels and front end, and runs the file for the
    # check below.
    runner = OnnxModel(path, prefer_gpu=False)
    info = runner.info
    if info.model_name not in ARCHITECTURES:
        raise OnnxImportError(
            f"{path}: its architecture {info.model_name!r} is none this version trains"
        )
    labels, frontend = info.labels, info.frontend
    frames, bins = frontend.input_shape
    model = build_model(info.model_name, len(labels), frames, bins)
    norms = load_weights(model, proto)
    features = clip_features(clips, frontend, max_clips, seed)
    measure_statistics(model, norms, features)
    difference = output_difference(runner, ExportModel(model), features[:CHECK_CLIPS])
    if not difference < MAX_ABS_DIFFERENCE:
        raise OnnxImportError(
            f"{path}: the imported network differs from the file by {difference:.2e} "
            f"(limit {MAX_ABS_DIFFERENCE:.0e})"
        )
    logger.info("%s imported: max abs difference to the file %.2e", path.name, difference)
    config = replace(TrainConfig(), model_name=model.name)
    return {
        "model": model.state_dict(),
        "epoch": 0,
        "best_accuracy": -1.0,
        "best_epoch": -1,
        "history": [],
        "config": config.to_dict(),
        "labels": list(labels),
        "frontend": frontend.to_json(),
        "model_name": model.name,
        "parameter_count": parameter_count(model),
        "training_data": info.metadata.get(META_TRAINING_DATA, "{}"),
        "check_features": features[:CHECK_CLIPS].clone(),
        "imported_from": str(path),
        "import_difference": difference,
    }


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "import-onnx",
        help="turn a model file into a checkpoint that --init-from (and export) can read",
    )
    parser.add_argument("model", type=Path, help="the .onnx file (e.g. assets/kws-default.onnx)")
    parser.add_argument(
        "--clips",
        type=Path,
        required=True,
        help="a folder of audio (e.g. ../shared/data/speech_commands) whose batch-norm inputs "
        "set the imported network's running statistics",
    )
    parser.add_argument("--max-clips", type=int, default=DEFAULT_MAX_CLIPS)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", type=Path, required=True, help="the checkpoint to write")
    parser.set_defaults(func=run_command)


def run_command(args: Any) -> int:
    if args.max_clips < 1:
        raise OnnxImportError("--max-clips must be at least 1")
    checkpoint = import_onnx(args.model, args.clips, args.max_clips, args.seed)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    save_checkpoint(args.output, checkpoint)
    print(
        f"wrote {args.output}: {checkpoint['model_name']}, {len(checkpoint['labels'])} labels, "
        f"{checkpoint['parameter_count']:,} parameters; differs from {args.model.name} by "
        f"{checkpoint['import_difference']:.1e}"
    )
    return 0
