"""Convert the authors' three SDSTrack checkpoints and check each one runs.

Usage: python examples/convert_authors_checkpoints.py DOWNLOAD_DIR OUTPUT_DIR

DOWNLOAD_DIR holds the .pth.tar files from https://github.com/hoqolo/SDSTrack (RGB-D, RGB-T, RGB-E);
file names containing "rgbd", "rgbt" or "rgbe" (any case) pick the modality.
"""

import sys
from pathlib import Path

import torch

from sdstrack.convert import convert_checkpoint

MODALITY_BY_TAG = {"rgbd": "depth", "rgbt": "thermal", "rgbe": "event"}


def main(download_dir: Path, output_dir: Path) -> None:
    for source in sorted(download_dir.glob("*.pth*")):
        tag = next((t for t in MODALITY_BY_TAG if t in source.name.lower()), None)
        if tag is None:
            print(f"skipping {source.name}: no rgbd/rgbt/rgbe in its name")
            continue
        target = output_dir / f"sdstrack-{tag}"
        model = convert_checkpoint(source, target, MODALITY_BY_TAG[tag])
        cfg = model.config
        with torch.inference_mode():
            out = model(torch.zeros(1, 6, cfg.template_size, cfg.template_size),
                        torch.zeros(1, 6, cfg.search_size, cfg.search_size))
        print(f"{source.name} -> {target} ({MODALITY_BY_TAG[tag]}), test forward box {out.boxes[0].tolist()}")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(Path(sys.argv[1]), Path(sys.argv[2]))
