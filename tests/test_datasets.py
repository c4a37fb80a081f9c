"""sdstrack.datasets: every benchmark layout written by tests/benchmark_layouts.py and read back, and the
errors for broken folders (each naming the file or sequence)."""

from pathlib import Path

import numpy as np
import pytest

from sdstrack.datasets import DATASETS, DatasetError, Sequence, load_dataset

from .benchmark_layouts import (
    DEFAULT_SEQUENCES,
    LAYOUTS,
    OCCLUSION_TAG,
    SIZE,
    X_FORMAT,
    absent_frames,
    infrared_groundtruth,
    write_benchmark,
)

WIDTH, HEIGHT = SIZE


@pytest.fixture(scope="module")
def benchmarks(tmp_path_factory) -> dict[str, tuple[Path, dict[str, np.ndarray]]]:
    """Each layout written once (read-only for the tests that use it): root and ground truths."""
    written = {}
    for layout in LAYOUTS:
        root = tmp_path_factory.mktemp(layout.replace("-", "_"))
        written[layout] = root, write_benchmark(layout, root)
    return written


def _written(tmp_path: Path, layout: str, sequences: dict[str, int] | None = None, **kwargs) -> Path:
    write_benchmark(layout, tmp_path, sequences or {"seq": 8}, **kwargs)
    return tmp_path


def test_registry_names_the_six_layouts():
    assert set(DATASETS) == set(LAYOUTS)
    with pytest.raises(ValueError, match="unknown dataset 'otb'.*depthtrack, vot-rgbd, lasher, rgbt234, visevent"):
        load_dataset("otb", ".")


@pytest.mark.parametrize("layout", LAYOUTS)
def test_every_layout_reads_back_what_was_written(layout, benchmarks):
    root, truths = benchmarks[layout]
    sequences = load_dataset(layout, root)
    order = sorted(truths, reverse=True) if layout == "vot-rgbd" else sorted(truths)  # vot-rgbd: list.txt order
    assert [s.name for s in sequences] == order
    for sequence in sequences:
        count = DEFAULT_SEQUENCES[sequence.name]
        assert isinstance(sequence, Sequence) and len(sequence) == count
        assert sequence.x_format == X_FORMAT.get(layout, "depth")
        assert len(sequence.rgb_files) == len(sequence.x_files) == count
        assert sequence.groundtruth.dtype == np.float64 and sequence.groundtruth.shape == (count, 4)
        assert np.array_equal(sequence.groundtruth, truths[sequence.name], equal_nan=True)
        assert sequence.absent.dtype == bool and np.array_equal(sequence.absent, absent_frames(count))
        frames = list(sequence)
        assert len(frames) == count
        for rgb, x in frames:
            assert rgb.dtype == np.uint8 and rgb.shape == (HEIGHT, WIDTH, 3)
            if sequence.x_format == "depth":
                assert x.dtype == np.uint16 and x.shape == (HEIGHT, WIDTH)
            else:
                assert x.dtype == np.uint8 and x.shape == (HEIGHT, WIDTH, 3)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_attributes_and_extra_groundtruth(layout, benchmarks):
    root, truths = benchmarks[layout]
    for sequence in load_dataset(layout, root):
        if layout in ("depthtrack", "vot-rgbd"):  # vot-rgbd's tag files stop at their last 1: padded with False
            assert list(sequence.attributes) == [OCCLUSION_TAG]
            assert np.array_equal(sequence.attributes[OCCLUSION_TAG], absent_frames(len(sequence)))
        else:
            assert sequence.attributes == {}
        if layout in ("lasher", "rgbt234"):
            assert list(sequence.extra_groundtruth) == ["visible", "infrared"]
            assert np.array_equal(sequence.extra_groundtruth["visible"], sequence.groundtruth)
            assert np.array_equal(sequence.extra_groundtruth["infrared"], infrared_groundtruth(truths[sequence.name]))
        else:
            assert sequence.extra_groundtruth == {}


def test_depth_is_16_bit_with_the_target_nearer(benchmarks):
    root, truths = benchmarks["depthtrack"]
    sequence = load_dataset("depthtrack", root, ["alpha"])[0]
    _, depth = sequence.frame(0)
    x, y, w, h = truths["alpha"][0].astype(int)
    assert np.median(depth[y : y + h, x : x + w]) == 1500 and np.median(depth) > 3000


