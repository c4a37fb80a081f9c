"""Tracking straight from ROS 1 / ROS 2 bags: reading two image topics, pairing them by header stamp,
and writing the boxes back as ``vision_msgs/Detection2DArray``.

Needs the optional extra ``pip install 'sdstrack[ros]'`` (``rosbags``, pure Python, reads and writes ROS 1
``.bag`` files and ROS 2 bags in sqlite3 or MCAP storage without a ROS installation, and ``rosbags-image``).
:class:`StampSynchronizer` needs neither and can pair the callbacks of a live ROS node.

Conventions: stamps are integer nanoseconds (``header.stamp.sec * 10**9 + header.stamp.nanosec``),
tolerances and delays are seconds; RGB frames come out as H x W x 3 ``uint8`` **RGB** (build the tracker
with ``bgr=False``); X frames as the sensor sent them: depth ``uint16`` millimetres (``16UC1``) or
``float32`` metres (``32FC1``), thermal ``uint16`` counts (``mono16``) or ``uint8``, 3-channel images in
RGB order. Boxes are top-left ``x, y, w, h`` in pixels of the RGB image.

Pairing: one stream *drives* (RGB by default); each driving message is paired with the message of the
other stream nearest to it in header stamp, if one lies within the tolerance (default: half the other
stream's period, estimated from its first stamps), else with ``None``, which the tracker takes through its
masked path. This is the nearest-stamp rule of ROS's ``message_filters.ApproximateTimeSynchronizer`` for
two streams with its slop as the tolerance, with one difference: a message of the slower stream may be
the partner of several driving frames (depth at 15 Hz serves both RGB frames at 30 Hz around it) rather
than of one only, so no RGB frame is dropped or masked merely because the other sensor is slower.
"""

from __future__ import annotations

import math
import statistics
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

import cv2
import numpy as np

from .frames import resize_like

INSTALL_HINT = "reading and writing ROS bags needs the optional extra: pip install 'sdstrack[ros]' (rosbags, " \
               "rosbags-image)"
IMAGE_TYPES = ("sensor_msgs/msg/Image", "sensor_msgs/msg/CompressedImage")
DETECTIONS_TOPIC = "/sdstrack/detections"
DETECTIONS_TYPE = "vision_msgs/msg/Detection2DArray"
CLASS_ID = "target"
ESTIMATE_STAMPS = 20
"""How many of the other stream's first messages the default tolerance is estimated from."""
_COMPRESSED_DEPTH_HEADER = 12  # compressed_depth_image_transport's ConfigHeader: int32 format, float32[2] params

# vision_msgs message definitions as published (ROS 2: vision_msgs 4.x, branch ros2; ROS 1: noetic-devel)
_VISION_MSGS_ROS2 = {
    "vision_msgs/msg/Point2D": "float64 x\nfloat64 y\n",
    "vision_msgs/msg/Pose2D": "vision_msgs/Point2D position\nfloat64 theta\n",
    "vision_msgs/msg/BoundingBox2D": "vision_msgs/Pose2D center\nfloat64 size_x\nfloat64 size_y\n",
    "vision_msgs/msg/ObjectHypothesis": "string class_id\nfloat64 score\n",
    "vision_msgs/msg/ObjectHypothesisWithPose":
        "vision_msgs/ObjectHypothesis hypothesis\ngeometry_msgs/PoseWithCovariance pose\n",
    "vision_msgs/msg/Detection2D": "std_msgs/Header header\nvision_msgs/ObjectHypothesisWithPose[] results\n"
                                   "vision_msgs/BoundingBox2D bbox\nstring id\n",
    "vision_msgs/msg/Detection2DArray": "std_msgs/Header header\nvision_msgs/Detection2D[] detections\n",
}
_VISION_MSGS_ROS1 = {
    "vision_msgs/msg/BoundingBox2D": "geometry_msgs/Pose2D center\nfloat64 size_x\nfloat64 size_y\n",
    "vision_msgs/msg/ObjectHypothesisWithPose": "int64 id\nfloat64 score\ngeometry_msgs/PoseWithCovariance pose\n",
    "vision_msgs/msg/Detection2D": "Header header\nvision_msgs/ObjectHypothesisWithPose[] results\n"
                                   "vision_msgs/BoundingBox2D bbox\nsensor_msgs/Image source_img\n",
    "vision_msgs/msg/Detection2DArray": "Header header\nvision_msgs/Detection2D[] detections\n",
}

