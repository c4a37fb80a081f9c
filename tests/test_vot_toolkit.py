"""End to end through the real VOT toolkit (vot-toolkit 0.9, TraX 4): ``vot evaluate`` runs
``sdstrack.evaluation.trax_server`` on generated sequences in a local, offline workspace and ``vot analysis`` scores
it. Opt-in: set ``SDSTRACK_VOT_TEST=1`` in an environment with ``pip install "sdstrack[vot]"`` (``.ci/run`` does so
in a venv of its own); each test starts the toolkit and the tracker as processes."""

from __future__ import annotations

import importlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from sdstrack.evaluation.metrics import vot_rgbd_scores

REPO = Path(__file__).resolve().parents[1]
MODEL = REPO / "weights" / "sdstrack-tiny-random"
TRACKER = "sdstrack"
SEQUENCE = "movingbox"
RGBD_STACK = "vot2021/rgbd"  # integrated in the toolkit; its dataset is not downloaded once sequences/list.txt exists
RGBD_EXPERIMENT = "rgbd-unsupervised"
LOCAL_EXPERIMENT = "unsupervised"
# A stack of the workspace's own (vot initialize custom): the toolkit's RGB-T stacks are multistart/realtime ones,
# and only an experiment declared multiobject accepts a sequence of several objects.
LOCAL_STACK = f"""title: sdstrack local multi-object check
experiments:
  {LOCAL_EXPERIMENT}:
    type: unsupervised
    multiobject: true
    analyses:
      - type: average_tpr
"""
FRAMES, WIDTH, HEIGHT = 20, 160, 120
TIMEOUT_S = 900


def _skip_reason() -> str | None:
    if os.environ.get("SDSTRACK_VOT_TEST") != "1":
        return 'opt-in: set SDSTRACK_VOT_TEST=1 with the VOT toolkit installed (pip install "sdstrack[vot]")'
    for module in ("vot", "trax"):
        try:
            importlib.import_module(module)
        except Exception as err:  # not only ImportError: a wrong attributee breaks `import vot` with a TypeError
            return f'SDSTRACK_VOT_TEST=1 but "import {module}" fails ({err!r}): pip install "sdstrack[vot]"'
    return None


SKIP_REASON = _skip_reason()
pytestmark = pytest.mark.skipif(SKIP_REASON is not None, reason=SKIP_REASON or "")


def _boxes(start: tuple[int, int], step: tuple[int, int], size: tuple[int, int]) -> list[tuple[int, ...]]:
    """One target's ground truth: a box moving by ``step`` pixels a frame."""
    return [(start[0] + step[0] * i, start[1] + step[1] * i, *size) for i in range(FRAMES)]


def _write_sequence(folder: Path, x_channel: str, objects: dict[str, list[tuple[int, ...]]]) -> None:
    """A VOT sequence: ``sequence`` metadata, JPEG colour, the X channel (16-bit PNG depth in mm, or JPEG
    infrared) and the ground truth (``groundtruth.txt``, or ``groundtruth_<id>.txt`` per object)."""
    rng = np.random.default_rng(0)
    background = rng.integers(0, 256, (HEIGHT, WIDTH, 3), dtype=np.uint8)
    far = np.tile(np.linspace(2500, 4000, WIDTH).astype(np.uint16), (HEIGHT, 1))
    textures = {name: rng.integers(0, 256, (box[3], box[2], 3), dtype=np.uint8) for name, (box, *_) in objects.items()}
    x_pattern = "depth/%08d.png" if x_channel == "depth" else "ir/%08d.jpg"
    for channel in ("color", x_channel):
        (folder / channel).mkdir(parents=True)
    for index in range(FRAMES):
        color = background.copy()
        x = far.copy() if x_channel == "depth" else np.full((HEIGHT, WIDTH), 40, dtype=np.uint8)
        for name, boxes in objects.items():
            left, top, w, h = boxes[index]
            color[top : top + h, left : left + w] = textures[name]
            x[top : top + h, left : left + w] = 1200 if x_channel == "depth" else 220  # near / warm
        assert cv2.imwrite(str(folder / "color" / f"{index + 1:08d}.jpg"), color)
        assert cv2.imwrite(str(folder / (x_pattern % (index + 1))), x)
    for name, boxes in objects.items():
        target = "groundtruth.txt" if len(objects) == 1 else f"groundtruth_{name}.txt"
        (folder / target).write_text("".join(",".join(map(str, box)) + "\n" for box in boxes))
    (folder / "sequence").write_text(
        f"channels.color=color/%08d.jpg\nchannels.{x_channel}={x_pattern}\nfps=30\nformat=default\n"
    )