@pytest.mark.parametrize("layout", ["lasher", "rgbt234"])
@pytest.mark.parametrize("naming", ["lasher", "rgbt234"])
def test_rgbt_layouts_read_both_frame_naming_schemes(layout, naming, tmp_path):
    truths = write_benchmark(layout, tmp_path, {"seq": 12}, naming=naming)
    sequence = load_dataset(layout, tmp_path)[0]
    first = ("v000000.jpg", "i000000.jpg") if naming == "lasher" else ("00001v.jpg", "00001i.jpg")
    assert (sequence.rgb_files[0].name, sequence.x_files[0].name) == first
    last = ("v000011.jpg", "i000011.jpg") if naming == "lasher" else ("00012v.jpg", "00012i.jpg")
    assert (sequence.rgb_files[-1].name, sequence.x_files[-1].name) == last
    assert np.array_equal(sequence.groundtruth, truths["seq"])


def test_frames_sort_by_number_not_by_name(tmp_path):
    root = _written(tmp_path, "lasher", {"seq": 12})
    for channel, letter in (("visible", "v"), ("infrared", "i")):
        for file in list((root / "seq" / channel).iterdir()):  # unpadded numbers: v10.jpg sorts before v2.jpg by name
            file.rename(file.with_name(f"{letter}{int(file.stem[1:])}.jpg"))
    sequence = load_dataset("lasher", root)[0]
    assert [f.name for f in sequence.rgb_files[:3]] == ["v0.jpg", "v1.jpg", "v2.jpg"]
    assert sequence.x_files[10].name == "i10.jpg"


def test_requested_sequences_come_in_the_order_asked(benchmarks):
    root, _ = benchmarks["visevent"]
    assert [s.name for s in load_dataset("visevent", root, ["charlie", "alpha"])] == ["charlie", "alpha"]


@pytest.mark.parametrize("layout", LAYOUTS)
def test_a_missing_requested_sequence_is_named_with_some_that_exist(layout, benchmarks):
    root, _ = benchmarks[layout]
    with pytest.raises(DatasetError, match=r"sequence 'delta' not found: .* 3 sequences \(.*bravo.*\); check the name"):
        load_dataset(layout, root, ["alpha", "delta"])


def test_list_files_order_the_benchmark(tmp_path):
    root = _written(tmp_path, "visevent", {"a": 6, "b": 6, "c": 6})
    (root / "testlist.txt").write_text("c\na\n\n")
    assert [s.name for s in load_dataset("visevent", root)] == ["c", "a"]
    with pytest.raises(DatasetError, match=r"sequence 'b' not found: .*testlist.txt lists 2 sequences \(c, a\)"):
        load_dataset("visevent", root, ["b"])


def test_a_listed_sequence_without_folder(tmp_path):
    root = _written(tmp_path, "vot-rgbd", {"seq": 6})
    (root / "list.txt").write_text("seq\ngone\n")
    with pytest.raises(DatasetError, match=r"sequence gone: folder .*gone is missing; .*remove gone from"):
        load_dataset("vot-rgbd", root)


def test_vot_workspace_root_and_sequence_file_patterns(tmp_path):
    truths = write_benchmark("vot-rgbd", tmp_path / "sequences", {"seq": 6})
    folder = tmp_path / "sequences" / "seq"
    (folder / "color").rename(folder / "rgb")
    for file in list((folder / "rgb").iterdir()):
        file.rename(file.with_name(f"{int(file.stem):06d}.jpg"))
    (folder / "depth" / "notes.png").write_bytes(b"")  # not matching the pattern: ignored
    (folder / "sequence").write_text("channels.color=rgb/%06d.jpg\nchannels.depth=depth/%08d.png\nnot a property\n")
    sequence = load_dataset("vot-rgbd", tmp_path)[0]  # a workspace: its sequences/ folder is read
    assert sequence.rgb_files[0].name == "000001.jpg" and len(sequence) == 6
    assert np.array_equal(sequence.groundtruth, truths["seq"], equal_nan=True)


