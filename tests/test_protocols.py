"""Sensor-failure protocols: reproducible from the seed, and what the tracker really receives."""

import cv2
import numpy as np
import pytest

from sdstrack.datasets import Sequence, load_dataset
from sdstrack.datasets.synthetic import write_synthetic
from sdstrack.evaluation.protocols import (
    SensorFailure,
    corrupt_frame,
    write_degraded_benchmark,
    write_degraded_sequence,
)
from sdstrack.evaluation.robustness import CONDITIONS
from sdstrack.evaluation.runner import track_sequence


class RecordingTracker:
    """Records what each init/update call received; returns the previous box."""

    def __init__(self):
        self.calls = []

    def init(self, rgb, x, box):
        self.calls.append((rgb, x))
        self.box = tuple(float(v) for v in box)
        return _Result(self.box, 1.0)

    def update(self, rgb, x):
        self.calls.append((rgb, x))
        return _Result(self.box, 0.5)


class _Result:
    def __init__(self, box, score):
        self.box, self.score = box, score


@pytest.fixture(scope="module")
def sequence(tmp_path_factory):
    folder = tmp_path_factory.mktemp("seq")
    rng = np.random.default_rng(0)
    rgb_files, x_files = [], []
    for i in range(40):
        rgb_files.append(folder / f"c{i:03d}.png")
        x_files.append(folder / f"d{i:03d}.png")
        cv2.imwrite(str(rgb_files[-1]), rng.integers(0, 255, (24, 32, 3), dtype=np.uint8))
        cv2.imwrite(str(x_files[-1]), rng.integers(1, 5000, (24, 32)).astype(np.uint16))
    groundtruth = np.tile([4.0, 4.0, 10.0, 8.0], (40, 1))
    return Sequence("walk", "depth", rgb_files, x_files, groundtruth, np.zeros(40, bool))


def test_same_seed_same_failures_other_seed_other_failures():
    a = SensorFailure(drop="x", drop_rate=0.5, seed=3)
    assert np.array_equal(a.dropped_frames("walk", 200), SensorFailure(drop="x", drop_rate=0.5, seed=3).dropped_frames(
        "walk", 200))
    assert not np.array_equal(a.dropped_frames("walk", 200), SensorFailure(drop="x", drop_rate=0.5, seed=4)
                              .dropped_frames("walk", 200))
    assert not np.array_equal(a.dropped_frames("walk", 200), a.dropped_frames("run", 200))
    dropped = a.dropped_frames("walk", 4001)
    assert not dropped[0] and abs(dropped[1:].mean() - 0.5) < 0.03


def test_the_tracker_really_receives_none_on_dropped_frames(sequence):
    for failure in [SensorFailure(drop="x", drop_rate=0.5, seed=1), SensorFailure(drop="rgb", drop_rate=0.3, seed=2),
                    SensorFailure(drop="x", drop_after=10)]:
        tracker = RecordingTracker()
        result = track_sequence(tracker, sequence, failure)
        expected = failure.dropped_frames(sequence.name, len(sequence))
        received_none = np.array([(rgb if failure.drop == "rgb" else x) is None for rgb, x in tracker.calls])
        other_none = np.array([(x if failure.drop == "rgb" else rgb) is None for rgb, x in tracker.calls])
        assert np.array_equal(received_none, expected) and not other_none.any()
        assert (result.x_missing if failure.drop == "x" else result.rgb_missing) == expected.sum()
        if failure.drop_after is not None:  # frames 1..10 delivered, none after
            assert not received_none[:10].any() and received_none[10:].all()


@pytest.mark.parametrize("corruption", ["zeros", "noise"])
def test_corrupted_x_frames_still_arrive_but_broken(sequence, corruption):
    failure = SensorFailure(corrupt="x", corruption=corruption, seed=5)
    tracker = RecordingTracker()
    track_sequence(tracker, sequence, failure)
    first_rgb, first_x = sequence.frame(0)
    assert np.array_equal(tracker.calls[0][1], first_x)  # the init frame is clean
    for index, (rgb, x) in enumerate(tracker.calls[1:], start=1):
        clean_rgb, clean_x = sequence.frame(index)
        assert x.dtype == clean_x.dtype and x.shape == clean_x.shape and np.array_equal(rgb, clean_rgb)
        assert not np.array_equal(x, clean_x)
        if corruption == "zeros":
            assert not x.any()
    replay = RecordingTracker()
    track_sequence(replay, sequence, failure)
    assert all(np.array_equal(a[1], b[1]) for a, b in zip(tracker.calls, replay.calls))


def test_noise_spans_the_frame_dtype_and_unknown_corruptions_are_named():
    rng = np.random.default_rng(0)
    depth = corrupt_frame(np.zeros((200, 200), np.uint16), "noise", rng)
    assert depth.dtype == np.uint16 and depth.min() < 1000 and depth.max() > 64000  # the full 16-bit range
    with pytest.raises(ValueError, match="corruption must be one of .*got 'blur'"):
        corrupt_frame(depth, "blur", rng)


