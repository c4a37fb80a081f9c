"""Track the target of a DepthTrack-style folder: color/*.png|jpg, depth/*.png (16-bit mm), groundtruth.txt.

Usage: python examples/track_folder.py SEQUENCE_DIR [--model weights/sdstrack-tiny-random]
(make a demo folder with: python examples/make_demo_clip.py demo)
"""

import argparse
from pathlib import Path

import cv2

from sdstrack import Tracker

parser = argparse.ArgumentParser()
parser.add_argument("sequence", type=Path)
parser.add_argument("--model", default=str(Path(__file__).parents[1] / "weights" / "sdstrack-tiny-random"))
args = parser.parse_args()

color_files = sorted((args.sequence / "color").iterdir())
depth_files = sorted((args.sequence / "depth").iterdir())
first_box = [float(v) for v in (args.sequence / "groundtruth.txt").read_text().splitlines()[0].split(",")]

tracker = Tracker.from_pretrained(args.model, bgr=True)  # cv2.imread gives BGR frames
for index, (color_file, depth_file) in enumerate(zip(color_files, depth_files)):
    rgb = cv2.imread(str(color_file))
    depth = cv2.imread(str(depth_file), cv2.IMREAD_UNCHANGED)  # uint16 millimetres, 0 = hole
    result = tracker.init(rgb, depth, first_box) if index == 0 else tracker.update(rgb, depth)
    x, y, w, h = result.box
    print(f"frame {result.frame_index:4d}: box {x:7.1f} {y:7.1f} {w:6.1f} {h:6.1f}  score {result.score:.3f}")
