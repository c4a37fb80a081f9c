"""Checks of what users pass in: frames and boxes, with errors that say what was seen and how to fix it.

Conventions: frames are H x W x 3 ``uint8`` **RGB** arrays (OpenCV users hold BGR: convert, or use the
tracker's ``bgr=True``); boxes are top-left ``x, y, w, h`` in pixels.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

Box = tuple[float, float, float, float]


def check_rgb_frame(frame: object, name: str = "rgb") -> np.ndarray:
    """Validate an H x W x 3 ``uint8`` frame; returns it unchanged (any strides are fine)."""
    if not isinstance(frame, np.ndarray):
        raise TypeError(f"{name} frame must be a NumPy array (H x W x 3 uint8 RGB), got {type(frame).__name__}")
    if frame.ndim != 3 or frame.shape[2] != 3:
        raise ValueError(f"{name} frame must be H x W x 3 (three colour channels, RGB order), got shape {frame.shape}")
    check_not_empty(frame, name)
    if frame.dtype != np.uint8:
        raise ValueError(f"{name} frame must be uint8, got dtype {frame.dtype}{_uint8_fix(frame)}")
    return frame


def _uint8_fix(frame: np.ndarray) -> str:
    """What the values of a non-uint8 image look like, and the conversion that fits them."""
    if frame.dtype == np.bool_ or not (np.issubdtype(frame.dtype, np.number)):
        return ""
    finite = frame[np.isfinite(frame)] if np.issubdtype(frame.dtype, np.floating) else frame
    if finite.size == 0:
        return " with no finite values"
    low, high = finite.min().item(), finite.max().item()
    seen = f" with values {low:g}..{high:g}"
    if low < 0:
        return f"{seen}: negative values are not an image; convert your frames to 0..255 uint8"
    if np.issubdtype(frame.dtype, np.floating) and high <= 1.0:
        return f"{seen} (a 0..1 image): use (frame * 255).round().astype(np.uint8)"
    if high <= 255:
        return f"{seen} (already 0..255): use frame.round().astype(np.uint8)" if np.issubdtype(
            frame.dtype, np.floating) else f"{seen} (already 0..255): use frame.astype(np.uint8)"
    if frame.dtype == np.uint16:
        return f"{seen} (a 16-bit image): use (frame >> 8).astype(np.uint8)"
    return f"{seen}: scale them to 0..255 and convert with .astype(np.uint8)"


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


BOX_HELP = "box must be 4 numbers x, y, w, h (top-left corner, width and height in pixels)"
MAX_BOX_TO_IMAGE = 4.0
"""A box side may be at most this many times the image's width (height): larger is a unit mistake."""


def as_box(box: object) -> Box:
    """Any 4-number sequence or array (ints, floats, NumPy scalars) -> a tuple of 4 floats."""
    if isinstance(box, (str, bytes)) or box is None:
        raise ValueError(f"{BOX_HELP}, got {box!r}; e.g. (85, 119, 70, 62)")
    try:
        values = np.asarray(box)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{BOX_HELP}, got {box!r}") from err
    if values.shape != (4,) or values.dtype == np.bool_ or not np.issubdtype(values.dtype, np.number):
        raise ValueError(f"{BOX_HELP}, got {box!r} (shape {values.shape}, dtype {values.dtype})")
    return tuple(float(v) for v in values)  # type: ignore[return-value]


def check_box(box: object, width: int, height: int) -> Box:
    """Validate a top-left ``x, y, w, h`` pixel box against a W x H image; returns it as floats."""
    values = as_box(box)
    if not all(math.isfinite(v) for v in values):
        raise ValueError(f"box {values} contains NaN or inf")
    x, y, w, h = values
    if w <= 0 or h <= 0:
        raise ValueError(f"box {values} has a non-positive width or height; boxes are x, y, w, h, not x1, y1, x2, y2")
    if x >= width or y >= height or x + w <= 0 or y + h <= 0:
        raise ValueError(f"box {values} lies entirely outside the {width}x{height} image")
    if w > MAX_BOX_TO_IMAGE * width or h > MAX_BOX_TO_IMAGE * height:
        raise ValueError(
            f"box {values} is more than {MAX_BOX_TO_IMAGE:g} times the size of the {width}x{height} image; "
            "pass the target's box in pixels of this image (x, y, w, h, not normalised or in another resolution)"
        )
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
