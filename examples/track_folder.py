"""Track the target of a sequence folder: color/*.png|jpg, depth/ (16-bit mm) or thermal/ or event/, groundtruth.txt.

Usage: python examples/track_folder.py SEQUENCE_DIR [--model MODEL]
(make a demo folder with: python examples/make_demo_clip.py demo)
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

sequence = SequenceFolder(args.sequence)  # frames as cv2.imread gives them: BGR colour, uint16 depth (0 = hole)
if sequence.first_box is None:
    sys.exit(f"{args.sequence} has no groundtruth.txt to take the first box from")
tracker = Tracker.from_pretrained(args.model, bgr=True, x_format=sequence.x_format)
for index, (rgb, x) in enumerate(sequence):
    result = tracker.init(rgb, x, sequence.first_box) if index == 0 else tracker.update(rgb, x)
    x0, y0, w, h = result.box
    print(f"frame {result.frame_index:4d}: box {x0:7.1f} {y0:7.1f} {w:6.1f} {h:6.1f}  score {result.score:.3f}")
