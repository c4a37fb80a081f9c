"""The frame-level tracker: parity with the original tracker, missing sensors, several targets, bad input."""

import cv2
import numpy as np
import pytest
import torch

from sdstrack import MultiTracker, SDSTrack, Tracker, TrackResult
from sdstrack.io import SequenceFolder
from sdstrack.tracker import clip_box


def _load_clip(fixtures, count=24):
    sequence = SequenceFolder(fixtures / "sequence")
    pairs = [pair for pair, _ in zip(sequence, range(count))]
    rgb = [cv2.cvtColor(colour, cv2.COLOR_BGR2RGB) for colour, _ in pairs]
    return rgb, [depth for _, depth in pairs], sequence.groundtruth[:count]


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


# Bad inputs found by a hostile run, each with its named error or documented behaviour ----------------------------
class NaNBackend:
    """A backend (the tracker sees only the interface) whose network output is NaN from a given call on."""

    def __init__(self, inner, nan_from_call):
        self.inner, self.nan_from_call, self.calls = inner, nan_from_call, 0
        self.config, self.device, self.dtype = inner.config, inner.device, inner.dtype

    def __call__(self, template, search, *, rgb_mask=None, x_mask=None):
        out = self.inner(template, search, rgb_mask=rgb_mask, x_mask=x_mask)
        self.calls += 1
        if self.calls >= self.nan_from_call:
            out.score_map = torch.full_like(out.score_map, float("nan"))
        return out


def test_any_backend_with_the_interface_tracks_and_nan_output_raises_leaving_the_track(tiny_model, clip):
    from sdstrack.backends import NetworkBackend
    from sdstrack.backends.pytorch import TorchBackend
    from sdstrack.tracker import NonFiniteOutputError

    rgb, depth, boxes = clip
    backend = NaNBackend(TorchBackend(tiny_model, device="cpu"), nan_from_call=2)
    assert isinstance(backend, NetworkBackend)
    tracker, reference = Tracker(backend), Tracker(tiny_model, device="cpu")
    tracker.init(rgb[0], depth[0], boxes[0])
    reference.init(rgb[0], depth[0], boxes[0])
    assert tracker.update(rgb[1], depth[1]) == reference.update(rgb[1], depth[1])
    message = r"NaN or inf for target\(s\) \[0\] in frame 2; the track is unchanged"
    with pytest.raises(NonFiniteOutputError, match=message):
        tracker.update(rgb[2], depth[2])
    backend.nan_from_call = 10**9  # the sensor glitch passes: tracking goes on from the last good box
    assert tracker.update(rgb[2], depth[2]) == reference.update(rgb[2], depth[2])
    with pytest.raises(ValueError, match="device, dtype and compile configure the PyTorch backend"):
        Tracker(backend, dtype=torch.bfloat16)


def test_rejected_init_keeps_the_running_track(tracker, clip):
    rgb, depth, boxes = clip
    tracker.init(rgb[0], depth[0], boxes[0])
    good = tracker.update(rgb[1], depth[1])
    for bad_box in [(10, 10, -5, 20), "85,119,70,62", None]:
        with pytest.raises(ValueError):
            tracker.init(rgb[2], depth[2], bad_box)
    with pytest.raises(ValueError):
        tracker.init(rgb[2][..., :2], depth[2], boxes[2])
    after = tracker.update(rgb[2], depth[2])
    assert after.frame_index == good.frame_index + 1


@pytest.mark.parametrize("box", ["85,119,70,62", ("85", "119", "70", "62"), None, np.zeros((2, 2)), [1, 2, 3],
                                 [True, False, True, True], {"x": 1}])
def test_malformed_boxes_get_the_library_message(tracker, clip, box):
    rgb, depth, _ = clip
    with pytest.raises(ValueError, match=r"box must be 4 numbers x, y, w, h \(top-left corner"):
        tracker.init(rgb[0], depth[0], box)


def test_boxes_as_arrays_and_numpy_scalars_are_accepted(tiny_model, clip):
    rgb, depth, boxes = clip
    a, b = Tracker(tiny_model, device="cpu"), Tracker(tiny_model, device="cpu")
    assert a.init(rgb[0], depth[0], np.asarray(boxes[0], dtype=np.float32)).box == tuple(
        float(v) for v in np.asarray(boxes[0], dtype=np.float32))
    b.init(rgb[0], depth[0], [np.int64(v) for v in np.round(boxes[0])])


def test_absurdly_large_boxes_are_refused_and_whole_frame_boxes_track(tiny_model, clip):
    rgb, depth, _ = clip
    tracker = Tracker(tiny_model, device="cpu")
    for box in [(0, 0, 1e7, 1e7), (0, 0, 1e200, 1e200)]:
        with pytest.raises(ValueError, match="more than 4 times the size of the 480x360 image"):
            tracker.init(rgb[0], depth[0], box)
    tracker.init(rgb[0], depth[0], (0, 0, 480, 360))
    x, y, w, h = tracker.update(rgb[1], depth[1]).box
    assert 0 <= x and 0 <= y and x + w <= 480 and y + h <= 360


def test_frames_smaller_than_the_clip_margin_give_boxes_inside_them(tiny_model):
    tracker = Tracker(tiny_model, device="cpu", x_format="rendered")
    rng = np.random.default_rng(0)
    rgb, x = (rng.integers(0, 255, (8, 8, 3), dtype=np.uint8) for _ in range(2))
    tracker.init(rgb, x, (1, 1, 5, 5))
    for _ in range(3):
        bx, by, bw, bh = tracker.update(rgb, x).box
        assert 0 <= bx and 0 <= by and bx + bw <= 8 and by + bh <= 8


def test_clipped_boxes_are_floats():
    for box in [clip_box((-50.0, -40.0, 30.0, 20.0), 100, 80), clip_box((20, 10, 30, 20), 100, 80)]:
        assert all(type(v) is float for v in box)


@pytest.mark.parametrize("scale, fix", [
    (1.0, r"values 0\.\.1 \(a 0\.\.1 image\): use \(frame \* 255\)\.round\(\)\.astype\(np\.uint8\)"),
    (255.0, r"values 0\.\.255 \(already 0\.\.255\): use frame\.round\(\)\.astype\(np\.uint8\)"),
])
def test_float_rgb_frames_get_the_fix_that_matches_their_range(tracker, clip, scale, fix):
    rgb, depth, boxes = clip
    frame = rgb[0].astype(np.float32) / 255.0 * scale
    frame[0, 0] = [0.0, 0.0, scale]
    with pytest.raises(ValueError, match=r"rgb frame must be uint8, got dtype float32 with " + fix):
        tracker.init(frame, depth[0], boxes[0])
