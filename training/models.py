"""Model architectures, chosen by name.

Every model takes raw log-mel features `[batch, frames, bins]` and returns `(logits, embedding)`
(the exported file's embedding, for custom words, is `KwsModel.logits_and_word_embedding`'s);
the normalisation of those features lives inside the network (`FeatureNorm`), so the exported
file needs nothing from training besides its own weights. The seed architectures are kept close to
their originals (TensorFlow speech_commands `conv` and `low_latency_conv`, the TensorFlow.js
speech-commands convnet) so their figures mean something next to the default.
"""

from __future__ import annotations

from collections.abc import Callable
from copy import deepcopy
from dataclasses import dataclass

import torch
from torch import nn

DEFAULT_MODEL = "ds_tcresnet"


class FeatureNorm(nn.Module):
    """Per-mel-bin standardisation with statistics fixed from the training set."""

    def __init__(self, bins: int) -> None:
        super().__init__()
        self.register_buffer("mean", torch.zeros(bins))
        self.register_buffer("std", torch.ones(bins))

    def set_statistics(self, mean: torch.Tensor, std: torch.Tensor) -> None:
        self.mean.copy_(mean)
        self.std.copy_(std.clamp_min(1e-3))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return (features - self.mean) / self.std


def segment_edges(frames: int, segments: int) -> list[int]:
    """Where `segment_means` cuts `frames` into `segments` nearly equal stretches."""
    if not 1 <= segments <= frames:
        raise ValueError(f"cannot cut {frames} frames into {segments} segments")
    return [round(index * frames / segments) for index in range(segments + 1)]


def segment_means(hidden: torch.Tensor, segments: int) -> torch.Tensor:
    """`[batch, channels, time]` -> the means over `segments` consecutive, nearly equal stretches
    of time, concatenated: `[batch, channels * segments]`. A trailing singleton axis (the image
    layout of `with_image_layout`) is dropped.

    Slices whose sizes are fixed when the graph is exported: the ONNX exporter refuses an adaptive
    pooling whose output size does not divide its input.
    """
    edges = segment_edges(int(hidden.shape[2]), segments)
    pooled_axes = tuple(range(2, hidden.ndim))
    return torch.cat(
        [
            hidden[:, :, start:end].mean(dim=pooled_axes)
            for start, end in zip(edges, edges[1:], strict=False)
        ],
        dim=1,
    )


