"""The robustness table on a held-out synthetic benchmark: each model under every sensor-failure condition.

Usage: python examples/robustness_table.py WORKDIR NAME=MODEL [NAME=MODEL ...] [--sequences 20] [--length 100]
           [--seed 2] [--dtype bfloat16] [--backend onnxruntime] [--conditions ...]
           [--opencv-python PYTHON [--opencv-tracker csrt]] [--margin NAME REFERENCE]

WORKDIR/benchmark gets the held-out sequences (seed 2, never used for training or validation data; ``--seed``
another held-out set, e.g. 3 to check that a difference is not the luck of one set of sequences) of the
models' X sensor (depth, thermal or event: every model named must take the same one), WORKDIR/runs the
evaluation folders (an interrupted table resumes; a WORKDIR holds one benchmark, and asking it for other
sequences is an error: use another WORKDIR); the table of success AUC is printed
in Markdown: a row per condition, then the rows over only the frames where X decides (dark RGB, an RGB
look-alike in view). Compare a model trained with complementary masked distillation against one without,
or one model in several precisions and backends (``--dtype``, ``--backend onnxruntime``; give each run its own NAME).

``--opencv-python`` adds a column for one of OpenCV's classic RGB-only trackers, run by
``examples/opencv_baseline.py`` with that interpreter (one whose environment has opencv-contrib-python and
numpy, see that script) on what a tracker receives under each condition
(:func:`sdstrack.evaluation.write_degraded_benchmark`, in WORKDIR/degraded). Conditions that leave the RGB
camera alone give an RGB-only tracker the clean frames, so they share the "both sensors" run.

``--margin NAME REFERENCE`` (two of the NAMEs) adds a table of NAME's success AUC minus REFERENCE's under each
condition, with the standard error of that difference over the benchmark's sequences (paired bootstrap,
:func:`sdstrack.evaluation.metrics.paired_difference`): how far the choice of sequences alone moves it.
"""

import argparse
import json
import subprocess
from pathlib import Path

from train_demo import DATA_SEEDS  # this folder's training recipe: its data's seeds are no benchmark

from sdstrack.backends import backend_names
from sdstrack.checkpoint import read_config
from sdstrack.datasets import DatasetError
from sdstrack.datasets.synthetic import write_synthetic_once
from sdstrack.evaluation import SensorFailure, write_degraded_benchmark
from sdstrack.evaluation.metrics import paired_difference
from sdstrack.evaluation.robustness import CONDITIONS, baseline_column, format_table, robustness_table, run_folder
from sdstrack.runtime import DTYPES

HELD_OUT_SEED = 2
BASELINE = Path(__file__).resolve().parent / "opencv_baseline.py"


def opencv_results(workdir: Path, benchmark: Path, conditions: dict[str, SensorFailure], python: str,
                   tracker: str) -> dict[str, Path]:
    """Run the OpenCV baseline under each condition (resuming finished ones); condition -> results folder."""
    results: dict[str, Path] = {}
    for index, (condition, failure) in enumerate(conditions.items()):
        if failure.drop != "rgb" and failure.corrupt != "rgb":
            results[condition] = _run_baseline(benchmark, workdir / "runs" / tracker / "rgb-clean", python, tracker)
            continue
        out = run_folder(workdir / "runs", tracker, index, condition)
        degraded = workdir / "degraded" / out.name
        if not (degraded / ".complete").is_file():
            write_degraded_benchmark("folder", benchmark, degraded, failure)
            (degraded / ".complete").touch()
        results[condition] = _run_baseline(degraded, out, python, tracker)
    return results