def test_vot_groundtruth_forms(tmp_path):
    root = _written(tmp_path, "vot-rgbd", {"seq": 6})
    (root / "seq" / "groundtruth.txt").write_text(
        "1,2,3,4\n"  # rectangle
        "10 20 30 20 30 40 10 40\n"  # polygon, space-separated
        "nan,nan,nan,nan\n"  # unknown
        "2\n"  # special code (failure)
        "m5,6,3,2,1,2,2,1\n"  # mask 3x2 at (5, 6): 0 1 1 / 0 0 1 -> box x 6..7, y 6..7
        "m0,0,2,2,4\n"  # empty mask
    )
    sequence = load_dataset("vot-rgbd", root)[0]
    nan = np.nan
    expected = [[1, 2, 3, 4], [10, 20, 20, 20], [nan] * 4, [nan] * 4, [6, 6, 2, 2], [nan] * 4]
    assert np.array_equal(sequence.groundtruth, expected, equal_nan=True)
    assert sequence.absent.tolist() == [False, False, True, True, False, True]


def test_rgbt_init_txt_polygons_and_separators(tmp_path):
    root = _written(tmp_path, "lasher", {"seq": 6})
    (root / "seq" / "visible.txt").unlink()
    (root / "seq" / "infrared.txt").unlink()
    (root / "seq" / "init.txt").write_text("1,2,3,4\n1\t2\t3\t4\n1 2 3 4\n1, 2, 3, 4\n0,0,0,0\n"
                                           "10,20,30,20,30,40,10,40\n\n\n")
    sequence = load_dataset("lasher", root)[0]
    assert np.array_equal(sequence.groundtruth, [[1, 2, 3, 4]] * 4 + [[0, 0, 0, 0], [10, 20, 20, 20]])
    assert sequence.absent.tolist() == [False] * 4 + [True, False]
    assert list(sequence.extra_groundtruth) == ["visible"]


def test_visevent_absent_label_one_means_present(tmp_path):
    root = _written(tmp_path, "visevent", {"seq": 6})
    (root / "seq" / "absent_label.txt").write_text("1\n0\n1\n1\n1\n1\n")  # frame 2 absent, its box still valid
    (root / "seq" / "groundtruth.txt").write_text("1,2,3,4\n" * 5 + "0,0,0,0\n")  # frame 6: no box
    sequence = load_dataset("visevent", root)[0]
    assert sequence.absent.tolist() == [False, True, False, False, False, True]
    (root / "seq" / "absent_label.txt").unlink()  # optional: then only invalid boxes are absent
    assert load_dataset("visevent", root)[0].absent.tolist() == [False] * 5 + [True]


@pytest.mark.parametrize("x_format", ["thermal", "event"])
def test_folder_layout_x_format_and_a_single_sequence_root(tmp_path, x_format):
    truths = write_benchmark("folder", tmp_path, {"clip": 6}, x_format=x_format)
    for root in (tmp_path, tmp_path / "clip"):
        (sequence,) = load_dataset("folder", root)
        assert sequence.name == "clip" and sequence.x_format == x_format
        assert np.array_equal(sequence.groundtruth, truths["clip"], equal_nan=True)
        assert sequence.frame(0)[1].shape == (HEIGHT, WIDTH, 3)
    with pytest.raises(DatasetError, match="sequence 'other' not found: .*clip is the single sequence 'clip'"):
        load_dataset("folder", tmp_path / "clip", ["other"])


# Errors: each names the sequence or file, and the fix.

CHANNELS = {"depthtrack": ("color", "depth"), "vot-rgbd": ("color", "depth"), "lasher": ("visible", "infrared"),
            "rgbt234": ("visible", "infrared"), "visevent": ("vis_imgs", "event_imgs"), "folder": ("color", "depth")}
GROUNDTRUTH = {"depthtrack": "groundtruth.txt", "vot-rgbd": "groundtruth.txt", "lasher": "visible.txt",
               "rgbt234": "visible.txt", "visevent": "groundtruth.txt", "folder": "groundtruth.txt"}


@pytest.mark.parametrize("layout", LAYOUTS)
def test_channel_frame_counts_that_differ(layout, tmp_path):
    root = _written(tmp_path, layout)
    sorted((root / "seq" / CHANNELS[layout][1]).iterdir())[-1].unlink()
    with pytest.raises(DatasetError, match=rf"sequence seq: .*{CHANNELS[layout][0]} has 8 frames but .*"
                                           rf"{CHANNELS[layout][1]} has 7"):
        load_dataset(layout, root)


