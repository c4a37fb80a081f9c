"""The paper's robustness question as a table: one benchmark, every sensor-failure condition, one or
more models (e.g. trained with and without complementary masked distillation).

>>> table = robustness_table({"with": "runs/a/model", "without": "runs/b/model"}, "folder",
...                          "bench/", "runs/robustness")                                  # doctest: +SKIP
>>> print(format_table(table))                                                            # doctest: +SKIP
"""

from __future__ import annotations

from pathlib import Path

from .protocols import SensorFailure
from .runner import evaluate, score_raw_results

CONDITIONS: dict[str, SensorFailure] = {
    "both sensors": SensorFailure(),
    "X dropped on 50% of frames": SensorFailure(drop="x", drop_rate=0.5, seed=0),
    "X dead after frame 10": SensorFailure(drop="x", drop_after=10),
    "RGB dropped on 50% of frames": SensorFailure(drop="rgb", drop_rate=0.5, seed=0),
    "RGB blinded (low light)": SensorFailure(corrupt="rgb", corruption="dark", seed=0),
    "X corrupted (noise)": SensorFailure(corrupt="x", corruption="noise", seed=0),
}
"""The conditions of the robustness table, each a seeded, replayable :class:`SensorFailure`."""


FRAME_ROWS: dict[str, tuple[str, str]] = {
    "X decides: RGB in low light (frames)": ("both sensors", "low_light"),
    "X decides: RGB look-alike in view (frames)": ("both sensors", "rgb_distractor"),
}
"""Rows scored over only some frames of a condition's run: row name -> (condition, per-frame attribute).
The defaults are where only the X sensor can tell the target apart (the synthetic sequences' attributes,
:mod:`sdstrack.datasets.synthetic`): a dark RGB image, or a look-alike that differs from the target only in X."""


def robustness_table(
    models: dict[str, str | Path],
    dataset: str,
    root: str | Path,
    out: str | Path,
    conditions: dict[str, SensorFailure] | None = None,
    frame_rows: dict[str, tuple[str, str]] | None = None,
    **options,
) -> dict[str, dict[str, dict[str, float]]]:
    """``{model name: {row: metrics}}``: :func:`sdstrack.evaluation.evaluate` of every model under every
    condition (default :data:`CONDITIONS`), each run in its own folder under ``out`` (so an interrupted
    table resumes), plus the ``frame_rows`` (default :data:`FRAME_ROWS`; rows whose attribute no sequence
    has are left out). ``options`` go to ``evaluate`` (workers, device, dtype, backend, ...)."""
    conditions = conditions or CONDITIONS
    table: dict[str, dict[str, dict[str, float]]] = {}
    for model_name, model in models.items():
        scores = {}
        for index, (condition, failure) in enumerate(conditions.items()):
            folder = run_folder(out, model_name, index, condition)
            report = evaluate(model, dataset, root, folder, failure=failure, plots=False, **options)
            if report.scores is None:
                failed = "; ".join(report.failed.values()) or ", ".join(report.missing)
                raise RuntimeError(f"{model_name}, {condition}: not every sequence was tracked ({failed})")
            scores[condition] = report.scores
        table[model_name] = _rows(scores, frame_rows)
    return table


def run_folder(out: str | Path, model_name: str, index: int, condition: str) -> Path:
    """Where :func:`robustness_table` keeps the evaluation of ``model_name`` under its ``index``-th condition
    (its ``scores.json``, raw results and per-sequence files)."""
    return Path(out) / _slug(model_name) / f"{index}-{_slug(condition)}"


def baseline_column(
    dataset: str,
    root: str | Path,
    results: dict[str, str | Path],
    frame_rows: dict[str, tuple[str, str]] | None = None,
) -> dict[str, dict[str, float]]:
    """A column of the table for another tracker from its raw results: ``results`` maps each condition
    to the folder of its OTB-style results (``<sequence>.txt``, e.g. ``examples/opencv_baseline.py`` run on
    :func:`~sdstrack.evaluation.protocols.write_degraded_benchmark`'s folder for that condition), scored
    against the original benchmark with :func:`~sdstrack.evaluation.score_raw_results`."""
    scores = {condition: score_raw_results(dataset, root, folder) for condition, folder in results.items()}
    return _rows(scores, frame_rows)


def _rows(scores: dict[str, dict], frame_rows: dict[str, tuple[str, str]] | None) -> dict[str, dict[str, float]]:
    rows = {condition: report["overall"] for condition, report in scores.items()}
    for row, (condition, attribute) in (FRAME_ROWS if frame_rows is None else frame_rows).items():
        figures = scores.get(condition, {}).get("per_attribute_frames", {}).get(attribute)
        if figures is not None:
            rows[row] = figures
    return rows


def format_table(table: dict[str, dict[str, dict[str, float]]], metric: str = "success_auc") -> str:
    """A Markdown table of ``metric``: a row per condition (the union over the columns, in first-seen
    order), a column per model; "-" where a column has no such row."""
    models = list(table)
    rows = list(dict.fromkeys(row for column in table.values() for row in column))
    lines = [f"| condition | {' | '.join(models)} |", "|---|" + "---:|" * len(models)]
    for row in rows:
        cells = [f"{table[m][row][metric]:.3f}" if row in table[m] else "-" for m in models]
        lines.append(f"| {row} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in text.lower()).strip("-")
