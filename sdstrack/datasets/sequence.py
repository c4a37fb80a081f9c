"""The common type every benchmark reader returns: one sequence, frames read lazily.

Conventions: ground truth is top-left ``x, y, w, h`` in pixels, float64, one row per frame; a frame
whose box is unknown or whose target is not visible has ``absent[i] = True`` (its row may be NaN or a
placeholder such as 0,0,0,0 as the benchmark writes it). Frames come as OpenCV reads them: colour in
BGR order, 16-bit depth unchanged (build trackers with ``bgr=True``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np


class DatasetError(ValueError):
    """A benchmark folder is missing files or is inconsistent; the message names the file and the fix."""


@dataclass
class Sequence:
    """One RGB + X sequence of a benchmark.

    Attributes:
        name: the sequence's name in its benchmark (its folder name).
        x_format: the X sensor, ``"depth"``, ``"thermal"`` or ``"event"`` (a tracker's ``x_format``).
        rgb_files, x_files: one image file per frame, paired by index.
        groundtruth: (N, 4) float64 ``x, y, w, h`` boxes in pixels.
        absent: (N,) bool, True where the target is absent, occluded beyond labelling, or its box is
            invalid (non-positive side, NaN): these frames are excluded or treated as the benchmark's
            metric defines.
        attributes: per-frame (N,) bool arrays or per-sequence bools, by the benchmark's attribute names.
        extra_groundtruth: further ground truths by name, e.g. RGBT234's ``"visible"`` and ``"infrared"``
            (``groundtruth`` is then the visible one).
        distractors: boxes of other objects a tracker may take for the target, by kind (synthetic sequences
            have ``"occluder"``, ``"rgb_distractor"``, ``"x_distractor"``): (N, 4) float64 ``x, y, w, h``,
            NaN rows where none of that kind is in view. Training can centre search crops on them.
    """

    name: str
    x_format: str
    rgb_files: list[Path]
    x_files: list[Path]
    groundtruth: np.ndarray
    absent: np.ndarray
    attributes: dict[str, np.ndarray | bool] = field(default_factory=dict)
    extra_groundtruth: dict[str, np.ndarray] = field(default_factory=dict)
    distractors: dict[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        n = len(self.rgb_files)
        if len(self.x_files) != n:
            raise DatasetError(f"sequence {self.name}: {n} RGB frames but {len(self.x_files)} {self.x_format} frames")
        if self.groundtruth.shape != (n, 4):
            raise DatasetError(f"sequence {self.name}: {len(self.groundtruth)} ground-truth boxes for {n} frames")
        for kind, boxes in self.distractors.items():
            if boxes.shape != (n, 4):
                raise DatasetError(f"sequence {self.name}: {len(boxes)} {kind} boxes for {n} frames")

    def __len__(self) -> int:
        return len(self.rgb_files)

    def frame(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        """Frame pair ``index`` as OpenCV reads it; :class:`DatasetError` naming the file if unreadable."""
        flags = cv2.IMREAD_UNCHANGED if self.x_format == "depth" else cv2.IMREAD_COLOR
        return _read(self.rgb_files[index], cv2.IMREAD_COLOR, self.name, index), _read(
            self.x_files[index], flags, self.name, index)

    def __iter__(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        for index in range(len(self)):
            yield self.frame(index)


def _read(path: Path, flags: int, sequence: str, index: int) -> np.ndarray:
    image = cv2.imread(str(path), flags)
    if image is None:
        raise DatasetError(f"sequence {sequence}, frame {index + 1}: OpenCV cannot read {path} (missing or corrupted)")
    return image
