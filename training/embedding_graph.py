"""Widen an exported model's custom-word embedding with an earlier stage, in the ONNX graph.

A custom word's head reads the model's `embedding` output. Models exported before
`TemporalShape.word_stages` carried only the last layer's segment means; an earlier stage's
output is in the same graph, so its segment means can be added without the checkpoint (the
shipped model's checkpoint need not exist) and without touching the probabilities: the command
words and their calibrated operating points stay exactly as they were. The new embedding is the
earlier stage's segment means followed by the old embedding, the order `KwsModel` exports.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper, shape_inference

from kws_app.errors import UserError
from kws_app.inference.model import EMBEDDING_OUTPUT
from training.models import DS_TC_RESNET, segment_edges, stage_end_layer
from training.onnx_files import load_onnx_file

logger = logging.getLogger(__name__)

TIME_AXIS = 2
_FIRST_OPSET_WITH_AXES_INPUT = 18


class EmbeddingGraphError(UserError, ValueError):
    """A graph this rewrite does not know how to widen; str() is a one-line message."""


def stage_output_name(model: onnx.ModelProto, stage: int, blocks_per_stage: int) -> str:
    """The tensor a temporal network's stage `stage` (0-based) ends with in an exported graph:
    the activation of its last residual block (training/models.py, _TemporalConvNet). Exporters
    prefix node names with the wrapping modules' names, so the name is matched by its end."""
    suffix = f"layers.{stage_end_layer(stage, blocks_per_stage)}/activation/Relu"
    names = [
        node.output[0]
        for node in model.graph.node
        if node.op_type == "Relu" and node.name.endswith(f"/{suffix}")
    ]
    if len(names) != 1:
        raise EmbeddingGraphError(
            f"the graph has {len(names)} outputs of a stage {stage} with {blocks_per_stage} "
            "blocks per stage; is it a temporal network exported by this project?"
        )
    return names[0]


def _opset(model: onnx.ModelProto) -> int:
    return max(
        (entry.version for entry in model.opset_import if entry.domain in ("", "ai.onnx")),
        default=0,
    )


def _shape_of(model: onnx.ModelProto, name: str) -> list[int | str]:
    inferred = shape_inference.infer_shapes(model)
    for info in (*inferred.graph.value_info, *inferred.graph.output):
        if info.name == name:
            return [
                d.dim_value if d.HasField("dim_value") else d.dim_param
                for d in info.type.tensor_type.shape.dim
            ]
    raise EmbeddingGraphError(f"the graph has no tensor {name!r} of known shape")


def _pooled_sources(graph: onnx.GraphProto, concat: onnx.NodeProto) -> set[str]:
    """The tensors whose slices' means the embedding concatenates."""
    producer = {output: node for node in graph.node for output in node.output}
    sources = set()
    for name in concat.input:
        mean = producer.get(name)
        if mean is None or mean.op_type != "ReduceMean":
            continue
        sliced = producer.get(mean.input[0])
        sources.add(sliced.input[0] if sliced is not None and sliced.op_type == "Slice" else "")
    return sources


def _int64(name: str, values: list[int]) -> TensorProto:
    return numpy_helper.from_array(np.array(values, dtype=np.int64), name)