D = TypeVar("D")
O = TypeVar("O")  # noqa: E741


class BagError(ValueError):
    """A bag, topic or message that cannot be tracked; the message names the problem and the fix."""


class MissingExtraError(ImportError):
    """The ``sdstrack[ros]`` extra is not installed."""


def _rosbags() -> Any:
    """The ``rosbags`` package, or :class:`MissingExtraError` with the install hint."""
    try:
        import rosbags.highlevel
        import rosbags.image
        import rosbags.rosbag1
        import rosbags.rosbag2
        import rosbags.typesys
    except ImportError as err:
        raise MissingExtraError(INSTALL_HINT) from err
    return rosbags


def stamp_ns(header: Any) -> int:
    """A ROS ``std_msgs/Header``'s stamp in integer nanoseconds (ROS 1 and ROS 2 alike)."""
    return int(header.stamp.sec) * 1_000_000_000 + int(header.stamp.nanosec)


def estimate_tolerance(stamps: Iterable[int]) -> float:
    """Half the median interval between successive distinct stamps (ns) of a stream, in seconds: the
    default pairing tolerance. ``BagError`` with fewer than two distinct stamps."""
    ordered = sorted(set(stamps))
    if len(ordered) < 2:
        raise BagError(f"cannot estimate the stream's period from {len(ordered)} distinct stamp(s); pass the "
                       "pairing tolerance explicitly (--sync-tolerance SECONDS)")
    return statistics.median(b - a for a, b in zip(ordered, ordered[1:])) / 2e9


@dataclass(frozen=True)
class Pairing(Generic[D, O]):
    """One synchronisation decision: a driving message and its partner (``None``: none within tolerance).

    ``stamp`` / ``other_stamp`` are the two messages' header stamps in nanoseconds.
    """

    stamp: int
    drive: D
    other: O | None
    other_stamp: int | None


