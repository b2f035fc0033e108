"""Other embeddings from the same trained weights, for choosing what custom-word heads learn from.

Usage: .venv/bin/python bench/embedding_variants.py CHECKPOINT REFERENCE_ONNX OUT_DIR
           [--variants ...]

A custom word's head sees the base model's `embedding` output. The one trained with the model is
the last layer's mean over time, which keeps what tells the ten commands apart and throws away
the order of sounds inside the window. The variants here are read off the same network (no
retraining): the last layer averaged over consecutive time segments (keeps the order), an earlier
stage's mean beside the last one's, and the mean beside the maximum ("seg3" won and is now
what every exported temporal model carries: training/models.py). Each is exported with the
probabilities unchanged and the reference file's metadata (labels, front end, operating points),
so bench/words_negatives.py and bench/words_fewshot.py measure it exactly as they measure the
shipped file.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

import onnx
import torch
from torch import nn

from training.checkpoint import load_checkpoint
from training.export import model_from_checkpoint, verify_export, write_graph
from training.models import KwsModel, segment_means

# Each variant reads the backbone's stage outputs (`_TemporalConvNet.stage_outputs`): [-1] is the
# last stage, [-2] the one before it.
Variant = Callable[[list[torch.Tensor]], torch.Tensor]
VARIANTS: dict[str, Variant] = {
    "mean": lambda stages: stages[-1].mean(dim=2),
    "seg2": lambda stages: segment_means(stages[-1], 2),
    "seg3": lambda stages: segment_means(stages[-1], 3),
    "seg4": lambda stages: segment_means(stages[-1], 4),
    "mean_max": lambda stages: torch.cat([stages[-1].mean(dim=2), stages[-1].amax(dim=2)], dim=1),
    "stage2_mean": lambda stages: torch.cat(
        [stages[-2].mean(dim=2), stages[-1].mean(dim=2)], dim=1
    ),
    "stage2_seg3": lambda stages: torch.cat(
        [segment_means(stages[-2], 3), segment_means(stages[-1], 3)], dim=1
    ),
}


class VariantExport(nn.Module):
    """The shipped probabilities, and the chosen variant as the embedding."""

    def __init__(self, model: KwsModel, variant: Variant) -> None:
        super().__init__()
        self.model = model
        self.variant = variant

    def forward(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        stages = self.model.backbone.stage_outputs(self.model.norm(features))  # type: ignore[operator]
        logits = self.model.classifier(stages[-1].mean(dim=2))
        return torch.softmax(logits, dim=-1), self.variant(stages)


def export_variant(name: str, checkpoint: dict, reference: Path, out_dir: Path) -> Path:  # type: ignore[type-arg]
    model, _ = model_from_checkpoint(checkpoint)
    wrapper = VariantExport(model, VARIANTS[name]).eval()
    check = checkpoint["check_features"].float().contiguous()
    path = out_dir / f"{name}.onnx"
    write_graph(wrapper, check[:2].contiguous(), path)
    proto = onnx.load(str(path))
    del proto.metadata_props[:]
    for prop in onnx.load(str(reference)).metadata_props:
        proto.metadata_props.add(key=prop.key, value=prop.value)
    onnx.save(proto, str(path))
    verify_export(path, wrapper, check)  # type: ignore[arg-type]
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint", type=Path)
    parser.add_argument("reference", type=Path, help="ONNX file whose metadata the variants carry")
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    args = parser.parse_args()
    args.out_dir.mkdir(parents=True, exist_ok=True)
    checkpoint = load_checkpoint(args.checkpoint)
    for name in args.variants:
        path = export_variant(name, checkpoint, args.reference, args.out_dir)
        print(f"{name}: {path}")


if __name__ == "__main__":
    main()
