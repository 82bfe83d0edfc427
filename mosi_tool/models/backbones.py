"""The two MoSI backbones, R(2+1)D-10 and R-2D3D-18, as data over one generic video ResNet."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import torch
from torch import Tensor, nn

from .parts import CONV_MAKERS, STEMS, BasicBlock, Triple


@dataclass(frozen=True)
class StageSpec:
    channels: int  # at the default width of 64
    blocks: int
    conv: str  # key of CONV_MAKERS
    stride: Triple  # (time, height, width) stride of the stage's first block


@dataclass(frozen=True)
class ArchSpec:
    stem: str  # key of STEMS
    stages: tuple[StageSpec, ...]


ARCHS: dict[str, ArchSpec] = {
    # One block per stage; conv3-conv5 halve time and space. conv5: 512 x 2 x 7 x 7 at 16x112x112.
    "r2plus1d_10": ArchSpec(
        stem="2plus1d",
        stages=(
            StageSpec(64, 1, "2plus1d", (1, 1, 1)),
            StageSpec(128, 1, "2plus1d", (2, 2, 2)),
            StageSpec(256, 1, "2plus1d", (2, 2, 2)),
            StageSpec(512, 1, "2plus1d", (2, 2, 2)),
        ),
    ),
    # Two blocks per stage; conv2/conv3 are 2D (conv3 halves space), conv4/conv5 are 3D and halve both.
    # conv5: 256 x 4 x 4 x 4 at 16x112x112.
    "r2d3d_18": ArchSpec(
        stem="2d_pool",
        stages=(
            StageSpec(64, 2, "2d", (1, 1, 1)),
            StageSpec(128, 2, "2d", (1, 2, 2)),
            StageSpec(256, 2, "3d", (2, 2, 2)),
            StageSpec(256, 2, "3d", (2, 2, 2)),
        ),
    ),
}


class BackboneOutput(NamedTuple):
    logits: Tensor  # (N, classes)
    features: Tensor  # (N, C) pooled conv5
    conv5: Tensor  # (N, C, t, h, w)


class VideoResNet(nn.Module):
    """Stem, four residual stages (conv2-conv5), then global average pool, dropout and a linear head.

    `width` scales every stage's channels (64 is the paper's network; smaller presets exist for tests
    and CPU demos). The backbone is fully convolutional, so any T, H, W large enough works.
    """

    def __init__(self, arch: str, num_classes: int, width: int = 64, dropout: float = 0.5):
        super().__init__()
        if arch not in ARCHS:
            raise ValueError(f"unknown arch {arch!r}; choose from {', '.join(ARCHS)}")
        spec = ARCHS[arch]
        scale = width / 64
        self.stem = STEMS[spec.stem](width)
        stages = []
        cin = width
        for stage in spec.stages:
            cout = max(1, round(stage.channels * scale))
            blocks = [BasicBlock(cin, cout, stage.stride, CONV_MAKERS[stage.conv])]
            blocks += [BasicBlock(cout, cout, (1, 1, 1), CONV_MAKERS[stage.conv]) for _ in range(stage.blocks - 1)]
            stages.append(nn.Sequential(*blocks))
            cin = cout
        self.conv2, self.conv3, self.conv4, self.conv5 = stages
        self.feature_dim = cin
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(cin, num_classes)
        self._init_weights()

    def _init_weights(self) -> None:
        for m in self.modules():
            if isinstance(m, nn.Conv3d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm3d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def forward(self, x: Tensor) -> BackboneOutput:
        # x: (N, 3, T, H, W), normalised
        x = self.stem(x)
        x = self.conv2(x)
        x = self.conv3(x)
        x = self.conv4(x)
        conv5 = self.conv5(x)  # (N, C, t, h, w)
        features = conv5.mean(dim=(2, 3, 4))  # (N, C)
        logits = self.fc(self.dropout(features))
        return BackboneOutput(logits, features, conv5)


def build_backbone(arch: str, num_classes: int, width: int = 64, dropout: float = 0.5) -> VideoResNet:
    return VideoResNet(arch, num_classes, width=width, dropout=dropout)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


@torch.no_grad()
def conv5_shape(model: VideoResNet, frames: int, height: int, width: int) -> tuple[int, ...]:
    was_training = model.training
    model.eval()
    out = model(torch.zeros(1, 3, frames, height, width)).conv5
    model.train(was_training)
    return tuple(out.shape[1:])
