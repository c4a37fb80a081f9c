"""Keep tracking when a sensor drops out: X missing for a stretch, then RGB, then depth holes.

Usage: python examples/missing_sensor_demo.py SEQUENCE_DIR [--model MODEL]
(SEQUENCE_DIR: color/, depth/ and groundtruth.txt, e.g. from examples/make_demo_clip.py)

A dropped sensor is passed as None: the network then sees that modality's patch tokens replaced by
zeros (template and search), the input SDSTrack's masked self-distillation trained it for, instead of
a black image. Invalid pixels (depth holes, or a validity mask you pass) mask only patches where
fewer than half the pixels are valid.
"""

import argparse
import sys
from pathlib import Path

from sdstrack import Tracker
from sdstrack.checkpoint import DEFAULT_MODEL
from sdstrack.io import SequenceFolder

parser = argparse.ArgumentParser()
parser.add_argument("sequence", type=Path)
parser.add_argument("--model", default=DEFAULT_MODEL,
                    help=f"bundled model name, checkpoint folder or Hub repo id (default: {DEFAULT_MODEL})")
args = parser.parse_args()

sequence = SequenceFolder(args.sequence)  # BGR colour, uint16 depth in millimetres (0 = hole)
if sequence.x_format != "depth" or sequence.first_box is None:
    sys.exit(f"{args.sequence} needs a depth/ folder and a groundtruth.txt for this demo")
tracker = Tracker.from_pretrained(args.model, bgr=True)

for index, (rgb, depth) in enumerate(sequence):
    if index == 0:
        result, note = tracker.init(rgb, depth, sequence.first_box), "init"
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