class StampSynchronizer(Generic[D, O]):
    """Pairs a driving stream with another by header stamp, as messages arrive (no ROS dependency).

    Each driving message gets the other stream's message nearest in stamp, if ``|difference| <= tolerance``
    (seconds; ties go to the earlier message), else ``None``. A decision is made as soon as it is final:
    when the other stream has a message later than ``stamp + tolerance`` (each stream must arrive in stamp
    order), or when the driving stream has moved more than ``tolerance + max_delay`` seconds past it (the
    partner is then taken as lost: ``max_delay`` bounds how late, in stamp time, a message may arrive and
    how many messages are held). :meth:`flush` decides the rest at the end of the streams. Messages of the
    other stream are kept only while a driving message may still pair with them.

    From a live ROS 2 node (rclpy), with ``tracker`` built with ``bgr=False`` and ``to_rgb`` / ``to_depth``
    your image conversions (e.g. :func:`decode_image`)::

        sync = StampSynchronizer(tolerance=0.5 / 15)             # depth at 15 Hz

        def on_rgb(msg):
            handle(sync.add_drive(stamp_ns(msg.header), msg))

        def on_depth(msg):
            handle(sync.add_other(stamp_ns(msg.header), msg))

        def handle(pairings):
            for p in pairings:                                    # p.other is None: depth missing
                depth = None if p.other is None else to_depth(p.other)
                result = tracker.update(to_rgb(p.drive), depth)

    Callbacks of one synchroniser must not run concurrently (use one mutually exclusive callback group).
    """

    def __init__(self, tolerance: float, max_delay: float = 1.0) -> None:
        if not (math.isfinite(tolerance) and tolerance > 0):
            raise BagError(f"the pairing tolerance must be a positive number of seconds, got {tolerance!r}")
        if not (math.isfinite(max_delay) and max_delay >= 0):
            raise BagError(f"max_delay must be a non-negative number of seconds, got {max_delay!r}")
        self.tolerance = tolerance
        self.max_delay = max_delay
        self._tolerance_ns = round(tolerance * 1e9)
        self._delay_ns = round(max_delay * 1e9)
        self._pending: deque[tuple[int, D]] = deque()
        self._others: deque[tuple[int, O]] = deque()
        self._latest_drive: int | None = None
        self._latest_other: int | None = None
        self._last_decided: int | None = None

    def add_drive(self, stamp: int, message: D) -> list[Pairing[D, O]]:
        """Add a driving message (header stamp in ns); returns the decisions this makes final, in order."""
        self._pending.append((stamp, message))
        self._latest_drive = stamp if self._latest_drive is None else max(self._latest_drive, stamp)
        return self._release(final=False)

    def add_other(self, stamp: int, message: O) -> list[Pairing[D, O]]:
        """Add a message of the other stream (header stamp in ns); returns the decisions made final."""
        self._others.append((stamp, message))
        self._latest_other = stamp if self._latest_other is None else max(self._latest_other, stamp)
        return self._release(final=False)

    def flush(self) -> list[Pairing[D, O]]:
        """The streams ended: decide every held driving message with the messages seen."""
        return self._release(final=True)

    def _ready(self, stamp: int) -> bool:
        after = stamp + self._tolerance_ns
        return (self._latest_other is not None and self._latest_other > after) or (
            self._latest_drive is not None and self._latest_drive > after + self._delay_ns)

    def _release(self, final: bool) -> list[Pairing[D, O]]:
        decided: list[Pairing[D, O]] = []
        while self._pending and (final or self._ready(self._pending[0][0])):
            stamp, message = self._pending.popleft()
            near = [(abs(other_stamp - stamp), other_stamp, index) for index, (other_stamp, _) in
                    enumerate(self._others) if abs(other_stamp - stamp) <= self._tolerance_ns]
            if near:
                _, other_stamp, index = min(near)
                decided.append(Pairing(stamp, message, self._others[index][1], other_stamp))
            else:
                decided.append(Pairing(stamp, message, None, None))
            self._last_decided = stamp
        horizon = self._pending[0][0] if self._pending else self._last_decided
        if horizon is not None:
            while self._others and self._others[0][0] < horizon - self._tolerance_ns:
                self._others.popleft()
        return decided


def _color_to_rgb(image: np.ndarray, channels_bgr: bool) -> np.ndarray:
    """H x W, H x W x 3 or H x W x 4 uint8 -> H x W x 3 RGB."""
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2RGB)
    if image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2RGB if channels_bgr else cv2.COLOR_RGBA2RGB)
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB) if channels_bgr else image


def _raw_array(msg: Any, role: str) -> np.ndarray:
    """A ``sensor_msgs/Image``'s pixels as an H x W (x C) array in the encoding's dtype, native byte order."""
    image = _rosbags().image.image
    try:
        _, _, typestr, channels = image.to_cvtype(msg.encoding)
    except image.ImageFormatError:
        raise BagError(_unknown_encoding(msg.encoding, role)) from None
    dtype = np.dtype(typestr).newbyteorder(">" if msg.is_bigendian else "<")
    row = msg.width * channels * dtype.itemsize
    data = np.asarray(msg.data, dtype=np.uint8)
    if msg.step < row or data.size < msg.step * msg.height:
        raise BagError(f"{role} Image message is malformed: {msg.width}x{msg.height} {msg.encoding!r} needs "
                       f"{row} bytes a row, but step is {msg.step} and data holds {data.size} bytes")
    rows = data[: msg.step * msg.height].reshape(msg.height, msg.step)[:, :row]
    pixels = np.ascontiguousarray(rows).view(dtype).astype(dtype.newbyteorder("="), copy=False)
    return pixels.reshape((msg.height, msg.width) if channels == 1 else (msg.height, msg.width, channels))


