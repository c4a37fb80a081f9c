"""The frame-level tracker: parity with the original tracker, missing sensors, several targets, bad input."""

import cv2
import numpy as np
import pytest
import torch

from sdstrack import MultiTracker, SDSTrack, Tracker, TrackResult
from sdstrack.frames import patch_valid_fraction
from sdstrack.tracker import clip_box


def _load_clip(fixtures, count=24):
    rgb = [cv2.cvtColor(cv2.imread(str(fixtures / f"sequence/color/{i:08d}.png")), cv2.COLOR_BGR2RGB)
           for i in range(1, count + 1)]
    depth = [cv2.imread(str(fixtures / f"sequence/depth/{i:08d}.png"), cv2.IMREAD_UNCHANGED)
             for i in range(1, count + 1)]
    boxes = np.loadtxt(fixtures / "sequence/groundtruth.txt", delimiter=",")
    return rgb, depth, boxes


@pytest.fixture(scope="module")
def clip(fixtures):
    return _load_clip(fixtures)


@pytest.fixture()
def tracker(tiny_model):
    return Tracker(tiny_model, device="cpu")


class ForwardSpy:
    """Records the masks the tracker hands the network."""

    def __init__(self, model):
        self.calls = []
        self.model = model
        self.forward = model.forward

    def __enter__(self):
        def spy(template, search, **kwargs):
            self.calls.append(dict(kwargs, template=template, search=search))
            return self.forward(template, search, **kwargs)

        self.model.forward = spy
        return self

    def __exit__(self, *exc):
        del self.model.forward


def test_reproduces_original_tracker_on_parity_clip(tracker, clip, fixtures):
    rgb, depth, boxes = clip
    reference = np.loadtxt(fixtures / "official_track.txt", delimiter=",")
    results = [tracker.init(rgb[0], depth[0], boxes[0])]
    results += [tracker.update(rgb[i], depth[i]) for i in range(1, len(rgb))]
    ours = np.array([[*r.box, r.score] for r in results])
    assert ours.shape == reference.shape
    assert np.abs(ours[:, :4] - reference[:, :4]).max() <= 0.01
    assert np.abs(ours[:, 4] - reference[:, 4]).max() <= 1e-5
    assert [r.frame_index for r in results] == list(range(len(rgb)))


def test_track_result_conversions():
    result = TrackResult((10.0, 20.0, 30.0, 40.0), 0.5, 3)
    assert result.xyxy == (10.0, 20.0, 40.0, 60.0)
    assert result.cxcywh == (25.0, 40.0, 30.0, 40.0)
    with pytest.raises(AttributeError):
        result.score = 1.0


def test_bgr_switch_equals_rgb_input(tiny_model, clip):
    rgb, depth, boxes = clip
    plain, bgr = Tracker(tiny_model, device="cpu"), Tracker(tiny_model, device="cpu", bgr=True)
    plain.init(rgb[0], depth[0], boxes[0])
    bgr.init(cv2.cvtColor(rgb[0], cv2.COLOR_RGB2BGR), depth[0], boxes[0])
    for i in (1, 2):
        assert plain.update(rgb[i], depth[i]) == bgr.update(cv2.cvtColor(rgb[i], cv2.COLOR_RGB2BGR), depth[i])


def test_non_contiguous_and_read_only_frames_work(tiny_model, clip):
    rgb, depth, boxes = clip
    reference = Tracker(tiny_model, device="cpu")
    reference.init(rgb[0], depth[0], boxes[0])
    expected = reference.update(rgb[1], depth[1])
    odd = Tracker(tiny_model, device="cpu")
    strided = np.zeros((rgb[0].shape[0], rgb[0].shape[1], 6), np.uint8)[..., ::2]  # non-contiguous view
    strided[...] = rgb[0]
    read_only = depth[0].copy()
    read_only.flags.writeable = False
    odd.init(strided, read_only, boxes[0])
    reversed_view = np.ascontiguousarray(rgb[1][:, ::-1])[:, ::-1]  # negative strides
    assert odd.update(reversed_view, depth[1]) == expected