def widen_embedding(model: onnx.ModelProto, tensor: str, segments: int) -> onnx.ModelProto:
    """A copy of `model` whose embedding starts with `tensor`'s means over `segments` stretches
    of its time axis (`[batch, channels, time]` or the image layout's `[..., time, 1]`)."""
    widened = onnx.ModelProto()
    widened.CopyFrom(model)
    graph = widened.graph
    producers = [node for node in graph.node if EMBEDDING_OUTPUT in node.output]
    if len(producers) != 1 or producers[0].op_type != "Concat":
        raise EmbeddingGraphError("the embedding is not a concatenation of pooled features")
    concat = producers[0]
    shape = _shape_of(widened, tensor)
    frames = shape[TIME_AXIS]
    if not isinstance(frames, int) or frames < 1:
        raise EmbeddingGraphError(f"{tensor!r} has no fixed time axis: shape {shape}")
    channels = shape[1]
    pooled_axes = list(range(TIME_AXIS, len(shape)))
    edges = segment_edges(frames, segments)
    prefix = f"/word_stage{tensor.replace('/', '_')}"
    if tensor in _pooled_sources(graph, concat):
        raise EmbeddingGraphError(f"the embedding already holds the means of {tensor!r}")
    axes_name = f"{prefix}/pooled_axes"
    time_axis_name = f"{prefix}/time_axis"
    graph.initializer.extend([_int64(axes_name, pooled_axes), _int64(time_axis_name, [TIME_AXIS])])
    pooled: list[str] = []
    for index, (start, end) in enumerate(zip(edges, edges[1:], strict=False)):
        starts, ends = f"{prefix}/starts_{index}", f"{prefix}/ends_{index}"
        graph.initializer.extend([_int64(starts, [start]), _int64(ends, [end])])
        sliced, mean = f"{prefix}/slice_{index}", f"{prefix}/mean_{index}"
        graph.node.append(
            helper.make_node("Slice", [tensor, starts, ends, time_axis_name], [sliced], sliced)
        )
        if _opset(widened) >= _FIRST_OPSET_WITH_AXES_INPUT:
            node = helper.make_node("ReduceMean", [sliced, axes_name], [mean], mean, keepdims=0)
        else:
            node = helper.make_node(
                "ReduceMean", [sliced], [mean], mean, axes=pooled_axes, keepdims=0
            )
        graph.node.append(node)
        pooled.append(mean)
    concat.input[:] = [*pooled, *concat.input]
    for output in graph.output:
        if output.name == EMBEDDING_OUTPUT:
            size = output.type.tensor_type.shape.dim[1]
            if size.HasField("dim_value") and isinstance(channels, int):
                size.dim_value += channels * segments
    # Nodes must stay topologically sorted: the concatenation now reads the new means.
    nodes = [node for node in graph.node if node is not concat]
    graph.ClearField("node")
    graph.node.extend([*nodes, concat])
    onnx.checker.check_model(widened)
    return widened


def widen_embedding_file(
    source: Path, destination: Path, stage: int, blocks_per_stage: int, segments: int
) -> int:
    """Write `source` with a widened embedding to `destination`; returns the new embedding size
    (0 where the graph does not fix it)."""
    model = load_onnx_file(EmbeddingGraphError, source)
    widened = widen_embedding(model, stage_output_name(model, stage, blocks_per_stage), segments)
    onnx.save(widened, str(destination))
    (output,) = [o for o in widened.graph.output if o.name == EMBEDDING_OUTPUT]
    size = output.type.tensor_type.shape.dim[1].dim_value  # 0 where the graph leaves it open
    logger.info("wrote %s: embedding of %s values", destination, size or "unknown")
    return size


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "widen-embedding",
        help="add an earlier stage's segment means to an exported model's custom-word embedding",
        description=__doc__.splitlines()[0],
    )
    parser.add_argument("model", type=Path, help="an exported temporal model (.onnx)")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument(
        "--stage",
        type=int,
        default=len(DS_TC_RESNET.stages) - 2,
        help="the stage (0-based) whose output is added; default: the one before the last",
    )
    parser.add_argument("--blocks-per-stage", type=int, default=DS_TC_RESNET.blocks)
    parser.add_argument("--segments", type=int, default=DS_TC_RESNET.word_segments)
    parser.set_defaults(func=run_command)


def run_command(args: Any) -> int:
    try:
        size = widen_embedding_file(
            args.model, args.out, args.stage, args.blocks_per_stage, args.segments
        )
    except onnx.checker.ValidationError as error:
        raise EmbeddingGraphError(f"{args.model}: the widened graph is invalid: {error}") from error
    print(
        f"wrote {args.out}: embedding of {size} values; custom words and the negatives file "
        "(bench/words_negatives.py) must be made again for it"
    )
    return 0