RGB_ENCODINGS = ("rgb8", "bgr8", "mono8", "rgba8", "bgra8")
X_ENCODINGS = ("16UC1", "mono16", "32FC1", "mono8", "8UC1", "rgb8", "bgr8")


def _unknown_encoding(encoding: str, role: str) -> str:
    supported = RGB_ENCODINGS if role == "rgb" else X_ENCODINGS
    return (f"{role} Image encoding {encoding!r} is not supported for the {role} stream; supported: "
            f"{', '.join(supported)} (or a CompressedImage); republish the topic in one of them")


def decode_image(msg: Any, role: str) -> np.ndarray:
    """A ``sensor_msgs/Image`` or ``sensor_msgs/CompressedImage`` -> a NumPy frame for the tracker.

    ``role="rgb"``: H x W x 3 ``uint8`` RGB (from rgb8, bgr8, mono8, rgba8, bgra8, JPEG or PNG).
    ``role="x"``: 16UC1 / mono16 as ``uint16`` (depth millimetres, thermal counts), 32FC1 as ``float32``
    (depth metres), mono8 / 8UC1 as ``uint8``, rgb8 / bgr8 / colour JPEG or PNG as H x W x 3 RGB,
    grey or 16-bit PNG unchanged, and ``compressedDepth`` PNG (16UC1: ``uint16`` mm; 32FC1: ``float32``
    metres, 0 -> NaN). ``BagError`` for anything else, naming the encoding.
    """
    if hasattr(msg, "format"):
        return _decode_compressed(msg, role)
    encoding = msg.encoding
    if role == "rgb":
        if encoding not in RGB_ENCODINGS:
            raise BagError(_unknown_encoding(encoding, role))
        return _color_to_rgb(_raw_array(msg, role), channels_bgr=encoding.startswith("bgr"))
    if encoding not in X_ENCODINGS:
        raise BagError(_unknown_encoding(encoding, role))
    pixels = _raw_array(msg, role)
    return _color_to_rgb(pixels, channels_bgr=True) if encoding == "bgr8" else pixels


def _decode_compressed(msg: Any, role: str) -> np.ndarray:
    data = np.asarray(msg.data, dtype=np.uint8)
    text = msg.format.lower()
    if "compresseddepth" in text:
        if role == "rgb":
            raise BagError("the rgb topic carries compressedDepth images (depth); pass the colour topic as the "
                           "RGB topic and this one as the X topic")
        if "rvl" in text:
            raise BagError(f"compressedDepth RVL ({msg.format!r}) is not supported; republish with the "
                           "compressedDepth png format")
        encoding = msg.format.split(";")[0].strip()
        depth = cv2.imdecode(data[_COMPRESSED_DEPTH_HEADER:], cv2.IMREAD_UNCHANGED)
        if depth is None or depth.dtype != np.uint16 or depth.ndim != 2:
            raise BagError(f"cannot decode a compressedDepth ({msg.format!r}) message as a 16-bit PNG: the "
                           "message is corrupt")
        if encoding == "32FC1":
            quant_a, quant_b = np.frombuffer(data[4:12].tobytes(), dtype="<f4")
            with np.errstate(divide="ignore"):
                metres = quant_a / (depth.astype(np.float32) - quant_b)
            return np.where(depth == 0, np.float32(np.nan), metres).astype(np.float32)
        if encoding != "16UC1":
            raise BagError(f"compressedDepth encoding {encoding!r} is not supported; expected 16UC1 or 32FC1")
        return depth
    image = cv2.imdecode(data, cv2.IMREAD_COLOR if role == "rgb" else cv2.IMREAD_UNCHANGED)
    if image is None:
        raise BagError(f"cannot decode a {role} CompressedImage of format {msg.format!r}: OpenCV reads "
                       "JPEG and PNG only, or the message is corrupt")
    if image.ndim == 3:
        if image.dtype != np.uint8:
            raise BagError(f"{role} CompressedImage is a {image.dtype} colour image; expected 8-bit colour")
        return _color_to_rgb(image, channels_bgr=True)
    return image


