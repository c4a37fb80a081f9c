"""Per-sequence tracking results: one JSON file per finished sequence (what resuming and merging read),
and the raw result files each official toolkit reads, so numbers can be cross-checked there.

Raw formats (boxes are top-left ``x, y, w, h`` in pixels):

* ``otb`` (LasHeR, RGBT234, VisEvent, plain folders): ``raw/<tracker>/<sequence>.txt``, one
  ``x,y,w,h`` line per frame, the first frame's being the initial box — what the ``rgbt`` package
  and the OTB-style MATLAB toolkits load;
* ``vot`` (DepthTrack, VOT-RGBD): ``raw/<tracker>/rgbd-unsupervised/<sequence>/<sequence>_001.txt``
  with ``1`` on the first line (the initialisation) and one ``x,y,w,h`` line per later frame, and
  ``<sequence>_001_confidence.value`` with one confidence per frame (1.0 at initialisation), as the
  VOT toolkit 0.9.0 writes its long-term results in text form (``VOT_RESULTS_BINARY=0``).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

RAW_FORMATS = {"depthtrack": "vot", "vot-rgbd": "vot", "lasher": "otb", "rgbt234": "otb", "visevent": "otb",
               "folder": "otb"}
VOT_EXPERIMENT = "rgbd-unsupervised"


@dataclass
class SequenceResult:
    """What the tracker produced on one sequence.

    Attributes:
        name: the sequence's name.
        boxes: (N, 4) float64 ``x, y, w, h`` per frame, the first being the initial box.
        scores: (N,) float64 confidences (1.0 on the first frame).
        seconds: wall time of tracking, frame reading included.
        rgb_missing, x_missing: how many frames the tracker received without that sensor.
    """

    name: str
    boxes: np.ndarray
    scores: np.ndarray
    seconds: float
    rgb_missing: int = 0
    x_missing: int = 0

    @property
    def frames_per_s(self) -> float:
        return len(self.boxes) / self.seconds if self.seconds > 0 else float("inf")

    def to_dict(self) -> dict:
        return {"name": self.name, "boxes": self.boxes.tolist(), "scores": self.scores.tolist(),
                "seconds": self.seconds, "rgb_missing": self.rgb_missing, "x_missing": self.x_missing}

    @classmethod
    def from_dict(cls, data: dict) -> SequenceResult:
        return cls(data["name"], np.asarray(data["boxes"], dtype=np.float64).reshape(-1, 4),
                   np.asarray(data["scores"], dtype=np.float64), float(data["seconds"]),
                   int(data["rgb_missing"]), int(data["x_missing"]))


def write_atomically(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` so that a killed process leaves either the old file or the new one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(text)
    os.replace(temporary, path)


def write_json(path: Path, data: dict) -> None:
    write_atomically(path, json.dumps(data, indent=1) + "\n")


def write_raw(result: SequenceResult, benchmark: str, folder: Path, tracker: str) -> list[Path]:
    """Write ``result`` in the raw format of ``benchmark``'s official toolkit under ``folder``."""
    lines = [",".join(f"{v:.4f}" for v in box) for box in result.boxes]
    if RAW_FORMATS[benchmark] == "otb":
        path = folder / tracker / f"{result.name}.txt"
        write_atomically(path, "\n".join(lines) + "\n")
        return [path]
    sequence = folder / tracker / VOT_EXPERIMENT / result.name
    boxes, confidences = sequence / f"{result.name}_001.txt", sequence / f"{result.name}_001_confidence.value"
    write_atomically(boxes, "\n".join(["1", *lines[1:]]) + "\n")
    write_atomically(confidences, "\n".join(f"{s:.6f}" for s in result.scores) + "\n")
    return [boxes, confidences]
