"""The centre head (as in OSTrack) and box decoding.

The head turns the 16x16 grid of search features into three maps: a target-centre score, the box
size and a sub-cell offset of the centre. Decoding takes the arg-max cell of a score map.
"""

from __future__ import annotations

from itertools import pairwise

import torch
import torch.nn.functional as F
from torch import Tensor, nn

SCORE_EPS = 1e-4


class FrozenBatchNorm2d(nn.Module):
    """BatchNorm2d in inference mode: fixed running statistics, learnable affine weight and bias.

    The published head is frozen during SDSTrack training, so the statistics never update here.
    """

    def __init__(self, channels: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))
        self.register_buffer("running_mean", torch.zeros(channels))
        self.register_buffer("running_var", torch.ones(channels))

    def forward(self, x: Tensor) -> Tensor:
        return F.batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias, False, 0.0, self.eps)


class ConvBnRelu(nn.Module):
    """3x3 convolution (padding 1), batch norm, ReLU."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1)
        self.norm = FrozenBatchNorm2d(out_channels)

    def forward(self, x: Tensor) -> Tensor:
        return F.relu(self.norm(self.conv(x)))


def _branch(in_channels: int, channels: int, out_channels: int) -> nn.Sequential:
    widths = [in_channels, channels, channels // 2, channels // 4, channels // 8]
    layers: list[nn.Module] = [ConvBnRelu(a, b) for a, b in pairwise(widths)]
    layers.append(nn.Conv2d(widths[-1], out_channels, kernel_size=1))
    return nn.Sequential(*layers)


class CentreHead(nn.Module):
    """Three conv branches: ``score`` (1 channel), ``size`` (w, h) and ``offset`` (dx, dy).

    Returns ``score = clamp(sigmoid, 1e-4, 1 - 1e-4)``, ``size = sigmoid`` (fractions of the search
    crop) and ``offset`` raw (fractions of a cell), each (B, k, G, G) for a G x G feature grid.
    """

    def __init__(self, in_channels: int, channels: int) -> None:
        super().__init__()
        self.score = _branch(in_channels, channels, 1)
        self.size = _branch(in_channels, channels, 2)
        self.offset = _branch(in_channels, channels, 2)

    def forward(self, features: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        score = self.score(features).sigmoid().clamp(SCORE_EPS, 1 - SCORE_EPS)
        return score, self.size(features).sigmoid(), self.offset(features)


def decode_boxes(score_map: Tensor, size_map: Tensor, offset_map: Tensor) -> tuple[Tensor, Tensor]:
    """Box at the arg-max cell of ``score_map``.

    Args:
        score_map: (B, 1, G, G); pass the Hann-windowed map at tracking time.
        size_map, offset_map: (B, 2, G, G) from :class:`CentreHead`.

    Returns (B, 4) boxes ``cx, cy, w, h`` as fractions of the search crop, and the (B,) peak scores,
    both float32 whatever the maps' dtype.
    """
    score_map, size_map, offset_map = score_map.float(), size_map.float(), offset_map.float()
    grid = score_map.shape[-1]
    peak, cell = score_map.flatten(1).max(dim=1)
    row, col = cell // grid, cell % grid
    gather_index = cell.view(-1, 1, 1).expand(-1, 2, 1)
    size = size_map.flatten(2).gather(2, gather_index).squeeze(-1)
    offset = offset_map.flatten(2).gather(2, gather_index).squeeze(-1)
    centre_x = (col.to(offset.dtype) + offset[:, 0]) / grid
    centre_y = (row.to(offset.dtype) + offset[:, 1]) / grid
    return torch.stack([centre_x, centre_y, size[:, 0], size[:, 1]], dim=1), peak