@dataclass(frozen=True)
class BagFrame:
    """One synchronised frame pair from a bag.

    ``rgb``: H x W x 3 uint8 RGB or ``None`` (no RGB message within the tolerance, ``drive="x"`` only);
    ``x``: the X frame (see :func:`decode_image`) or ``None``; ``stamp`` / ``frame_id``: the header stamp
    (ns) and frame id of the RGB message, or of the X message when RGB is missing; ``x_stamp``: the X
    message's stamp (ns) or ``None``.
    """

    rgb: np.ndarray | None
    x: np.ndarray | None
    stamp: int
    frame_id: str
    x_stamp: int | None


@dataclass
class PairingSummary:
    """How many frames were paired, tracked without X (``x_missing``) and without RGB (``rgb_missing``)."""

    paired: int = 0
    x_missing: int = 0
    rgb_missing: int = 0

    @property
    def frames(self) -> int:
        return self.paired + self.x_missing + self.rgb_missing

    def __str__(self) -> str:
        return (f"{self.frames} frames: {self.paired} paired, {self.x_missing} X-missing (masked X), "
                f"{self.rgb_missing} RGB-missing (masked RGB)")


def _image_topics(reader: Any) -> str:
    topics = [f"{name} ({info.msgtype})" for name, info in reader.topics.items() if info.msgtype in IMAGE_TYPES]
    return ", ".join(topics) if topics else "none"


