"""Train the small demo RGB-D model on synthetic sequences, from scratch, with sdstrack's own training code.

Usage: python examples/train_demo.py WORKDIR [--steps N] [--precision bfloat16|float32] [--no-distillation]
           [--seed S] [--workers N]

Writes the training config to WORKDIR/run.json and trains into WORKDIR/run (resuming from its checkpoint
when there is one); with --no-distillation (the paper's ablation: the same recipe and seed without
complementary masked distillation) WORKDIR/run-no-distillation.json and WORKDIR/run-no-distillation;
with --seed S other than 0 (another draw of initialisation, samples and masks on the same data: the
run-to-run spread) the names end in -seedS. --workers N draws the training samples (and writes the data)
in N processes: set it on a GPU, where one process drawing samples is slower than the network trains.
The training and validation sequences are synthetic, written into WORKDIR/data on first use
(deterministic: the same files on any machine). The finished model is WORKDIR/<run>/model
(config.json + model.safetensors). This is how the bundled ``sdstrack-demo`` model was trained
(weights/sdstrack-demo/README.md: the command, wall time and results).
"""

import argparse
import json
from pathlib import Path

from sdstrack.training import train

MODEL = {"modality": "depth", "embed_dim": 128, "depth": 6, "num_heads": 4, "fusion_layers": [1, 3, 4, 5],
         "ce_layers": [1, 3, 4], "head_channels": 64, "template_size": 64, "search_size": 128}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workdir", type=Path)
    parser.add_argument("--steps", type=int, default=7000)
    parser.add_argument("--precision", default="bfloat16",
                        help="autocast of the forward passes: bfloat16 (GPUs, CPUs with AVX-512 BF16) or float32")
    parser.add_argument("--no-distillation", action="store_true", help="the ablation without masked distillation")
    parser.add_argument("--seed", type=int, default=0,
                        help="initialisation, samples and masks (the data stay the same); the bundled model: 0")
    parser.add_argument("--workers", type=int, default=0,
                        help="processes drawing training samples (e.g. the CPU cores on a GPU machine); the "
                             "samples, and so the model, do not depend on it")
    args = parser.parse_args()
    data = args.workdir / "data"
    run = ("run-no-distillation" if args.no_distillation else "run") + (f"-seed{args.seed}" if args.seed else "")
    config = {
        "output_dir": str(args.workdir / run),
        "train_data": [{"dataset": "synthetic", "root": str(data / "synthetic-train"),
                        "synthetic": {"sequences": 600, "length": 100, "x_format": "depth", "seed": 0}}],
        "val_data": [{"dataset": "synthetic", "root": str(data / "synthetic-val"),
                      "synthetic": {"sequences": 8, "length": 100, "x_format": "depth", "seed": 1}}],
        "model": MODEL, "policy": "scratch", "distillation": not args.no_distillation,
        "steps": args.steps, "batch_size": 16, "precision": args.precision,
        "lr": 5e-4, "lr_drop_step": int(args.steps * 0.8),
        "steps_per_epoch": 400, "seed": args.seed, "checkpoint_every": 250, "log_every": 25, "validate_every": 2000,
        "workers": args.workers,
    }
    (args.workdir / f"{run}.json").write_text(json.dumps(config, indent=2) + "\n")
    print(f"trained model -> {train(config)}")


if __name__ == "__main__":
    main()
