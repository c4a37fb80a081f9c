"""sdstrack.io: frame sources and the sequence-folder layout, on small folders written here."""

from pathlib import Path

import cv2
import numpy as np
import pytest

from sdstrack.io import FrameSource, SequenceFolder, check_same_length, color_frame, draw_result, read_groundtruth

HEIGHT, WIDTH = 12, 16


def _frames(count: int, seed: int = 0) -> tuple[list[np.ndarray], list[np.ndarray]]:
    rng = np.random.default_rng(seed)
    colors = [rng.integers(0, 256, (HEIGHT, WIDTH, 3), dtype=np.uint8) for _ in range(count)]
    depths = [rng.integers(0, 65536, (HEIGHT, WIDTH), dtype=np.uint16) for _ in range(count)]
    return colors, depths


def _write_sequence(folder: Path, count: int = 3, x_name: str = "depth", x_count: int | None = None,
                    groundtruth: str | None = None) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Frames written as color/%08d.png (BGR as cv2.imwrite takes them) and X_NAME/%08d.png (uint16)."""
    colors, depths = _frames(max(count, x_count or 0))
    (folder / "color").mkdir(parents=True)
    (folder / x_name).mkdir()
    for i in range(count):
        cv2.imwrite(str(folder / "color" / f"{i + 1:08d}.png"), colors[i])
    for i in range(count if x_count is None else x_count):
        cv2.imwrite(str(folder / x_name / f"{i + 1:08d}.png"), depths[i])
    if groundtruth is not None:
        (folder / "groundtruth.txt").write_text(groundtruth)
    return colors[:count], depths[:count]


def test_sequence_folder_reads_frames_and_groundtruth(tmp_path):
    colors, depths = _write_sequence(tmp_path, groundtruth="1,2,3,4\n5.5\t6 7,8\n-2, 0,10,10\n\n")
    (tmp_path / "color" / "notes.txt").write_text("not a frame")
    sequence = SequenceFolder(tmp_path)
    assert sequence.path == tmp_path and sequence.x_format == "depth" and len(sequence) == 3
    assert isinstance(sequence.rgb, FrameSource) and isinstance(sequence.x, FrameSource)
    assert sequence.groundtruth.dtype == np.float64
    assert np.array_equal(sequence.groundtruth, [[1, 2, 3, 4], [5.5, 6, 7, 8], [-2, 0, 10, 10]])
    assert sequence.first_box == (1.0, 2.0, 3.0, 4.0)
    pairs = list(sequence)
    assert len(pairs) == 3
    for (rgb, x), color, depth in zip(pairs, colors, depths):
        assert rgb.dtype == np.uint8 and np.array_equal(rgb, color)  # BGR, exactly as written
        assert x.dtype == np.uint16 and np.array_equal(x, depth)  # 16-bit unchanged


@pytest.mark.parametrize("x_name", ["thermal", "event"])
def test_x_format_is_the_folder_name_and_groundtruth_is_optional(tmp_path, x_name):
    _write_sequence(tmp_path, count=2, x_name=x_name)
    sequence = SequenceFolder(tmp_path)
    assert sequence.x_format == x_name and sequence.groundtruth is None and sequence.first_box is None


def test_frames_are_read_in_name_order(tmp_path):
    colors, _ = _frames(3)
    for name, color in zip(["b.png", "c.png", "a.png"], colors):
        cv2.imwrite(str(tmp_path / name), color)
    source = FrameSource(tmp_path)
    assert [p.name for p in source.files] == ["a.png", "b.png", "c.png"] and source.fps is None
    assert np.array_equal(next(iter(source)), colors[2])


def test_missing_color_folder(tmp_path):
    (tmp_path / "depth").mkdir()
    with pytest.raises(FileNotFoundError, match=r"has no color/ folder"):
        SequenceFolder(tmp_path)


def test_missing_sequence_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"nowhere is not a folder"):
        SequenceFolder(tmp_path / "nowhere")


def test_no_x_folder(tmp_path):
    (tmp_path / "color").mkdir()
    with pytest.raises(ValueError, match=r"exactly one X folder of depth, thermal, event, found none"):
        SequenceFolder(tmp_path)


def test_several_x_folders(tmp_path):
    _write_sequence(tmp_path)
    (tmp_path / "thermal").mkdir()
    with pytest.raises(ValueError, match=r"found several \(depth, thermal\)"):
        SequenceFolder(tmp_path)


def test_frame_count_mismatch(tmp_path):
    _write_sequence(tmp_path, count=3, x_count=2)
    with pytest.raises(ValueError, match=r"color has 3 frames but .*depth has 2"):
        SequenceFolder(tmp_path)


def test_groundtruth_length_mismatch(tmp_path):
    _write_sequence(tmp_path, count=3, groundtruth="1,2,3,4\n1,2,3,4\n")
    with pytest.raises(ValueError, match=r"groundtruth.txt has 2 boxes but .* has 3 frames"):
        SequenceFolder(tmp_path)


@pytest.mark.parametrize("bad", ["1,2,3", "1,2,3,4,5", "1,2,x,4", ""])
def test_malformed_groundtruth_line_is_named(tmp_path, bad):
    _write_sequence(tmp_path, count=3, groundtruth=f"1,2,3,4\n{bad}\n1,2,3,4\n")
    with pytest.raises(ValueError, match=rf"groundtruth.txt line 2: expected 4 numbers x,y,w,h .*got '{bad}'"):
        SequenceFolder(tmp_path)


def test_groundtruth_keeps_nan_for_absent_targets(tmp_path):
    path = tmp_path / "groundtruth.txt"
    path.write_text("1,2,3,4\nnan,nan,nan,nan\n")
    boxes = read_groundtruth(path)
    assert boxes.shape == (2, 4) and np.isnan(boxes[1]).all()


def test_empty_groundtruth(tmp_path):
    path = tmp_path / "groundtruth.txt"
    path.write_text("\n")
    with pytest.raises(ValueError, match=r"groundtruth.txt is empty"):
        read_groundtruth(path)


def test_empty_image_folder_and_missing_source(tmp_path):
    with pytest.raises(ValueError, match=r"holds no image files"):
        FrameSource(tmp_path)
    with pytest.raises(FileNotFoundError, match=r"neither a folder of images nor a video file"):
        FrameSource(tmp_path / "missing")


def test_check_same_length(tmp_path):
    _write_sequence(tmp_path, count=2, x_count=1)
    rgb, x = FrameSource(tmp_path / "color"), FrameSource(tmp_path / "depth")
    with pytest.raises(ValueError, match=r"has 2 frames but"):
        check_same_length(rgb, x)
    assert check_same_length(rgb, rgb) == 2


def test_video_source(tmp_path):
    path = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 12.0, (WIDTH * 2, HEIGHT * 2))
    assert writer.isOpened()
    for _ in range(4):
        writer.write(np.full((HEIGHT * 2, WIDTH * 2, 3), 128, np.uint8))
    writer.release()
    source = FrameSource(path)
    frames = list(source)
    assert len(source) == len(frames) == 4 and source.fps == pytest.approx(12.0) and source.files is None
    assert frames[0].shape == (HEIGHT * 2, WIDTH * 2, 3)


def test_color_frame_and_draw_result():
    gray = np.arange(12, dtype=np.uint8).reshape(3, 4)
    assert np.array_equal(color_frame(gray), np.repeat(gray[..., None], 3, axis=2))
    bgra = np.zeros((3, 4, 4), np.uint8)
    assert color_frame(bgra).shape == (3, 4, 3)
    frame = np.zeros((40, 50, 3), np.uint8)
    drawn = draw_result(frame, (10, 10, 20, 15), 0.5)
    assert not frame.any() and (drawn[10, 15] == (0, 0, 255)).all()