class BagSource:
    """Synchronised RGB + X frames streamed from a ROS 1 bag (``.bag``) or a ROS 2 bag folder (sqlite3 or
    MCAP); one message pair in memory at a time, plus what :class:`StampSynchronizer` holds.

    Arguments: ``rgb_topic`` / ``x_topic`` carry ``sensor_msgs/Image`` or ``CompressedImage``; ``start`` /
    ``duration``: seconds of record (receive) time after the bag's first message; ``tolerance``: pairing
    tolerance in seconds (default half the other stream's period, estimated from its first
    :data:`ESTIMATE_STAMPS` stamps); ``drive``: ``"rgb"`` (every RGB message is a frame, ``x=None`` when
    unpaired) or ``"x"`` (every X message is a frame, ``rgb=None`` when unpaired); ``max_delay``: see
    :class:`StampSynchronizer`; ``resize_x``: X frames of
    another size than RGB are resized with :func:`sdstrack.resize_like` instead of refused (only for sensors
    with the same field of view; it does not register them).

    Iterate for :class:`BagFrame` s; ``summary`` counts the frames yielded so far. Use as a context manager
    or call :meth:`close`. Errors are :class:`BagError`, naming the frame they happened at.
    """

    def __init__(self, path: str | Path, rgb_topic: str, x_topic: str, *, start: float | None = None,
                 duration: float | None = None, tolerance: float | None = None, drive: str = "rgb",
                 max_delay: float = 1.0, resize_x: bool = False) -> None:
        rosbags = _rosbags()
        self.path, self.rgb_topic, self.x_topic = Path(path), rgb_topic, x_topic
        self.start, self.duration, self.tolerance, self.drive = start, duration, tolerance, drive
        self.max_delay, self.resize_x = max_delay, resize_x
        self.summary = PairingSummary()
        if self.drive not in ("rgb", "x"):
            raise BagError(f"drive must be 'rgb' or 'x', got {self.drive!r}")
        for name, value in (("start", self.start), ("duration", self.duration)):
            if value is not None and not (math.isfinite(value) and value >= 0):
                raise BagError(f"{name} must be a non-negative number of seconds, got {value!r}")
        if not self.path.exists():
            raise FileNotFoundError(f"{self.path}: no such bag (a ROS 1 .bag file or a ROS 2 bag folder)")
        self._reader = rosbags.highlevel.AnyReader([self.path])
        try:
            self._reader.open()
        except (rosbags.highlevel.AnyReaderError, OSError, KeyError, ValueError) as err:
            raise BagError(f"{self.path} cannot be opened as a ROS bag ({err}); if recording was cut off, "
                           "reindex it (`rosbag reindex` for ROS 1, `ros2 bag reindex` for ROS 2)") from err
        self.is_ros2 = self._reader.is2
        self.storage = "mcap" if self.is_ros2 and any(self.path.glob("*.mcap")) else "sqlite3"
        self._connections = {role: self._topic_connections(topic, role)
                             for role, topic in (("rgb", self.rgb_topic), ("x", self.x_topic))}
        begin = self._reader.start_time
        self._start_ns = begin + round((self.start or 0.0) * 1e9)
        self._stop_ns = None if self.duration is None else self._start_ns + round(self.duration * 1e9)
        if self.tolerance is None:
            other = "x" if self.drive == "rgb" else "rgb"
            self.tolerance = estimate_tolerance(self._first_stamps(other))

    def _topic_connections(self, topic: str, role: str) -> list[Any]:
        info = self._reader.topics.get(topic)
        if info is None:
            raise BagError(f"{self.path} has no topic {topic!r} (--{role}-topic); its image topics: "
                           f"{_image_topics(self._reader)}")
        if info.msgtype not in IMAGE_TYPES:
            raise BagError(f"topic {topic!r} (--{role}-topic) carries {info.msgtype}, not sensor_msgs/Image or "
                           f"CompressedImage; the bag's image topics: {_image_topics(self._reader)}")
        return list(info.connections)

    def _first_stamps(self, role: str) -> list[int]:
        stamps: list[int] = []
        for _, msg in self._messages(self._connections[role]):
            stamps.append(stamp_ns(msg.header))
            if len(stamps) == ESTIMATE_STAMPS:
                break
        return stamps

    def _messages(self, connections: Sequence[Any]) -> Iterator[tuple[Any, Any]]:
        rosbags = _rosbags()
        errors = (rosbags.highlevel.AnyReaderError, rosbags.rosbag1.ReaderError, rosbags.rosbag2.ReaderError,
                  OSError, EOFError, KeyError, ValueError, IndexError)
        messages = self._reader.messages(connections=connections, start=self._start_ns, stop=self._stop_ns)
        while True:
            try:
                connection, _, raw = next(messages)
                msg = self._reader.deserialize(raw, connection.msgtype)
            except StopIteration:
                return
            except errors as err:
                raise BagError(f"{self.path} is unreadable after {self.summary.frames} frames ({type(err).__name__}: "
                               f"{err}); the bag may be truncated or corrupt: reindex it (`rosbag reindex` for "
                               "ROS 1, `ros2 bag reindex` for ROS 2)") from err
            yield connection, msg

    def __iter__(self) -> Iterator[BagFrame]:
        drive_role = self.drive
        sync: StampSynchronizer[Any, Any] = StampSynchronizer(self.tolerance, self.max_delay)
        drive_ids = {id(c) for c in self._connections[drive_role]}
        connections = self._connections["rgb"] + self._connections["x"]
        for connection, msg in self._messages(connections):
            stamp = stamp_ns(msg.header)
            add = sync.add_drive if id(connection) in drive_ids else sync.add_other
            yield from self._frames(add(stamp, msg))
        yield from self._frames(sync.flush())

    def _frames(self, pairings: list[Pairing[Any, Any]]) -> Iterator[BagFrame]:
        for pairing in pairings:
            if self.drive == "rgb":
                rgb_msg, x_msg = pairing.drive, pairing.other
            else:
                rgb_msg, x_msg = pairing.other, pairing.drive
            try:
                rgb = None if rgb_msg is None else decode_image(rgb_msg, "rgb")
                x = None if x_msg is None else decode_image(x_msg, "x")
            except BagError as err:
                raise BagError(f"{self.path} frame {self.summary.frames} (stamp {pairing.stamp} ns): {err}") from err
            if rgb is not None and x is not None and rgb.shape[:2] != x.shape[:2]:
                if not self.resize_x:
                    raise BagError(
                        f"{self.x_topic} frames are {x.shape[1]}x{x.shape[0]} but {self.rgb_topic} frames are "
                        f"{rgb.shape[1]}x{rgb.shape[0]} (width x height): pass topics registered to the RGB "
                        "camera (e.g. aligned_depth_to_color), or --resize-x / resize_x=True to resize X with "
                        "sdstrack.resize_like when both sensors see the same field of view")
                x = resize_like(x, rgb)
            header = (rgb_msg if rgb_msg is not None else x_msg).header
            if rgb is None:
                self.summary.rgb_missing += 1
            elif x is None:
                self.summary.x_missing += 1
            else:
                self.summary.paired += 1
            yield BagFrame(rgb, x, stamp_ns(header), header.frame_id,
                           None if x_msg is None else stamp_ns(x_msg.header))

    def close(self) -> None:
        """Close the bag."""
        self._reader.close()

    def __enter__(self) -> BagSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _typestore(ros2: bool) -> Any:
    """A typestore with the standard messages and vision_msgs registered from its published .msg text."""
    typesys = _rosbags().typesys
    store = typesys.get_typestore(typesys.Stores.ROS2_HUMBLE if ros2 else typesys.Stores.ROS1_NOETIC)
    types: dict[str, Any] = {}
    for name, text in (_VISION_MSGS_ROS2 if ros2 else _VISION_MSGS_ROS1).items():
        types.update(typesys.get_types_from_msg(text, name))
    store.register(types)
    return store


