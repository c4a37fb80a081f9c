"""The paper's robustness question as a table: one benchmark, every sensor-failure condition, one or
more models (e.g. trained with and without complementary masked distillation).

>>> table = robustness_table({"with": "runs/a/model", "without": "runs/b/model"}, "folder",
...                          "bench/", "runs/robustness")                                  # doctest: +SKIP
>>> print(format_table(table))                                                            # doctest: +SKIP
"""

from __future__ import annotations

from pathlib import Path

from .protocols import SensorFailure
from .runner import evaluate

CONDITIONS: dict[str, SensorFailure] = {
    "both sensors": SensorFailure(),
    "X dropped on 50% of frames": SensorFailure(drop="x", drop_rate=0.5, seed=0),
    "X dead after frame 10": SensorFailure(drop="x", drop_after=10),
    "RGB dropped on 50% of frames": SensorFailure(drop="rgb", drop_rate=0.5, seed=0),
    "RGB blinded (low light)": SensorFailure(corrupt="rgb", corruption="dark", seed=0),
    "X corrupted (noise)": SensorFailure(corrupt="x", corruption="noise", seed=0),
}
"""The conditions of the robustness table, each a seeded, replayable :class:`SensorFailure`."""


def robustness_table(
    models: dict[str, str | Path],
    dataset: str,
    root: str | Path,
    out: str | Path,
    conditions: dict[str, SensorFailure] | None = None,
    **options,
) -> dict[str, dict[str, dict[str, float]]]:
    """``{model name: {condition: overall metrics}}``: :func:`sdstrack.evaluation.evaluate` of every
    model under every condition (default :data:`CONDITIONS`), each run in its own folder under ``out``
    (so an interrupted table resumes). ``options`` go to ``evaluate`` (workers, device, dtype, ...)."""
    table: dict[str, dict[str, dict[str, float]]] = {}
    for model_name, model in models.items():
        table[model_name] = {}
        for index, (condition, failure) in enumerate((conditions or CONDITIONS).items()):
            folder = Path(out) / _slug(model_name) / f"{index}-{_slug(condition)}"
            report = evaluate(model, dataset, root, folder, failure=failure, plots=False, **options)
            if report.scores is None:
                failed = "; ".join(report.failed.values()) or ", ".join(report.missing)
                raise RuntimeError(f"{model_name}, {condition}: not every sequence was tracked ({failed})")
            table[model_name][condition] = report.scores["overall"]
    return table


def format_table(table: dict[str, dict[str, dict[str, float]]], metric: str = "success_auc") -> str:
    """A Markdown table of ``metric``: a row per condition, a column per model."""
    models = list(table)
    conditions = list(next(iter(table.values())))
    lines = [f"| condition | {' | '.join(models)} |", "|---|" + "---:|" * len(models)]
    for condition in conditions:
        lines.append(f"| {condition} | " + " | ".join(f"{table[m][condition][metric]:.3f}" for m in models) + " |")
    return "\n".join(lines)


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in text.lower()).strip("-")