def test_low_light_rgb_is_dark():
    frame = np.full((10, 10, 3), 200, np.uint8)
    dark = SensorFailure(corrupt="rgb", corruption="dark").apply("s", 1, frame, frame, np.zeros(2, bool))[0]
    assert dark.dtype == np.uint8 and 10 <= dark.mean() <= 30


@pytest.mark.parametrize("options, message", [
    ({"drop": "depth", "drop_rate": 0.5}, "drop must be one of"),
    ({"drop": "x", "drop_rate": 1.5}, r"drop_rate must lie in \[0, 1\]"),
    ({"drop_rate": 0.5}, "need drop='x' or drop='rgb'"),
    ({"drop": "x"}, "needs drop_rate > 0 or drop_after"),
    ({"drop": "x", "drop_after": 0}, "drop_after must be a frame number >= 1"),
    ({"corrupt": "x", "corruption": "dark"}, "use corrupt='rgb'"),
    ({"corrupt": "x", "corruption": "blur"}, "corruption must be one of"),
    ({"drop": "x", "drop_rate": 0.2, "corrupt": "x"}, "both dropped and corrupted"),
])
def test_bad_protocols_are_named(options, message):
    with pytest.raises(ValueError, match=message):
        SensorFailure(**options)


def test_descriptions():
    assert SensorFailure().describe() == "both sensors"
    assert SensorFailure(drop="x", drop_rate=0.5).describe() == "x dropped on 50% of frames (seed 0)"
    assert SensorFailure(drop="x", drop_after=10).describe() == "x dead after frame 10 (seed 0)"


def test_sequences_starting_without_the_target_start_at_its_first_visible_frame(sequence):
    late = Sequence(sequence.name, "depth", sequence.rgb_files, sequence.x_files,
                    sequence.groundtruth + np.arange(40)[:, None], np.arange(40) < 3)
    tracker = RecordingTracker()
    failure = SensorFailure(drop="x", drop_rate=1.0, seed=0)
    result = track_sequence(tracker, late, failure)
    assert len(tracker.calls) == 37 and np.isnan(result.boxes[:3]).all() and not result.scores[:3].any()
    assert tracker.box == tuple(late.groundtruth[3]) and np.array_equal(result.boxes[3], late.groundtruth[3])
    assert tracker.calls[0][1] is not None and all(x is None for _, x in tracker.calls[1:])


@pytest.fixture(scope="module")
def bench(tmp_path_factory):
    root = tmp_path_factory.mktemp("bench")
    write_synthetic(root, sequences=2, length=12, size=(64, 48), seed=3)
    return root


@pytest.mark.parametrize("condition", list(CONDITIONS))
def test_degraded_folders_hold_exactly_what_the_tracker_receives(bench, tmp_path, condition):
    failure = CONDITIONS[condition]
    folders = write_degraded_benchmark("folder", bench, tmp_path, failure)
    sources, written = load_dataset("folder", bench), load_dataset("folder", tmp_path)
    assert [f.name for f in folders] == [s.name for s in sources] == [w.name for w in written]
    for source, copy in zip(sources, written):
        start = int(np.flatnonzero(~source.absent)[0])
        dropped = failure.dropped_frames(source.name, len(source), start)
        assert copy.x_format == source.x_format and len(copy) == len(source)
        assert np.array_equal(copy.groundtruth, source.groundtruth, equal_nan=True)
        assert np.array_equal(copy.absent, source.absent)
        tag = f"{failure.drop}_dropped"
        assert set(copy.attributes) == set(source.attributes) | ({tag} if failure.drop else set())
        assert all(np.array_equal(copy.attributes[key], flags) for key, flags in source.attributes.items())
        if failure.drop:
            assert np.array_equal(copy.attributes[tag], dropped) and dropped.any()
        for index in range(len(source)):
            received = failure.apply(source.name, index, *source.frame(index), dropped, start)
            for got, expected in zip(copy.frame(index), received):
                if expected is None:
                    assert not got.any()  # a black placeholder; the tag says the sensor delivered nothing
                else:
                    assert got.dtype == expected.dtype and np.array_equal(got, expected)


def test_degraded_writing_refuses_a_used_folder_and_keeps_exact_boxes(sequence, tmp_path):
    boxes = sequence.groundtruth + np.linspace(0.0, 1.0, 40)[:, None] / 3
    odd = Sequence("odd", "depth", sequence.rgb_files, sequence.x_files, boxes, np.arange(40) == 5,
                   {"scene_cut": True})
    folder = write_degraded_sequence(odd, SensorFailure(drop="x", drop_rate=0.5, seed=1), tmp_path)
    copy = load_dataset("folder", folder)[0]
    expected = boxes.copy()
    expected[5] = np.nan  # absent despite a valid box: written NaN so readers see it absent
    assert np.array_equal(copy.groundtruth, expected, equal_nan=True) and np.array_equal(copy.absent, odd.absent)
    assert copy.attributes["scene_cut"].all() and copy.frame(3)[1].dtype == np.uint16
    with pytest.raises(FileExistsError, match="already holds files"):
        write_degraded_sequence(odd, SensorFailure(), tmp_path)