class KwsModel(nn.Module):
    """Normalise -> backbone (gives the embedding) -> dropout -> linear classifier."""

    def __init__(
        self,
        name: str,
        backbone: nn.Module,
        embedding_size: int,
        num_classes: int,
        bins: int,
        classifier_dropout: float,
    ) -> None:
        super().__init__()
        self.name = name
        self.embedding_size = embedding_size
        self.norm = FeatureNorm(bins)
        self.backbone = backbone
        self.dropout = nn.Dropout(classifier_dropout)
        self.classifier = nn.Linear(embedding_size, num_classes)

    def forward(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        embedding = self.backbone(self.norm(features))
        return self.classifier(self.dropout(embedding)), embedding

    def logits_and_word_embedding(
        self, features: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The logits, and the embedding that custom words are learned from.

        The classifier's input is the last layer's mean over time: enough to tell the trained
        words apart, but blind to the order of sounds, which is most of what tells two unknown
        words apart. Temporal networks therefore hand custom words the last layer's means over
        consecutive segments of the window instead (the same weights; no extra training).
        """
        if not isinstance(self.backbone, _TemporalConvNet):
            return self(features)
        stages = self.backbone.stage_outputs(self.norm(features))
        logits = self.classifier(self.dropout(self.backbone.pooled(stages[-1])))
        segments = self.backbone.word_segments
        word_stages = stages[-self.backbone.word_stages :]
        return logits, torch.cat([segment_means(stage, segments) for stage in word_stages], dim=1)


class ExportModel(nn.Module):
    """The graph the app runs: probabilities first, embedding second (docs/model-format.md)."""

    def __init__(self, model: KwsModel) -> None:
        super().__init__()
        self.model = model

    def forward(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        logits, embedding = self.model.logits_and_word_embedding(features)
        return torch.softmax(logits, dim=-1), embedding


class _AsImage(nn.Module):
    """[batch, frames, bins] -> [batch, 1, frames, bins]: time is height, frequency width."""

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return features.unsqueeze(1)


def tf_conv(frames: int, bins: int, dropout: float = 0.5) -> tuple[nn.Module, int]:
    """TF speech_commands `create_conv_model`: two SAME convs, one max pool, a linear layer."""
    pooled_frames, pooled_bins = (frames + 1) // 2, (bins + 1) // 2
    backbone = nn.Sequential(
        _AsImage(),
        nn.Conv2d(1, 64, kernel_size=(20, 8), padding="same"),
        nn.ReLU(),
        nn.Dropout(dropout),
        nn.MaxPool2d(2, 2, ceil_mode=True),
        nn.Conv2d(64, 64, kernel_size=(10, 4), padding="same"),
        nn.ReLU(),
        nn.Dropout(dropout),
        nn.Flatten(),
    )
    return backbone, 64 * pooled_frames * pooled_bins


def tf_low_latency_conv(frames: int, bins: int, dropout: float = 0.5) -> tuple[nn.Module, int]:
    """TF `create_low_latency_conv_model`: one conv spanning all frames, then two linear layers.

    The original's fully connected layers have no activation; kept so.
    """
    filters, filter_bins, hidden = 186, 8, 128
    conv_bins = bins - filter_bins + 1
    backbone = nn.Sequential(
        _AsImage(),
        nn.Conv2d(1, filters, kernel_size=(frames, filter_bins)),
        nn.ReLU(),
        nn.Dropout(dropout),
        nn.Flatten(),
        nn.Linear(filters * conv_bins, hidden),
        nn.Dropout(dropout),
        nn.Linear(hidden, hidden),
    )
    return backbone, hidden


def tfjs_convnet(frames: int, bins: int, dropout: float = 0.25) -> tuple[nn.Module, int]:
    """TensorFlow.js speech-commands browser model.

    The original reads 43 frames x 232 FFT bins with VALID convolutions; on our 98 x 40 log-mel
    input VALID padding would shrink the frequency axis to nothing, so the convolutions use SAME
    padding. Filters, kernels, pooling, dense 2000 and dropout rates are the original's.
    """
    dense = 2000
    layers: list[nn.Module] = [_AsImage(), nn.Conv2d(1, 8, (2, 8), padding="same"), nn.ReLU()]
    layers.append(nn.MaxPool2d((2, 2), (2, 2)))
    channels = 8
    pools = [(2, 2), (2, 2), (1, 2)]
    for stride in pools:
        layers += [nn.Conv2d(channels, 32, (2, 4), padding="same"), nn.ReLU()]
        layers.append(nn.MaxPool2d((2, 2), stride))
        channels = 32
    height, width = frames // 2, bins // 2
    for stride_h, stride_w in pools:
        height = (height - 2) // stride_h + 1
        width = (width - 2) // stride_w + 1
    layers += [
        nn.Flatten(),
        nn.Dropout(dropout),
        nn.Linear(32 * height * width, dense),
        nn.ReLU(),
    ]
    return nn.Sequential(*layers), dense


@dataclass(frozen=True)
class TemporalShape:
    stem: int
    stages: tuple[int, ...]
    blocks: int
    kernel: int
    separable: bool
    # Segments of each stage's time axis whose means make the custom-word embedding
    # (KwsModel.logits_and_word_embedding), and how many of the last stages give theirs: both
    # chosen on bench/words_fewshot.py (docs/benchmarks.md, "Custom words").
    word_segments: int = 3
    word_stages: int = 2


STEM_KERNEL = 3
# The stem's modules in `_TemporalConvNet.layers`: convolution, norm, activation.
STEM_LAYERS = 3

# TC-ResNet14 (Choi et al. 2019): 16 -> 24, 32, 48 channels, two blocks per stage, kernel 9.
TC_RESNET14 = TemporalShape(stem=16, stages=(24, 32, 48), blocks=2, kernel=9, separable=False)
# Separable convolutions spend the same budget on ~3x wider layers (sized to stay < 150k).
DS_TC_RESNET = TemporalShape(stem=64, stages=(64, 96, 112), blocks=2, kernel=9, separable=True)
# 1.5x as wide (~2x the weights): the stream-shaped recipe leaves the narrow one under-fitted
# (training accuracy levels off near validation accuracy).
DS_TC_RESNET_WIDE = TemporalShape(
    stem=96, stages=(96, 144, 168), blocks=2, kernel=9, separable=True
)
# 1.25x the wide one (~1.5x the weights, within the streaming issue's ~500k): the wide step paid
# for itself on the stream, so the next one was measured (docs/benchmarks.md, run 16).
DS_TC_RESNET_XWIDE = TemporalShape(
    stem=120, stages=(120, 180, 210), blocks=2, kernel=9, separable=True
)


def stage_end_layer(stage: int, blocks: int) -> int:
    """Position in `_TemporalConvNet.layers` of stage `stage`'s (0-based) last block."""
    return STEM_LAYERS + blocks * (stage + 1) - 1


def _temporal_conv(
    channels_in: int, channels_out: int, kernel: int, stride: int, separable: bool
) -> nn.Module:
    """A 1-D convolution over time; separable = depthwise then pointwise (far fewer weights)."""
    padding = kernel // 2
    if not separable:
        return nn.Conv1d(channels_in, channels_out, kernel, stride, padding, bias=False)
    return nn.Sequential(
        nn.Conv1d(
            channels_in, channels_in, kernel, stride, padding, groups=channels_in, bias=False
        ),
        nn.Conv1d(channels_in, channels_out, 1, bias=False),
    )


class _ResidualBlock1d(nn.Module):
    """Two temporal convolutions with batch norm and an identity (or 1x1) shortcut."""

    def __init__(
        self, channels_in: int, channels_out: int, kernel: int, stride: int, separable: bool
    ) -> None:
        super().__init__()
        self.body = nn.Sequential(
            _temporal_conv(channels_in, channels_out, kernel, stride, separable),
            nn.BatchNorm1d(channels_out),
            nn.ReLU(),
            _temporal_conv(channels_out, channels_out, kernel, 1, separable),
            nn.BatchNorm1d(channels_out),
        )
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or channels_in != channels_out:
            self.shortcut = nn.Sequential(
                nn.Conv1d(channels_in, channels_out, 1, stride, bias=False),
                nn.BatchNorm1d(channels_out),
            )
        self.activation = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.activation(self.body(x) + self.shortcut(x))


class _TemporalConvNet(nn.Module):
    """TC-ResNet-style: the mel bins are input channels, so every convolution is 1-D over time.

    1-D convolutions run fast on a small CPU (depthwise 2-D ones do not) while the full
    receptive field over frequency from the first layer keeps the network shallow.
    """

    def __init__(self, bins: int, shape: TemporalShape) -> None:
        super().__init__()
        layers: list[nn.Module] = [
            nn.Conv1d(bins, shape.stem, STEM_KERNEL, padding=STEM_KERNEL // 2, bias=False),
            nn.BatchNorm1d(shape.stem),
            nn.ReLU(),
        ]
        channels = shape.stem
        for width in shape.stages:
            for index in range(shape.blocks):
                stride = 2 if index == 0 else 1
                layers.append(
                    _ResidualBlock1d(channels, width, shape.kernel, stride, shape.separable)
                )
                channels = width
        self.layers = nn.Sequential(*layers)
        self.pool: nn.Module = nn.AdaptiveAvgPool1d(1)
        self.flatten = nn.Flatten()
        self.word_segments = shape.word_segments
        self.word_stages = shape.word_stages
        self._stage_ends = tuple(
            stage_end_layer(index, shape.blocks) for index in range(len(shape.stages))
        )
        if not 1 <= shape.word_stages <= len(shape.stages):
            raise ValueError(f"word_stages must lie in 1..{len(shape.stages)}")

    @property
    def image_layout(self) -> bool:
        """True once `with_image_layout` has turned the convolutions into 2-D ones."""
        return isinstance(self.layers[0], nn.Conv2d)

    def hidden(self, features: torch.Tensor) -> torch.Tensor:
        """The last layer's output, `[batch, channels, time]` (`[..., time, 1]` as an image)."""
        return self.stage_outputs(features)[-1]

    def stage_outputs(self, features: torch.Tensor) -> list[torch.Tensor]:
        """Each stage's output, in the layout `hidden` describes."""
        hidden = features.transpose(1, 2)
        if self.image_layout:
            hidden = hidden.unsqueeze(-1)
        outputs = []
        for index, layer in enumerate(self.layers):
            hidden = layer(hidden)
            if index in self._stage_ends:
                outputs.append(hidden)
        return outputs

    def pooled(self, hidden: torch.Tensor) -> torch.Tensor:
        return self.flatten(self.pool(hidden))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.pooled(self.hidden(features))


def _temporal_builder(shape: TemporalShape) -> Callable[[int, int], tuple[nn.Module, int]]:
    def build(frames: int, bins: int) -> tuple[nn.Module, int]:
        del frames  # global pooling makes the network independent of the clip length
        return _TemporalConvNet(bins, shape), shape.stages[-1]

    return build


def with_image_layout(model: KwsModel) -> KwsModel:
    """A copy of `model` whose 1-D convolutions over time run as 2-D ones on `[.., time, 1]`.

    Same weights, same outputs, for the exported file: onnxruntime's CPU provider runs 2-D
    convolutions in its blocked (NCHWc) layout, with a fast depthwise kernel, and never does so
    for 1-D ones. Training keeps the 1-D network (torch is the other way round). Networks that
    are not temporal come back as they are.
    """
    if not isinstance(model.backbone, _TemporalConvNet):
        return model
    copy = deepcopy(model)
    _as_image_modules(copy.backbone)
    return copy


def _as_image_modules(module: nn.Module) -> None:
    for name, child in module.named_children():
        replacement: nn.Module | None = None
        if isinstance(child, nn.Conv1d):
            conv = nn.Conv2d(
                child.in_channels,
                child.out_channels,
                (child.kernel_size[0], 1),
                (child.stride[0], 1),
                (int(child.padding[0]), 0),  # type: ignore[index]
                groups=child.groups,
                bias=child.bias is not None,
            )
            conv.weight.data.copy_(child.weight.data.unsqueeze(-1))
            if child.bias is not None and conv.bias is not None:
                conv.bias.data.copy_(child.bias.data)
            replacement = conv
        elif isinstance(child, nn.BatchNorm1d):
            norm = nn.BatchNorm2d(child.num_features, child.eps, child.momentum)
            norm.load_state_dict(child.state_dict())
            replacement = norm
        elif isinstance(child, nn.AdaptiveAvgPool1d):
            replacement = nn.AdaptiveAvgPool2d(1)
        if replacement is not None:
            replacement.train(child.training)
            setattr(module, name, replacement)
        else:
            _as_image_modules(child)


@dataclass(frozen=True)
class Architecture:
    build: Callable[[int, int], tuple[nn.Module, int]]
    classifier_dropout: float
    description: str


ARCHITECTURES: dict[str, Architecture] = {
    "ds_tcresnet": Architecture(
        _temporal_builder(DS_TC_RESNET), 0.1, "depthwise-separable TC-ResNet (the default)"
    ),
    "ds_tcresnet_wide": Architecture(
        _temporal_builder(DS_TC_RESNET_WIDE), 0.1, "depthwise-separable TC-ResNet, 1.5x wider"
    ),
    "ds_tcresnet_xwide": Architecture(
        _temporal_builder(DS_TC_RESNET_XWIDE),
        0.1,
        "depthwise-separable TC-ResNet, 1.875x wider",
    ),
    "tcresnet": Architecture(_temporal_builder(TC_RESNET14), 0.1, "TC-ResNet14"),
    "tf_conv": Architecture(tf_conv, 0.0, "TensorFlow speech_commands 'conv'"),
    "tf_low_latency_conv": Architecture(
        tf_low_latency_conv, 0.5, "TensorFlow speech_commands 'low_latency_conv'"
    ),
    "tfjs_convnet": Architecture(tfjs_convnet, 0.5, "TensorFlow.js speech-commands convnet"),
}


def build_model(name: str, num_classes: int, frames: int, bins: int) -> KwsModel:
    if name not in ARCHITECTURES:
        raise ValueError(f"unknown model {name!r}; choose from {', '.join(ARCHITECTURES)}")
    architecture = ARCHITECTURES[name]
    backbone, embedding_size = architecture.build(frames, bins)
    return KwsModel(
        name, backbone, embedding_size, num_classes, bins, architecture.classifier_dropout
    )


def parameter_count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


@dataclass(frozen=True)
class LayerRow:
    name: str
    kind: str
    output_shape: tuple[int, ...]
    parameters: int


def summarize(model: KwsModel, frames: int, bins: int) -> list[LayerRow]:
    """Each leaf layer's output shape and own parameters, found by running one dummy batch."""
    rows: list[LayerRow] = []
    hooks = []
    for name, module in model.named_modules():
        is_leaf = not list(module.children())
        if not is_leaf and not isinstance(module, _ResidualBlock1d):
            continue

        def record(module: nn.Module, _inputs: object, output: object, name: str = name) -> None:
            tensor = output[0] if isinstance(output, tuple) else output
            own = sum(p.numel() for p in module.parameters(recurse=False))
            if isinstance(module, _ResidualBlock1d):
                rows.append(LayerRow(f"{name} (end)", "residual add", tuple(tensor.shape), 0))
                return
            rows.append(LayerRow(name, type(module).__name__, tuple(tensor.shape), own))

        hooks.append(module.register_forward_hook(record))
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            model(torch.zeros(1, frames, bins))
    finally:
        for hook in hooks:
            hook.remove()
        model.train(was_training)
    return rows


def format_summary(model: KwsModel, frames: int, bins: int) -> str:
    rows = summarize(model, frames, bins)
    header = f"{'Layer (type)':<44}{'Output shape':<24}{'Param #':>10}"
    rule = "=" * len(header)
    lines = [f'Model: "{model.name}"', rule, header, rule]
    for row in rows:
        shape = "(None, " + ", ".join(str(d) for d in row.output_shape[1:]) + ")"
        lines.append(f"{row.name + ' (' + row.kind + ')':<44}{shape:<24}{row.parameters:>10,}")
    total = parameter_count(model)
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    buffers = sum(b.numel() for b in model.buffers())
    lines += [
        rule,
        f"Total params: {total:,}",
        f"Trainable params: {trainable:,}",
        f"Non-trainable params: {total - trainable:,} (plus {buffers:,} buffer values)",
    ]
    return "\n".join(lines)