def _run_baseline(root: Path, out: Path, python: str, tracker: str) -> Path:
    if not (out / ".complete").is_file():
        done = subprocess.run([python, str(BASELINE), str(root), str(out), "--tracker", tracker],
                              capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise SystemExit(f"{BASELINE.name} failed on {root}:\n{done.stderr}")
        print(done.stdout.strip())
        (out / ".complete").touch()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workdir", type=Path)
    parser.add_argument("models", nargs="+", help="NAME=MODEL (a bundled name, a folder or a Hub repo id)")
    parser.add_argument("--sequences", type=int, default=20)
    parser.add_argument("--length", type=int, default=100)
    parser.add_argument("--size", default="320x240", help="frame size WxH")
    parser.add_argument("--seed", type=int, default=HELD_OUT_SEED,
                        help=f"the benchmark's synthetic seed (default {HELD_OUT_SEED}; not "
                             f"{' or '.join(map(str, DATA_SEEDS.values()))}, the training and validation data's)")
    parser.add_argument("--device", default=None)
    parser.add_argument("--dtype", default=None, choices=tuple(DTYPES), help="default float32; float16 on GPUs")
    parser.add_argument("--backend", default="torch", choices=backend_names())
    parser.add_argument("--conditions", nargs="+", choices=list(CONDITIONS), metavar="CONDITION",
                        help="only these conditions (default: all)")
    parser.add_argument("--opencv-python", help="Python interpreter with opencv-contrib-python: adds a baseline column")
    parser.add_argument("--opencv-tracker", default="csrt", choices=("csrt", "kcf", "mil"))
    parser.add_argument("--margin", nargs=2, metavar=("NAME", "REFERENCE"),
                        help="also print NAME minus REFERENCE per condition with its standard error")
    args = parser.parse_args()
    models = dict(item.split("=", 1) for item in args.models)
    if args.margin and not set(args.margin) <= set(models):
        parser.error(f"--margin takes two of the model names {sorted(models)}, got {args.margin}")
    data = {seed: name for name, seed in DATA_SEEDS.items()}
    if args.seed in data:
        parser.error(f"--seed {args.seed} draws the {data[args.seed]} sequences of the bundled models: "
                     f"a benchmark needs a seed never used in training, e.g. {HELD_OUT_SEED} (the default) or 3")
    width, height = (int(v) for v in args.size.split("x"))
    settings = {"sequences": args.sequences, "length": args.length, "x_format": models_modality(models),
                "size": [width, height], "seed": args.seed}
    benchmark = args.workdir / "benchmark"
    try:  # written once; asked for other sequences, it is an error naming the settings, never silently re-used
        write_synthetic_once(benchmark, settings)
    except DatasetError as err:
        raise SystemExit(f"{err} (here: use another WORKDIR for these sequences)") from err
    conditions = {name: CONDITIONS[name] for name in args.conditions} if args.conditions else CONDITIONS
    table = robustness_table(models, "folder", benchmark, args.workdir / "runs", conditions, device=args.device,
                             dtype=args.dtype, backend=args.backend, progress=False)
    if args.opencv_python:
        results = opencv_results(args.workdir, benchmark, conditions, args.opencv_python, args.opencv_tracker)
        table[f"OpenCV {args.opencv_tracker.upper()}"] = baseline_column("folder", benchmark, results)
    print(format_table(table, "success_auc"))
    if args.margin:
        print(margin_table(args.workdir / "runs", conditions, *args.margin))


def models_modality(models: dict[str, str]) -> str:
    """The X sensor that every model takes (its config's ``modality``); an error if they differ."""
    modalities = {name: read_config(model).modality for name, model in models.items()}
    if len(set(modalities.values())) > 1:
        raise SystemExit(f"the models take different X sensors ({modalities}); one table compares models of one "
                         "sensor on one benchmark: run one table per sensor, each in its own WORKDIR")
    return next(iter(modalities.values()))


def margin_table(runs: Path, conditions: dict[str, SensorFailure], name: str, reference: str) -> str:
    """Markdown: per condition, ``name`` minus ``reference`` success AUC and its standard error."""
    lines = [f"| condition | {name} - {reference} | standard error |", "|---|---:|---:|"]
    for index, condition in enumerate(conditions):
        scores = [json.loads((run_folder(runs, model, index, condition) / "scores.json").read_text())
                  for model in (name, reference)]
        difference, error = paired_difference(*scores)
        lines.append(f"| {condition} | {difference:+.3f} | {error:.3f} |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
