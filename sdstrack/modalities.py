"""Rendering X-sensor frames into the 3-channel uint8 images the published weights were trained on.

Conventions (all frames are NumPy arrays, H x W or H x W x 3):

* **depth** — ``uint16`` millimetres, or floating-point metres (converted to millimetres, rounded).
  0 and NaN are holes. Rendered with the original recipe: cap at ``min(3 * median, 10000)`` mm
  (the median includes holes), min-max normalise to 0..255, apply OpenCV's JET colour map. The JET
  image is kept in OpenCV's **BGR channel order, unconverted**: the published RGB-D weights were
  trained on it that way, and the bit-exact rendering is what reproduces their scores.
* **thermal** — H x W or H x W x 3 ``uint8`` (an 8-bit thermal image, 3-channel ones in RGB order),
  or H x W ``uint16`` radiometric counts, scaled per frame to 0..255 by min-max normalisation
  (``cv2.normalize(..., NORM_MINMAX)``). Single-channel images are replicated to 3 channels.
* **event** — a pre-rendered event frame (the form the published RGB-E weights were trained on, as in
  VisEvent): H x W x 3 ``uint8`` in RGB order, or H x W ``uint8`` replicated to 3 channels.
* **rendered** — an X image that is already the network's 3-channel ``uint8`` input; passed through
  untouched.

Nothing here silently converts a dtype it does not document: anything else raises ``ValueError``.
"""

from __future__ import annotations

import cv2
import numpy as np

from .config import MODALITIES

X_FORMATS = MODALITIES + ("rendered",)
DEPTH_CAP_MM = 10000


def depth_to_millimetres(depth: np.ndarray) -> np.ndarray:
    """``uint16`` millimetres as they are; float metres times 1000, rounded, NaN/inf/negative -> 0 (hole)."""
    if depth.dtype == np.uint16:
        return depth
    if np.issubdtype(depth.dtype, np.floating):
        mm = np.where(np.isfinite(depth) & (depth > 0), depth, 0.0) * 1000.0
        if mm.max(initial=0.0) > np.iinfo(np.uint16).max:
            raise ValueError(
                f"depth reaches {mm.max() / 1000:.1f} m, beyond uint16 millimetres (65.5 m); float depth "
                "must be in metres"
            )
        return np.rint(mm).astype(np.uint16)
    raise ValueError(f"depth must be uint16 millimetres or float metres, got dtype {depth.dtype}")


def render_depth(depth: np.ndarray) -> np.ndarray:
    """H x W depth -> H x W x 3 ``uint8`` JET image (BGR order kept, see module docstring)."""
    _require_2d("depth", depth)
    mm = depth_to_millimetres(depth)
    cap = min(float(np.median(mm)) * 3, DEPTH_CAP_MM)
    capped = np.minimum(mm, np.uint16(int(cap)))  # the original assigns the float cap into uint16: floor
    normalised = cv2.normalize(capped, None, alpha=0, beta=255, norm_type=cv2.NORM_MINMAX)
    return cv2.applyColorMap(normalised.astype(np.uint8), cv2.COLORMAP_JET)


def depth_validity(depth: np.ndarray) -> np.ndarray:
    """H x W bool, False at holes (0, NaN, non-finite or non-positive values)."""
    if np.issubdtype(depth.dtype, np.floating):
        return np.isfinite(depth) & (depth > 0)
    return depth > 0


def render_thermal(thermal: np.ndarray) -> np.ndarray:
    """Thermal frame -> H x W x 3 ``uint8`` (RGB order)."""
    if thermal.ndim == 2 and thermal.dtype == np.uint16:
        thermal = cv2.normalize(thermal, None, alpha=0, beta=255, norm_type=cv2.NORM_MINMAX).astype(np.uint8)
    return _three_channel_uint8("thermal", thermal)


def render_event(event: np.ndarray) -> np.ndarray:
    """Pre-rendered event frame -> H x W x 3 ``uint8`` (RGB order)."""
    return _three_channel_uint8("event", event)


def render_x(frame: np.ndarray, x_format: str) -> np.ndarray:
    """Render an X frame given its format (one of ``X_FORMATS``) into the network's 3-channel input.

    A 3-channel ``uint8`` frame is taken as already rendered for every format and passed through.
    """
    if x_format not in X_FORMATS:
        raise ValueError(f"unknown X format {x_format!r}; expected one of {X_FORMATS}")
    if frame.ndim == 3 and frame.shape[2] == 3 and frame.dtype == np.uint8:
        return frame
    if x_format == "rendered":
        return _three_channel_uint8("rendered X", frame, allow_gray=False)
    if x_format == "depth":
        return render_depth(frame)
    if x_format == "thermal":
        return render_thermal(frame)
    return render_event(frame)


def _require_2d(name: str, frame: np.ndarray) -> None:
    if frame.ndim != 2:
        raise ValueError(
            f"{name} frame must be H x W (one value per pixel), got shape {frame.shape}; pass an already "
            "rendered H x W x 3 uint8 image instead if you colour-mapped it yourself"
        )


def _three_channel_uint8(name: str, frame: np.ndarray, allow_gray: bool = True) -> np.ndarray:
    if frame.dtype != np.uint8:
        raise ValueError(f"{name} frame must be uint8, got dtype {frame.dtype}")
    if allow_gray and frame.ndim == 2:
        return np.repeat(frame[:, :, None], 3, axis=2)
    if frame.ndim == 3 and frame.shape[2] == 1 and allow_gray:
        return np.repeat(frame, 3, axis=2)
    if frame.ndim != 3 or frame.shape[2] != 3:
        expected = "H x W or H x W x 3" if allow_gray else "H x W x 3"
        raise ValueError(f"{name} frame must be {expected}, got shape {frame.shape}")
    return frame
