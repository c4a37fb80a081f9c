"""Track several targets in one stream with one batched network call per frame.

Usage: python examples/multi_target.py SEQUENCE_DIR x,y,w,h [x,y,w,h ...] [--model M]
(SEQUENCE_DIR in the DepthTrack layout, e.g. from examples/make_demo_clip.py)
"""

import argparse
from pathlib import Path

import cv2

from sdstrack import MultiTracker

parser = argparse.ArgumentParser()
parser.add_argument("sequence", type=Path)
parser.add_argument("boxes", nargs="+", help="x,y,w,h per target in the first frame, pixels")
parser.add_argument("--model", default=str(Path(__file__).parents[1] / "weights" / "sdstrack-tiny-random"))
args = parser.parse_args()

tracker = MultiTracker.from_pretrained(args.model, bgr=True)
boxes = [[float(v) for v in box.split(",")] for box in args.boxes]
colors = sorted((args.sequence / "color").iterdir())
depths = sorted((args.sequence / "depth").iterdir())
for index, (color_file, depth_file) in enumerate(zip(colors, depths)):
    rgb = cv2.imread(str(color_file))
    depth = cv2.imread(str(depth_file), cv2.IMREAD_UNCHANGED)
    results = tracker.init(rgb, depth, boxes) if index == 0 else tracker.update(rgb, depth)
    summary = "  ".join(f"#{i}: {[round(v) for v in r.box]} ({r.score:.2f})" for i, r in enumerate(results))
    print(f"frame {index:3d}  {summary}")
