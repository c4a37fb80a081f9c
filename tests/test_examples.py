"""The example scripts run as users run them, on a clip made by examples/make_demo_clip.py."""

import subprocess
import sys

import cv2
import numpy as np

from .conftest import DEMO_FRAMES, REPO

EXAMPLES = REPO / "examples"


def _run(*args, cwd):
    done = subprocess.run([sys.executable, *map(str, args)], capture_output=True, text=True, cwd=cwd, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


def test_track_folder(demo_clip, tmp_path):
    lines = _run(EXAMPLES / "track_folder.py", demo_clip, cwd=tmp_path)  # not run from the checkout
    assert len(lines) == DEMO_FRAMES and "score" in lines[-1]


def test_missing_sensor_demo(demo_clip, tmp_path):
    lines = _run(EXAMPLES / "missing_sensor_demo.py", demo_clip, cwd=tmp_path)
    notes = {note for note in ("depth camera dropped", "RGB camera dropped", "left half of depth missing")
             if any(note in line for line in lines)}
    assert len(lines) == DEMO_FRAMES and len(notes) == 3


def test_multi_target(demo_clip, tmp_path):
    lines = _run(EXAMPLES / "multi_target.py", demo_clip, "40,150,70,60", "300,40,50,80", cwd=tmp_path)
    assert len(lines) == DEMO_FRAMES and "#1:" in lines[-1]


def test_track_video_pair(demo_clip, tmp_path):
    videos = []
    for name in ("color", "depth"):
        frames = [cv2.imread(str(p), cv2.IMREAD_UNCHANGED) for p in sorted((demo_clip / name).iterdir())[:5]]
        frames = [cv2.applyColorMap((f // 40).astype(np.uint8), cv2.COLORMAP_JET) if f.ndim == 2 else f
                  for f in frames]
        video = tmp_path / f"{name}.avi"
        writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (480, 360))
        for frame in frames:
            writer.write(frame)
        writer.release()
        videos.append(video)
    lines = _run(EXAMPLES / "track_video_pair.py", *videos, "40,150,70,60", cwd=tmp_path)
    assert len(lines) == 5 and "score" in lines[-1]


def test_examples_without_a_checkout_model_ask_for_one(demo_clip, tmp_path):
    script = tmp_path / "track_folder.py"  # a copy outside the checkout: no weights/ beside it
    script.write_text((EXAMPLES / "track_folder.py").read_text())
    done = subprocess.run([sys.executable, script, demo_clip], capture_output=True, text=True, check=False)
    assert done.returncode == 1 and "pass --model" in done.stderr


def test_robustness_table(tmp_path):
    lines = _run(EXAMPLES / "robustness_table.py", tmp_path, "tiny=sdstrack-tiny-random", "--sequences", "2",
                 "--length", "12", "--size", "96x72", "--device", "cpu", cwd=tmp_path)
    assert lines[0] == "| condition | tiny |" and len(lines) == 8 and lines[2].startswith("| both sensors | ")


def test_opencv_baseline_results_are_scored_by_sdstrack(tmp_path):
    from sdstrack.datasets.synthetic import write_synthetic
    from sdstrack.evaluation import score_raw_results

    write_synthetic(tmp_path / "bench", sequences=2, length=10, size=(96, 72), seed=4)
    lines = _run(EXAMPLES / "opencv_baseline.py", tmp_path / "bench", tmp_path / "mil", "--tracker", "mil",
                 cwd=tmp_path)
    assert lines[-1].startswith("mil: 20 frames at ")
    scores = score_raw_results("folder", tmp_path / "bench", tmp_path / "mil")
    assert 0 <= scores["overall"]["success_auc"] <= 1 and len(scores["per_sequence"]) == 2
