"""Run a model over a benchmark and score it: resumable, parallel, shardable, with sensor failures.

Output folder layout (``out``)::

    settings.json              what was run: model, benchmark, root, precision, backend, protocol
    sequences/<name>.json      one file per finished sequence (boxes, scores, time), written atomically
    raw/<tracker>/...          the same results in the format the benchmark's official toolkit reads
    scores.json                the metric table (overall, per sequence, per attribute), once all are done
    success.png, precision.png the curves (with the ``plot`` extra: matplotlib)

A finished sequence is never tracked again: a killed run loses at most the sequences in flight, and
running the same command again finishes the rest. ``shard=(k, n)`` takes every n-th sequence starting
at the k-th (1-based), so array jobs on a cluster can split a benchmark into the same ``out`` folder
(the last shard to finish scores the union) or into separate folders joined by :func:`merge`.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from .. import __version__, checkpoint
from ..backends import backend_files
from ..config import SDSTrackConfig
from ..datasets import DatasetError, Sequence, load_dataset
from ..runtime import dtype_name, parse_dtype
from .protocols import SensorFailure, init_frame
from .results import SequenceResult, write_json, write_raw

SETTINGS_NAME = "settings.json"
SCORES_NAME = "scores.json"


class EvaluationError(RuntimeError):
    """An evaluation could not run or finish as asked; the message says why and how to go on."""


@dataclass
class EvaluationReport:
    """What an evaluation run left in ``out``.

    Attributes:
        out: the output folder.
        results: finished sequences (this run's and earlier runs') by name.
        failed: sequences that raised in this run, with the sequence and frame named in the message.
        missing: sequences of the benchmark without results yet (other shards, failures).
        scores: the metric table once every sequence of the benchmark has a result, else None.
    """

    out: Path
    results: dict[str, SequenceResult]
    failed: dict[str, str] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)
    scores: dict | None = None


def track_sequence(
    tracker, sequence: Sequence, failure: SensorFailure, on_frame: Callable[[], None] | None = None
) -> SequenceResult:
    """Track ``sequence`` from the ground-truth box of its first frame with the target visible (as the
    benchmarks' own scripts do); frames before it get NaN boxes and confidence 0, and are not read.
    Every frame goes through ``failure`` first.

    Raises :class:`DatasetError` naming the sequence and frame for any frame that cannot be read or
    tracked, or when the target is never visible.
    """
    length = len(sequence)
    start_index = init_frame(sequence)
    boxes, scores = np.full((length, 4), np.nan), np.zeros(length)
    dropped = failure.dropped_frames(sequence.name, length, start_index)
    missing = {"rgb": 0, "x": 0}
    start = time.perf_counter()
    for index in range(start_index, length):
        try:
            rgb, x = failure.apply(sequence.name, index, *sequence.frame(index), dropped, start_index)
            if index == start_index:
                result = tracker.init(rgb, x, sequence.groundtruth[index])
            else:
                result = tracker.update(rgb, x)
        except DatasetError:
            raise
        except Exception as err:
            raise DatasetError(f"sequence {sequence.name}, frame {index + 1}: {type(err).__name__}: {err}") from err
        missing["rgb"] += rgb is None
        missing["x"] += x is None
        boxes[index], scores[index] = result.box, result.score
        if on_frame is not None:
            on_frame()
    seconds = time.perf_counter() - start
    return SequenceResult(sequence.name, boxes, scores, seconds, missing["rgb"], missing["x"])


def evaluate(
    model: str | Path,
    dataset: str,
    root: str | Path,
    out: str | Path,
    *,
    sequences: list[str] | None = None,
    workers: int = 1,
    shard: tuple[int, int] | None = None,
    device: str | None = None,
    dtype: str | torch.dtype | None = None,
    backend: str = "torch",
    failure: SensorFailure | None = None,
    tracker_name: str = "sdstrack",
    plots: bool = True,
    progress: bool = True,
) -> EvaluationReport:
    """Track every (selected) sequence of a benchmark with ``model`` and score the results.

    Args:
        model: checkpoint folder or Hub repo id; its modality must be the benchmark's X sensor.
        dataset: ``depthtrack``, ``vot-rgbd``, ``lasher``, ``rgbt234``, ``visevent`` or ``folder``.
        root: the benchmark's folder.
        out: output folder (see the module docstring); an existing one is resumed, and must have been
            made with the same settings, checkpoint files included (by SHA-256).
        sequences: only these sequences (by name); scores then cover them only.
        workers: processes, each with its own copy of the model (CPU threads are split among them).
        shard: ``(k, n)``: this job runs sequences k-1, k-1+n, k-1+2n, ... (1-based k).
        device, dtype, backend: as for :class:`sdstrack.Tracker`.
        failure: a sensor-failure protocol (default: both sensors working).
        tracker_name: the folder name used in the raw toolkit results.
        plots: write success and precision plots when matplotlib is installed.
        progress: show a progress bar (frames/s) on stderr.
    """
    failure = failure or SensorFailure()
    out = Path(out)
    all_sequences = load_dataset(dataset, root, sequences)
    folder = checkpoint.resolve(model, filenames=backend_files(backend))  # once: settings and modality read it
    settings = _settings(model, folder, dataset, root, sequences, dtype, backend, failure, tracker_name)
    _check_modality(model, folder, all_sequences)
    _claim_output(out, settings)
    selected = _shard(all_sequences, shard)
    done = _load_results(out)
    pending = [s for s in selected if s.name not in done]
    failed = _run(pending, model, device, dtype, backend, failure, workers, progress,
                  on_result=lambda result: _store(result, out, dataset, tracker_name))
    return _finish(out, all_sequences, settings, failed, plots, title=f"{dataset}, {failure.describe()}")


def merge(outputs: list[str | Path], out: str | Path, *, plots: bool = True) -> EvaluationReport:
    """Join the sequence results of several output folders (shards run apart) into ``out`` and score
    them; every folder must hold results of the same settings."""
    if not outputs:
        raise EvaluationError("merge needs at least one evaluation output folder")
    settings = [_read_settings(Path(folder)) for folder in outputs]
    if any(s != settings[0] for s in settings[1:]):
        differing = sorted({k for s in settings[1:] for k in s if s[k] != settings[0].get(k)})
        raise EvaluationError(f"the folders were evaluated with different settings ({', '.join(differing)}); "
                              "only shards of one evaluation can be merged")
    out = Path(out)
    _claim_output(out, settings[0])
    dataset, root = settings[0]["dataset"], settings[0]["root"]
    all_sequences = load_dataset(dataset, root, settings[0]["sequences"])
    for folder in outputs:
        for result in _load_results(Path(folder)).values():
            _store(result, out, dataset, settings[0]["tracker_name"])
    return _finish(out, all_sequences, settings[0], {}, plots, title=dataset)


def _finish(out: Path, sequences: list[Sequence], settings: dict, failed: dict[str, str], plots: bool,
            title: str) -> EvaluationReport:
    """The report of ``out``'s results; once every sequence has one, the scores (written to
    ``scores.json``) and, with ``plots``, the curves."""
    results = _load_results(out)
    report = EvaluationReport(out, results, failed, [s.name for s in sequences if s.name not in results])
    if not report.missing:
        report.scores = _score(settings["dataset"], sequences, results, settings)
        write_json(out / SCORES_NAME, report.scores)
        if plots:
            from .plots import write_plots

            write_plots(report.scores, out, title=title)
    return report


def score_raw_results(dataset: str, root: str | Path, results: str | Path, sequences: list[str] | None = None) -> dict:
    """Score a tracker's OTB-style raw results (``results/<sequence>.txt``, one ``x,y,w,h`` line per frame,
    NaN where it reported nothing; e.g. from ``examples/opencv_baseline.py`` or another toolkit) with the
    same metrics as :func:`evaluate`. Confidences are taken as 1 where a box was reported, 0 elsewhere."""
    from .metrics import score_benchmark

    benchmark = load_dataset(dataset, root, sequences)
    predictions, confidences = {}, {}
    for sequence in benchmark:
        path = Path(results) / f"{sequence.name}.txt"
        if not path.is_file():
            raise EvaluationError(f"{path} is missing: no result for sequence {sequence.name}")
        boxes = np.genfromtxt(path, delimiter=",", ndmin=2)
        if boxes.shape != (len(sequence), 4):
            raise EvaluationError(f"{path} holds {boxes.shape[0]} boxes for {len(sequence)} frames of {sequence.name}")
        predictions[sequence.name] = boxes
        confidences[sequence.name] = np.isfinite(boxes).all(axis=1).astype(np.float64)
    return score_benchmark(dataset, benchmark, predictions, confidences)


# Settings and the output folder --------------------------------------------------------------------------------
def _settings(model, folder: Path, dataset, root, sequences, dtype, backend, failure: SensorFailure,
              tracker_name: str) -> dict:
    model_path = Path(str(model)).expanduser()
    return {
        "sdstrack": __version__,
        "model": str(model_path.resolve()) if model_path.exists() else str(model),
        "dataset": dataset,
        "root": str(Path(root).resolve()),
        "sequences": sorted(sequences) if sequences else None,
        "dtype": dtype_name(parse_dtype(dtype)) if dtype is not None else "float32",
        "backend": backend,
        "checkpoint_sha256": _checkpoint_digests(folder, backend_files(backend)),
        "protocol": failure.to_dict(),
        "tracker_name": tracker_name,
    }


def _checkpoint_digests(folder: Path, names: tuple[str, ...]) -> dict[str, str]:
    """SHA-256 of each checkpoint file the backend reads: an output folder resumes only with the same weights,
    also when a name (a bundled model, a Hub repo, a folder) now holds others."""
    digests = {}
    for name in names:
        digest = hashlib.sha256()
        with open(folder / name, "rb") as file:
            for block in iter(lambda: file.read(1 << 20), b""):
                digest.update(block)
        digests[name] = digest.hexdigest()
    return digests


def _read_settings(out: Path) -> dict:
    path = out / SETTINGS_NAME
    if not path.is_file():
        raise EvaluationError(f"{out} holds no {SETTINGS_NAME}: it is not an sdstrack evaluation folder")
    return json.loads(path.read_text())


def _claim_output(out: Path, settings: dict) -> None:
    """Create ``out`` with these settings, or check that an existing one was made with the same."""
    path = out / SETTINGS_NAME
    if path.is_file():
        existing = json.loads(path.read_text())
        if existing != settings:
            differing = sorted(k for k in set(existing) | set(settings) if existing.get(k) != settings.get(k))
            raise EvaluationError(
                f"{out} holds results of a different evaluation (differs in: {', '.join(differing)}); pass another "
                "--out, or delete that folder to start over"
            )
        return
    out.mkdir(parents=True, exist_ok=True)
    write_json(path, settings)


def _check_modality(model, folder: Path, sequences: list[Sequence]) -> None:
    if not sequences:
        raise EvaluationError("the benchmark selection holds no sequences")
    modality = SDSTrackConfig.load(folder / checkpoint.CONFIG_NAME).modality
    formats = sorted({s.x_format for s in sequences})
    if formats != [modality]:
        raise EvaluationError(f"{model} is a {modality} model but the benchmark's X frames are {', '.join(formats)}; "
                              f"evaluate a {formats[0]} model on it")


def _shard(sequences: list[Sequence], shard: tuple[int, int] | None) -> list[Sequence]:
    if shard is None:
        return sequences
    index, count = shard
    if not (count >= 1 and 1 <= index <= count):
        raise ValueError(f"shard must be K/N with 1 <= K <= N, got {index}/{count}")
    return sequences[index - 1 :: count]


def _load_results(out: Path) -> dict[str, SequenceResult]:
    folder = out / "sequences"
    if not folder.is_dir():
        return {}
    return {r.name: r for r in (SequenceResult.from_dict(json.loads(p.read_text())) for p in folder.glob("*.json"))}


def _store(result: SequenceResult, out: Path, dataset: str, tracker_name: str) -> None:
    write_raw(result, dataset, out / "raw", tracker_name)
    write_json(out / "sequences" / f"{result.name}.json", result.to_dict())


def _score(dataset: str, sequences: list[Sequence], results: dict[str, SequenceResult], settings: dict) -> dict:
    from .metrics import score_benchmark

    predictions = {s.name: results[s.name].boxes for s in sequences}
    confidences = {s.name: results[s.name].scores for s in sequences}
    scores = score_benchmark(dataset, sequences, predictions, confidences)
    frames = sum(len(r.boxes) for r in results.values())
    seconds = sum(r.seconds for r in results.values())
    scores["run"] = {**settings, "frames": frames, "frames_per_s": frames / seconds if seconds else None,
                     "rgb_missing_frames": sum(r.rgb_missing for r in results.values()),
                     "x_missing_frames": sum(r.x_missing for r in results.values())}
    return scores


# Running ------------------------------------------------------------------------------------------------------
def _make_tracker(model, device, dtype, backend):
    from ..tracker import Tracker

    return Tracker.from_pretrained(model, backend=backend, device=device, dtype=dtype, bgr=True)


def _run(pending, model, device, dtype, backend, failure, workers, show_progress, on_result) -> dict[str, str]:
    """Track ``pending`` sequences, handing each finished result to ``on_result`` at once; returns the
    failures by sequence name."""
    from tqdm import tqdm

    failed: dict[str, str] = {}
    if not pending:
        return failed
    total = sum(len(s) for s in pending)
    bar_format = "{l_bar}{bar}| {n_fmt}/{total_fmt} frames [{elapsed}<{remaining}, {rate_noinv_fmt}]"
    with tqdm(total=total, unit=" frames", disable=not show_progress, bar_format=bar_format) as bar:
        if workers <= 1:
            tracker = _make_tracker(model, device, dtype, backend)
            for sequence in pending:
                bar.set_postfix_str(sequence.name)
                try:
                    on_result(track_sequence(tracker, sequence, failure, on_frame=lambda: bar.update()))
                except DatasetError as err:
                    failed[sequence.name] = str(err)
            return failed
        context = multiprocessing.get_context("spawn")
        threads = max(1, (os.cpu_count() or 1) // workers)
        start = (model, device, dtype, backend, threads)
        with context.Pool(workers, initializer=_worker_start, initargs=start) as pool:
            by_name = {s.name: s for s in pending}
            for name, result, error in pool.imap_unordered(_worker_track, [(s, failure) for s in pending]):
                bar.update(len(by_name[name]))
                if error is not None:
                    failed[name] = error
                else:
                    on_result(result)
    return failed


_WORKER_TRACKER = None


def _worker_start(model, device, dtype, backend, threads: int) -> None:
    global _WORKER_TRACKER
    torch.set_num_threads(threads)
    _WORKER_TRACKER = _make_tracker(model, device, dtype, backend)


def _worker_track(job: tuple[Sequence, SensorFailure]):
    sequence, failure = job
    try:
        return sequence.name, track_sequence(_WORKER_TRACKER, sequence, failure), None
    except DatasetError as err:
        return sequence.name, None, str(err)
    except Exception:  # a bug rather than bad data: keep the traceback for the report
        return sequence.name, None, f"sequence {sequence.name}: {traceback.format_exc()}"


def format_table(scores: dict) -> str:
    """The overall metrics as a small text table."""
    overall = scores["overall"]
    width = max(len(k) for k in overall)
    lines = [f"{'metric':{width}s}  value"] + [f"{k:{width}s}  {v:.4f}" for k, v in overall.items()]
    run = scores.get("run", {})
    if run.get("frames_per_s"):
        lines.append(f"{run['frames']} frames at {run['frames_per_s']:.1f} frames/s")
    return "\n".join(lines)
