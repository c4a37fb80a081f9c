"""Train the small demo models (RGB-D; RGB-T or RGB-E with --modality) on synthetic sequences, from scratch or not.

Usage: python examples/train_demo.py WORKDIR [--steps N] [--more-steps M [M ...]]
           [--precision bfloat16|float32] [--no-distillation] [--seed S] [--workers N]
           [--modality depth|thermal|event] [--init MODEL] [--absent-probability P]
           [--zoom-out-probability P] [--distractor-probability P]

A chain of stages, each an ordinary ``sdstrack.train`` run (its full config is the config.json in its folder):

1. WORKDIR/<run>/stage1: N steps (default 7,000) from random weights at lr 5e-4, divided by 10 at 80 % of
   them; candidate elimination keeps every token for 4 "epochs" of 400 steps, then ramps to its keep ratio.
2. WORKDIR/<run>/stage2, stage3, ...: one per number after --more-steps (default 3,000 4,000 6,000 4,000
   4,000), each that many more steps from the previous stage's weights with the learning rate started again
   at 1e-4 and divided by 10 at 80 % of the stage, candidate elimination at its keep ratio throughout, samples and
   masks drawn with seed S + 2 (stage 2), S + 4 (stage 3), ... so that no stage repeats another's draws.
   --more-steps with no number stops after stage 1.
3. --absent-probability P (default 0: the bundled model has none) makes a fraction P of the samples of stage 5
   and later target-absent: a frame where the target is hidden, cropped where it was last seen, with a score
   map of zeros as the target (``"sampling": {"absent_probability": P}``). Those stages' folders are then named
   stage5-absentP, stage6-absentP, next to the plain ones and from the same stage 4: the experiment of the
   model card (its stage 5 with P = 0.1), where they did not help.
4. --zoom-out-probability P (default 0: the bundled model has none) grows the search crop of a fraction P of
   the samples of stage 7 and later by up to 3 times, so that the target shows smaller than the original's
   jitter ever makes it (``"sampling": {"zoom_out_probability": P}``: the crop a tracker takes after its box has
   grown onto an occluder); those stages' folders are named stage7-zoomP, ..., from the same stage 6.
5. --distractor-probability P (default 0: the bundled model has none) centres the search crop of a fraction P
   of the samples of stage 7 and later on another object (an occluder, a look-alike: the boxes synthetic
   sequences record), with the target elsewhere in the crop or, out of it, a score map of zeros as the target
   (``"sampling": {"distractor_probability": P}``: the crop a tracker takes after its box has moved onto that
   object); those stages' folders are named stage7-distractorP, ..., from the same stage 6: the model card's
   experiment (P = 0.25), which kept no more tracks.

Every stage trains for missing and broken sensors (options sdstrack adds to the paper's recipe): the masked
pass hides one whole modality in half of the samples (``modality_drop`` 0.5) and a fifth of the search
frames get uniform noise for X (``x_noise_probability`` 0.2). <run> is "run"; "run-no-distillation"
with --no-distillation (the paper's ablation: the same stages and seeds with one clean forward per step,
no masked pass, so no ``modality_drop`` either; the X noise stays); a "-seedS" suffix for --seed S
other than 0 (another draw of initialisation, samples and masks on the same data: the run-to-run spread).
--modality thermal or event trains the same recipe for that X sensor on synthetic sequences of it (the same
scenes, seeds and options, rendered as heat or as event frames; its runs are "run-thermal",
"run-thermal-no-distillation", ..., its data WORKDIR/data/synthetic-thermal-train and -val).
--init MODEL starts stage 1 from a trained model instead (a bundled short name such as sdstrack-demo, or a
folder; its sensor may be another) and trains it the paper's way (``"policy": "paper"``): the RGB patch
embedding, the shared blocks and the head stay frozen, the X patch embedding and the adapters learn
--modality's sensor. Stage 1 is then N steps at lr 2e-4, divided by 10 at 80 % of them, candidate elimination
at its keep ratio throughout; its run is "<run>-from-<MODEL's folder name>". This is how the bundled RGB-T
model was made from the RGB-D one: --modality thermal --init sdstrack-demo --steps 4000 --more-steps.
--workers N draws the training samples (and writes the data) in N processes: set it on a GPU, where one
process drawing samples is slower than the network trains; the model does not depend on it.

The training and validation sequences are synthetic, written into WORKDIR/data on first use
(deterministic: the same files on any machine). A stopped run resumes from its checkpoints and a finished
stage is not run again (the same command with other options is an error naming them), so adding a number
to --more-steps trains one more stage on top of the finished ones. The finished model is the last stage's
``model`` folder (config.json + model.safetensors; WORKDIR/run/stage6/model by default). This is how the
bundled ``sdstrack-demo`` model was trained (weights/sdstrack-demo/README.md: the command, wall time and
results).
"""

import argparse
from pathlib import Path

from sdstrack.modalities import MODALITIES
from sdstrack.training import SamplingOptions, train

DATA_SEEDS = {"training": 0, "validation": 1}  # synthetic seeds of the training and validation sequences
# Sampling options sdstrack adds that the bundled recipe leaves out, each tried by an experiment of the model card:
# the first stage that uses it when asked, the name its stages' folders add (stage5-absent0.1), what it draws.
EXPERIMENTS = {
    "absent_probability": (5, "absent", "fraction of target-absent samples"),
    "zoom_out_probability": (7, "zoom", "fraction of samples whose search crop is grown up to "
                                        f"{SamplingOptions.zoom_out_max:g} times"),
    "distractor_probability": (7, "distractor", "fraction of samples whose search crop is centred on another "
                                                "object (occluder, look-alike)"),
}

