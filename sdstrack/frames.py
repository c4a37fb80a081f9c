"""Frame and box handling in NumPy/OpenCV: input checks, the original square crop, patch validity.

Conventions: frames are H x W x 3 ``uint8`` **RGB** arrays (OpenCV users hold BGR: convert, or use the
tracker's ``bgr=True``); boxes are top-left ``x, y, w, h`` in pixels.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import cv2
import numpy as np

Box = tuple[float, float, float, float]


def check_rgb_frame(frame: object, name: str = "rgb") -> np.ndarray:
    """Validate an H x W x 3 ``uint8`` frame; returns it C-contiguous (copied only when needed)."""
    if not isinstance(frame, np.ndarray):
        raise TypeError(f"{name} frame must be a NumPy array (H x W x 3 uint8 RGB), got {type(frame).__name__}")
    if frame.ndim != 3 or frame.shape[2] != 3:
        raise ValueError(f"{name} frame must be H x W x 3 (three colour channels, RGB order), got shape {frame.shape}")
    if frame.dtype != np.uint8:
        hint = " (scale floats in [0, 1] by 255 and cast)" if np.issubdtype(frame.dtype, np.floating) else ""
        raise ValueError(f"{name} frame must be uint8, got dtype {frame.dtype}{hint}")
    check_not_empty(frame, name)
    return np.ascontiguousarray(frame)


def check_not_empty(frame: np.ndarray, name: str) -> None:
    if frame.shape[0] == 0 or frame.shape[1] == 0:
        raise ValueError(f"{name} frame is empty (shape {frame.shape})")


def check_same_size(first: np.ndarray, second: np.ndarray, first_name: str, second_name: str) -> None:
    if first.shape[:2] != second.shape[:2]:
        raise ValueError(
            f"{first_name} frame is {first.shape[1]}x{first.shape[0]} but {second_name} frame is "
            f"{second.shape[1]}x{second.shape[0]} (width x height); the two sensors' frames must be registered "
            f"to the same pixel grid: resize with sdstrack.resize_like({second_name}, {first_name}) if they "
            "are already aligned"
        )


def check_box(box: Sequence[float], width: int, height: int) -> Box:
    """Validate a top-left ``x, y, w, h`` pixel box against a W x H image; returns it as floats."""
    values = tuple(float(v) for v in box)
    if len(values) != 4:
        raise ValueError(f"box must have 4 numbers (x, y, w, h: top-left corner and size in pixels), got {len(values)}")
    if not all(math.isfinite(v) for v in values):
        raise ValueError(f"box {values} contains NaN or inf")
    x, y, w, h = values
    if w <= 0 or h <= 0:
        raise ValueError(f"box {values} has a non-positive width or height; boxes are x, y, w, h, not x1, y1, x2, y2")
    if x >= width or y >= height or x + w <= 0 or y + h <= 0:
        raise ValueError(f"box {values} lies entirely outside the {width}x{height} image")
    return values


def resize_like(frame: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Resize ``frame`` to the height and width of ``reference``.

    Single-channel frames (depth, raw thermal) use nearest-neighbour interpolation so that holes stay
    holes and no depth value is invented between surfaces; colour images use bilinear interpolation.
    Only use it for sensors that are already aligned (same field of view); it does not register them.
    """
    size = (reference.shape[1], reference.shape[0])
    interpolation = cv2.INTER_NEAREST if frame.ndim == 2 else cv2.INTER_LINEAR
    return cv2.resize(frame, size, interpolation=interpolation)


def square_region(image: np.ndarray, box: Sequence[float], factor: float, pad_value: float = 0) -> np.ndarray:
    """The original tracker's square crop (``sample_target``) at image resolution, reproduced exactly.

    The square has side ``ceil(sqrt(w * h) * factor)`` pixels and is centred on the box centre with
    its top-left corner at ``round(centre - side / 2)`` (Python rounding); outside the image it is
    padded with ``pad_value``. Like the original, a square that passes the right (bottom) edge leaves
    out the image's last column (row) and pads one more instead.
    """
    x, y, w, h = box
    side = math.ceil(math.sqrt(w * h) * factor)
    if side < 1:
        raise ValueError(f"box {tuple(box)} is too small to crop around")
    x1 = round(x + 0.5 * w - side * 0.5)
    y1 = round(y + 0.5 * h - side * 0.5)
    x2, y2 = x1 + side, y1 + side
    height, width = image.shape[:2]
    left, top = max(0, -x1), max(0, -y1)
    right, bottom = max(x2 - width + 1, 0), max(y2 - height + 1, 0)
    region = image[y1 + top : y2 - bottom, x1 + left : x2 - right]
    padding = ((top, bottom), (left, right)) + ((0, 0),) * (image.ndim - 2)
    return np.pad(region, padding, constant_values=pad_value)


def crop_square(image: np.ndarray, box: Sequence[float], factor: float, output_size: int) -> tuple[np.ndarray, float]:
    """:func:`square_region` resized bilinearly to ``output_size``; returns the crop and
    ``resize_factor = output_size / side``."""
    region = square_region(image, box, factor)
    return cv2.resize(region, (output_size, output_size)), output_size / region.shape[0]


def patch_valid_fraction(
    valid: np.ndarray, box: Sequence[float], factor: float, output_size: int, patch: int
) -> np.ndarray:
    """Fraction of valid pixels under each patch of the crop :func:`crop_square` takes (row-major).

    Pixels outside the image count as valid: they are the crop's zero padding, which both modalities
    share and the network was trained with, not missing sensor data.
    """
    region = square_region(valid.astype(np.float32), box, factor, pad_value=1.0)
    area = cv2.resize(region, (output_size, output_size), interpolation=cv2.INTER_AREA)
    grid = output_size // patch
    return area.reshape(grid, patch, grid, patch).mean(axis=(1, 3)).reshape(-1)
