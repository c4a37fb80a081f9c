"""The preprocessing path against an independent oracle: the original's whole-frame recipe, written here."""

import math
import tracemalloc

import cv2
import numpy as np
import pytest
import torch

from sdstrack import SDSTrackConfig
from sdstrack.modalities import XFrame
from sdstrack.preprocessing import FramePair, SquareCrop, TargetCrop, normalise


def original_depth_rendering(depth_mm):
    """DESIGN.md section 3, as the original computes it on the whole frame."""
    cap = min(float(np.median(depth_mm)) * 3, 10000)
    capped = depth_mm.copy()
    capped[capped > cap] = cap
    gray = cv2.normalize(capped, None, 0, 255, cv2.NORM_MINMAX).astype(np.uint8)
    return cv2.applyColorMap(gray, cv2.COLORMAP_JET)


def original_sample_target(image, box, factor, output_size):
    """The original ``sample_target``: pad the square in memory (copyMakeBorder), crop, resize."""
    x, y, w, h = box
    side = math.ceil(math.sqrt(w * h) * factor)
    x1, y1 = round(x + 0.5 * w - side * 0.5), round(y + 0.5 * h - side * 0.5)
    x2, y2 = x1 + side, y1 + side
    x1_pad, y1_pad = max(0, -x1), max(0, -y1)
    x2_pad, y2_pad = max(x2 - image.shape[1] + 1, 0), max(y2 - image.shape[0] + 1, 0)
    region = image[y1 + y1_pad : y2 - y2_pad, x1 + x1_pad : x2 - x2_pad]
    padded = cv2.copyMakeBorder(region, y1_pad, y2_pad, x1_pad, x2_pad, cv2.BORDER_CONSTANT)
    return cv2.resize(padded, (output_size, output_size)), output_size / side


def _frames(seed, height=240, width=320):
    rng = np.random.default_rng(seed)
    rgb = cv2.GaussianBlur(rng.integers(0, 255, (height, width, 3), dtype=np.uint8), (0, 0), 2)
    depth = rng.integers(300, 9000, (height, width)).astype(np.uint16)
    depth[rng.random((height, width)) < 0.05] = 0
    return rgb, depth


BOXES = [
    (100.0, 80.0, 40.0, 30.0),  # inside
    (-12.3, 5.5, 33.0, 41.7),  # past the left edge
    (290.0, 200.0, 50.0, 60.0),  # past the right and bottom edges: the original drops the last column/row
    (0.0, 0.0, 320.0, 240.0),  # the whole frame
    (150.2, 119.9, 3.0, 2.0),  # tiny: the square is smaller than the output (upsampling)
]


@pytest.mark.parametrize("box", BOXES)
@pytest.mark.parametrize("factor, size", [(2.0, 128), (4.0, 256)])
def test_crops_equal_whole_frame_rendering_then_crop(box, factor, size):
    rgb, depth = _frames(0)
    image = np.concatenate([rgb, original_depth_rendering(depth)], axis=2)
    expected, expected_factor = original_sample_target(image, box, factor, size)
    crop = FramePair(rgb, depth, "depth").crop(box, factor, size, 16, 0.5)
    assert crop.rgb.dtype == crop.x.dtype == np.uint8
    assert np.array_equal(crop.rgb, expected[..., :3]) and np.array_equal(crop.x, expected[..., 3:])
    assert crop.resize_factor == expected_factor


def test_bgr_inputs_and_missing_modalities():
    rgb, depth = _frames(1)
    thermal = cv2.GaussianBlur(rgb, (0, 0), 3)
    box = (60.0, 50.0, 70.0, 45.0)
    expected, _ = original_sample_target(np.concatenate([rgb, thermal], axis=2), box, 4.0, 256)
    bgr = FramePair(rgb[..., ::-1], thermal[..., ::-1], "thermal", bgr=True).crop(box, 4.0, 256, 16, 0.5)
    assert np.array_equal(bgr.rgb, expected[..., :3]) and np.array_equal(bgr.x, expected[..., 3:])
    no_x = FramePair(rgb, None, "thermal").crop(box, 4.0, 256, 16, 0.5)
    assert np.array_equal(no_x.rgb, expected[..., :3]) and not no_x.x.any()
    assert no_x.x_mask.all() and no_x.rgb_mask is None
    no_rgb = FramePair(None, thermal, "thermal").crop(box, 4.0, 256, 16, 0.5)
    assert np.array_equal(no_rgb.x, expected[..., 3:]) and not no_rgb.rgb.any()


