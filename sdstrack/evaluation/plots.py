"""Success and precision plots of an evaluation, as PNG files (needs the ``plot`` extra: matplotlib)."""

from __future__ import annotations

from pathlib import Path


def write_plots(scores: dict, out: Path, title: str) -> list[Path]:
    """Write ``success.png`` and ``precision.png`` from ``scores["curves"]`` into ``out``; returns the
    written paths, none when matplotlib is not installed (``pip install "sdstrack[plot]"``)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        from matplotlib import pyplot
    except ImportError:
        return []
    written = []
    labels = {"success": ("overlap threshold (IoU)", "success rate"),
              "precision": ("centre error threshold (px)", "precision")}
    for name, curve in scores.get("curves", {}).items():
        if name not in labels:
            continue
        figure, axes = pyplot.subplots(figsize=(5, 4), dpi=100)
        summary = curve.get("summary")
        label = f"sdstrack [{summary:.3f}]" if summary is not None else None
        axes.plot(curve["thresholds"], curve["values"], label=label)
        axes.set_xlabel(labels[name][0])
        axes.set_ylabel(labels[name][1])
        axes.set_ylim(0, 1)
        axes.set_title(f"{name}: {title}")
        axes.grid(alpha=0.3)
        if summary is not None:
            axes.legend(loc="lower left" if name == "success" else "lower right")
        path = out / f"{name}.png"
        figure.tight_layout()
        figure.savefig(path)
        pyplot.close(figure)
        written.append(path)
    return written