def test_missing_x_masks_every_x_token(tracker, clip):
    rgb, depth, boxes = clip
    tracker.init(rgb[0], depth[0], boxes[0])
    with ForwardSpy(tracker.model) as spy:
        missing = tracker.update(rgb[1], None)
    call = spy.calls[0]
    assert call["rgb_mask"] is None
    assert call["x_mask"].shape == (1, 320) and call["x_mask"].all()
    # Oracle: with every X token masked, the network's output cannot depend on the X pixels at all.
    template, search = call["template"].clone(), call["search"].clone()
    generator = torch.Generator().manual_seed(0)
    template[:, 3:] = torch.randn(template[:, 3:].shape, generator=generator)
    search[:, 3:] = torch.randn(search[:, 3:].shape, generator=generator)
    with torch.inference_mode():
        recorded = tracker.model(call["template"], call["search"], x_mask=call["x_mask"])
        noisy = tracker.model(template, search, x_mask=call["x_mask"])
    assert torch.equal(recorded.score_map, noisy.score_map) and torch.equal(recorded.boxes, noisy.boxes)
    # ... and the masked path is not what feeding a black X image gives.
    black = Tracker(tracker.model, device="cpu", x_format="rendered")
    black.init(rgb[0], np.zeros_like(rgb[0]), boxes[0])
    assert black.update(rgb[1], np.zeros_like(rgb[1])).box != missing.box


def test_missing_rgb_and_missing_x_at_init(tracker, clip):
    rgb, depth, boxes = clip
    tracker.init(rgb[0], None, boxes[0])
    with ForwardSpy(tracker.model) as spy:
        tracker.update(None, depth[1])
        tracker.update(rgb[2], depth[2])
    first, second = spy.calls
    assert first["rgb_mask"].all() and first["x_mask"][:, :64].all()
    assert second["rgb_mask"] is None
    assert second["x_mask"][:, :64].all() and not second["x_mask"][:, 64:].any()


def test_both_missing_is_an_error(tracker, clip):
    rgb, depth, boxes = clip
    tracker.init(rgb[0], depth[0], boxes[0])
    with pytest.raises(ValueError, match="both the RGB and the X frame are missing"):
        tracker.update(None, None)


def test_fully_valid_mask_equals_no_mask(tiny_model, clip):
    rgb, depth, boxes = clip
    a, b = Tracker(tiny_model, device="cpu"), Tracker(tiny_model, device="cpu")
    valid = np.ones(rgb[0].shape[:2], dtype=bool)
    a.init(rgb[0], depth[0], boxes[0])
    b.init(rgb[0], depth[0], boxes[0], x_valid=valid, rgb_valid=valid)
    for i in (1, 2, 3):
        assert a.update(rgb[i], depth[i]) == b.update(rgb[i], depth[i], x_valid=valid, rgb_valid=valid)


def test_patch_valid_fraction_on_an_identity_crop():
    # A 64x64 box centred at (128, 128) in a 300x300 image gives a 256 px square at (0, 0): the
    # search crop is the image's top-left 256x256 corner, unscaled, so patches are 16x16 pixel blocks.
    valid = np.ones((300, 300), dtype=bool)
    valid[0:16, 0:8] = False  # patch 0 half valid
    valid[16:32, 16:32] = False  # patch 17 fully invalid
    fraction = patch_valid_fraction(valid, (96, 96, 64, 64), 4.0, 256, 16)
    expected = np.ones(256)
    expected[0], expected[17] = 0.5, 0.0
    assert np.allclose(fraction, expected)


def test_validity_masks_only_patches_below_threshold(tiny_model):
    tracker = Tracker(tiny_model, device="cpu", x_format="rendered", min_valid_fraction=0.5)
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 255, (300, 300, 3), dtype=np.uint8)
    x = rng.integers(0, 255, (300, 300, 3), dtype=np.uint8)
    valid = np.ones((300, 300), dtype=bool)
    valid[0:16, 0:8] = False
    valid[16:32, 16:32] = False
    tracker.init(rgb, x, (96, 96, 64, 64))
    with ForwardSpy(tracker.model) as spy:
        tracker.update(rgb, x, x_valid=valid)
    x_mask = spy.calls[0]["x_mask"][0]
    assert not x_mask[:64].any()
    assert x_mask[64:].nonzero().flatten().tolist() == [17]


def test_depth_holes_are_found_automatically(tiny_model):
    tracker = Tracker(tiny_model, device="cpu")
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 255, (300, 300, 3), dtype=np.uint8)
    depth = rng.integers(500, 5000, (300, 300)).astype(np.uint16)
    tracker.init(rgb, depth, (96, 96, 64, 64))
    depth[16:32, 32:48] = 0  # search patch (1, 2) is a hole
    with ForwardSpy(tracker.model) as spy:
        tracker.update(rgb, depth)
    assert spy.calls[0]["x_mask"][0, 64:].nonzero().flatten().tolist() == [18]


