"""Write a small synthetic RGB-D clip: a textured box moving over a textured background.

Usage: python examples/make_demo_clip.py OUTPUT_DIR [--frames N]

Writes OUTPUT_DIR/color/%08d.png (8-bit colour), OUTPUT_DIR/depth/%08d.png (16-bit millimetres, 2%
holes) and OUTPUT_DIR/groundtruth.txt (x,y,w,h per frame): the sequence-folder layout that
`sdstrack track --sequence OUTPUT_DIR` and sdstrack.io.SequenceFolder read.
"""

import argparse
from pathlib import Path

import cv2
import numpy as np

WIDTH, HEIGHT, BOX_W, BOX_H = 480, 360, 70, 60


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output_dir", type=Path)
    parser.add_argument("--frames", type=int, default=60)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    (args.output_dir / "color").mkdir(parents=True, exist_ok=True)
    (args.output_dir / "depth").mkdir(parents=True, exist_ok=True)
    background = cv2.GaussianBlur(rng.integers(0, 255, (HEIGHT, WIDTH, 3), dtype=np.uint8), (0, 0), 3)
    texture = rng.integers(0, 255, (BOX_H, BOX_W, 3), dtype=np.uint8)
    texture[..., 0] = 220  # a reddish target (channel 0 of an RGB array is red)
    xx = np.mgrid[0:HEIGHT, 0:WIDTH][1]
    lines = []
    for i in range(args.frames):
        t = i / max(1, args.frames - 1)
        x = int(40 + 340 * t)
        y = int(150 + 80 * np.sin(2 * np.pi * t))
        color = background.copy()
        color[y : y + BOX_H, x : x + BOX_W] = texture
        depth = (4000 + 3 * xx + rng.normal(0, 20, (HEIGHT, WIDTH))).astype(np.uint16)
        depth[y : y + BOX_H, x : x + BOX_W] = 1800
        depth[rng.random((HEIGHT, WIDTH)) < 0.02] = 0
        cv2.imwrite(str(args.output_dir / "color" / f"{i + 1:08d}.png"), cv2.cvtColor(color, cv2.COLOR_RGB2BGR))
        cv2.imwrite(str(args.output_dir / "depth" / f"{i + 1:08d}.png"), depth)
        lines.append(f"{x},{y},{BOX_W},{BOX_H}")
    (args.output_dir / "groundtruth.txt").write_text("\n".join(lines) + "\n")
    print(f"wrote {args.frames} frames to {args.output_dir}; first box {lines[0]}")


if __name__ == "__main__":
    main()