@pytest.mark.parametrize("x_format, make", [
    ("depth", lambda rng: rng.integers(0, 20000, (90, 120)).astype(np.uint16)),
    ("depth", lambda rng: np.where(rng.random((90, 120)) < 0.1, np.nan, rng.uniform(0.2, 8.0, (90, 120)))),
    ("thermal", lambda rng: rng.integers(7000, 9000, (90, 120)).astype(np.uint16)),
    ("thermal", lambda rng: rng.integers(0, 255, (90, 120), dtype=np.uint8)),
    ("event", lambda rng: rng.integers(0, 255, (90, 120, 3), dtype=np.uint8)),
])
def test_regions_equal_the_whole_rendered_frame(x_format, make):
    rng = np.random.default_rng(2)
    frame = XFrame(make(rng), x_format)
    whole = frame.render()
    for _ in range(20):
        r0, c0 = rng.integers(0, 90), rng.integers(0, 120)
        rows, cols = slice(r0, rng.integers(r0, 91)), slice(c0, rng.integers(c0, 121))
        assert np.array_equal(frame.render(rows, cols), whole[rows, cols])


def test_depth_rendering_equals_the_recipe_on_odd_frames():
    rng = np.random.default_rng(3)
    for shape in [(1, 1), (1, 7), (33, 17), (64, 64)]:
        for high in (5, 3000, 65535):
            depth = rng.integers(0, high + 1, shape).astype(np.uint16)
            assert np.array_equal(XFrame(depth, "depth").render(), original_depth_rendering(depth))


def test_patch_valid_fraction_on_an_identity_crop():
    # A 64x64 box centred at (128, 128) in a 300x300 image gives a 256 px square at (0, 0): the
    # search crop is the image's top-left 256x256 corner, unscaled, so patches are 16x16 pixel blocks.
    crop = SquareCrop.around((96, 96, 64, 64), 4.0, 256)
    assert (crop.left, crop.top, crop.side) == (0, 0, 256)
    invalid = np.zeros((300, 300), dtype=bool)
    invalid[0:16, 0:8] = True  # patch 0 half valid
    invalid[16:32, 16:32] = True  # patch 17 fully invalid
    rows, cols = crop.window(300, 300)
    fraction = crop.patch_valid_fraction(invalid[rows, cols], rows, cols, 16)
    expected = np.ones(256)
    expected[0], expected[17] = 0.5, 0.0
    assert np.allclose(fraction, expected, atol=1e-12)


@pytest.mark.parametrize("box", [(40.0, 30.0, 90.0, 70.0), (-30.0, 150.0, 120.0, 110.0), (250.0, 10.0, 100.0, 80.0)])
def test_patch_valid_fraction_equals_area_averaging_of_the_padded_square(box):
    # Oracle for downscaling crops: OpenCV's INTER_AREA of the materialised square (padding valid) is
    # the exact area-weighted average over each output pixel, averaged again over 16x16 patches.
    rng = np.random.default_rng(4)
    valid = cv2.resize((rng.random((30, 40)) > 0.4).astype(np.uint8), (320, 240), interpolation=cv2.INTER_NEAREST)
    crop = SquareCrop.around(box, 4.0, 256)
    assert crop.side > 256
    x2_pad, y2_pad = max(crop.left + crop.side - 320 + 1, 0), max(crop.top + crop.side - 240 + 1, 0)
    region = valid[max(crop.top, 0) : crop.top + crop.side - y2_pad, max(crop.left, 0) : crop.left + crop.side - x2_pad]
    square = cv2.copyMakeBorder(region.astype(np.float32), max(0, -crop.top), y2_pad, max(0, -crop.left), x2_pad,
                                cv2.BORDER_CONSTANT, value=1.0)
    area = cv2.resize(square, (256, 256), interpolation=cv2.INTER_AREA)
    expected = area.reshape(16, 16, 16, 16).mean(axis=(1, 3)).reshape(-1)
    rows, cols = crop.window(320, 240)
    ours = crop.patch_valid_fraction(~valid[rows, cols].astype(bool), rows, cols, 16)
    assert np.abs(ours - expected).max() <= 1e-5


