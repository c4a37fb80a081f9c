"""``sdstrack demo``: track a generated clip that no model has seen, print how well and how fast, and
write a video of it.

The clip is a synthetic sequence (:mod:`sdstrack.datasets.synthetic`) of the model's X sensor, made with
:data:`DEMO_SEED`, a seed never used for training data, and written in the plain folder layout so that
it can be tracked again with ``sdstrack track --sequence``. Frames are read into memory first; the
frames/s figure is the tracker's own (``init`` + ``update`` per frame, end to end from frame arrays to
boxes), not the disk's. With ``compile``, ``torch.compile`` compiles the network on the clip's first three
frames before the timing starts (a one-off cost, reported apart), so that the figure is the compiled tracker's
steady rate; the track itself starts afresh after that.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch

from . import checkpoint
from .datasets import load_dataset
from .datasets.synthetic import write_synthetic
from .evaluation.metrics import otb_sequence_scores
from .io import VideoWriter, draw_result

DEMO_SEED = 7919
"""The demo clip's seed; the bundled models' training and validation data use other seeds."""


@dataclass(frozen=True)
class DemoResult:
    """What the demo measured.

    Attributes:
        success_auc, precision, normalised_precision: OTB-style scores against the clip's ground truth.
        frames_per_s: tracker throughput over the clip (frames already in memory).
        frames: number of frames; video: the rendered video, or None; clip: the clip folder.
        compile_seconds: with ``compile``, the seconds that compiling took before the timing (``init``
            and two ``update`` calls on the first frames); None without.
    """

    success_auc: float
    precision: float
    normalised_precision: float
    frames_per_s: float
    frames: int
    video: Path | None
    clip: Path
    compile_seconds: float | None = None


def run_demo(
    model: str | Path = checkpoint.DEFAULT_MODEL,
    out: str | Path = "demo-output",
    *,
    clip: str | Path | None = None,
    frames: int = 150,
    size: tuple[int, int] = (640, 480),
    seed: int = DEMO_SEED,
    device: str | None = None,
    dtype: str | torch.dtype | None = None,
    backend: str = "torch",
    compile: bool = False,
    render: bool = True,
) -> DemoResult:
    """Track a generated (or the given ``clip``: a plain sequence folder) clip with ``model``.

    Writes ``out/clip/`` (unless ``clip`` is given), ``out/boxes.txt`` (x,y,w,h,score per frame) and,
    with ``render``, ``out/demo.mp4``: the tracked box and score in red, the ground truth in green.
    """
    from .tracker import Tracker

    modality = checkpoint.read_config(model).modality
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    if clip is None:
        clip = out / "clip"
        if not clip.is_dir():
            write_synthetic(clip, sequences=1, length=frames, x_format=modality, size=size, seed=seed)
    sequence = load_dataset("folder", clip)[0]
    pairs = list(sequence)
    tracker = Tracker.from_pretrained(model, backend=backend, device=device, dtype=dtype, compile=compile,
                                      bgr=True)
    boxes, scores = np.full((len(pairs), 4), np.nan), np.zeros(len(pairs))
    start = int(np.flatnonzero(~sequence.absent)[0])
    compile_seconds = None
    if compile:
        began = time.perf_counter()
        tracker.init(*pairs[start], sequence.groundtruth[start])
        for rgb, x in pairs[start + 1:start + 3]:  # on a GPU, CUDA graphs are recorded on the second call
            tracker.update(rgb, x)
        compile_seconds = time.perf_counter() - began
    began = time.perf_counter()
    for index in range(start, len(pairs)):
        rgb, x = pairs[index]
        result = tracker.init(rgb, x, sequence.groundtruth[index]) if index == start else tracker.update(rgb, x)
        boxes[index], scores[index] = result.box, result.score
    seconds = time.perf_counter() - began
    np.savetxt(out / "boxes.txt", np.column_stack([boxes, scores]), delimiter=",", fmt="%.4f")
    video = _render(out / "demo.mp4", pairs, boxes, scores, sequence.groundtruth) if render else None
    metrics = otb_sequence_scores(boxes, sequence.groundtruth, ~sequence.absent)
    return DemoResult(float(metrics["success_auc"]), float(metrics["precision"]),
                      float(metrics["normalised_precision"]), (len(pairs) - start) / seconds, len(pairs), video,
                      Path(clip), compile_seconds)


def _render(path: Path, pairs, boxes: np.ndarray, scores: np.ndarray, groundtruth: np.ndarray) -> Path:
    with VideoWriter(path) as video:
        for (colour, _), box, score, truth in zip(pairs, boxes, scores, groundtruth):
            frame = colour.copy()
            if np.all(np.isfinite(truth)):
                x, y, w, h = (round(v) for v in truth)
                cv2.rectangle(frame, (x, y), (x + w, y + h), (0, 200, 0), 1)
            video.write(draw_result(frame, box, score) if np.all(np.isfinite(box)) else frame)
    return path
