"""From a frame pair to the network's input: the one preprocessing path of tracking and training.

One frame pair goes: check the frames (:class:`FramePair`) -> for each target box, the original
tracker's square crop (:class:`SquareCrop`, ``sample_target``): only the part of each modality that
the square covers is cut out, X is rendered there with whole-frame statistics
(:class:`sdstrack.modalities.XFrame`), the two are stacked into 6 channels, zero-padded and resized ->
token masks from missing sensors and invalid pixels -> :func:`normalise` (scale to [0, 1], subtract
``config.pixel_mean``, divide by ``config.pixel_std``, the same values for RGB and X).

Crops equal, bit for bit, what the original computes by rendering the whole frame, concatenating the
6-channel image and cropping it, for squares up to :data:`MAX_RESIZED_SIDE` pixels (boxes up to 512 px
on a side at the search factor 4). Larger squares are sampled with the same pixel mapping without
materialising them (bilinear ``cv2.remap``), so memory stays bounded for any box; those crops differ
from the original's by a few grey levels at most.

Conventions: frames are H x W x 3 ``uint8`` RGB (``bgr=True``: OpenCV's BGR); boxes are top-left
``x, y, w, h`` in pixels.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np
import torch

from .config import SDSTrackConfig
from .frames import check_rgb_frame, check_same_size
from .modalities import XFrame

MAX_RESIZED_SIDE = 2048
"""Largest square side (px) that is padded in memory and resized exactly as the original does."""


@dataclass(frozen=True)
class SquareCrop:
    """Geometry of the original tracker's square crop around one box.

    The square has side ``ceil(sqrt(w * h) * factor)`` pixels, its top-left corner at
    ``round(centre - side / 2)`` (Python rounding) in image pixels, and is resized to
    ``output_size`` pixels. Like the original, a square that passes the right (bottom) image edge
    leaves out the image's last column (row), which is padded instead.
    """

    left: int
    top: int
    side: int
    output_size: int

    @classmethod
    def around(cls, box: Sequence[float], factor: float, output_size: int) -> SquareCrop:
        x, y, w, h = box
        side = math.ceil(math.sqrt(w * h) * factor)
        if side < 1:
            raise ValueError(f"box {tuple(box)} is too small to crop around")
        return cls(round(x + 0.5 * w - side * 0.5), round(y + 0.5 * h - side * 0.5), side, output_size)

    @property
    def resize_factor(self) -> float:
        """Output pixels per image pixel: ``output_size / side``."""
        return self.output_size / self.side

    def window(self, width: int, height: int) -> tuple[slice, slice]:
        """Rows and columns of the W x H image that the square covers (possibly empty)."""
        return _span(self.top, self.side, height), _span(self.left, self.side, width)

    def resample(self, window: np.ndarray | None, rows: slice, cols: slice) -> np.ndarray:
        """The square resized bilinearly to ``output_size`` x ``output_size``: (size, size, 3) ``uint8``.

        ``window`` holds one modality's 3-channel image pixels at ``rows``, ``cols`` (None: a missing
        modality, all zeros); the rest of the square is zero padding.
        """
        size, top, left = self.output_size, rows.start - self.top, cols.start - self.left
        if window is None or window.size == 0:
            return np.zeros((size, size, 3), np.uint8)
        height, width = window.shape[:2]
        if self.side <= MAX_RESIZED_SIDE:
            square = cv2.copyMakeBorder(np.ascontiguousarray(window), top, self.side - top - height, left,
                                        self.side - left - width, cv2.BORDER_CONSTANT, value=0)
            return cv2.resize(square, (size, size))
        # cv2.resize's mapping: output pixel d samples square coordinate (d + 0.5) * side / size - 0.5.
        coords = (np.arange(size, dtype=np.float64) + 0.5) * (self.side / size) - 0.5
        map_x = np.ascontiguousarray(np.broadcast_to((coords - left).astype(np.float32), (size, size)))
        map_y = np.ascontiguousarray(np.broadcast_to((coords - top).astype(np.float32)[:, None], (size, size)))
        return cv2.remap(np.ascontiguousarray(window), map_x, map_y, cv2.INTER_LINEAR,
                         borderMode=cv2.BORDER_CONSTANT, borderValue=0)

    def patch_valid_fraction(self, invalid: np.ndarray, rows: slice, cols: slice, patch: int) -> np.ndarray:
        """Fraction of each output patch's footprint covered by valid pixels, (grid * grid,) row-major.

        ``invalid`` (bool) holds the image pixels at ``rows``, ``cols``; every other pixel of the square
        counts as valid (the crop's zero padding is shared by both modalities and seen in training; it
        is not missing sensor data). Patch footprints are the exact square areas that map to each
        ``patch`` x ``patch`` block of the output, partial pixels weighted by their covered area.
        """
        grid = self.output_size // patch
        edges = np.arange(grid + 1) * (patch * self.side / self.output_size)
        if not invalid.any():
            return np.ones(grid * grid)
        # Integral of the invalid indicator over [0, y) x [0, x): bilinear in (y, x) inside each pixel,
        # so sampling the summed-area table bilinearly at fractional corners is exact.
        table = cv2.integral(invalid.view(np.uint8)).astype(np.float64)
        corners = _interpolate(table, edges - (rows.start - self.top), axis=0)
        corners = _interpolate(corners, edges - (cols.start - self.left), axis=1)
        area = corners[1:, 1:] - corners[:-1, 1:] - corners[1:, :-1] + corners[:-1, :-1]
        return (1.0 - area / (edges[1] - edges[0]) ** 2).reshape(-1)


def _span(start: int, length: int, limit: int) -> slice:
    """Image indices covered by ``start .. start + length`` (the original's crop: it leaves out the
    last index when the span passes the image end)."""
    stop = start + length
    first, last = max(start, 0), (stop if stop < limit else limit - 1)
    return slice(min(first, limit), max(min(first, limit), last))


def _interpolate(table: np.ndarray, positions: np.ndarray, axis: int) -> np.ndarray:
    """Linear interpolation of ``table`` along ``axis`` at fractional ``positions`` (clamped to it)."""
    size = table.shape[axis] - 1
    positions = np.clip(positions, 0, size)
    below = np.minimum(np.floor(positions).astype(int), max(size - 1, 0))
    weight = positions - below
    lower, upper = np.take(table, below, axis=axis), np.take(table, np.minimum(below + 1, size), axis=axis)
    shape = (-1, 1) if axis == 0 else (1, -1)
    return lower + (upper - lower) * weight.reshape(shape)


@dataclass
class TargetCrop:
    """One target's crop: the pixels of each modality and what is masked.

    Attributes:
        rgb, x: (size, size, 3) ``uint8`` crops of the RGB frame and of the rendered X frame, zeros
            where the square leaves the image or the modality is missing.
        resize_factor: crop pixels per image pixel.
        rgb_mask, x_mask: (tokens,) bool, True where that modality's patch token is masked; None when
            nothing is.
    """

    rgb: np.ndarray
    x: np.ndarray
    resize_factor: float
    rgb_mask: np.ndarray | None
    x_mask: np.ndarray | None


class FramePair:
    """A checked RGB + X frame pair, cropped per target with :meth:`crop`.

    Args:
        rgb: H x W x 3 ``uint8`` RGB frame, or None when the camera delivered nothing.
        x: the X frame (see :mod:`sdstrack.modalities`), or None when that sensor delivered nothing.
        x_format: one of :data:`sdstrack.modalities.X_FORMATS`.
        bgr: 3-channel inputs (RGB and X) are in OpenCV's BGR order.
        rgb_valid, x_valid: optional H x W bool masks, False at invalid pixels. Depth holes are found
            automatically when ``x_valid`` is not given.
    """

    def __init__(
        self,
        rgb: np.ndarray | None,
        x: np.ndarray | None,
        x_format: str,
        *,
        bgr: bool = False,
        rgb_valid: np.ndarray | None = None,
        x_valid: np.ndarray | None = None,
    ) -> None:
        if rgb is None and x is None:
            raise ValueError("both the RGB and the X frame are missing; at least one sensor must deliver a frame")
        self.x = XFrame(x, x_format, bgr=bgr) if x is not None else None
        self.rgb = check_rgb_frame(rgb) if rgb is not None else None
        if self.rgb is not None and x is not None:
            check_same_size(self.rgb, x, "rgb", "x")
        self.height, self.width = self.rgb.shape[:2] if self.rgb is not None else self.x.shape
        for name, valid in (("rgb_valid", rgb_valid), ("x_valid", x_valid)):
            if valid is not None and (not isinstance(valid, np.ndarray) or valid.shape != (self.height, self.width)
                                      or valid.dtype != np.bool_):
                got = f"{valid.dtype} {valid.shape}" if isinstance(valid, np.ndarray) else type(valid).__name__
                raise ValueError(
                    f"{name} must be an H x W bool array matching the frames ({self.height}, {self.width}), got {got}"
                )
        self.bgr = bgr
        self.rgb_valid, self.x_valid = rgb_valid, x_valid

    @property
    def size(self) -> tuple[int, int]:
        """``(height, width)`` in pixels."""
        return self.height, self.width

    def crop(
        self, box: Sequence[float], factor: float, output_size: int, patch_size: int, min_valid_fraction: float
    ) -> TargetCrop:
        """The square crop around ``box`` (x, y, w, h pixels) with side factor ``factor``, resized to
        ``output_size``; patches with a valid fraction below ``min_valid_fraction`` are masked."""
        crop = SquareCrop.around(box, factor, output_size)
        rows, cols = crop.window(self.width, self.height)
        rgb = None
        if self.rgb is not None:
            rgb = self.rgb[rows, cols, ::-1] if self.bgr else self.rgb[rows, cols]
        x = self.x.render(rows, cols) if self.x is not None else None
        tokens = (output_size // patch_size) ** 2
        x_valid = self.x_valid[rows, cols] if self.x_valid is not None else None
        if x_valid is None and self.x is not None:
            x_valid = self.x.validity(rows, cols)
        rgb_valid = self.rgb_valid[rows, cols] if self.rgb_valid is not None else None

        def token_mask(missing: bool, valid: np.ndarray | None) -> np.ndarray | None:
            if missing:
                return np.ones(tokens, dtype=bool)
            if valid is None:
                return None
            masked = crop.patch_valid_fraction(~valid, rows, cols, patch_size) < min_valid_fraction
            return masked if masked.any() else None

        return TargetCrop(
            crop.resample(rgb, rows, cols),
            crop.resample(x, rows, cols),
            crop.resize_factor,
            token_mask(self.rgb is None, rgb_valid),
            token_mask(self.x is None, x_valid),
        )


def normalise(crops: Sequence[TargetCrop], config: SDSTrackConfig) -> np.ndarray:
    """Crops -> the (N, 6, size, size) float32 network input, RGB channels then X channels:
    ``(pixels / 255 - pixel_mean) / pixel_std``, the same mean and std for both modalities.

    Computed through a 256-entry table per channel whose entries are that formula evaluated in
    float32, so the result is exactly the formula's, at a fraction of its cost.
    """
    table = _normalisation_table(config.pixel_mean, config.pixel_std)
    size = crops[0].rgb.shape[0]
    out = np.empty((len(crops), 6, size, size), dtype=np.float32)
    for i, crop in enumerate(crops):
        for m, pixels in enumerate((crop.rgb, crop.x)):
            for c, plane in enumerate(cv2.split(pixels)):
                cv2.LUT(plane, table[3 * m + c], dst=out[i, 3 * m + c])
    return out


@functools.lru_cache(maxsize=8)
def _normalisation_table(mean: tuple[float, ...], std: tuple[float, ...]) -> np.ndarray:
    """(6, 256) float32: entry [c, v] = (v / 255 - mean[c]) / std[c], computed as float32 tensors."""
    values = torch.arange(256, dtype=torch.float32)[None, :]
    mean_column = torch.tensor(mean * 2, dtype=torch.float32)[:, None]
    std_column = torch.tensor(std * 2, dtype=torch.float32)[:, None]
    return ((values / 255.0 - mean_column) / std_column).numpy()
