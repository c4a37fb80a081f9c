"""Reading frame sequences (image folders or videos) and writing results: the I/O edge of the CLI."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".pgm", ".ppm"}


class FrameSource:
    """Frames from a folder of images (sorted by name) or from a video file, as OpenCV reads them:
    colour frames in BGR order, 16-bit images (depth, radiometric thermal) unchanged."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if self.path.is_dir():
            self.files = sorted(p for p in self.path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
            if not self.files:
                raise ValueError(f"{self.path} holds no image files ({', '.join(sorted(IMAGE_SUFFIXES))})")
            self.count = len(self.files)
        elif self.path.is_file():
            self.files = None
            capture = cv2.VideoCapture(str(self.path))
            if not capture.isOpened():
                raise ValueError(f"OpenCV cannot open {self.path} as a video")
            self.count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
            self.fps = capture.get(cv2.CAP_PROP_FPS) or 30.0
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


def color_frame(frame: np.ndarray) -> np.ndarray:
    """An image as OpenCV read it -> 3-channel uint8 BGR (gray replicated, alpha dropped)."""
    if frame.ndim == 2:
        return cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR)
    if frame.shape[2] == 4:
        return cv2.cvtColor(frame, cv2.COLOR_BGRA2BGR)
    return frame


def draw_result(frame_bgr: np.ndarray, box, score: float) -> np.ndarray:
    """A copy of the frame with the box and its confidence drawn in red."""
    out = frame_bgr.copy()
    x, y, w, h = (round(v) for v in box)
    cv2.rectangle(out, (x, y), (x + w, y + h), (0, 0, 255), 2)
    cv2.putText(out, f"{score:.3f}", (x, max(12, y - 4)), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 255), 1)
    return out
