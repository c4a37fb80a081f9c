"""Run one of OpenCV's classic trackers over a benchmark in the plain folder layout, RGB only, and write
OTB-style results that ``sdstrack.evaluation.score_raw_results`` scores like sdstrack's own.

Usage: python examples/opencv_baseline.py ROOT OUT_DIR [--tracker csrt|kcf|mil]

Only OpenCV and NumPy are imported, so it runs in the environment OpenCV's CSRT and KCF need:
``opencv-contrib-python``, which must not be installed beside sdstrack's ``opencv-python`` (both ship the
same ``cv2`` module and overwrite each other's files), e.g.::

    python3 -m venv /tmp/contrib && /tmp/contrib/bin/pip install opencv-contrib-python numpy
    /tmp/contrib/bin/python examples/opencv_baseline.py bench/ results/csrt --tracker csrt

MIL is in plain ``opencv-python``. ROOT holds sequence folders (``color/`` frames sorted by name,
``groundtruth.txt`` with x,y,w,h lines); the tracker starts on the first frame whose box is valid, and
OUT_DIR/<sequence>.txt gets one x,y,w,h line per frame (NaN before the start and where it lost the
target). The frames/s of the tracker alone are printed.

Sensor failures: to compare with sdstrack under one of its sensor-failure protocols, first write what a
tracker receives under it as a degraded benchmark, in sdstrack's environment, e.g.::

    python -c "from sdstrack.evaluation.protocols import write_degraded_benchmark as write
    from sdstrack.evaluation.robustness import CONDITIONS
    write('folder', 'bench/', 'bench-rgb-dropped/', CONDITIONS['RGB dropped on 50% of frames'])"
    /tmp/contrib/bin/python examples/opencv_baseline.py bench-rgb-dropped/ results/csrt-rgb-dropped

and score ``results/csrt-rgb-dropped`` against the original benchmark (``score_raw_results("folder",
"bench/", ...)``) beside ``sdstrack.evaluation.evaluate(..., failure=CONDITIONS[...])``. Corrupted frames
are simply read. Frames flagged 1 in a sequence's ``rgb_dropped.tag`` (the RGB camera delivered nothing;
the image there is black only as a placeholder) are not given to the tracker: no ``update`` call, and the
box written for the previous frame is held (NaN if the tracker had lost the target), as a user would
handle a missing frame. Dropped frames count neither in the frames nor in the frames/s printed.
"""

import argparse
import time
from pathlib import Path

import cv2
import numpy as np

TRACKERS = {"csrt": "TrackerCSRT_create", "kcf": "TrackerKCF_create", "mil": "TrackerMIL_create"}


def create(name: str):
    factory = getattr(cv2, TRACKERS[name], None) or getattr(getattr(cv2, "legacy", None), TRACKERS[name], None)
    if factory is None:
        raise SystemExit(f"cv2 has no {TRACKERS[name]}: {name} needs opencv-contrib-python (see the docstring)")
    return factory()


def read_dropped(path: Path, length: int) -> np.ndarray:
    """(length,) bool: the frames flagged 1 in ``path`` (one 0/1 line a frame); none when it is missing."""
    if not path.is_file():
        return np.zeros(length, dtype=bool)
    flags = np.array([float(line.strip() or 0) != 0 for line in path.read_text().rstrip().splitlines()], dtype=bool)
    if len(flags) != length:
        raise SystemExit(f"{path} has {len(flags)} lines but the sequence has {length} frames")
    return flags


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--tracker", choices=sorted(TRACKERS), default="csrt")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    frames_done, held, seconds = 0, 0, 0.0
    for folder in sorted(p for p in args.root.iterdir() if (p / "color").is_dir()):
        images = sorted((folder / "color").iterdir())
        truth = np.genfromtxt(folder / "groundtruth.txt", delimiter=",", ndmin=2)
        boxes = np.full((len(images), 4), np.nan)
        start = next(i for i, b in enumerate(truth) if np.all(np.isfinite(b)) and b[2] > 0 and b[3] > 0)
        dropped = read_dropped(folder / "rgb_dropped.tag", len(images))
        tracker = create(args.tracker)
        for index in range(start, len(images)):
            if dropped[index] and index > start:
                boxes[index] = boxes[index - 1]
                held += 1
                continue
            frame = cv2.imread(str(images[index]))
            began = time.perf_counter()
            if index == start:
                tracker.init(frame, tuple(int(round(v)) for v in truth[start]))
                boxes[index] = truth[start]
            else:
                found, box = tracker.update(frame)
                if found:
                    boxes[index] = box
            seconds += time.perf_counter() - began
            frames_done += 1
        lines = [",".join(f"{v:.2f}" for v in box) for box in boxes]
        (args.out / f"{folder.name}.txt").write_text("\n".join(lines) + "\n")
    dropped_note = f" ({held} dropped RGB frames held the previous box)" if held else ""
    print(f"{args.tracker}: {frames_done} frames at {frames_done / seconds:.1f} frames/s{dropped_note} -> {args.out}")


if __name__ == "__main__":
    main()