def test_multi_target_equals_single_targets(tiny_model, clip):
    rgb, depth, boxes = clip
    starts = [tuple(boxes[0]), (300.0, 40.0, 50.0, 80.0), (10.0, 250.0, 90.0, 60.0)]
    multi = MultiTracker(tiny_model, device="cpu")
    singles = [Tracker(tiny_model, device="cpu") for _ in starts]
    assert multi.init(rgb[0], depth[0], starts) == [t.init(rgb[0], depth[0], b) for t, b in zip(singles, starts)]
    for i in range(1, 6):
        together = multi.update(rgb[i], depth[i])
        alone = [t.update(rgb[i], depth[i]) for t in singles]
        for a, b in zip(together, alone):
            assert np.allclose(a.box, b.box, atol=1e-5) and abs(a.score - b.score) <= 1e-5


def test_clip_box_keeps_a_valid_box():
    assert clip_box((-50.0, -40.0, 30.0, 20.0), 100, 80) == (0, 0, 10, 10)
    assert clip_box((95.0, 75.0, 30.0, 20.0), 100, 80) == (90, 70, 10, 10)
    assert clip_box((20.0, 10.0, 30.0, 20.0), 100, 80) == (20.0, 10.0, 30.0, 20.0)


def test_target_leaving_the_frame_keeps_a_clipped_box(tiny_model, clip):
    rgb, depth, _ = clip
    height, width = rgb[0].shape[:2]
    tracker = Tracker(tiny_model, device="cpu")
    tracker.init(rgb[0], depth[0], (width - 30.0, height - 25.0, 60.0, 50.0))  # partly outside
    for i in range(1, 5):
        x, y, w, h = tracker.update(rgb[i], depth[i]).box
        assert 0 <= x <= width - 10 and 0 <= y <= height - 10
        assert w >= 10 and h >= 10 and x + w <= width + 1e-9 and y + h <= height + 1e-9


BAD_FRAMES = [
    (lambda rgb, d: (rgb.astype(np.float32), d), ValueError, "rgb frame must be uint8"),
    (lambda rgb, d: (rgb[..., :2], d), ValueError, "rgb frame must be H x W x 3"),
    (lambda rgb, d: (np.dstack([rgb, rgb[..., :1]]), d), ValueError, "rgb frame must be H x W x 3"),
    (lambda rgb, d: (rgb, d[:-10]), ValueError, "sdstrack.resize_like"),
    (lambda rgb, d: (rgb[:0], d), ValueError, "rgb frame is empty"),
    (lambda rgb, d: (rgb, d[:, :0]), ValueError, "x frame is empty"),
    (lambda rgb, d: (rgb.tolist(), d), TypeError, "must be a NumPy array"),
    (lambda rgb, d: (rgb, d.astype(np.int32)), ValueError, "depth must be uint16 millimetres or float metres"),
]


@pytest.mark.parametrize("make, error, message", BAD_FRAMES)
def test_bad_frames_are_named(tracker, clip, make, error, message):
    rgb, depth, boxes = clip
    bad_rgb, bad_depth = make(rgb[0], depth[0])
    with pytest.raises(error, match=message):
        tracker.init(bad_rgb, bad_depth, boxes[0])


@pytest.mark.parametrize(
    "box, message",
    [
        ((float("nan"), 10, 20, 20), "NaN or inf"),
        ((10, 10, float("inf"), 20), "NaN or inf"),
        ((10, 10, 0, 20), "non-positive width or height"),
        ((10, 10, 20, -5), "non-positive width or height"),
        ((1000, 10, 20, 20), "entirely outside"),
        ((-50, -50, 20, 20), "entirely outside"),
        ((1, 2, 3), "4 numbers"),
    ],
)
def test_bad_boxes_are_named(tracker, clip, box, message):
    rgb, depth, _ = clip
    with pytest.raises(ValueError, match=message):
        tracker.init(rgb[0], depth[0], box)


def test_update_before_init(tracker, clip):
    rgb, depth, _ = clip
    with pytest.raises(RuntimeError, match="before init"):
        tracker.update(rgb[0], depth[0])
    tracker.init(rgb[0], depth[0], (10, 10, 30, 30))
    tracker.reset()
    with pytest.raises(RuntimeError, match="before init"):
        tracker.update(rgb[0], depth[0])


def test_frame_size_change_is_named(tracker, clip):
    rgb, depth, boxes = clip
    tracker.init(rgb[0], depth[0], boxes[0])
    with pytest.raises(ValueError, match="frame size changed"):
        tracker.update(rgb[1][:-2], depth[1][:-2])


def test_checkpoint_modality_must_match_rendering(tiny_model):
    with pytest.raises(ValueError, match="trained for depth frames but x_format='thermal'"):
        Tracker(tiny_model, device="cpu", x_format="thermal")


def test_from_pretrained_folder_defaults(tiny_dir):
    tracker = Tracker.from_pretrained(tiny_dir, device="cpu")
    assert tracker.device == torch.device("cpu") and tracker.dtype == torch.float32
    assert isinstance(tracker.model, SDSTrack) and not tracker.model.training
