"""Train the small demo RGB-D model on synthetic sequences, from scratch, with sdstrack's own training code.

Usage: python examples/train_demo.py WORKDIR [--steps N] [--more-steps M] [--precision bfloat16|float32]
           [--no-distillation] [--seed S] [--workers N]

Two stages, each an ordinary ``sdstrack.train`` run (its full config is the config.json in its folder):

1. WORKDIR/<run>/stage1: N steps (default 7,000) from random weights at lr 5e-4, divided by 10 at 80 % of
   them; candidate elimination keeps every token for 4 "epochs" of 400 steps, then ramps to its keep ratio.
2. WORKDIR/<run>/stage2: M more steps (default 3,000) from stage 1's weights at lr 1e-4, divided by 10 at
   80 %, candidate elimination at its keep ratio throughout, samples and masks drawn with seed S + 2 (so
   they are not the ones stage 1 began with). --more-steps 0 stops after stage 1.

Both stages train for missing and broken sensors (options sdstrack adds to the paper's recipe): the masked
pass hides one whole modality in half of the samples (``modality_drop`` 0.5) and a fifth of the search
frames get uniform noise for depth (``x_noise_probability`` 0.2). <run> is "run"; "run-no-distillation"
with --no-distillation (the paper's ablation: the same stages and seeds with one clean forward per step,
no masked pass, so no ``modality_drop`` either; the depth noise stays); a "-seedS" suffix for --seed S
other than 0 (another draw of initialisation, samples and masks on the same data: the run-to-run spread).
--workers N draws the training samples (and writes the data) in N processes: set it on a GPU, where one
process drawing samples is slower than the network trains; the model does not depend on it.

The training and validation sequences are synthetic, written into WORKDIR/data on first use
(deterministic: the same files on any machine). A stopped run resumes from its checkpoints and a finished
stage is not run again (the same command with other options is an error naming them). The finished model
is WORKDIR/<run>/stage2/model (config.json + model.safetensors; stage1/model with --more-steps 0). This is
how the bundled ``sdstrack-demo`` model was trained (weights/sdstrack-demo/README.md: the command, wall
time and results).
"""

import argparse
from pathlib import Path

from sdstrack.training import train

MODEL = {"modality": "depth", "embed_dim": 128, "depth": 6, "num_heads": 4, "fusion_layers": [1, 3, 4, 5],
         "ce_layers": [1, 3, 4], "head_channels": 64, "template_size": 64, "search_size": 128}


def stage_configs(workdir: Path, steps: int, more_steps: int, precision: str, distillation: bool, seed: int,
                  workers: int) -> list[dict]:
    """The training configs of the stages, in order (the second starts from the first one's model)."""
    data = workdir / "data"
    run = workdir / (("run" if distillation else "run-no-distillation") + (f"-seed{seed}" if seed else ""))
    common = {
        "train_data": [{"dataset": "synthetic", "root": str(data / "synthetic-train"),
                        "synthetic": {"sequences": 600, "length": 100, "x_format": "depth", "seed": 0}}],
        "val_data": [{"dataset": "synthetic", "root": str(data / "synthetic-val"),
                      "synthetic": {"sequences": 8, "length": 100, "x_format": "depth", "seed": 1}}],
        "model": MODEL, "policy": "scratch", "distillation": distillation,
        "modality_drop": 0.5 if distillation else 0.0, "sampling": {"x_noise_probability": 0.2},
        "batch_size": 16, "precision": precision, "steps_per_epoch": 400, "checkpoint_every": 250,
        "log_every": 25, "workers": workers,
    }
    stages = [{**common, "output_dir": str(run / "stage1"), "steps": steps, "lr": 5e-4,
               "lr_drop_step": int(steps * 0.8), "seed": seed, "validate_every": 2000}]
    if more_steps:
        stages.append({**common, "output_dir": str(run / "stage2"), "init": str(run / "stage1" / "model"),
                       "steps": more_steps, "lr": 1e-4, "lr_drop_step": int(more_steps * 0.8),
                       "ce_start_epoch": 1, "ce_warmup_epochs": 0, "seed": seed + 2,
                       "validate_every": more_steps // 2})
    return stages


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workdir", type=Path)
    parser.add_argument("--steps", type=int, default=7000, help="steps of stage 1 (from scratch)")
    parser.add_argument("--more-steps", type=int, default=3000, help="steps of stage 2 (0: no stage 2)")
    parser.add_argument("--precision", default="bfloat16",
                        help="autocast of the forward passes: bfloat16 (GPUs, CPUs with AVX-512 BF16) or float32")
    parser.add_argument("--no-distillation", action="store_true", help="the ablation without masked distillation")
    parser.add_argument("--seed", type=int, default=0,
                        help="initialisation, samples and masks (the data stay the same); the bundled model: 0")
    parser.add_argument("--workers", type=int, default=0,
                        help="processes drawing training samples (e.g. the CPU cores on a GPU machine); the "
                             "samples, and so the model, do not depend on it")
    args = parser.parse_args()
    if args.steps < 1 or args.more_steps < 0:
        parser.error("--steps must be at least 1 and --more-steps at least 0")
    for config in stage_configs(args.workdir, args.steps, args.more_steps, args.precision,
                                not args.no_distillation, args.seed, args.workers):
        model = train(config)  # a finished stage returns at once
    print(f"trained model -> {model}")


if __name__ == "__main__":
    main()