@pytest.mark.parametrize("layout", ["depthtrack", "vot-rgbd", "lasher", "rgbt234", "visevent"])
def test_unpaired_frame_names(layout, tmp_path):
    root = _written(tmp_path, layout)
    file = sorted((root / "seq" / CHANNELS[layout][1]).iterdir())[2]
    renamed = file.with_name(file.name.replace("0002", "0099").replace("0003", "0099"))
    file.rename(renamed)
    with pytest.raises(DatasetError, match=r"sequence seq: .* has no partner in .*add the missing file or remove"):
        load_dataset(layout, root)


def test_two_files_with_one_frame_number(tmp_path):
    root = _written(tmp_path, "depthtrack")
    (root / "seq" / "color" / "00000003.png").write_bytes(b"")
    with pytest.raises(DatasetError, match=r"sequence seq: 00000003.jpg and 00000003.png in .*color are both "
                                           r"frame 3; keep one"):
        load_dataset("depthtrack", root)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_unreadable_image_is_named_when_read(layout, tmp_path):
    root = _written(tmp_path, layout)
    broken = sorted((root / "seq" / CHANNELS[layout][0]).iterdir())[4]
    broken.write_bytes(b"not an image")
    sequence = load_dataset(layout, root)[0]  # listing works: frames are read lazily
    sequence.frame(3)
    with pytest.raises(DatasetError, match=rf"sequence seq, frame 5: OpenCV cannot read .*{broken.name}"):
        sequence.frame(4)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_groundtruth_length_mismatch(layout, tmp_path):
    root = _written(tmp_path, layout)
    path = root / "seq" / GROUNDTRUTH[layout]
    path.write_text("".join(path.read_text().splitlines(keepends=True)[:-2]))
    with pytest.raises(DatasetError, match=rf"{GROUNDTRUTH[layout]} has 6 boxes but .*8 frames"):
        load_dataset(layout, root)


def test_infrared_groundtruth_length_mismatch(tmp_path):
    root = _written(tmp_path, "rgbt234")
    path = root / "seq" / "infrared.txt"
    path.write_text(path.read_text() + "1\t2\t3\t4\n")
    with pytest.raises(DatasetError, match=r"sequence seq: .*infrared.txt has 9 boxes but the sequence has 8"):
        load_dataset("rgbt234", root)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_malformed_groundtruth_line_names_file_and_line(layout, tmp_path):
    root = _written(tmp_path, layout)
    path = root / "seq" / GROUNDTRUTH[layout]
    lines = path.read_text().splitlines()
    lines[2] = "12,13,fourteen"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DatasetError, match=rf"{GROUNDTRUTH[layout]} line 3: .*'12,13,fourteen'"):
        load_dataset(layout, root)


@pytest.mark.parametrize("line", ["1,2,3", "1,2,3,4,5,6", "7", ""])
def test_malformed_lines_outside_vot(line, tmp_path):
    root = _written(tmp_path, "lasher")
    (root / "seq" / "visible.txt").write_text(f"1,2,3,4\n{line}\n" + "1,2,3,4\n" * 6)
    with pytest.raises(DatasetError, match="visible.txt line 2: expected x,y,w,h, a polygon"):
        load_dataset("lasher", root)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_missing_channel_folder(layout, tmp_path):
    root = _written(tmp_path, layout)
    folder = root / "seq" / CHANNELS[layout][1]
    for file in folder.iterdir():
        file.unlink()
    folder.rmdir()
    message = "must hold exactly one X folder" if layout == "folder" else rf"folder .*{folder.name} is missing"
    with pytest.raises(DatasetError, match=rf"sequence seq: .*{message}"):
        load_dataset(layout, root)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_missing_groundtruth(layout, tmp_path):
    root = _written(tmp_path, layout)
    for name in ("groundtruth.txt", "visible.txt", "init.txt"):
        (root / "seq" / name).unlink(missing_ok=True)
    message = {"lasher": "neither .*visible.txt nor .*init.txt exists", "rgbt234": "neither .*visible.txt nor"}
    with pytest.raises(DatasetError, match=rf"sequence seq: .*{message.get(layout, 'groundtruth.txt .*missing')}"):
        load_dataset(layout, root)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_root_that_is_not_a_folder_or_is_empty(layout, tmp_path):
    with pytest.raises(DatasetError, match=r"nowhere is not a folder: pass the benchmark's folder"):
        load_dataset(layout, tmp_path / "nowhere")
    with pytest.raises(DatasetError, match=r"holds no sequences: put one sub-folder per sequence"):
        load_dataset(layout, tmp_path)


