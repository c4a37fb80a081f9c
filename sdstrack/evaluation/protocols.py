"""Sensor-failure protocols: what a failing camera does to a benchmark sequence, replayed from a seed.

SDSTrack's claim is that it keeps tracking when a sensor fails; no public toolkit can replay a sensor
failure. A :class:`SensorFailure` turns each frame pair of a sequence into what the tracker receives:

* ``drop="x"`` / ``"rgb"`` with ``drop_rate=P``: that sensor delivers nothing on a random fraction P of
  the frames after the first (the tracker gets ``None``, its masked path);
* ``drop_after=F``: that sensor delivers frames 1..F (1-based, the init frame is frame 1) and nothing
  from frame F + 1 on — a camera that dies and stays dead;
* ``corrupt="x"`` / ``"rgb"`` with ``corruption="zeros" | "noise" | "dark"``: the sensor still sends
  frames, but they are black, uniform noise, or (``"dark"``, colour only) a low-light image at 10 %
  brightness with sensor noise — a broken or blinded sensor the tracker is not told about. The frame
  the tracker is initialised on (the first, or the first with the target visible) is never corrupted
  or dropped.

The random draws depend only on ``seed``, the sequence name and the frame index, so the same seed
replays the same failures whatever the order, the number of workers or the shard.
"""

from __future__ import annotations

import zlib
from dataclasses import asdict, dataclass

import numpy as np

SENSORS = ("x", "rgb")
CORRUPTIONS = ("zeros", "noise", "dark")


@dataclass(frozen=True)
class SensorFailure:
    """One sensor-failure protocol (see the module docstring); the default is both sensors working."""

    drop: str | None = None
    drop_rate: float = 0.0
    drop_after: int | None = None
    corrupt: str | None = None
    corruption: str = "zeros"
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("drop", "corrupt"):
            value = getattr(self, name)
            if value is not None and value not in SENSORS:
                raise ValueError(f"{name} must be one of {SENSORS} or None, got {value!r}")
        if not 0.0 <= self.drop_rate <= 1.0:
            raise ValueError(f"drop_rate must lie in [0, 1], got {self.drop_rate}")
        if (self.drop_rate > 0 or self.drop_after is not None) and self.drop is None:
            raise ValueError("drop_rate and drop_after need drop='x' or drop='rgb' (which sensor fails)")
        if self.drop is not None and self.drop_rate == 0 and self.drop_after is None:
            raise ValueError(f"drop={self.drop!r} needs drop_rate > 0 or drop_after")
        if self.drop_after is not None and self.drop_after < 1:
            raise ValueError(f"drop_after must be a frame number >= 1 (1 = only the init frame), got {self.drop_after}")
        if self.corruption not in CORRUPTIONS:
            raise ValueError(f"corruption must be one of {CORRUPTIONS}, got {self.corruption!r}")
        if self.corruption == "dark" and self.corrupt == "x":
            raise ValueError("corruption='dark' (low light) applies to the RGB camera: use corrupt='rgb'")
        if self.drop is not None and self.drop == self.corrupt:
            raise ValueError(f"the {self.drop} sensor cannot be both dropped and corrupted in one protocol")

    @property
    def active(self) -> bool:
        return self.drop is not None or self.corrupt is not None

    def describe(self) -> str:
        """A short human-readable name, e.g. ``"x dropped on 50% of frames (seed 0)"``."""
        parts = []
        if self.drop is not None and self.drop_rate > 0:
            parts.append(f"{self.drop} dropped on {self.drop_rate:.0%} of frames")
        if self.drop_after is not None:
            parts.append(f"{self.drop} dead after frame {self.drop_after}")
        if self.corrupt is not None:
            parts.append(f"{self.corrupt} corrupted ({self.corruption})")
        return (", ".join(parts) + f" (seed {self.seed})") if parts else "both sensors"

    def to_dict(self) -> dict:
        return asdict(self)

    def dropped_frames(self, sequence: str, length: int, start: int = 0) -> np.ndarray:
        """(length,) bool: frames on which the failing sensor delivers nothing; the init frame ``start``
        and those before it never are."""
        dropped = np.zeros(length, dtype=bool)
        if self.drop is None:
            return dropped
        if self.drop_rate > 0 and length > 1:
            dropped[1:] = self._rng(sequence).random(length - 1) < self.drop_rate
        if self.drop_after is not None:
            dropped[self.drop_after :] = True
        dropped[: start + 1] = False
        return dropped

    def apply(
        self, sequence: str, index: int, rgb: np.ndarray, x: np.ndarray, dropped: np.ndarray, start: int = 0
    ) -> tuple[np.ndarray | None, np.ndarray | None]:
        """The frame pair the tracker receives at ``index`` (``dropped`` from :meth:`dropped_frames`;
        ``start`` is the init frame, never corrupted)."""
        if index > start and self.corrupt is not None:
            if self.corrupt == "x":
                x = self._corrupted(x, sequence, index)
            else:
                rgb = self._corrupted(rgb, sequence, index)
        if dropped[index]:
            return (None, x) if self.drop == "rgb" else (rgb, None)
        return rgb, x

    def _corrupted(self, frame: np.ndarray, sequence: str, index: int) -> np.ndarray:
        if self.corruption == "zeros":
            return np.zeros_like(frame)
        rng = self._rng(sequence, index)
        high = np.iinfo(frame.dtype).max if np.issubdtype(frame.dtype, np.integer) else 1.0
        if self.corruption == "noise":
            return rng.integers(0, int(high) + 1, frame.shape).astype(frame.dtype)
        dark = frame.astype(np.float32) * 0.1 + rng.normal(0.0, 2.0, frame.shape)
        return np.clip(np.rint(dark), 0, high).astype(frame.dtype)

    def _rng(self, sequence: str, index: int = -1) -> np.random.Generator:
        return np.random.default_rng([self.seed, zlib.crc32(sequence.encode()), index + 1])
