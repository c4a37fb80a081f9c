"""Track through two synchronised videos: an RGB video and an X video (thermal, event or rendered depth).

Usage: python examples/track_video_pair.py RGB_VIDEO X_VIDEO x,y,w,h [--model M] [--x-format rendered]

Video frames decode as 3-channel BGR images, so the X video is taken as already rendered 3-channel
images unless --x-format says otherwise (thermal and event frames are 3-channel images as well).
"""

import argparse

import cv2

from sdstrack import Tracker

parser = argparse.ArgumentParser()
parser.add_argument("rgb_video")
parser.add_argument("x_video")
parser.add_argument("box", help="x,y,w,h of the target in the first frame, pixels")
parser.add_argument("--model", default="weights/sdstrack-tiny-random")
parser.add_argument("--x-format", default="rendered")
args = parser.parse_args()

tracker = Tracker.from_pretrained(args.model, bgr=True, x_format=args.x_format)
rgb_video, x_video = cv2.VideoCapture(args.rgb_video), cv2.VideoCapture(args.x_video)
index = 0
while True:
    ok_rgb, rgb = rgb_video.read()
    ok_x, x = x_video.read()
    if not (ok_rgb and ok_x):
        break
    if index == 0:
        result = tracker.init(rgb, x, [float(v) for v in args.box.split(",")])
    else:
        result = tracker.update(rgb, x)
    print(f"frame {result.frame_index:4d}: box {[round(v, 1) for v in result.box]}  score {result.score:.3f}")
    index += 1