def test_empty_channel_folder_and_empty_groundtruth(tmp_path):
    root = _written(tmp_path, "visevent")
    (root / "seq" / "groundtruth.txt").write_text("\n")
    with pytest.raises(DatasetError, match=r"sequence seq: .*groundtruth.txt is empty"):
        load_dataset("visevent", root)
    for file in (root / "seq" / "event_imgs").iterdir():
        file.unlink()
    with pytest.raises(DatasetError, match=r"sequence seq: .*event_imgs holds no image files"):
        load_dataset("visevent", root)


def test_malformed_flag_files(tmp_path):
    root = _written(tmp_path, "depthtrack")
    tag = root / "seq" / f"{OCCLUSION_TAG}.tag"
    tag.write_text("0\n1\nyes\n")
    with pytest.raises(DatasetError, match=rf"{OCCLUSION_TAG}.tag line 3: expected 0 or 1, got 'yes'"):
        load_dataset("depthtrack", root)
    tag.write_text("0\n" * 9)
    with pytest.raises(DatasetError, match=rf"sequence seq: .*{OCCLUSION_TAG}.tag has 9 lines but the sequence has 8"):
        load_dataset("depthtrack", root)
    visevent = _written(tmp_path / "visevent", "visevent")
    (visevent / "seq" / "absent_label.txt").write_text("1\n" * 7)
    with pytest.raises(DatasetError, match=r"sequence seq: .*absent_label.txt has 7 lines but the sequence has 8"):
        load_dataset("visevent", visevent)


def test_sequence_file_errors(tmp_path):
    root = _written(tmp_path, "vot-rgbd")
    (root / "seq" / "sequence").write_text("channels.color=color/frame.jpg\nchannels.depth=depth/%08d.png\n")
    with pytest.raises(DatasetError, match=r"sequence seq: frame name pattern 'frame.jpg' has no %d"):
        load_dataset("vot-rgbd", root)
    (root / "seq" / "sequence").write_text("channels.color=color/%08d.png\nchannels.depth=depth/%08d.png\n")
    with pytest.raises(DatasetError, match=r"sequence seq: .*color holds no files named like %08d.png"):
        load_dataset("vot-rgbd", root)


def test_folder_layout_reads_tag_files_as_per_frame_attributes(tmp_path):
    from sdstrack.datasets.synthetic import write_synthetic

    write_synthetic(tmp_path, sequences=1, length=12, size=(96, 72), seed=5, low_light=1.0)
    sequence = load_dataset("folder", tmp_path)[0]
    folder = tmp_path / sequence.name
    for name, flags in sequence.attributes.items():
        written = [line != "0" for line in (folder / f"{name}.tag").read_text().split()]
        assert flags.dtype == bool and flags.tolist() == written
    assert sequence.attributes["low_light"].any()


def test_folder_layout_reads_box_files_as_other_objects_boxes(tmp_path):
    root = _written(tmp_path, "folder")
    assert load_dataset("folder", root)[0].distractors == {}  # no .box file: no other objects
    (root / "seq" / "look-alike.box").write_text("nan,nan,nan,nan\n" * 3 + "10,12,20,16\n" * 5)
    boxes = load_dataset("folder", root)[0].distractors["look-alike"]
    assert np.isnan(boxes[:3]).all() and (boxes[3:] == [10, 12, 20, 16]).all() and boxes.shape == (8, 4)
    (root / "seq" / "look-alike.box").write_text("10,12,20,16\n" * 7)
    with pytest.raises(DatasetError, match=r"sequence seq: .*look-alike.box has 7 boxes but the sequence has 8"):
        load_dataset("folder", root)
    (root / "seq" / "look-alike.box").write_text("10,12,20\n" * 8)
    with pytest.raises(DatasetError, match=r"look-alike.box line 1: expected x,y,w,h"):
        load_dataset("folder", root)
