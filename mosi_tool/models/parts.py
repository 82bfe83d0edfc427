"""Building blocks of the video ResNets: conv makers, stems and the residual block.

Every backbone in `backbones.py` is only data that picks one conv maker and one stem per stage,
as in torchvision's video ResNets.
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor, nn

BN_EPS = 1e-3  # the official MoSI code uses 1e-3, not PyTorch's 1e-5

Triple = tuple[int, int, int]
ConvMaker = Callable[[int, int, Triple], nn.Module]  # (in_channels, out_channels, stride) -> module


def bn(channels: int) -> nn.BatchNorm3d:
    return nn.BatchNorm3d(channels, eps=BN_EPS)


class Conv3d(nn.Conv3d):
    """nn.Conv3d that leaves CPU bf16 autocast (runs fp32) when its input is shorter in time than its kernel.

    oneDNN's bf16 gradients for a temporal kernel of 3 with padding 1 on a 2-frame input come back NaN at
    random (PyTorch 2.13 CPU; deep layers of 8-frame clips). Such layers are tiny, so fp32 costs little.
    Same parameters and state keys as nn.Conv3d; export and inference (no autocast) are unchanged.
    """

    def forward(self, x: Tensor) -> Tensor:
        if x.device.type == "cpu" and torch.is_autocast_enabled("cpu") and x.shape[2] < self.kernel_size[0]:
            with torch.autocast("cpu", enabled=False):
                return super().forward(x.float())
        return super().forward(x)


def conv3d(cin: int, cout: int, kernel: Triple, stride: Triple = (1, 1, 1)) -> nn.Conv3d:
    """A bias-free 3D conv with 'same' padding for odd kernels."""
    padding = tuple(k // 2 for k in kernel)
    return Conv3d(cin, cout, kernel, stride=stride, padding=padding, bias=False)


def mid_width(kernel: Triple, cin: int, cout: int) -> int:
    """Width between the spatial and temporal halves of a (2+1)D conv.

    Chosen so the factored pair has the same parameter count as the full t*h*w conv:
    t*h*w*Cin*Cout = h*w*Cin*M + t*M*Cout  =>  M = t*h*w*Cin*Cout / (h*w*Cin + t*Cout).
    """
    t, h, w = kernel
    return (t * h * w * cin * cout) // (h * w * cin + t * cout)


class Conv2Plus1D(nn.Sequential):
    """A t*h*w conv factored into 1*h*w (space) -> BN -> ReLU -> t*1*1 (time)."""

    def __init__(self, cin: int, cout: int, kernel: Triple, stride: Triple = (1, 1, 1)):
        t, h, w = kernel
        mid = mid_width(kernel, cin, cout)
        super().__init__(
            conv3d(cin, mid, (1, h, w), (1, stride[1], stride[2])),
            bn(mid),
            nn.ReLU(inplace=True),
            conv3d(mid, cout, (t, 1, 1), (stride[0], 1, 1)),
        )


def conv_2plus1d(cin: int, cout: int, stride: Triple) -> nn.Module:
    """3x3x3 factored as (2+1)D."""
    return Conv2Plus1D(cin, cout, (3, 3, 3), stride)


def conv_3d(cin: int, cout: int, stride: Triple) -> nn.Module:
    """Full 3x3x3."""
    return conv3d(cin, cout, (3, 3, 3), stride)


def conv_2d(cin: int, cout: int, stride: Triple) -> nn.Module:
    """1x3x3, no temporal extent."""
    return conv3d(cin, cout, (1, 3, 3), stride)


CONV_MAKERS: dict[str, ConvMaker] = {"2plus1d": conv_2plus1d, "3d": conv_3d, "2d": conv_2d}


class BasicBlock(nn.Module):
    """relu(shortcut(x) + bn(conv(relu(bn(conv(x))))))."""

    def __init__(self, cin: int, cout: int, stride: Triple, make_conv: ConvMaker):
        super().__init__()
        self.conv1 = make_conv(cin, cout, stride)
        self.bn1 = bn(cout)
        self.conv2 = make_conv(cout, cout, (1, 1, 1))
        self.bn2 = bn(cout)
        self.relu = nn.ReLU(inplace=True)
        self.shortcut: nn.Module = nn.Identity()
        if cin != cout or stride != (1, 1, 1):
            self.shortcut = nn.Sequential(nn.Conv3d(cin, cout, 1, stride=stride, bias=False), bn(cout))

    def forward(self, x: Tensor) -> Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + self.shortcut(x))


def stem_2plus1d(width: int) -> nn.Module:
    """R(2+1)D stem: 3x7x7 factored into 1x7x7 (spatial stride 2) then 3x1x1; no max-pool."""
    return nn.Sequential(Conv2Plus1D(3, width, (3, 7, 7), (1, 2, 2)), bn(width), nn.ReLU(inplace=True))


def stem_2d_pool(width: int) -> nn.Module:
    """R-2D3D stem: 1x7x7 conv with spatial stride 2, BN, ReLU, then a 1x3x3 max-pool with stride 2."""
    return nn.Sequential(
        conv3d(3, width, (1, 7, 7), (1, 2, 2)),
        bn(width),
        nn.ReLU(inplace=True),
        nn.MaxPool3d((1, 3, 3), stride=(1, 2, 2), padding=(0, 1, 1)),
    )


STEMS: dict[str, Callable[[int], nn.Module]] = {"2plus1d": stem_2plus1d, "2d_pool": stem_2d_pool}
