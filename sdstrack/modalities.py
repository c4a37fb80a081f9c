"""Rendering X-sensor frames into the 3-channel uint8 images the published weights were trained on.

Conventions (all frames are NumPy arrays, H x W or H x W x 3):

* **depth** — ``uint16`` millimetres, or floating-point metres (converted to millimetres, rounded).
  0 and NaN are holes. Rendered with the original recipe: cap at ``min(3 * median, 10000)`` mm
  (the median over the whole frame, holes included), min-max normalise to 0..255 over the whole
  frame, apply OpenCV's JET colour map. The JET image is kept in OpenCV's **BGR channel order,
  unconverted**: the published RGB-D weights were trained on it that way, and the bit-exact rendering
  is what reproduces their scores.
* **thermal** — H x W or H x W x 3 ``uint8`` (an 8-bit thermal image, 3-channel ones in RGB order),
  or H x W ``uint16`` radiometric counts, scaled per frame to 0..255 by min-max normalisation over the
  whole frame (``cv2.normalize(..., NORM_MINMAX)``). Single-channel images are replicated to 3 channels.
* **event** — a pre-rendered event frame (the form the published RGB-E weights were trained on, as in
  VisEvent): H x W x 3 ``uint8`` in RGB order, or H x W ``uint8`` replicated to 3 channels.
* **rendered** — an X image that is already the network's 3-channel ``uint8`` input; passed through
  untouched.

:class:`XFrame` computes the whole-frame statistics once (depth median and range, thermal range) and
then renders any region of the frame on its own, so a tracker renders only the pixels its crops
need; the result equals rendering the whole frame and cutting the region out, bit for bit.

Nothing here silently converts a dtype it does not document: anything else raises ``ValueError``.
"""

from __future__ import annotations

import cv2
import numpy as np

from .config import MODALITIES

X_FORMATS = MODALITIES + ("rendered",)
DEPTH_CAP_MM = 10000
_ALL = (slice(None), slice(None))


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
    raise ValueError(
        f"depth must be uint16 millimetres or float metres, got dtype {depth.dtype}; convert it, e.g. "
        "depth.astype(np.uint16) for integer millimetres"
    )


def depth_validity(depth: np.ndarray) -> np.ndarray:
    """H x W bool, False at holes (0, NaN, non-finite or non-positive values)."""
    if np.issubdtype(depth.dtype, np.floating):
        return np.isfinite(depth) & (depth > 0)
    return depth > 0


