"""Track through two synchronised videos: an RGB video and an X video (thermal, event or rendered depth).

Usage: python examples/track_video_pair.py RGB_VIDEO X_VIDEO x,y,w,h [--model MODEL] [--x-format rendered]

Video frames decode as 3-channel BGR images, so the X video is taken as already rendered 3-channel
images unless --x-format says otherwise (thermal and event frames are 3-channel images as well).
The box is the target's top-left corner and size in pixels in the first frame.
"""

import argparse

from sdstrack import Tracker
from sdstrack.checkpoint import DEFAULT_MODEL
from sdstrack.io import FrameSource
from sdstrack.modalities import X_FORMATS

parser = argparse.ArgumentParser()
parser.add_argument("rgb_video")
parser.add_argument("x_video")
parser.add_argument("box", help="x,y,w,h of the target in the first frame, pixels")
parser.add_argument("--model", default=DEFAULT_MODEL,
                    help=f"bundled model name, checkpoint folder or Hub repo id (default: {DEFAULT_MODEL})")
parser.add_argument("--x-format", default="rendered", choices=X_FORMATS)
args = parser.parse_args()

tracker = Tracker.from_pretrained(args.model, bgr=True, x_format=args.x_format)
box = [float(v) for v in args.box.split(",")]
for index, (rgb, x) in enumerate(zip(FrameSource(args.rgb_video), FrameSource(args.x_video))):
    result = tracker.init(rgb, x, box) if index == 0 else tracker.update(rgb, x)
    print(f"frame {result.frame_index:4d}: box {[round(v, 1) for v in result.box]}  score {result.score:.3f}")
