"""Synthetic RGB-X sequences: deterministic, well-typed, ground truth on the target's pixels, readable back."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from sdstrack.datasets import load_dataset
from sdstrack.datasets.synthetic import ATTRIBUTES, OTHER_KINDS, generate_sequence, write_synthetic

SIZE = (160, 120)
LENGTH = 30


@pytest.mark.parametrize("x_format", ["depth", "thermal", "event"])
def test_types_shapes_and_determinism(x_format: str) -> None:
    rgb, xs, boxes, absent, attributes, _ = generate_sequence("s", x_format, LENGTH, SIZE, seed=3)
    assert len(rgb) == len(xs) == LENGTH and boxes.shape == (LENGTH, 4) and absent.shape == (LENGTH,)
    assert all(f.shape == (120, 160, 3) and f.dtype == np.uint8 for f in rgb)
    x_shape, x_dtype = ((120, 160), np.uint16) if x_format == "depth" else ((120, 160, 3), np.uint8)
    assert all(f.shape == x_shape and f.dtype == x_dtype for f in xs)
    assert set(attributes) == set(ATTRIBUTES)
    assert all(v.shape == (LENGTH,) and v.dtype == bool for v in attributes.values())
    again = generate_sequence("s", x_format, LENGTH, SIZE, seed=3)
    assert all(np.array_equal(a, b) for a, b in zip(rgb + xs, again[0] + again[1]))
    np.testing.assert_array_equal(boxes, again[2])
    other = generate_sequence("s", x_format, LENGTH, SIZE, seed=4)
    assert not np.array_equal(rgb[0], other[0][0])
    present = ~absent
    assert not absent[0] and np.isnan(boxes[absent]).all()
    x, y, w, h = boxes[present].T
    assert (x >= 0).all() and (y >= 0).all() and (w > 0).all() and (h > 0).all()
    assert (x + w <= SIZE[0]).all() and (y + h <= SIZE[1]).all()


def test_depth_at_box_centre_is_target_depth() -> None:
    rgb, xs, boxes, absent, attributes, _ = generate_sequence(
        "d", "depth", 60, (320, 240), seed=1, shapes=("ellipse",), scale=0.0, target_depth=(1500.0, 1500.0),
        depth_noise=0.0, occlusion_rate=5.0, x_dropout=0.0)
    checked = 0
    for t in np.nonzero(~absent & ~attributes["occlusion"])[0]:
        x, y, w, h = boxes[t]
        value = xs[t][int(y + h / 2), int(x + w / 2)]
        if value:
            assert value == 1500
            checked += 1
    assert checked > 10
    holes = np.mean([(f == 0).mean() for f in xs])
    assert 0.01 < holes < 0.06


def test_full_occlusion_marks_absent() -> None:
    _, xs, boxes, absent, attributes, _ = generate_sequence(
        "o", "depth", 100, (320, 240), seed=2, occlusion_rate=6.0, full_occlusion=1.0, scale=0.0,
        target_depth=(1500.0, 1500.0), depth_noise=0.0, x_dropout=0.0)
    assert absent.any() and not absent.all() and not absent[0]
    assert attributes["occlusion"][absent].all()
    assert np.isnan(boxes[absent]).all()


def test_degradations_and_distractors_when_enabled() -> None:
    rgb, xs, _, _, attributes, _ = generate_sequence(
        "g", "thermal", LENGTH, SIZE, seed=0, low_light=1.0, glare=1.0, x_dropout=1.0, stretch=(0.2, 0.3))
    for key in ("low_light", "glare", "x_dropout", "rgb_distractor", "x_distractor"):
        assert attributes[key].any() and not attributes[key][0], key
    assert all(not xs[t].any() for t in np.nonzero(attributes["x_dropout"])[0])
    _, _, _, _, none, _ = generate_sequence("g", "thermal", LENGTH, SIZE, seed=0, low_light=0.0, glare=0.0,
                                            x_dropout=0.0, rgb_distractors=0, x_distractors=0, occlusion_rate=0.0)
    assert not any(none[key].any() for key in ATTRIBUTES)


def test_events_only_where_the_target_moved() -> None:
    still = dict(camera_jitter=0.0, camera_pan=0.0, event_noise=0.0, occlusion_rate=0.0, rgb_distractors=0,
                 x_distractors=0, event_background="black", x_dropout=0.0)
    _, xs, boxes, *_ = generate_sequence("e", "event", LENGTH, SIZE, seed=5, **still)
    assert not xs[0].any()
    fired = 0
    for t in range(1, LENGTH):
        outside = np.ones(xs[t].shape[:2], dtype=bool)
        for x, y, w, h in (boxes[t - 1], boxes[t]):
            outside[max(0, int(y) - 2):int(y + h) + 2, max(0, int(x) - 2):int(x + w) + 2] = False
        assert not xs[t][outside].any()
        fired += int(xs[t].any())
    assert fired > LENGTH // 2
    _, frozen, *_ = generate_sequence("e", "event", 5, SIZE, seed=5, speed=0.0, scale=0.0, rotation=0.0, **still)
    assert not any(f.any() for f in frozen)


@pytest.mark.parametrize("x_format", ["depth", "event"])
def test_write_reads_back_equal(tmp_path: Path, x_format: str) -> None:
    names = write_synthetic(tmp_path / "a", sequences=2, length=12, x_format=x_format, size=SIZE, seed=7)
    # two processes writing side by side: the same files
    write_synthetic(tmp_path / "b", sequences=2, length=12, x_format=x_format, size=SIZE, seed=7, workers=2)
    files = sorted(f.relative_to(tmp_path / "a") for f in (tmp_path / "a").rglob("*.*"))
    assert files == sorted(f.relative_to(tmp_path / "b") for f in (tmp_path / "b").rglob("*.*"))
    for file in files:
        assert (tmp_path / "a" / file).read_bytes() == (tmp_path / "b" / file).read_bytes()
    sequences = load_dataset("folder", tmp_path / "a")
    assert [s.name for s in sequences] == names
    for sequence in sequences:
        rgb, xs, boxes, absent, attributes, others = generate_sequence(sequence.name, x_format, 12, SIZE, 7)
        assert sequence.x_format == x_format
        np.testing.assert_array_equal(sequence.groundtruth, boxes)
        np.testing.assert_array_equal(sequence.absent, absent)
        for t, (colour, x) in enumerate(sequence):
            np.testing.assert_array_equal(colour, cv2.cvtColor(rgb[t], cv2.COLOR_RGB2BGR))
            np.testing.assert_array_equal(x, xs[t] if x_format == "depth" else cv2.cvtColor(xs[t], cv2.COLOR_RGB2BGR))
        tag = (tmp_path / "a" / sequence.name / "occlusion.tag").read_text().split()
        assert [bool(int(v)) for v in tag] == attributes["occlusion"].tolist()
        assert sorted(sequence.distractors) == sorted(OTHER_KINDS)
        for kind in OTHER_KINDS:
            np.testing.assert_array_equal(sequence.distractors[kind], others[kind])


def test_write_rejects_bad_options_before_writing(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="workers must be a whole number >= 0, got -1"):
        write_synthetic(tmp_path / "w", sequences=2, length=4, size=SIZE, workers=-1)
    with pytest.raises(TypeError, match="colour"):
        write_synthetic(tmp_path / "o", sequences=2, length=4, size=SIZE, workers=2, colour=3)
    assert not (tmp_path / "w").exists() and not (tmp_path / "o").exists()


def test_other_objects_boxes_follow_the_objects_in_view() -> None:
    size = (320, 240)
    _, _, boxes, absent, attributes, others = generate_sequence(
        "b", "depth", 80, size, seed=6, occlusion_rate=6.0, scale=0.0, rotation=0.0)
    assert sorted(others) == sorted(OTHER_KINDS) and all(b.shape == (80, 4) for b in others.values())
    for kind in ("rgb_distractor", "x_distractor"):  # a box exactly where that kind is in view
        np.testing.assert_array_equal(np.isfinite(others[kind]).all(1), attributes[kind])
    assert np.isfinite(others["occluder"][attributes["occlusion"]]).all()  # what hides the target is in view
    for kind, kind_boxes in others.items():
        x, y, w, h = kind_boxes[np.isfinite(kind_boxes).all(1)].T
        assert x.size and (w > 0).all() and (h > 0).all() and (x >= 0).all() and (y >= 0).all(), kind
        assert (x + w <= size[0]).all() and (y + h <= size[1]).all(), kind
    # the look-alike has the target's shape at 0.85-1.15 times its size (no rotation, no scale change here)
    alike = [t for t in np.flatnonzero(attributes["rgb_distractor"] & ~attributes["occlusion"] & ~absent)
             if _inside(others["rgb_distractor"][t], size) and _inside(boxes[t], size)]
    assert len(alike) > 3
    ratios = others["rgb_distractor"][alike, 2:] / boxes[alike, 2:]
    assert (ratios > 0.8).all() and (ratios < 1.2).all() and np.ptp(ratios) < 0.1


def test_occluder_boxes_are_the_extent_of_the_near_depth_pixels() -> None:
    # noiseless depth, the target at 3 m, occluders nearer (2-2.7 m), the clutter and background farther: the
    # pixels nearer than 2.9 m are the occluder's (seed 7 shows one occluder at a time, hiding the target fully
    # on some frames); depth edges cut the first pixel of each row, hence 1 px of tolerance
    _, xs, _, absent, attributes, others = generate_sequence(
        "o", "depth", 60, (320, 240), seed=7, occlusion_rate=3.0, scale=0.0, target_depth=(3000.0, 3000.0),
        depth_noise=0.0, depth_holes=0.0, x_dropout=0.0, rgb_distractors=0, x_distractors=0)
    assert absent.any() and attributes["occlusion"].sum() > 10
    shown = 0
    for t, depth in enumerate(xs):
        near = (depth > 0) & (depth < 2900)
        if not near.any():
            assert np.isnan(others["occluder"][t]).all(), t
            continue
        ys, xs_ = np.flatnonzero(near.any(axis=1)), np.flatnonzero(near.any(axis=0))
        extent = (xs_[0], ys[0], xs_[-1] - xs_[0] + 1, ys[-1] - ys[0] + 1)
        np.testing.assert_allclose(others["occluder"][t], extent, atol=1, err_msg=f"frame {t}")
        shown += 1
    assert shown > 20


def _inside(box: np.ndarray, size: tuple[int, int]) -> bool:
    return bool(np.all(box[:2] > 0) and np.all(box[:2] + box[2:] < size))
