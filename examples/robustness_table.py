"""The robustness table on a held-out synthetic benchmark: each model under every sensor-failure condition.

Usage: python examples/robustness_table.py WORKDIR NAME=MODEL [NAME=MODEL ...] [--sequences 20] [--length 100]

WORKDIR/benchmark gets the held-out sequences (seed 2, never used for training or validation data),
WORKDIR/runs the evaluation folders (an interrupted table resumes); the table of success AUC is printed
in Markdown. Compare a model trained with complementary masked distillation against one without.
"""

import argparse
from pathlib import Path

from sdstrack.datasets.synthetic import write_synthetic
from sdstrack.evaluation.robustness import format_table, robustness_table

HELD_OUT_SEED = 2


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workdir", type=Path)
    parser.add_argument("models", nargs="+", help="NAME=MODEL (a bundled name, a folder or a Hub repo id)")
    parser.add_argument("--sequences", type=int, default=20)
    parser.add_argument("--length", type=int, default=100)
    parser.add_argument("--size", default="320x240", help="frame size WxH")
    parser.add_argument("--device", default=None)
    args = parser.parse_args()
    models = dict(item.split("=", 1) for item in args.models)
    benchmark = args.workdir / "benchmark"
    if not benchmark.is_dir():
        width, height = (int(v) for v in args.size.split("x"))
        write_synthetic(benchmark, sequences=args.sequences, length=args.length, x_format="depth",
                        size=(width, height), seed=HELD_OUT_SEED)
    table = robustness_table(models, "folder", benchmark, args.workdir / "runs", device=args.device, progress=False)
    print(format_table(table, "success_auc"))


if __name__ == "__main__":
    main()