def _uint16_median(values: np.ndarray, counts: np.ndarray) -> float:
    """``np.median(values)`` (mean of the two middle values for an even count) from a histogram."""
    cumulative = np.cumsum(counts)
    n = values.size
    upper = float(np.searchsorted(cumulative, n // 2, side="right"))
    if n % 2:
        return upper
    return (float(np.searchsorted(cumulative, n // 2 - 1, side="right")) + upper) / 2


def _minmax_lut(low: int, high: int) -> np.ndarray:
    """``cv2.normalize(..., 0, 255, NORM_MINMAX)`` of a uint16 frame whose range is ``low..high``, as a
    lookup table indexed by ``value - low``. Normalising the values ``low..high`` themselves gives the
    same scale and offset as normalising the frame, so each entry equals the frame's pixel exactly."""
    values = np.arange(low, high + 1, dtype=np.uint16)[None]
    return cv2.normalize(values, None, alpha=0, beta=255, norm_type=cv2.NORM_MINMAX).astype(np.uint8)[0]


class XFrame:
    """One X frame, checked, with the whole-frame statistics its rendering needs; renders regions.

    >>> x = XFrame(depth, "depth")                  # doctest: +SKIP
    >>> x.render(np.s_[100:200], np.s_[50:300])     # rows, columns -> 100 x 250 x 3 uint8

    Args:
        frame: the X frame as the sensor gives it (see the module docstring).
        x_format: one of :data:`X_FORMATS`.
        bgr: a 3-channel input frame is in OpenCV's BGR order; regions are returned in RGB order.
            (Never applies to rendered depth, whose JET image stays BGR as the weights expect.)
    """

    def __init__(self, frame: np.ndarray, x_format: str, bgr: bool = False) -> None:
        if x_format not in X_FORMATS:
            raise ValueError(f"unknown X format {x_format!r}; expected one of {X_FORMATS}")
        if not isinstance(frame, np.ndarray):
            raise TypeError(f"x frame must be a NumPy array, got {type(frame).__name__}")
        if frame.ndim not in (2, 3):
            raise ValueError(
                f"x frame must be H x W or H x W x 3, got a {frame.ndim}-D array of shape {frame.shape}; pass "
                "the image itself, not a row or a scalar"
            )
        if frame.shape[0] == 0 or frame.shape[1] == 0:
            raise ValueError(f"x frame is empty (shape {frame.shape})")
        self.x_format = x_format
        self.shape = frame.shape[:2]
        self._frame = frame
        self._swap_channels = False
        self._lut: np.ndarray | None = None
        self._low = 0
        self._cap: int | None = None
        if frame.ndim == 3 and frame.shape[2] == 3 and frame.dtype == np.uint8:  # already rendered
            self._swap_channels = bgr
        elif x_format == "rendered":
            _check_three_channel_uint8("rendered X", frame, allow_gray=False)
        elif x_format == "depth":
            self._prepare_depth(frame)
        elif x_format == "thermal" and frame.ndim == 2 and frame.dtype == np.uint16:
            low, high = (int(v) for v in cv2.minMaxLoc(frame)[:2])
            self._low, self._lut = low, _minmax_lut(low, high)
        else:
            _check_three_channel_uint8(x_format, frame)

    def _prepare_depth(self, depth: np.ndarray) -> None:
        if depth.ndim != 2:
            raise ValueError(
                f"depth frame must be H x W (one value per pixel), got shape {depth.shape}; pass an already "
                "rendered H x W x 3 uint8 image instead if you colour-mapped it yourself"
            )
        mm = depth_to_millimetres(depth)
        counts = np.bincount(mm.ravel(), minlength=1)
        present = np.flatnonzero(counts)
        cap = int(np.uint16(int(min(_uint16_median(mm, counts) * 3, DEPTH_CAP_MM))))  # the original floors
        low, high = min(int(present[0]), cap), min(int(present[-1]), cap)
        self._frame, self._cap, self._low, self._lut = mm, cap, low, _minmax_lut(low, high)

    def render(self, rows: slice = slice(None), cols: slice = slice(None)) -> np.ndarray:
        """The rendered ``frame[rows, cols]``: (h, w, 3) ``uint8``, equal to that region of the
        rendered whole frame."""
        region = self._frame[rows, cols]
        if self._cap is not None:  # depth
            gray = self._lut[np.minimum(region, np.uint16(self._cap)) - np.uint16(self._low)]
            return cv2.applyColorMap(gray, cv2.COLORMAP_JET) if gray.size else np.zeros((*gray.shape, 3), np.uint8)
        if self._lut is not None:  # radiometric thermal
            region = self._lut[region - np.uint16(self._low)]
        if region.ndim == 2:
            return np.repeat(region[:, :, None], 3, axis=2)
        if region.shape[2] == 1:
            return np.repeat(region, 3, axis=2)
        return region[..., ::-1] if self._swap_channels else region

    def validity(self, rows: slice = slice(None), cols: slice = slice(None)) -> np.ndarray | None:
        """(h, w) bool validity of ``frame[rows, cols]`` when the format has holes (depth: False at 0 or
        NaN), else None."""
        if self._cap is None:
            return None
        return self._frame[rows, cols] > 0


def render_x(frame: np.ndarray, x_format: str) -> np.ndarray:
    """Render a whole X frame given its format (one of ``X_FORMATS``) into the network's 3-channel input.

    A 3-channel ``uint8`` frame is taken as already rendered for every format and passed through.
    """
    return XFrame(frame, x_format).render(*_ALL)


def render_depth(depth: np.ndarray) -> np.ndarray:
    """H x W depth -> H x W x 3 ``uint8`` JET image (BGR order kept, see module docstring)."""
    return XFrame(np.asarray(depth), "depth").render(*_ALL)


def render_thermal(thermal: np.ndarray) -> np.ndarray:
    """Thermal frame -> H x W x 3 ``uint8`` (RGB order)."""
    return XFrame(thermal, "thermal").render(*_ALL)


def render_event(event: np.ndarray) -> np.ndarray:
    """Pre-rendered event frame -> H x W x 3 ``uint8`` (RGB order)."""
    return XFrame(event, "event").render(*_ALL)


def _check_three_channel_uint8(name: str, frame: np.ndarray, allow_gray: bool = True) -> None:
    if frame.dtype != np.uint8:
        raise ValueError(f"{name} frame must be uint8, got dtype {frame.dtype}")
    gray = frame.ndim == 2 or (frame.ndim == 3 and frame.shape[2] == 1)
    if gray and allow_gray:
        return
    if frame.ndim != 3 or frame.shape[2] != 3:
        expected = "H x W or H x W x 3" if allow_gray else "H x W x 3"
        raise ValueError(f"{name} frame must be {expected}, got shape {frame.shape}")
