"""Tracking from ROS bags (sdstrack.rosbag, `sdstrack track --bag`): bags written with rosbags itself."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

pytest.importorskip("rosbags")

from rosbags.rosbag1 import Writer as Writer1  # noqa: E402
from rosbags.rosbag2 import StoragePlugin  # noqa: E402
from rosbags.rosbag2 import Writer as Writer2  # noqa: E402
from rosbags.typesys import Stores, get_typestore  # noqa: E402

from sdstrack import Tracker  # noqa: E402
from sdstrack.cli import main  # noqa: E402
from sdstrack.io import FrameSource  # noqa: E402
from sdstrack.rosbag import (  # noqa: E402
    BagError,
    BagSource,
    DetectionBagWriter,
    StampSynchronizer,
    decode_image,
    read_detections,
    track_bag,
)

from .conftest import BUNDLED_MODEL  # noqa: E402

W, H = 160, 120
MS = 1_000_000
RGB_MS = [round(i * 100 / 3) for i in range(45)]  # 30 Hz, 1.5 s
JITTER_MS = (0, 4, -3, 6, -5)
# 15 Hz with jitter and a 1 s gap (0.3 s .. 1.3 s): 0, 71, 130, 206, 262 | 1333, 1404, 1464 ms
X_MS = [round(j * 200 / 3) + JITTER_MS[j % 5] for j in range(23) if not 300 <= round(j * 200 / 3) < 1300]
# by hand: tolerance = half the median interval of X (56,59,60,71,71,76,1071 -> 71 ms) = 35.5 ms
EXPECTED_X = [0, 0, 1, 1, 2, None, 3, 3, 4] + [None] * 30 + [5, 5, 5, 6, 6, 7]
BOX = (60.0, 40.0, 24.0, 20.0)
BASE = 1_700_000_000 * 10**9  # header stamps start here (ns)


def scene(t_ms: float) -> tuple[np.ndarray, np.ndarray]:
    """The clip at time t: RGB (H x W x 3 uint8, a bright square moving right on a texture) and depth (mm)."""
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 120, (H, W, 3), dtype=np.uint8)
    depth = np.full((H, W), 3000, np.uint16) + np.arange(W, dtype=np.uint16)[None, :]
    x = int(60 + t_ms / 30)
    rgb[40:60, x:x + 24] = (230, 60, 40)
    depth[40:60, x:x + 24] = 1000 + int(t_ms)
    return rgb, depth


def image_msg(store, stamp: int, encoding: str, pixels: np.ndarray, frame_id: str):
    types = store.types
    header = types["std_msgs/msg/Header"](stamp=types["builtin_interfaces/msg/Time"](
        sec=stamp // 10**9, nanosec=stamp % 10**9), frame_id=frame_id, **({"seq": 0} if "seq" in
        types["std_msgs/msg/Header"].__dataclass_fields__ else {}))
    if encoding in ("jpeg", "png") or encoding.endswith("compressedDepth png"):
        if encoding.endswith("compressedDepth png"):
            data = np.zeros(12, np.uint8).tobytes() + cv2.imencode(".png", pixels)[1].tobytes()
        else:
            data = cv2.imencode(f".{encoding}", cv2.cvtColor(pixels, cv2.COLOR_RGB2BGR))[1].tobytes()
        return types["sensor_msgs/msg/CompressedImage"](header=header, format=encoding,
                                                         data=np.frombuffer(data, np.uint8)), \
            "sensor_msgs/msg/CompressedImage"
    if encoding == "bgr8":
        pixels = pixels[..., ::-1]
    if encoding == "32FC1":
        pixels = pixels.astype(np.float32) / 1000
    pixels = np.ascontiguousarray(pixels)
    step = pixels.strides[0]
    return types["sensor_msgs/msg/Image"](header=header, height=pixels.shape[0], width=pixels.shape[1],
                                          encoding=encoding, is_bigendian=0, step=step,
                                          data=pixels.view(np.uint8).reshape(-1)), "sensor_msgs/msg/Image"


def write_bag(path: Path, kind: str, rgb_encoding: str, x_encoding: str, rgb_ms=RGB_MS, x_ms=X_MS,
              broken_rgb: int | None = None, extra_topic: bool = False) -> Path:
    """A bag with /cam/color (RGB) and /cam/depth; record time = stamp + 5 ms (RGB) / + 20 ms (depth)."""
    store = get_typestore(Stores.ROS1_NOETIC if kind == "ros1" else Stores.ROS2_HUMBLE)
    entries = []
    for index, t in enumerate(rgb_ms):
        msg, msgtype = image_msg(store, BASE + t * MS, rgb_encoding, scene(t)[0], "color_optical")
        if index == broken_rgb:
            msg = dataclasses.replace(msg, encoding="yuv422")
        entries.append((BASE + (t + 5) * MS, "/cam/color", msgtype, msg))
    for t in x_ms:
        msg, msgtype = image_msg(store, BASE + t * MS, x_encoding, scene(t)[1], "depth_optical")
        entries.append((BASE + (t + 20) * MS, "/cam/depth", msgtype, msg))
    if extra_topic:
        entries.append((BASE, "/chatter", "std_msgs/msg/String", store.types["std_msgs/msg/String"](data="hi")))
    entries.sort(key=lambda e: e[0])
    if kind == "ros1":
        path = path.with_suffix(".bag")
        writer = Writer1(path)
        serialize = store.serialize_ros1
    else:
        plugin = StoragePlugin.MCAP if kind == "mcap" else StoragePlugin.SQLITE3
        writer = Writer2(path, version=Writer2.VERSION_LATEST, storage_plugin=plugin)
        serialize = store.serialize_cdr
    with writer:
        connections = {}
        for time, topic, msgtype, msg in entries:
            if topic not in connections:
                connections[topic] = writer.add_connection(topic, msgtype, typestore=store)
            writer.write(connections[topic], time, serialize(msg, msgtype))
    return path


class Recorder:
    """A stub tracker recording which frames were None."""

    def __init__(self):
        self.calls: list[tuple[str, bool, bool]] = []

    def init(self, rgb, x, box):
        self.calls.append(("init", rgb is None, x is None))
        return tuple(box)

    def update(self, rgb, x):
        self.calls.append(("update", rgb is None, x is None))
        return None


def x_partners(path: Path, **kwargs) -> tuple[list[int | None], BagSource]:
    """Which X message (index into X_MS) each yielded frame got, and the source (for its summary)."""
    with BagSource(path, "/cam/color", "/cam/depth", **kwargs) as source:
        stamps = [None if f.x_stamp is None else X_MS.index((f.x_stamp - BASE) // MS) for f in source]
    return stamps, source


def test_synchronizer_by_hand():
    sync = StampSynchronizer(tolerance=0.010, max_delay=0.1)
    ms = 1_000_000
    decided = []
    decided += sync.add_drive(0, "r0")
    decided += sync.add_other(2 * ms, "x0")          # nothing final yet: a nearer X may come until 10 ms
    decided += sync.add_drive(33 * ms, "r1")
    assert [p.drive for p in decided] == []
    decided += sync.add_other(30 * ms, "x1")         # 30 > 0 + 10: r0 is final, with x0
    assert [(p.drive, p.other) for p in decided] == [("r0", "x0")]
    decided += sync.add_other(44 * ms, "x2")         # r1: x1 is 3 ms away, x2 11 ms
    decided += sync.add_drive(66 * ms, "r2")
    decided += sync.add_drive(100 * ms, "r3")
    decided += sync.add_drive(133 * ms, "r4")
    decided += sync.add_drive(177 * ms, "r5")        # 177 > 66 + 10 + 100: r2 given up (x2 is 22 ms away)
    assert [(p.drive, p.other) for p in decided] == [("r0", "x0"), ("r1", "x1"), ("r2", None)]
    decided += sync.add_other(110 * ms, "x3")        # exactly 10 ms from r3: within tolerance
    decided += sync.flush()
    assert [(p.drive, p.other, p.other_stamp) for p in decided][3:] == [
        ("r3", "x3", 110 * ms), ("r4", None, None), ("r5", None, None)]
    with pytest.raises(BagError, match="positive number of seconds"):
        StampSynchronizer(tolerance=0.0)


@pytest.mark.parametrize("kind, rgb_encoding, x_encoding", [
    ("ros1", "rgb8", "16UC1"),
    ("sqlite3", "bgr8", "16UC1; compressedDepth png"),
    ("mcap", "png", "32FC1"),
])
def test_pairing_and_boxes_equal_folder_tracking(kind, rgb_encoding, x_encoding, tmp_path):
    bag = write_bag(tmp_path / "clip", kind, rgb_encoding, x_encoding)
    partners, source = x_partners(bag)
    assert partners == EXPECTED_X
    assert source.tolerance == pytest.approx(0.0355)
    assert (source.summary.frames, source.summary.paired, source.summary.x_missing) == (45, 14, 31)

    recorder = Recorder()
    with BagSource(bag, "/cam/color", "/cam/depth") as source:
        list(track_bag(recorder, source, BOX))
    assert recorder.calls == [("init" if i == 0 else "update", False, p is None) for i, p in enumerate(EXPECTED_X)]

    tracker = Tracker.from_pretrained(BUNDLED_MODEL, device="cpu", bgr=False)
    with BagSource(bag, "/cam/color", "/cam/depth") as source:
        from_bag = [result.box for _, result in track_bag(tracker, source, BOX)]
    for folder in ("color", "depth"):
        (tmp_path / folder).mkdir()
    for i, t in enumerate(RGB_MS):
        cv2.imwrite(str(tmp_path / f"color/{i:04d}.png"), cv2.cvtColor(scene(t)[0], cv2.COLOR_RGB2BGR))
    for j, t in enumerate(X_MS):
        cv2.imwrite(str(tmp_path / f"depth/{j:04d}.png"), scene(t)[1])
    depth = list(FrameSource(tmp_path / "depth"))
    reference = Tracker.from_pretrained(BUNDLED_MODEL, device="cpu", bgr=True)
    from_folders = []
    for i, (bgr, partner) in enumerate(zip(FrameSource(tmp_path / "color"), EXPECTED_X)):
        x = None if partner is None else depth[partner]
        result = reference.init(bgr, x, BOX) if i == 0 else reference.update(bgr, x)
        from_folders.append(result.box)
    assert from_bag == from_folders


def test_x_drives(tmp_path):
    bag = write_bag(tmp_path / "clip", "ros1", "rgb8", "16UC1")
    with BagSource(bag, "/cam/color", "/cam/depth", drive="x", tolerance=0.003) as source:
        frames = list(source)
    rgb_index = [None if f.rgb is None else RGB_MS.index((f.stamp - BASE) // MS) for f in frames]
    assert rgb_index == [0, None, 4, None, None, 40, None, 44]   # |d - rgb| <= 3 ms, by hand
    assert all(f.x is not None for f in frames)
    assert [f.frame_id for f in frames][:2] == ["color_optical", "depth_optical"]
    assert (source.summary.paired, source.summary.rgb_missing) == (4, 4)


def test_start_and_duration(tmp_path):
    bag = write_bag(tmp_path / "clip", "ros1", "rgb8", "16UC1")
    # record times are stamp + 5 ms: 1.2 s .. 1.4 s after the first record covers RGB 1200..1367 ms (6 frames)
    with BagSource(bag, "/cam/color", "/cam/depth", start=1.2, duration=0.2, tolerance=0.0355) as source:
        stamps = [(f.stamp - BASE) // MS for f in source]
    assert stamps == [1200, 1233, 1267, 1300, 1333, 1367]


def test_cli_writes_text_and_detection_bag_that_agree(tmp_path, capsys):
    bag = write_bag(tmp_path / "clip", "mcap", "rgb8", "16UC1")
    out, out_bag, video = tmp_path / "boxes.txt", tmp_path / "detections", tmp_path / "tracked.mp4"
    code = main(["track", "--model", str(BUNDLED_MODEL), "--bag", str(bag), "--rgb-topic", "/cam/color",
                 "--x-topic", "/cam/depth", "--box", "60,40,24,20", "--out", str(out), "--out-bag", str(out_bag),
                 "--render", str(video), "--device", "cpu"])
    assert code == 0
    printed = capsys.readouterr().out
    assert "45 frames: 14 paired, 31 X-missing (masked X), 0 RGB-missing (masked RGB)" in printed
    assert "tolerance 35.5 ms" in printed
    lines = out.read_text().splitlines()
    detections = read_detections(out_bag)
    assert len(lines) == len(detections) == 45 and any(out_bag.glob("*.mcap"))
    assert [d.stamp for d in detections] == [BASE + t * MS for t in RGB_MS]
    assert {d.frame_id for d in detections} == {"color_optical"}
    assert [",".join(f"{v:.6f}" for v in (*d.box, d.score)) for d in detections] == lines


def test_ros1_detection_bag_round_trip(tmp_path):
    path = tmp_path / "detections.bag"
    with DetectionBagWriter(path) as writer:
        writer.write(BASE + 7, "cam", (1.5, -2.0, 30.0, 20.0), 0.75)
    assert read_detections(path) == [type(read_detections(path)[0])(BASE + 7, "cam", (1.5, -2.0, 30.0, 20.0), 0.75)]


def test_decoding_encodings():
    store = get_typestore(Stores.ROS2_HUMBLE)
    rgb, depth = scene(0)
    jpeg, _ = image_msg(store, 0, "jpeg", rgb, "c")
    decoded = decode_image(jpeg, "rgb")   # lossy: check the size and the flat red square's colour (RGB order)
    assert decoded.shape == rgb.shape and np.abs(decoded[44:56, 64:80].mean((0, 1)) - (230, 60, 40)).max() < 12
    mono8, _ = image_msg(store, 0, "mono8", rgb[..., 0], "c")
    assert np.array_equal(decode_image(mono8, "rgb"), np.repeat(rgb[..., :1], 3, axis=2))
    thermal, _ = image_msg(store, 0, "mono16", depth, "t")
    assert np.array_equal(decode_image(thermal, "x"), depth)
    png16 = store.types["sensor_msgs/msg/CompressedImage"](header=thermal.header, format="mono16; png",
                                                           data=cv2.imencode(".png", depth)[1])
    assert np.array_equal(decode_image(png16, "x"), depth)
    # compressedDepth 32FC1: inverse depth v = A / d + B with A, B in the 12-byte header
    quant_a, quant_b = 100.0, 10.0
    inverse = np.where(depth > 0, quant_a / (depth / 1000) + quant_b, 0).astype(np.uint16)
    header = np.array([0], "<i4").tobytes() + np.array([quant_a, quant_b], "<f4").tobytes()
    msg = store.types["sensor_msgs/msg/CompressedImage"](
        header=thermal.header, format="32FC1; compressedDepth png",
        data=np.frombuffer(header + cv2.imencode(".png", inverse)[1].tobytes(), np.uint8))
    metres = decode_image(msg, "x")
    assert metres.dtype == np.float32 and np.allclose(metres, quant_a / (inverse - quant_b))
    padded = store.types["sensor_msgs/msg/Image"](header=thermal.header, height=H, width=W, encoding="rgb8",
                                                  is_bigendian=0, step=W * 3 + 4,
                                                  data=np.pad(rgb.reshape(H, -1), ((0, 0), (0, 4))).reshape(-1))
    assert np.array_equal(decode_image(padded, "rgb"), rgb)


def test_missing_and_wrong_topics_list_the_image_topics(tmp_path):
    bag = write_bag(tmp_path / "clip", "sqlite3", "rgb8", "16UC1", extra_topic=True)
    with pytest.raises(BagError, match=r"no topic '/cam/ir'.*image topics: /cam/color \(sensor_msgs/msg/Image\), "
                                       r"/cam/depth \(sensor_msgs/msg/Image\)"):
        BagSource(bag, "/cam/color", "/cam/ir")
    with pytest.raises(BagError, match="'/chatter' .* carries std_msgs/msg/String, not sensor_msgs/Image"):
        BagSource(bag, "/chatter", "/cam/depth")


def test_unknown_encoding_mid_bag_keeps_what_was_tracked(tmp_path, capsys):
    bag = write_bag(tmp_path / "clip", "ros1", "rgb8", "16UC1", broken_rgb=5)
    out, out_bag = tmp_path / "boxes.txt", tmp_path / "detections.bag"
    code = main(["track", "--model", str(BUNDLED_MODEL), "--bag", str(bag), "--rgb-topic", "/cam/color",
                 "--x-topic", "/cam/depth", "--box", "60,40,24,20", "--out", str(out), "--out-bag", str(out_bag),
                 "--device", "cpu"])
    assert code == 2
    error = capsys.readouterr().err
    assert "frame 5" in error and "'yuv422' is not supported" in error and "rgb8, bgr8, mono8" in error
    lines = out.read_text().splitlines()
    assert len(lines) == 5 and len(read_detections(out_bag)) == 5


def test_size_mismatch_needs_resize_x(tmp_path):
    bag = write_bag(tmp_path / "clip", "ros1", "rgb8", "16UC1")
    with BagSource(bag, "/cam/color", "/cam/depth") as source:
        first = next(iter(source))
    small = tmp_path / "small"
    store = get_typestore(Stores.ROS1_NOETIC)
    with Writer1(small.with_suffix(".bag")) as writer:
        rgb_c = writer.add_connection("/cam/color", "sensor_msgs/msg/Image", typestore=store)
        x_c = writer.add_connection("/cam/depth", "sensor_msgs/msg/Image", typestore=store)
        for t in (0, 33, 67):
            msg, _ = image_msg(store, BASE + t * MS, "rgb8", scene(t)[0], "c")
            writer.write(rgb_c, BASE + t * MS, store.serialize_ros1(msg, "sensor_msgs/msg/Image"))
            msg, _ = image_msg(store, BASE + t * MS, "16UC1", scene(t)[1][::2, ::2].copy(), "d")
            writer.write(x_c, BASE + t * MS + 1, store.serialize_ros1(msg, "sensor_msgs/msg/Image"))
    with BagSource(small.with_suffix(".bag"), "/cam/color", "/cam/depth") as source:
        with pytest.raises(BagError, match=r"/cam/depth frames are 80x60 but /cam/color frames are 160x120.*"
                                           r"--resize-x"):
            next(iter(source))
    with BagSource(small.with_suffix(".bag"), "/cam/color", "/cam/depth", resize_x=True) as source:
        assert next(iter(source)).x.shape == first.x.shape


@pytest.mark.parametrize("kind", ["ros1", "sqlite3", "mcap"])
def test_truncated_bag_is_a_clear_error(kind, tmp_path):
    bag = write_bag(tmp_path / "clip", kind, "rgb8", "16UC1")
    data = (next(bag.glob("*.db3"), None) or next(bag.glob("*.mcap"), None)) if bag.is_dir() else bag
    data.write_bytes(data.read_bytes()[: data.stat().st_size // 2])
    with pytest.raises(BagError, match="truncated|reindex"):
        with BagSource(bag, "/cam/color", "/cam/depth") as source:
            list(source)


def test_bag_options_need_the_extra_and_the_bag(tmp_path, monkeypatch, capsys):
    assert main(["track", "--model", str(BUNDLED_MODEL), "--rgb", "a", "--x", "b", "--rgb-topic", "/c"]) == 2
    assert "--rgb-topic only apply to a ROS bag: add --bag PATH" in capsys.readouterr().err
    bag = write_bag(tmp_path / "clip", "ros1", "rgb8", "16UC1")
    monkeypatch.setitem(sys.modules, "rosbags.highlevel", None)
    assert main(["track", "--model", str(BUNDLED_MODEL), "--bag", str(bag), "--rgb-topic", "/cam/color",
                 "--x-topic", "/cam/depth", "--box", "1,2,3,4"]) == 2
    assert "pip install 'sdstrack[ros]'" in capsys.readouterr().err
