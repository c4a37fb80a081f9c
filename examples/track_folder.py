"""Track the target of a sequence folder: color/*.png|jpg, depth/ (16-bit mm) or thermal/ or event/, groundtruth.txt.

Usage: python examples/track_folder.py SEQUENCE_DIR [--model MODEL]
(make a demo folder with: python examples/make_demo_clip.py demo)
"""

import argparse
import sys
from pathlib import Path

from sdstrack import Tracker
from sdstrack.io import SequenceFolder

DEFAULT_MODEL = Path(__file__).resolve().parents[1] / "weights" / "sdstrack-tiny-random"

parser = argparse.ArgumentParser()
parser.add_argument("sequence", type=Path)
parser.add_argument("--model", help=f"checkpoint folder or Hub repo id (default: {DEFAULT_MODEL})")
args = parser.parse_args()
if args.model is None and not DEFAULT_MODEL.is_dir():
    sys.exit(f"no model at {DEFAULT_MODEL} (this script is not in a checkout): pass --model FOLDER_OR_REPO_ID")

sequence = SequenceFolder(args.sequence)  # frames as cv2.imread gives them: BGR colour, uint16 depth (0 = hole)
if sequence.first_box is None:
    sys.exit(f"{args.sequence} has no groundtruth.txt to take the first box from")
tracker = Tracker.from_pretrained(args.model or DEFAULT_MODEL, bgr=True, x_format=sequence.x_format)
for index, (rgb, x) in enumerate(sequence):
    result = tracker.init(rgb, x, sequence.first_box) if index == 0 else tracker.update(rgb, x)
    x0, y0, w, h = result.box
    print(f"frame {result.frame_index:4d}: box {x0:7.1f} {y0:7.1f} {w:6.1f} {h:6.1f}  score {result.score:.3f}")
