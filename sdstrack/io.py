"""Reading frame sequences (image folders, videos, sequence folders) and writing results: the CLI's I/O edge.

Everything here returns frames as OpenCV reads them: colour in BGR order, 16-bit images (depth,
radiometric thermal) unchanged. Build the tracker with ``bgr=True`` to feed them as they are. Boxes are
top-left ``x, y, w, h`` in pixels.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from pathlib import Path

import cv2
import numpy as np

from .config import MODALITIES

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".pgm", ".ppm"}
COLOR_FOLDER = "color"
GROUNDTRUTH_NAME = "groundtruth.txt"
_SEPARATORS = re.compile(r"[,\s]+")


class FrameSource:
    """Frames from a folder of images (sorted by name) or from a video file, as OpenCV reads them:
    colour frames in BGR order, 16-bit images (depth, radiometric thermal) unchanged.

    ``len()`` is the number of images, or the frame count a video's header declares (0 when unknown).
    ``fps`` is the video's frame rate, ``None`` for a folder; ``files`` the sorted images, ``None`` for a video.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.fps: float | None = None
        self.files: list[Path] | None = None
        if self.path.is_dir():
            self.files = sorted(p for p in self.path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
            if not self.files:
                raise ValueError(f"{self.path} holds no image files ({', '.join(sorted(IMAGE_SUFFIXES))})")
            self.count = len(self.files)
        elif self.path.is_file():
            capture = cv2.VideoCapture(str(self.path))
            if not capture.isOpened():
                raise ValueError(f"OpenCV cannot open {self.path} as a video")
            self.count = max(0, int(capture.get(cv2.CAP_PROP_FRAME_COUNT)))
            self.fps = capture.get(cv2.CAP_PROP_FPS) or None
            capture.release()
        else:
            raise FileNotFoundError(f"{self.path} is neither a folder of images nor a video file")

    def __len__(self) -> int:
        return self.count

    def __iter__(self) -> Iterator[np.ndarray]:
        if self.files is not None:
            for file in self.files:
                frame = cv2.imread(str(file), cv2.IMREAD_UNCHANGED)
                if frame is None:
                    raise ValueError(f"OpenCV cannot read {file} as an image")
                yield frame
            return
        capture = cv2.VideoCapture(str(self.path))
        try:
            while True:
                ok, frame = capture.read()
                if not ok:
                    return
                yield frame
        finally:
            capture.release()


def check_same_length(rgb: FrameSource, x: FrameSource) -> int:
    """The common number of frames of an RGB and an X source; ``ValueError`` naming both when they differ."""
    if len(rgb) != len(x):
        raise ValueError(f"{rgb.path} has {len(rgb)} frames but {x.path} has {len(x)}")
    return len(rgb)


def read_groundtruth(path: str | Path) -> np.ndarray:
    """Boxes from a ``groundtruth.txt``: one ``x,y,w,h`` line per frame (top-left corner and size in pixels),
    separated by commas, tabs or spaces; empty lines at the end are ignored and ``nan`` is kept (a frame
    without the target). Returns a float64 ``(N, 4)`` array; ``ValueError`` names the file and line of a
    malformed line."""
    path = Path(path)
    lines = path.read_text().rstrip().splitlines()
    boxes = np.empty((len(lines), 4), dtype=np.float64)
    for number, line in enumerate(lines, start=1):
        fields = [field for field in _SEPARATORS.split(line.strip()) if field]
        try:
            if len(fields) != 4:
                raise ValueError
            boxes[number - 1] = [float(field) for field in fields]
        except ValueError:
            raise ValueError(
                f"{path} line {number}: expected 4 numbers x,y,w,h separated by commas, tabs or spaces, "
                f"got {line!r}"
            ) from None
    if not len(boxes):
        raise ValueError(f"{path} is empty: expected one x,y,w,h line per frame")
    return boxes


class SequenceFolder:
    """A sequence in the plain folder layout::

        SEQUENCE/color/*.png|jpg...          RGB frames, sorted by name
        SEQUENCE/depth|thermal|event/*       X frames, exactly one of these folders, as many frames as color/
        SEQUENCE/groundtruth.txt             optional: one x,y,w,h line per frame (see read_groundtruth)

    (the DepthTrack / LasHeR / VisEvent-style layout written by ``examples/make_demo_clip.py``).

    Attributes:
        path: the sequence folder.
        rgb, x: the two :class:`FrameSource` s (``color/`` and the X folder).
        x_format: the X folder's name, ``"depth"``, ``"thermal"`` or ``"event"`` (a ``Tracker`` x_format).
        groundtruth: float64 ``(len(self), 4)`` array of boxes, or ``None`` without ``groundtruth.txt``.

    Iterating yields ``(rgb, x)`` frame pairs as OpenCV reads them (BGR colour, 16-bit depth unchanged).
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if not self.path.is_dir():
            raise FileNotFoundError(f"{self.path} is not a folder (expected a sequence folder with color/ and "
                                    f"one of {', '.join(f'{m}/' for m in MODALITIES)})")
        color = self.path / COLOR_FOLDER
        if not color.is_dir():
            raise FileNotFoundError(f"{self.path} has no {COLOR_FOLDER}/ folder of RGB frames")
        found = [name for name in MODALITIES if (self.path / name).is_dir()]
        if len(found) != 1:
            what = "none" if not found else f"several ({', '.join(found)})"
            raise ValueError(f"{self.path} must hold exactly one X folder of {', '.join(MODALITIES)}, found {what}")
        self.x_format: str = found[0]
        self.rgb, self.x = FrameSource(color), FrameSource(self.path / self.x_format)
        count = check_same_length(self.rgb, self.x)
        self.groundtruth: np.ndarray | None = None
        groundtruth = self.path / GROUNDTRUTH_NAME
        if groundtruth.is_file():
            self.groundtruth = read_groundtruth(groundtruth)
            if len(self.groundtruth) != count:
                raise ValueError(f"{groundtruth} has {len(self.groundtruth)} boxes but {self.path} has {count} frames")

    @property
    def first_box(self) -> tuple[float, float, float, float] | None:
        """The first frame's groundtruth box (x, y, w, h in pixels), ``None`` without groundtruth."""
        if self.groundtruth is None:
            return None
        x, y, w, h = (float(v) for v in self.groundtruth[0])
        return x, y, w, h

    def __len__(self) -> int:
        return len(self.rgb)

    def __iter__(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        return zip(self.rgb, self.x)


def color_frame(frame: np.ndarray) -> np.ndarray:
    """An image as OpenCV read it -> 3-channel BGR of the same dtype (gray replicated, alpha dropped)."""
    if frame.ndim == 2:
        return cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR)
    if frame.shape[2] == 4:
        return cv2.cvtColor(frame, cv2.COLOR_BGRA2BGR)
    return frame


def draw_result(frame_bgr: np.ndarray, box: Sequence[float], score: float) -> np.ndarray:
    """A copy of an H x W x 3 uint8 BGR frame with the box (x, y, w, h in pixels) and its score drawn in red."""
    out = frame_bgr.copy()
    x, y, w, h = (round(v) for v in box)
    cv2.rectangle(out, (x, y), (x + w, y + h), (0, 0, 255), 2)
    cv2.putText(out, f"{score:.3f}", (x, max(12, y - 4)), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 255), 1)
    return out


class VideoWriter:
    """An ``.mp4`` writer that opens on its first frame (taking that frame's size); a context manager.

    ``write`` takes H x W x 3 ``uint8`` BGR frames, as OpenCV draws them.
    """

    def __init__(self, path: str | Path, fps: float = 30.0) -> None:
        self.path, self.fps = Path(path), fps
        self._writer: cv2.VideoWriter | None = None

    def write(self, frame_bgr: np.ndarray) -> None:
        if self._writer is None:
            self._writer = cv2.VideoWriter(str(self.path), cv2.VideoWriter_fourcc(*"mp4v"), self.fps,
                                           (frame_bgr.shape[1], frame_bgr.shape[0]))
            if not self._writer.isOpened():
                raise ValueError(f"OpenCV cannot write the video {self.path}")
        self._writer.write(frame_bgr)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.release()

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
