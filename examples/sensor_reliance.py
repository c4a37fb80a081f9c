"""How much a model relies on each sensor: box IoU on training-style crops with one modality hidden.

Usage: python examples/sensor_reliance.py ROOT MODEL [MODEL ...] [--dataset folder] [--pairs 256] [--seed 5]

Draws template/search pairs from the benchmark under ROOT as training does (``sdstrack.training.PairSampler``,
augmentations included) and prints, per model, the mean IoU between the predicted and the true box in the search
crop with both sensors, with X hidden and with RGB hidden (every token of that modality masked, which is what
the tracker does for a frame whose sensor is missing). No tracking: each pair is judged alone, so the figures
isolate what the network can locate from each sensor. A model whose IoU collapses without X tracks only as
well as its X sensor works.
"""

import argparse

import numpy as np
import torch

from sdstrack import SDSTrack
from sdstrack.datasets import load_dataset
from sdstrack.evaluation.metrics import iou
from sdstrack.training import PairSampler, SamplingOptions


def corner_boxes(boxes: torch.Tensor) -> np.ndarray:
    """(B, 4) ``cx, cy, w, h`` fractions of the crop -> ``x, y, w, h`` in the same units."""
    boxes = boxes.float().numpy()
    return np.concatenate([boxes[:, :2] - boxes[:, 2:] / 2, boxes[:, 2:]], axis=1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", help="benchmark root (e.g. the held-out synthetic benchmark)")
    parser.add_argument("models", nargs="+", help="model folders, bundled names or Hub repo ids")
    parser.add_argument("--dataset", default="folder", help="benchmark layout (sdstrack.datasets.load_dataset)")
    parser.add_argument("--pairs", type=int, default=256)
    parser.add_argument("--seed", type=int, default=5)
    args = parser.parse_args()
    sequences = load_dataset(args.dataset, args.root)
    print(f"mean IoU in the search crop over {args.pairs} pairs: both sensors / X hidden / RGB hidden")
    for name in args.models:
        model = SDSTrack.from_pretrained(name).eval()
        config = model.config
        batch = PairSampler([(sequences, 1.0)], config, SamplingOptions(), args.seed).batch(range(args.pairs))
        truth = corner_boxes(batch.boxes)
        tokens = config.num_template_tokens + config.num_search_tokens
        hidden = torch.ones(args.pairs, tokens, dtype=torch.bool)
        figures = []
        for rgb_mask, x_mask in ((None, None), (None, hidden), (hidden, None)):
            with torch.no_grad():
                out = model(batch.template, batch.search, rgb_mask=rgb_mask, x_mask=x_mask)
            figures.append(float(np.mean(iou(corner_boxes(out.boxes), truth))))
        print(f"{name}: " + " / ".join(f"{value:.3f}" for value in figures))


if __name__ == "__main__":
    main()
