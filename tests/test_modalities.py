"""X-modality rendering against the original's output and hand-computed values."""

import cv2
import numpy as np
import pytest

from sdstrack.modalities import depth_validity, render_depth, render_event, render_thermal, render_x


def _read_rgb(path):
    return cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)


def test_depth_frame1_matches_original_rendering(fixtures):
    depth = cv2.imread(str(fixtures / "sequence/depth/00000001.png"), cv2.IMREAD_UNCHANGED)
    # The reference PNGs hold channels 0-2 / 3-5 of the original 6-channel input, written after RGB->BGR.
    assert np.array_equal(render_depth(depth), _read_rgb(fixtures / "official_rgbd_frame1_x.png"))
    rgb = _read_rgb(fixtures / "sequence/color/00000001.png")
    assert np.array_equal(rgb, _read_rgb(fixtures / "official_rgbd_frame1_rgb.png"))


def test_depth_recipe_by_hand():
    depth = np.array([[0, 1000, 2000], [3000, 50000, 1500]], dtype=np.uint16)
    # median 1750 -> cap 5250: 50000 becomes 5250; min 0 -> 0, max 5250 -> 255.
    expected_gray = np.rint(np.minimum(depth, 5250) / 5250 * 255).astype(np.uint8)
    expected = cv2.applyColorMap(expected_gray, cv2.COLORMAP_JET)
    assert np.array_equal(render_depth(depth), expected)
    # JET stays in OpenCV's BGR order: the far (max) end is red, i.e. channel 2 high.
    assert render_depth(depth)[1, 1].tolist() == [0, 0, 128]


def test_float_metres_equal_millimetres_and_nan_is_a_hole(fixtures):
    depth = cv2.imread(str(fixtures / "sequence/depth/00000002.png"), cv2.IMREAD_UNCHANGED)
    metres = depth.astype(np.float64) / 1000.0
    metres[depth == 0] = np.nan
    assert np.array_equal(render_depth(metres), render_depth(depth))
    assert np.array_equal(render_depth(metres.astype(np.float32)), render_depth(depth))
    assert np.array_equal(depth_validity(metres), depth > 0)


def test_thermal_forms():
    gray = np.arange(12, dtype=np.uint8).reshape(3, 4)
    assert np.array_equal(render_thermal(gray), np.stack([gray] * 3, axis=2))
    radiometric = np.array([[1000, 2200], [3000, 1500]], dtype=np.uint16)
    scaled = render_thermal(radiometric)
    assert scaled[..., 0].tolist() == [[0, 153], [255, 64]]  # (v - 1000) / 2000 * 255, rounded
    colour = np.random.default_rng(0).integers(0, 255, (4, 5, 3), dtype=np.uint8)
    assert np.array_equal(render_thermal(colour), colour)


def test_event_and_rendered_pass_through():
    frame = np.random.default_rng(1).integers(0, 255, (4, 5, 3), dtype=np.uint8)
    for rendered in (render_event(frame), render_x(frame, "rendered"), render_x(frame, "depth")):
        # passed through without a copy (an already-rendered depth image is not re-rendered)
        assert np.array_equal(rendered, frame) and np.shares_memory(rendered, frame)


@pytest.mark.parametrize(
    "frame, x_format, message",
    [
        (np.zeros((4, 4), np.float32), "thermal", "thermal frame must be uint8"),
        (np.zeros((4, 4), np.int32), "depth", "depth must be uint16 millimetres or float metres"),
        (np.zeros((4, 4, 2), np.uint16), "depth", "depth frame must be H x W"),
        (np.zeros((4, 4), np.uint8), "rendered", "rendered X frame must be H x W x 3"),
        (np.zeros((4, 4), np.uint8), "lidar", "unknown X format"),
    ],
)
def test_bad_x_frames_are_named(frame, x_format, message):
    with pytest.raises(ValueError, match=message):
        render_x(frame, x_format)
