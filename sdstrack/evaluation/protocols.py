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

To run another tracker (one that cannot call sdstrack, e.g. ``examples/opencv_baseline.py``) under the same
protocol, :func:`write_degraded_benchmark` writes what the tracker receives as a plain-folder benchmark.
"""

from __future__ import annotations

import zlib
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np

from ..datasets import DatasetError, Sequence, load_dataset
from ..datasets._common import invalid_boxes, write_flags
from ..io import COLOR_FOLDER, GROUNDTRUTH_NAME

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
        return corrupt_frame(frame, self.corruption, self._rng(sequence, index))

    def _rng(self, sequence: str, index: int = -1) -> np.random.Generator:
        return np.random.default_rng([self.seed, zlib.crc32(sequence.encode()), index + 1])


def corrupt_frame(frame: np.ndarray, corruption: str, rng: np.random.Generator) -> np.ndarray:
    """What a broken sensor sends instead of ``frame`` (any dtype and shape, values in the dtype's range,
    or [0, 1] for floats): ``"zeros"``, ``"noise"`` (uniform over that range) or ``"dark"`` (10 % brightness
    plus Gaussian noise of 2 levels). Same dtype and shape; draws from ``rng``."""
    if corruption not in CORRUPTIONS:
        raise ValueError(f"corruption must be one of {CORRUPTIONS}, got {corruption!r}")
    if corruption == "zeros":
        return np.zeros_like(frame)
    high = np.iinfo(frame.dtype).max if np.issubdtype(frame.dtype, np.integer) else 1.0
    if corruption == "noise":
        return rng.integers(0, int(high) + 1, frame.shape).astype(frame.dtype)
    dark = frame.astype(np.float32) * 0.1 + rng.normal(0.0, 2.0, frame.shape)
    return np.clip(np.rint(dark), 0, high).astype(frame.dtype)


def init_frame(sequence: Sequence) -> int:
    """The frame a tracker is initialised on: the first with the target visible (0-based). Raises
    :class:`DatasetError` when the target is never visible."""
    present = np.flatnonzero(~sequence.absent)
    if present.size == 0:
        raise DatasetError(f"sequence {sequence.name}: the target is absent in every frame; nothing to initialise on")
    return int(present[0])


def write_degraded_sequence(sequence: Sequence, failure: SensorFailure, out_root: str | Path) -> Path:
    """Write what a tracker receives from ``sequence`` under ``failure`` as a sequence folder of the plain
    folder layout (:mod:`sdstrack.datasets.folder`), ``out_root/<sequence.name>/``; returns that folder.

    Conventions, so that a tracker reading the folder sees what :func:`~sdstrack.evaluation.track_sequence`
    hands sdstrack's tracker:

    * the init frame is :func:`init_frame`'s, as in ``track_sequence``;
    * ``color/%08d.png`` (1-based frame numbers): each colour frame as :meth:`SensorFailure.apply` returns
      it, in the BGR order OpenCV reads and writes, so ``load_dataset("folder", out_root)`` gives back
      exactly the same arrays; ``<x_format>/%08d.png`` likewise for the X frames, in their own dtype and
      channels (e.g. 16-bit depth; ``.tiff`` for a dtype PNG cannot hold);
    * a dropped frame is written all zeros of the frame's shape and dtype, and flagged 1 in
      ``rgb_dropped.tag`` or ``x_dropped.tag`` (one 0/1 line a frame, written for the dropped sensor only).
      A reader must consult that tag: sdstrack's tracker receives ``None`` there, not a black frame. The
      tag also reads back as a per-frame attribute, so scores on the dropped frames come for free;
    * ``groundtruth.txt``: the sequence's boxes (``x,y,w,h``, exact), NaN on frames the source marks absent
      despite a valid box (VisEvent's ``absent_label.txt``), so a reader finds the same absent frames and
      the same init frame; other ground truths (``extra_groundtruth``) are not written;
    * ``<attribute>.tag`` for each attribute of the sequence (a per-sequence flag repeated on every frame).

    Raises :class:`FileExistsError` when the sequence folder exists and is not empty (stale frames or tags
    of another protocol would mix in), :class:`DatasetError` when the target is never visible.
    """
    folder = Path(out_root) / sequence.name
    if folder.is_dir() and any(folder.iterdir()):
        raise FileExistsError(f"{folder} already holds files; write the degraded benchmark into an empty folder")
    start, length = init_frame(sequence), len(sequence)
    dropped = failure.dropped_frames(sequence.name, length, start)
    dropped_tag = f"{failure.drop}_dropped" if failure.drop is not None else None
    if dropped_tag in sequence.attributes:
        raise ValueError(f"sequence {sequence.name} already has an attribute {dropped_tag!r}")
    for sub in (COLOR_FOLDER, sequence.x_format):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    for index in range(length):
        clean = sequence.frame(index)
        received = failure.apply(sequence.name, index, *clean, dropped, start)
        for sub, frame, original in zip((COLOR_FOLDER, sequence.x_format), received, clean):
            image = np.zeros_like(original) if frame is None else frame
            suffix = ".png" if image.dtype in (np.uint8, np.uint16) else ".tiff"
            path = folder / sub / f"{index + 1:08d}{suffix}"
            if not cv2.imwrite(str(path), image):
                raise OSError(f"OpenCV could not write {path}")
    boxes = sequence.groundtruth.copy()
    boxes[sequence.absent & ~invalid_boxes(boxes)] = np.nan
    (folder / GROUNDTRUTH_NAME).write_text("".join(",".join(repr(float(v)) for v in box) + "\n" for box in boxes))
    tags = {key: np.broadcast_to(np.asarray(flags, bool), (length,)) for key, flags in sequence.attributes.items()}
    if dropped_tag is not None:
        tags[dropped_tag] = dropped
    for key, flags in tags.items():
        write_flags(folder / f"{key}.tag", flags)
    return folder


def write_degraded_benchmark(
    dataset: str, root: str | Path, out: str | Path, failure: SensorFailure, sequences: list[str] | None = None
) -> list[Path]:
    """:func:`write_degraded_sequence` for every sequence (or ``sequences``) of benchmark ``dataset`` in
    ``root`` (as :func:`sdstrack.datasets.load_dataset` reads it), into ``out``; returns the folders.

    Run the other tracker on ``out``; score its results against the original benchmark
    (``score_raw_results(dataset, root, results)``, the benchmark's own metrics) and sdstrack with
    ``evaluate(model, dataset, root, ..., failure=failure)``, so both face the same failures.
    """
    return [write_degraded_sequence(sequence, failure, out) for sequence in load_dataset(dataset, root, sequences)]