def test_huge_boxes_stay_in_bounded_memory_and_close_to_the_exact_crop(monkeypatch):
    import sdstrack.preprocessing as preprocessing

    rng = np.random.default_rng(5)
    rgb = np.ascontiguousarray(np.broadcast_to(rng.integers(0, 255, (1, 4000, 3), dtype=np.uint8), (3000, 4000, 3)))
    depth = np.full((3000, 4000), 2000, np.uint16)
    pair = FramePair(rgb, depth, "depth")
    tracemalloc.start()
    crop = pair.crop((0, 0, 4000, 3000), 4.0, 256, 16, 0.5)  # the original pads a 13,857 px square: 1.15 GB
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert crop.rgb.shape == crop.x.shape == (256, 256, 3) and peak < 150 * 2**20
    # Below the exact limit the same crop is the original's; the bounded path differs by a few levels.
    small_rgb, small_depth = _frames(6)
    box = (20.0, 10.0, 260.0, 200.0)
    exact = FramePair(small_rgb, small_depth, "depth").crop(box, 4.0, 256, 16, 0.5)
    monkeypatch.setattr(preprocessing, "MAX_RESIZED_SIDE", 64)
    bounded = FramePair(small_rgb, small_depth, "depth").crop(box, 4.0, 256, 16, 0.5)
    exact, bounded = (np.concatenate([crop.rgb, crop.x], axis=2) for crop in (exact, bounded))
    difference = np.abs(exact.astype(int) - bounded.astype(int))
    assert difference.max() <= 4 and difference.mean() < 0.5


def test_normalise_is_the_published_formula():
    config = SDSTrackConfig(pixel_mean=(0.5, 0.25, 0.125), pixel_std=(0.2, 0.3, 0.4))
    rng = np.random.default_rng(7)
    crops = [TargetCrop(*(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8) for _ in range(2)), 1.0, None, None)
             for _ in range(2)]
    pixels = torch.from_numpy(np.stack([np.concatenate([c.rgb, c.x], axis=2) for c in crops])).permute(0, 3, 1, 2)
    mean = torch.tensor([0.5, 0.25, 0.125] * 2).view(1, 6, 1, 1)
    std = torch.tensor([0.2, 0.3, 0.4] * 2).view(1, 6, 1, 1)
    ours = normalise(crops, config)
    assert ours.dtype == np.float32 and ours.shape == (2, 6, 8, 8)
    # bit for bit the float32 formula the tracker has always used ...
    assert np.array_equal(ours, ((pixels.float() / 255.0 - mean) / std).numpy())
    # ... which is the real-valued formula to float32 rounding
    assert np.abs(ours - ((pixels.double() / 255 - mean.double()) / std.double()).numpy()).max() <= 1e-6


@pytest.mark.parametrize("x, message", [
    (np.array(3.0, np.float32), "0-D array"),
    (np.zeros(5, np.uint16), "1-D array"),
    (np.zeros((4, 4, 3, 2), np.uint8), "4-D array"),
])
def test_x_frames_of_the_wrong_rank_are_named(x, message):
    with pytest.raises(ValueError, match=f"x frame must be H x W or H x W x 3, got a {message}"):
        FramePair(np.zeros((4, 4, 3), np.uint8), x, "depth")