class DetectionBagWriter:
    """Writes one ``vision_msgs/Detection2DArray`` per tracked frame to a new bag, stamped (header and
    record time) with the frame's stamp and frame id, one detection: ``bbox.center`` the box centre and
    ``size_x`` / ``size_y`` its width and height in pixels, the score as the hypothesis score (ROS 2:
    ``class_id`` :data:`CLASS_ID`; ROS 1: ``id`` 0).

    ``path`` ending in ``.bag``: ROS 1 (vision_msgs noetic definitions); otherwise a ROS 2 bag folder
    (vision_msgs 4.x definitions) in ``storage`` ``"sqlite3"`` or ``"mcap"``. The bag must not exist.
    Messages written are kept when tracking stops with an error: :meth:`close` always finishes the bag.
    """

    def __init__(self, path: str | Path, topic: str = DETECTIONS_TOPIC, storage: str = "sqlite3") -> None:
        rosbags = _rosbags()
        self.path = Path(path)
        if self.path.exists():
            raise FileExistsError(f"{self.path} exists; the detections bag must be new: remove it or pick another")
        self.ros2 = self.path.suffix != ".bag"
        self._store = _typestore(self.ros2)
        if self.ros2:
            if storage not in ("sqlite3", "mcap"):
                raise BagError(f"ROS 2 storage must be 'sqlite3' or 'mcap', got {storage!r}")
            plugin = rosbags.rosbag2.StoragePlugin.MCAP if storage == "mcap" else rosbags.rosbag2.StoragePlugin.SQLITE3
            self._writer = rosbags.rosbag2.Writer(self.path, version=rosbags.rosbag2.Writer.VERSION_LATEST,
                                                  storage_plugin=plugin)
            self._serialize: Callable[[Any, str], bytes] = self._store.serialize_cdr
        else:
            self._writer = rosbags.rosbag1.Writer(self.path)
            self._serialize = self._store.serialize_ros1
        self._writer.open()
        self._connection = self._writer.add_connection(topic, DETECTIONS_TYPE, typestore=self._store)

    def write(self, stamp: int, frame_id: str, box: Sequence[float], score: float) -> None:
        """Add the detection of one frame: header stamp (ns), frame id, box (x, y, w, h pixels), score."""
        t = self._store.types
        header = t["std_msgs/msg/Header"](
            stamp=t["builtin_interfaces/msg/Time"](sec=stamp // 1_000_000_000, nanosec=stamp % 1_000_000_000),
            frame_id=frame_id, **({} if self.ros2 else {"seq": 0}))
        x, y, w, h = (float(v) for v in box)
        pose = t["geometry_msgs/msg/PoseWithCovariance"](
            pose=t["geometry_msgs/msg/Pose"](position=t["geometry_msgs/msg/Point"](x=0.0, y=0.0, z=0.0),
                                             orientation=t["geometry_msgs/msg/Quaternion"](x=0.0, y=0.0, z=0.0, w=1.0)),
            covariance=np.zeros(36, dtype=np.float64))
        if self.ros2:
            center = t["vision_msgs/msg/Pose2D"](position=t["vision_msgs/msg/Point2D"](x=x + w / 2, y=y + h / 2),
                                                 theta=0.0)
            result = t["vision_msgs/msg/ObjectHypothesisWithPose"](
                hypothesis=t["vision_msgs/msg/ObjectHypothesis"](class_id=CLASS_ID, score=float(score)), pose=pose)
            extra: dict[str, Any] = {"id": ""}
        else:
            center = t["geometry_msgs/msg/Pose2D"](x=x + w / 2, y=y + h / 2, theta=0.0)
            result = t["vision_msgs/msg/ObjectHypothesisWithPose"](id=0, score=float(score), pose=pose)
            extra = {"source_img": t["sensor_msgs/msg/Image"](
                header=header, height=0, width=0, encoding="", is_bigendian=0, step=0, data=np.zeros(0, np.uint8))}
        detection = t["vision_msgs/msg/Detection2D"](
            header=header, results=[result], bbox=t["vision_msgs/msg/BoundingBox2D"](center=center, size_x=w, size_y=h),
            **extra)
        message = t[DETECTIONS_TYPE](header=header, detections=[detection])
        self._writer.write(self._connection, stamp, self._serialize(message, DETECTIONS_TYPE))

    def close(self) -> None:
        """Finish the bag (index and metadata); safe to call twice."""
        if self._writer is not None:
            writer, self._writer = self._writer, None
            writer.close()

    def __enter__(self) -> DetectionBagWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass(frozen=True)
class Detection:
    """A detection read back from a bag: header stamp (ns), frame id, box (x, y, w, h pixels), score."""

    stamp: int
    frame_id: str
    box: tuple[float, float, float, float]
    score: float


def read_detections(path: str | Path, topic: str = DETECTIONS_TOPIC) -> list[Detection]:
    """The first detection of every ``Detection2DArray`` on ``topic`` of a bag (ROS 1 or ROS 2), in order."""
    rosbags = _rosbags()
    detections: list[Detection] = []
    with rosbags.highlevel.AnyReader([Path(path)]) as reader:
        connections = [c for c in reader.connections if c.topic == topic]
        if not connections:
            raise BagError(f"{path} has no topic {topic!r}; its topics: {', '.join(reader.topics) or 'none'}")
        for connection, _, raw in reader.messages(connections=connections):
            message = reader.deserialize(raw, connection.msgtype)
            for detection in message.detections[:1]:
                bbox = detection.bbox
                cx, cy = (bbox.center.position.x, bbox.center.position.y) if hasattr(bbox.center, "position") \
                    else (bbox.center.x, bbox.center.y)
                score = detection.results[0].hypothesis.score if hasattr(detection.results[0], "hypothesis") \
                    else detection.results[0].score
                box = (cx - bbox.size_x / 2, cy - bbox.size_y / 2, bbox.size_x, bbox.size_y)
                detections.append(Detection(stamp_ns(message.header), message.header.frame_id, box, score))
    return detections


def track_bag(tracker: Any, source: BagSource, box: Sequence[float]) -> Iterator[tuple[BagFrame, Any]]:
    """Track through a :class:`BagSource`: ``tracker.init(rgb, x, box)`` on the first frame (box: top-left
    x, y, w, h in pixels), ``tracker.update(rgb, x)`` after, ``None`` for a missing frame (the masked path).
    Yields ``(BagFrame, TrackResult)`` as frames are tracked. The tracker must take RGB frames
    (``Tracker.from_pretrained(..., bgr=False)``)."""
    for index, frame in enumerate(source):
        result = tracker.init(frame.rgb, frame.x, box) if index == 0 else tracker.update(frame.rgb, frame.x)
        yield frame, result
