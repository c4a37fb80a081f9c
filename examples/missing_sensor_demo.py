"""Keep tracking when a sensor drops out: X missing for a stretch, then RGB, then depth holes.

Usage: python examples/missing_sensor_demo.py SEQUENCE_DIR [--model M]
(SEQUENCE_DIR in the DepthTrack layout, e.g. from examples/make_demo_clip.py)

A dropped sensor is passed as None: the network then sees that modality's patch tokens replaced by
zeros (template and search), the input SDSTrack's masked self-distillation trained it for, instead of
a black image. Invalid pixels (depth holes, or a validity mask you pass) mask only patches where
fewer than half the pixels are valid.
"""

import argparse
from pathlib import Path

import cv2

from sdstrack import Tracker

parser = argparse.ArgumentParser()
parser.add_argument("sequence", type=Path)
parser.add_argument("--model", default=str(Path(__file__).parents[1] / "weights" / "sdstrack-tiny-random"))
args = parser.parse_args()

colors = sorted((args.sequence / "color").iterdir())
depths = sorted((args.sequence / "depth").iterdir())
first_box = [float(v) for v in (args.sequence / "groundtruth.txt").read_text().splitlines()[0].split(",")]
tracker = Tracker.from_pretrained(args.model, bgr=True)

for index, (color_file, depth_file) in enumerate(zip(colors, depths)):
    rgb = cv2.imread(str(color_file))
    depth = cv2.imread(str(depth_file), cv2.IMREAD_UNCHANGED)
    if index == 0:
        result, note = tracker.init(rgb, depth, first_box), "init"
    elif 10 <= index < 20:
        result, note = tracker.update(rgb, None), "depth camera dropped"
    elif 20 <= index < 25:
        result, note = tracker.update(None, depth), "RGB camera dropped"
    elif 25 <= index < 30:
        depth[:, : depth.shape[1] // 2] = 0  # left half of the depth image is a hole
        result, note = tracker.update(rgb, depth), "left half of depth missing"
    else:
        result, note = tracker.update(rgb, depth), "both sensors"
    print(f"frame {result.frame_index:3d}  {note:28s} box {[round(v, 1) for v in result.box]}  "
          f"score {result.score:.3f}")