MODEL = {"modality": "depth", "embed_dim": 128, "depth": 6, "num_heads": 4, "fusion_layers": [1, 3, 4, 5],
         "ce_layers": [1, 3, 4], "head_channels": 64, "template_size": 64, "search_size": 128}


def stage_configs(workdir: Path, steps: int, more_steps: list[int], precision: str, distillation: bool,
                  seed: int, workers: int, modality: str = "depth", init: str | None = None,
                  experiments: dict[str, float] | None = None) -> list[dict]:
    """The training configs of the stages, in order (each after the first starts from the one before);
    ``experiments`` maps options of :data:`EXPERIMENTS` to their values (0: off)."""
    if modality not in MODALITIES:
        raise ValueError(f"modality must be one of {', '.join(MODALITIES)}, got {modality!r}")
    sensor = "" if modality == "depth" else f"-{modality}"  # the bundled depth model's folders keep their names
    data = workdir / "data"
    run = workdir / (f"run{sensor}" + ("" if distillation else "-no-distillation") + (f"-seed{seed}" if seed else "")
                     + (f"-from-{Path(init).name}" if init else ""))
    common = {
        "train_data": [{"dataset": "synthetic", "root": str(data / f"synthetic{sensor}-train"),
                        "synthetic": {"sequences": 600, "length": 100, "x_format": modality,
                                      "seed": DATA_SEEDS["training"]}}],
        "val_data": [{"dataset": "synthetic", "root": str(data / f"synthetic{sensor}-val"),
                      "synthetic": {"sequences": 8, "length": 100, "x_format": modality,
                                    "seed": DATA_SEEDS["validation"]}}],
        "model": {**MODEL, "modality": modality}, "policy": "scratch", "distillation": distillation,
        "modality_drop": 0.5 if distillation else 0.0, "sampling": {"x_noise_probability": 0.2},
        "batch_size": 16, "precision": precision, "steps_per_epoch": 400, "checkpoint_every": 250,
        "log_every": 25, "workers": workers,
    }
    first = {**common, "output_dir": str(run / "stage1"), "steps": steps, "lr_drop_step": int(steps * 0.8),
             "seed": seed}
    if init is None:
        first.update(lr=5e-4, validate_every=2000)
    else:
        first.update(init=init, policy="paper", lr=2e-4, ce_start_epoch=1, ce_warmup_epochs=0,
                     validate_every=steps // 2)
    stages = [first]
    for number, stage_steps in enumerate(more_steps, start=2):
        folder, sampling = f"stage{number}", common["sampling"]
        for option, value in (experiments or {}).items():
            first_stage, name, _ = EXPERIMENTS[option]
            if value and number >= first_stage:
                sampling = {**sampling, option: value}
                folder += f"-{name}{value:g}"
        stages.append({**common, "output_dir": str(run / folder), "sampling": sampling,
                       "init": str(Path(stages[-1]["output_dir"]) / "model"), "steps": stage_steps, "lr": 1e-4,
                       "lr_drop_step": int(stage_steps * 0.8), "ce_start_epoch": 1, "ce_warmup_epochs": 0,
                       "seed": seed + 2 * (number - 1), "validate_every": stage_steps // 2})
    return stages


def argument_parser() -> argparse.ArgumentParser:
    """The command line; its defaults are the bundled model's recipe."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workdir", type=Path)
    parser.add_argument("--steps", type=int, default=7000, help="steps of stage 1 (from scratch)")
    parser.add_argument("--more-steps", type=int, nargs="*", default=[3000, 4000, 6000, 4000, 4000],
                        help="steps of each stage after the first (none: stage 1 only)")
    parser.add_argument("--precision", default="bfloat16",
                        help="autocast of the forward passes: bfloat16 (GPUs, CPUs with AVX-512 BF16) or float32")
    parser.add_argument("--no-distillation", action="store_true", help="the ablation without masked distillation")
    parser.add_argument("--seed", type=int, default=0,
                        help="initialisation, samples and masks (the data stay the same); the bundled model: 0")
    parser.add_argument("--modality", choices=MODALITIES, default="depth",
                        help="the X sensor the model is for; the bundled model: depth")
    parser.add_argument("--init", default=None,
                        help="start stage 1 from this trained model (short name or folder; any sensor) and train "
                             "its X patch embedding and adapters only (the paper's policy); the RGB-T model: "
                             "sdstrack-demo")
    for option, (first_stage, name, draws) in EXPERIMENTS.items():
        parser.add_argument("--" + option.replace("_", "-"), type=float, default=0.0,
                            help=f"{draws} from stage {first_stage} on, trained in folders of their own "
                                 f"(stage{first_stage}-{name}P); the bundled model: 0")
    parser.add_argument("--workers", type=int, default=0,
                        help="processes drawing training samples (e.g. the CPU cores on a GPU machine); the "
                             "samples, and so the model, do not depend on it")
    return parser


def main() -> None:
    parser = argument_parser()
    args = parser.parse_args()
    if args.steps < 1 or any(steps < 1 for steps in args.more_steps):
        parser.error(f"every number of steps must be at least 1 (--steps {args.steps}, --more-steps "
                     f"{' '.join(map(str, args.more_steps))}); give --more-steps no number for stage 1 alone")
    for config in stage_configs(args.workdir, args.steps, args.more_steps, args.precision,
                                not args.no_distillation, args.seed, args.workers, args.modality, args.init,
                                {option: getattr(args, option) for option in EXPERIMENTS}):
        model = train(config)  # a finished stage returns at once
    print(f"trained model -> {model}")


if __name__ == "__main__":
    main()
