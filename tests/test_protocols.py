"""Sensor-failure protocols: reproducible from the seed, and what the tracker really receives."""

import cv2
import numpy as np
import pytest

from sdstrack.datasets import Sequence
from sdstrack.evaluation.protocols import SensorFailure
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
