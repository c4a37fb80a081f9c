"""Track several targets in one stream with one batched network call per frame.

Usage: python examples/multi_target.py SEQUENCE_DIR x,y,w,h [x,y,w,h ...] [--model MODEL]
(SEQUENCE_DIR: color/ and depth/, thermal/ or event/, e.g. from examples/make_demo_clip.py;
boxes: top-left corner and size in pixels in the first frame)
"""

import argparse
from pathlib import Path

from sdstrack import MultiTracker
from sdstrack.checkpoint import DEFAULT_MODEL
from sdstrack.io import SequenceFolder

parser = argparse.ArgumentParser()
parser.add_argument("sequence", type=Path)
parser.add_argument("boxes", nargs="+", help="x,y,w,h per target in the first frame, pixels")
parser.add_argument("--model", default=DEFAULT_MODEL,
                    help=f"bundled model name, checkpoint folder or Hub repo id (default: {DEFAULT_MODEL})")
args = parser.parse_args()

sequence = SequenceFolder(args.sequence)  # frames as cv2.imread gives them (BGR colour)
tracker = MultiTracker.from_pretrained(args.model, bgr=True, x_format=sequence.x_format)
boxes = [[float(v) for v in box.split(",")] for box in args.boxes]
for index, (rgb, x) in enumerate(sequence):
    results = tracker.init(rgb, x, boxes) if index == 0 else tracker.update(rgb, x)
    summary = "  ".join(f"#{i}: {[round(v) for v in r.box]} ({r.score:.2f})" for i, r in enumerate(results))
    print(f"frame {index:3d}  {summary}")