def _workspace(tmp_path: Path, stack: str, server_args: list[str], x_channel: str,
               objects: dict[str, list[tuple[int, ...]]]) -> Path:
    """``vot initialize`` a workspace, then add the sequence and register the tracker in ``trackers.ini``:
    ``traxpython`` runs ``command`` as Python code with ``python``, here this test's interpreter."""
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    if stack == "custom":  # vot initialize custom keeps an existing stack.yaml
        (workspace / "stack.yaml").write_text(LOCAL_STACK)
    _vot(tmp_path, "initialize", stack, "--workspace", str(workspace), "--nodownload")
    _write_sequence(workspace / "sequences" / SEQUENCE, x_channel, objects)
    (workspace / "sequences" / "list.txt").write_text(f"{SEQUENCE}\n")
    (workspace / "trackers.ini").write_text(
        f"[{TRACKER}]\n"
        "label = SDSTrack (tiny, random weights)\n"
        "protocol = traxpython\n"
        f"python = {sys.executable}\n"
        f"command = from sdstrack.evaluation.trax_server import main; sys.exit(main({server_args!r}))\n"
    )
    return workspace


def _vot(cwd: Path, *args: str) -> str:
    """Run the toolkit's command line (``python -m vot``) and return its output; fail on a non-zero status.
    ``VOT_RESULTS_BINARY=0`` makes it write text trajectories (one line a frame) instead of ``.bin`` files."""
    env = dict(os.environ, OMP_NUM_THREADS="1", HF_HUB_OFFLINE="1", VOT_RESULTS_BINARY="0")
    done = subprocess.run(
        [sys.executable, "-m", "vot", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=TIMEOUT_S
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, f"vot {' '.join(args)} exited {done.returncode}:\n{output}"
    return output


def _check_trajectory(results: Path, name: str, log: str) -> None:
    """The text trajectory has one line a frame, VOT's initialisation marker ``1`` first, then ``x,y,w,h`` boxes in
    the image; the ``confidence`` property file has one value a frame, 1.0 at initialisation."""
    trajectory = results / f"{name}.txt"
    assert trajectory.is_file(), f"{trajectory} was not written (vot evaluate exits 0 when the tracker fails):\n{log}"
    lines = trajectory.read_text().splitlines()
    assert len(lines) == FRAMES, lines
    assert lines[0] == "1", f"the first line should be VOT's initialisation marker 1, got {lines[0]!r}"
    for line in lines[1:]:
        x, y, w, h = (float(v) for v in line.split(","))
        assert 0 <= x < WIDTH and 0 <= y < HEIGHT and w > 0 and h > 0, line
    confidences = [float(v) for v in (results / f"{name}_confidence.value").read_text().splitlines()]
    assert len(confidences) == FRAMES and confidences[0] == 1.0, confidences
    assert all(0.0 <= c <= 1.0 for c in confidences), confidences


def _analysis_measures(workspace: Path, experiment: str) -> dict[str, float]:
    """``vot analysis --format json``: the average_tpr analysis's precision, recall and F-score of the tracker."""
    _vot(workspace, "analysis", "--workspace", str(workspace), "--format", "json", "--name", "report", TRACKER)
    report = json.loads((workspace / "analysis" / "report.json").read_text())["results"][experiment]
    # results hold one entry per analysis, in the order of parameters.analyses; each has one cell per tracker
    kinds = [analysis["type"] for analysis in report["parameters"]["analyses"]]
    precision, recall, f_score = report["results"][kinds.index("vot.analysis.longterm.PrecisionRecall")][0]
    return {"precision": precision, "recall": recall, "F-score": f_score}


def test_rgbd_stack_evaluates_and_scores_the_trax_server(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    started = time.perf_counter()
    server_args = ["--model", str(MODEL), "--channels", "color,depth", "--device", "cpu"]
    truth = _boxes((20, 30), (4, 2), (40, 30))
    workspace = _workspace(tmp_path, RGBD_STACK, server_args, "depth", {"object": truth})

    log = _vot(workspace, "evaluate", "--workspace", str(workspace), TRACKER)
    _check_trajectory(workspace / "results" / TRACKER / RGBD_EXPERIMENT / SEQUENCE, f"{SEQUENCE}_001", log)

    measures = _analysis_measures(workspace, RGBD_EXPERIMENT)
    assert all(0.0 <= value <= 1.0 for value in measures.values()), measures
    # Our own Pr/Re/F (sdstrack.evaluation.metrics) on the toolkit's trajectory equal the toolkit's analysis.
    results = workspace / "results" / TRACKER / RGBD_EXPERIMENT / SEQUENCE
    lines = (results / f"{SEQUENCE}_001.txt").read_text().splitlines()
    boxes = np.array([[np.nan] * 4] + [[float(v) for v in line.split(",")] for line in lines[1:]])
    confidences = np.array([float(v) for v in (results / f"{SEQUENCE}_001_confidence.value").read_text().split()])
    ours = vot_rgbd_scores({SEQUENCE: boxes}, {SEQUENCE: confidences}, {SEQUENCE: np.array(truth, dtype=float)},
                           {SEQUENCE: np.zeros(FRAMES, bool)}, image_sizes={SEQUENCE: (WIDTH, HEIGHT)})["overall"]
    for ours_name, theirs_name in (("precision", "precision"), ("recall", "recall"), ("f_score", "F-score")):
        assert abs(ours[ours_name] - measures[theirs_name]) <= 1e-9, (ours, measures)
    with capsys.disabled():
        print(f"\nvot analysis, {RGBD_STACK} on a generated {FRAMES}-frame RGB-D sequence, tiny random-weight model: "
              + ", ".join(f"{k} {v:.4f}" for k, v in measures.items())
              + f"; {time.perf_counter() - started:.1f} s")


def test_rgbt_multiobject_stack_evaluates_the_trax_server(tmp_path: Path) -> None:
    thermal = tmp_path / "thermal-model"  # the tiny random weights declared thermal: an RGB-T checkpoint
    shutil.copytree(MODEL, thermal)
    config = json.loads((thermal / "config.json").read_text())
    (thermal / "config.json").write_text(json.dumps({**config, "modality": "thermal"}))
    server_args = ["--model", str(thermal), "--channels", "color,ir", "--device", "cpu", "--multiobject"]
    objects = {"left": _boxes((10, 20), (3, 1), (30, 24)), "right": _boxes((110, 70), (-2, -1), (24, 30))}
    workspace = _workspace(tmp_path, "custom", server_args, "ir", objects)

    log = _vot(workspace, "evaluate", "--workspace", str(workspace), TRACKER)
    for name in objects:
        _check_trajectory(workspace / "results" / TRACKER / LOCAL_EXPERIMENT / SEQUENCE, f"{SEQUENCE}_{name}_001", log)


def test_a_tracker_crash_is_visible(tmp_path: Path) -> None:
    server_args = ["--model", str(MODEL), "--channels", "color,depth", "--device", "cpu"]
    truth = _boxes((20, 30), (4, 2), (40, 30))
    workspace = _workspace(tmp_path, RGBD_STACK, server_args, "depth", {"object": truth})
    broken = workspace / "sequences" / SEQUENCE / "depth" / f"{FRAMES // 2:08d}.png"
    broken.write_bytes(b"not a PNG")

    log = _vot(workspace, "evaluate", "--workspace", str(workspace), TRACKER)  # exits 0 all the same
    assert not (workspace / "results" / TRACKER / RGBD_EXPERIMENT / SEQUENCE / f"{SEQUENCE}_001.txt").exists()
    message = f"FileNotFoundError: cannot read the depth image '{broken}'"
    assert f"Server terminated the session: {message}" in log, log
    tracker_log = "".join(path.read_text() for path in (workspace / "logs").glob(f"{TRACKER}_*.log"))
    assert "Traceback" in tracker_log and f"sdstrack TraX server: error: {message}" in tracker_log, tracker_log
    assert "Process exited with code (1)" in tracker_log, tracker_log
