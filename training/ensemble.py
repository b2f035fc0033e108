"""`python -m training ensemble`: two exported models averaged into one ONNX file the app runs.

Seeds of one recipe differ on streams by as much as recipes do; averaging two of them is the
cheapest way to buy the difference, at twice the model's cost per stride. The merged file runs
both graphs on the same features and outputs the softmax of the mean of their log-probabilities
(a geometric mean: a word needs both models' agreement to score high, which is what quiets
conversation). Custom words learn from one model's embedding, chosen by the caller, since
concatenating two embeddings doubled what a five-example head must fit. The labels and front end
must match; the operating points are dropped, since they belonged to each model alone: calibrate
the merged file again (`python -m training calibrate`).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import onnx
from onnx import TensorProto, compose, helper

from kws_app.errors import UserError
from kws_app.inference.model import (
    EMBEDDING_OUTPUT,
    INPUT_NAME,
    META_FRONTEND,
    META_LABELS,
    META_MODEL_NAME,
    META_OPERATING_POINTS,
    META_PARAMETER_COUNT,
    PROBABILITIES_OUTPUT,
)
from training.onnx_files import load_onnx_file

logger = logging.getLogger(__name__)

MEMBERS = 2
# Keeps log() finite where a softmax underflowed to exactly zero.
LOG_FLOOR = 1e-12
PREFIXES = tuple(f"m{index}_" for index in range(1, MEMBERS + 1))
# Per-model metadata that would be false for the merged file.
DROPPED_METADATA = (META_OPERATING_POINTS,)


class EnsembleError(UserError, ValueError):
    """Two models that cannot be merged; str() is a one-line message for the user."""


def _metadata(model: onnx.ModelProto) -> dict[str, str]:
    return {prop.key: prop.value for prop in model.metadata_props}


def _check_compatible(first: onnx.ModelProto, second: onnx.ModelProto, names: list[str]) -> None:
    for key in (META_LABELS, META_FRONTEND):
        values = [_metadata(model).get(key) for model in (first, second)]
        if values[0] is None or values[1] is None:
            raise EnsembleError(f"{names[values.index(None)]} lacks the '{key}' metadata")
        if json.loads(values[0]) != json.loads(values[1]):
            raise EnsembleError(f"{names[0]} and {names[1]} differ in '{key}': cannot average them")
    opsets = [{o.domain: o.version for o in model.opset_import} for model in (first, second)]
    if opsets[0] != opsets[1]:
        raise EnsembleError(f"{names[0]} and {names[1]} use different ONNX opsets {opsets}")


def merge_models(paths: list[Path], embedding_from: int, out: Path) -> onnx.ModelProto:
    """Writes the merged model to `out` and returns it. `embedding_from` is 1 or 2."""
    if len(paths) != MEMBERS:
        raise EnsembleError(f"an ensemble takes exactly {MEMBERS} models, not {len(paths)}")
    if embedding_from not in range(1, MEMBERS + 1):
        raise EnsembleError(f"--embedding-from must be 1 or {MEMBERS}, not {embedding_from}")
    names = [path.name for path in paths]
    loaded = [load_onnx_file(EnsembleError, path) for path in paths]
    _check_compatible(loaded[0], loaded[1], names)
    members = [
        compose.add_prefix(model, prefix, rename_inputs=False)
        for model, prefix in zip(loaded, PREFIXES, strict=True)
    ]
    embedder_prefix = PREFIXES[embedding_from - 1]
    embed_outputs = {o.name: o for o in members[embedding_from - 1].graph.output}
    if f"{embedder_prefix}{EMBEDDING_OUTPUT}" not in embed_outputs:
        raise EnsembleError(f"{names[embedding_from - 1]} has no '{EMBEDDING_OUTPUT}' output")

    nodes: list[onnx.NodeProto] = []
    initializers: list[onnx.TensorProto] = []
    for member in members:
        nodes.extend(member.graph.node)
        initializers.extend(member.graph.initializer)
    floor = helper.make_tensor("ensemble_log_floor", TensorProto.FLOAT, [], [LOG_FLOOR])
    half = helper.make_tensor("ensemble_scale", TensorProto.FLOAT, [], [1.0 / MEMBERS])
    initializers.extend([floor, half])
    logs = []
    for prefix in PREFIXES:
        clipped, logged = f"{prefix}clipped", f"{prefix}log_probabilities"
        nodes.append(
            helper.make_node("Max", [f"{prefix}{PROBABILITIES_OUTPUT}", floor.name], [clipped])
        )
        nodes.append(helper.make_node("Log", [clipped], [logged]))
        logs.append(logged)
    nodes.append(helper.make_node("Sum", logs, ["ensemble_log_sum"]))
    nodes.append(helper.make_node("Mul", ["ensemble_log_sum", half.name], ["ensemble_mean_log"]))
    nodes.append(
        helper.make_node("Softmax", ["ensemble_mean_log"], [PROBABILITIES_OUTPUT], axis=-1)
    )
    nodes.append(
        helper.make_node("Identity", [f"{embedder_prefix}{EMBEDDING_OUTPUT}"], [EMBEDDING_OUTPUT])
    )

    first_outputs = {o.name: o for o in members[0].graph.output}
    probabilities = onnx.ValueInfoProto()
    probabilities.CopyFrom(first_outputs[f"{PREFIXES[0]}{PROBABILITIES_OUTPUT}"])
    probabilities.name = PROBABILITIES_OUTPUT
    embedding = onnx.ValueInfoProto()
    embedding.CopyFrom(embed_outputs[f"{embedder_prefix}{EMBEDDING_OUTPUT}"])
    embedding.name = EMBEDDING_OUTPUT
    inputs = [i for i in members[0].graph.input if i.name == INPUT_NAME]
    if not inputs:
        raise EnsembleError(f"{names[0]} has no '{INPUT_NAME}' input")
    graph = helper.make_graph(
        nodes, "ensemble", inputs, [probabilities, embedding], initializer=initializers
    )
    merged = helper.make_model(graph, opset_imports=list(loaded[0].opset_import))
    merged.ir_version = loaded[0].ir_version
    metadata: dict[str, str] = {
        k: v for k, v in _metadata(loaded[0]).items() if k not in DROPPED_METADATA
    }
    counts = [_metadata(model).get(META_PARAMETER_COUNT, "") for model in loaded]
    if all(count.isdigit() for count in counts):
        metadata[META_PARAMETER_COUNT] = str(sum(int(count) for count in counts))
    model_names = [
        _metadata(m).get(META_MODEL_NAME, p.stem) for m, p in zip(loaded, paths, strict=True)
    ]
    metadata[META_MODEL_NAME] = f"ensemble({' + '.join(model_names)})"
    for key, value in metadata.items():
        merged.metadata_props.add(key=key, value=value)
    onnx.checker.check_model(merged)
    out.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(merged, str(out))
    logger.info("wrote %s: %s, embedding of %s", out, " + ".join(names), names[embedding_from - 1])
    return merged


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "ensemble",
        help="average two exported models into one ONNX file (calibrate it afterwards)",
        description=__doc__.splitlines()[0],
    )
    parser.add_argument("models", type=Path, nargs=MEMBERS, metavar="MODEL")
    parser.add_argument(
        "--embedding-from",
        type=int,
        default=1,
        help="which model's embedding custom words learn from (1 or 2; default 1)",
    )
    parser.add_argument("--out", type=Path, required=True)
    parser.set_defaults(func=run_command)


def run_command(args: Any) -> int:
    merge_models(list(args.models), args.embedding_from, args.out)
    print(f"wrote {args.out}; calibrate it with `python -m training calibrate --model {args.out}`")
    return 0
