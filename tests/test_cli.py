"""`sdstrack track` end to end on the parity clip."""

import cv2
import numpy as np
import pytest

from sdstrack.cli import main


def test_track_writes_boxes_and_a_readable_video(tiny_dir, fixtures, tmp_path, capsys):
    boxes, video = tmp_path / "boxes.txt", tmp_path / "tracked.mp4"
    first = (fixtures / "sequence/groundtruth.txt").read_text().splitlines()[0]
    code = main(["track", "--model", str(tiny_dir), "--rgb", str(fixtures / "sequence/color"),
                 "--x", str(fixtures / "sequence/depth"), "--box", first, "--out", str(boxes),
                 "--render", str(video), "--device", "cpu"])
    assert code == 0
    output = capsys.readouterr()
    assert "frames/s" in output.out and "frame 24/24" in output.err
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


def test_track_refuses_mismatched_sequences(tiny_dir, fixtures, tmp_path, capsys):
    short = tmp_path / "short"
    short.mkdir()
    for name in sorted((fixtures / "sequence/depth").iterdir())[:5]:
        (short / name.name).write_bytes(name.read_bytes())
    code = main(["track", "--model", str(tiny_dir), "--rgb", str(fixtures / "sequence/color"), "--x", str(short),
                 "--box", "85,119,70,62", "--device", "cpu"])
    assert code == 2
    assert "has 24 frames but" in capsys.readouterr().err


def test_track_rejects_malformed_box(tiny_dir, fixtures):
    with pytest.raises(SystemExit):
        main(["track", "--model", str(tiny_dir), "--rgb", "a", "--x", "b", "--box", "1,2,3"])
