"""`sdstrack track` end to end: on the parity clip against the original tracker, and on a demo sequence folder."""

import cv2
import numpy as np
import pytest

from sdstrack.cli import main

from .conftest import BUNDLED_MODEL, DEMO_FRAMES


def test_track_writes_boxes_and_a_readable_video(tiny_dir, fixtures, tmp_path, capsys):
    boxes, video = tmp_path / "boxes.txt", tmp_path / "tracked.mp4"
    first = (fixtures / "sequence/groundtruth.txt").read_text().splitlines()[0]
    code = main(["track", "--model", str(tiny_dir), "--rgb", str(fixtures / "sequence/color"),
                 "--x", str(fixtures / "sequence/depth"), "--box", first, "--out", str(boxes),
                 "--render", str(video), "--device", "cpu"])
    assert code == 0
    output = capsys.readouterr()
    assert "tracked 24 frames in" in output.out and "frames/s on cpu (float32)" in output.out
    assert "24/24" in output.err and "frames/s" in output.err  # the progress bar
    ours = np.loadtxt(boxes, delimiter=",")
    reference = np.loadtxt(fixtures / "official_track.txt", delimiter=",")
    assert np.abs(ours - reference).max() <= 1e-5 + 0.01
    capture = cv2.VideoCapture(str(video))
    frames = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(frame)
    assert len(frames) == 24 and frames[0].shape == (360, 480, 3)


def test_track_sequence_folder_equals_rgb_and_x(demo_clip, tmp_path, capsys):
    by_folder, by_parts = tmp_path / "folder.txt", tmp_path / "parts.txt"
    assert main(["track", "--model", str(BUNDLED_MODEL), "--sequence", str(demo_clip), "--out", str(by_folder),
                 "--device", "cpu"]) == 0
    first = (demo_clip / "groundtruth.txt").read_text().splitlines()[0]
    assert main(["track", "--model", str(BUNDLED_MODEL), "--rgb", str(demo_clip / "color"),
                 "--x", str(demo_clip / "depth"), "--box", first, "--out", str(by_parts), "--device", "cpu"]) == 0
    assert f"tracked {DEMO_FRAMES} frames" in capsys.readouterr().out
    lines = by_folder.read_text().splitlines()
    assert len(lines) == DEMO_FRAMES and lines == by_parts.read_text().splitlines()
    assert np.array_equal(np.loadtxt(lines[:1], delimiter=","), [*map(float, first.split(",")), 1.0])


def test_negative_box_is_accepted(demo_clip, tmp_path):
    out = tmp_path / "boxes.txt"
    assert main(["track", "--model", str(BUNDLED_MODEL), "--sequence", str(demo_clip), "--box", "-5,10,60,50",
                 "--out", str(out), "--device", "cpu"]) == 0
    assert out.read_text().splitlines()[0] == "-5.000000,10.000000,60.000000,50.000000,1.000000"


@pytest.mark.parametrize("option", ["--out", "--render"])
def test_missing_output_folder_fails_before_loading_the_model(option, demo_clip, tmp_path, capsys):
    target = tmp_path / "missing_dir" / "result"
    code = main(["track", "--model", str(tmp_path / "no_such_model"), "--sequence", str(demo_clip),
                 option, str(target)])
    assert code == 2
    err = capsys.readouterr().err
    assert f"{option} {target}" in err and "create the folder" in err


def test_results_already_tracked_survive_a_crash(demo_clip, tmp_path, monkeypatch):
    from sdstrack.tracker import Tracker

    update, calls = Tracker.update, []

    def failing_update(self, *args, **kwargs):
        calls.append(None)
        if len(calls) == 3:
            raise RuntimeError("sensor unplugged")
        return update(self, *args, **kwargs)

    monkeypatch.setattr(Tracker, "update", failing_update)
    out = tmp_path / "boxes.txt"
    with pytest.raises(RuntimeError, match="sensor unplugged"):
        main(["track", "--model", str(BUNDLED_MODEL), "--sequence", str(demo_clip), "--out", str(out),
              "--device", "cpu"])
    assert len(out.read_text().splitlines()) == 3  # init + two updates


def test_sequence_without_groundtruth_needs_a_box(demo_clip, tmp_path, capsys):
    for name in ("color", "depth"):
        (tmp_path / name).mkdir()
        for file in sorted((demo_clip / name).iterdir())[:2]:
            (tmp_path / name / file.name).write_bytes(file.read_bytes())
    assert main(["track", "--model", str(BUNDLED_MODEL), "--sequence", str(tmp_path)]) == 2
    assert "has no groundtruth.txt: pass the first frame's box with --box" in capsys.readouterr().err


@pytest.mark.parametrize("sources, message", [
    (["--sequence", "S", "--rgb", "R"], "either --sequence DIR, or --rgb and --x, not both"),
    (["--rgb", "R"], "pass --sequence DIR, or both --rgb and --x"),
    (["--rgb", "R", "--x", "X"], "pass the first frame's box with --box"),
])
def test_track_names_the_missing_inputs(sources, message, capsys):
    assert main(["track", "--model", "M", *sources]) == 2
    assert message in capsys.readouterr().err


def test_track_refuses_mismatched_sequences(tiny_dir, fixtures, tmp_path, capsys):
    short = tmp_path / "short"
    short.mkdir()
    for name in sorted((fixtures / "sequence/depth").iterdir())[:5]:
        (short / name.name).write_bytes(name.read_bytes())
    code = main(["track", "--model", str(tiny_dir), "--rgb", str(fixtures / "sequence/color"), "--x", str(short),
                 "--box", "85,119,70,62", "--device", "cpu"])
    assert code == 2
    assert "has 24 frames but" in capsys.readouterr().err


@pytest.mark.parametrize("option", [["--box", "1,2,3"], ["--box", "-1,2,3"], ["--dtype", "float64"],
                                    ["--x-format", "lidar"]])
def test_track_rejects_malformed_options(option, capsys):
    with pytest.raises(SystemExit):
        main(["track", "--model", "M", "--rgb", "a", "--x", "b", *option])
    assert option[0] in capsys.readouterr().err
