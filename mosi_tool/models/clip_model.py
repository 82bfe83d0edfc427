"""The graph every runtime computes: uint8 RGB clips in; logits, features and class activation maps out."""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor, nn

from ..metadata import ModelMeta
from .backbones import VideoResNet


class ClipOutput(NamedTuple):
    logits: Tensor  # (B, classes)
    features: Tensor  # (B, C)
    cam: Tensor  # (B, classes, t, h, w)


def class_activation_maps(conv5: Tensor, fc_weight: Tensor) -> Tensor:
    """CAM for every class: ReLU(sum_k W[c, k] * A_k) / N with N = t*h*w (spec §5).

    With a global-average-pool + linear head this equals Grad-CAM on conv5, so no backward pass is needed.
    """
    n = conv5.shape[2] * conv5.shape[3] * conv5.shape[4]
    b, k, t, h, w = conv5.shape
    # matmul, not einsum: ONNX Einsum has no bfloat16 type, MatMul has (bf16 engines keep the CAM in the graph).
    maps = torch.matmul(fc_weight.to(conv5.dtype), conv5.reshape(b, k, n)).reshape(b, -1, t, h, w)
    return torch.relu(maps) / n


class ClipModel(nn.Module):
    """Backbone plus the input conversion, so compiled engines take raw decoded clips.

    Input: uint8 (or float32 in 0..255) RGB clips (B, T, H, W, 3). The cast, the permute to (B, 3, T, H, W)
    and the normalisation happen inside the graph.
    """

    def __init__(self, backbone: VideoResNet, meta: ModelMeta):
        super().__init__()
        self.backbone = backbone
        mean = torch.tensor(meta.mean, dtype=torch.float32)
        std = torch.tensor(meta.std, dtype=torch.float32)
        # (x / 255 - mean) / std == x * scale + shift
        self.register_buffer("scale", (1.0 / (255.0 * std)).view(1, 3, 1, 1, 1), persistent=False)
        self.register_buffer("shift", (-mean / std).view(1, 3, 1, 1, 1), persistent=False)

    def normalise(self, clips: Tensor) -> Tensor:
        x = clips.permute(0, 4, 1, 2, 3)  # (B, 3, T, H, W)
        dtype = self.scale.dtype
        return x.to(dtype) * self.scale + self.shift

    def forward(self, clips: Tensor) -> ClipOutput:
        out = self.backbone(self.normalise(clips))
        cam = class_activation_maps(out.conv5, self.backbone.fc.weight)
        return ClipOutput(out.logits, out.features, cam)
