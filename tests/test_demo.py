"""`sdstrack demo`: a generated clip tracked with the bundled model, scored and rendered."""

import cv2
import numpy as np

from sdstrack.checkpoint import DEFAULT_MODEL
from sdstrack.datasets import load_dataset
from sdstrack.demo import run_demo
from sdstrack.evaluation.metrics import iou


def test_demo_writes_the_clip_boxes_and_video_and_scores_them(tmp_path):
    result = run_demo(out=tmp_path / "demo", frames=12, size=(160, 120), device="cpu")
    sequence = load_dataset("folder", result.clip)[0]
    written = np.loadtxt(tmp_path / "demo" / "boxes.txt", delimiter=",")
    assert written.shape == (12, 5) and result.frames == 12 and result.frames_per_s > 0
    assert np.allclose(written[0, :4], sequence.groundtruth[0], atol=1e-4)
    # Independent oracle: the success curve (IoU > t over 21 thresholds, first frame = ground truth).
    overlaps = iou(np.vstack([sequence.groundtruth[:1], written[1:, :4]]), sequence.groundtruth)[~sequence.absent]
    expected = np.mean([(overlaps > t).mean() for t in np.linspace(0, 1, 21)])
    assert abs(result.success_auc - expected) <= 1e-9
    capture = cv2.VideoCapture(str(result.video))
    count = 0
    while capture.read()[0]:
        count += 1
    assert count == 12


def test_demo_tracks_an_existing_clip_again(tmp_path):
    first = run_demo(out=tmp_path / "a", frames=8, size=(160, 120), device="cpu", render=False)
    again = run_demo(out=tmp_path / "b", clip=first.clip, device="cpu", render=False)
    assert again.video is None and again.success_auc == first.success_auc
    assert np.array_equal(np.loadtxt(tmp_path / "a" / "boxes.txt", delimiter=","),
                          np.loadtxt(tmp_path / "b" / "boxes.txt", delimiter=","))


def test_demo_command_names_no_model(tmp_path, capsys):
    from sdstrack.cli import main

    code = main(["demo", "--out", str(tmp_path / "d"), "--frames", "6", "--size", "96x80", "--device", "cpu",
                 "--no-render"])
    out = capsys.readouterr().out
    assert code == 0 and f"{DEFAULT_MODEL} on" in out and "success AUC" in out and "frames/s" in out
    assert len((tmp_path / "d" / "boxes.txt").read_text().splitlines()) == 6


def test_the_readme_command_runs_as_written_and_again(tmp_path, monkeypatch, capsys):
    """`sdstrack demo` with no option in a fresh directory, twice: its output folder must not hide the model."""
    from sdstrack.cli import main

    monkeypatch.chdir(tmp_path)
    for _ in range(2):
        assert main(["demo", "--frames", "5", "--size", "96x80", "--device", "cpu", "--no-render"]) == 0
        assert len((tmp_path / "demo-output" / "boxes.txt").read_text().splitlines()) == 5
    assert f"{DEFAULT_MODEL} on" in capsys.readouterr().out


def test_compiled_demo_tracks_as_the_eager_one_and_times_after_compiling(tmp_path, capsys):
    """`sdstrack demo --compile`: torch.compile changes the speed, not the track (oracle: the eager run's boxes
    on the same clip); compiling happens on the first frames before the timing, and the track starts afresh."""
    from sdstrack.cli import main

    eager = run_demo(out=tmp_path / "eager", frames=6, size=(96, 80), device="cpu", render=False)
    assert eager.compile_seconds is None
    assert main(["demo", "--clip", str(eager.clip), "--out", str(tmp_path / "compiled"), "--device", "cpu",
                 "--no-render", "--compile"]) == 0
    assert "frames/s, compiled (compiling took" in capsys.readouterr().out
    compiled = np.loadtxt(tmp_path / "compiled" / "boxes.txt", delimiter=",")
    assert np.allclose(compiled, np.loadtxt(tmp_path / "eager" / "boxes.txt", delimiter=","), atol=1e-3)
