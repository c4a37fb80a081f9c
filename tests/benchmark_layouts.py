"""Writers of small synthetic benchmarks in the six folder layouts ``sdstrack.datasets`` reads.

Each sequence shows a textured box moving over a textured background. Depth is 16-bit millimetres with
the target nearer (1500 mm) than the background (about 4000 mm); thermal frames are 3-channel 8-bit with
a warm (bright) target; event frames are 3-channel 8-bit, white with coloured events on the target's
edges. On the frames :func:`absent_frames` marks, the target is hidden in every channel and the ground
truth carries the layout's "absent" form. Everything is seeded by the sequence name: the same call writes
the same files.

``write_benchmark`` returns each sequence's ground truth exactly as the reader returns it
(``Sequence.groundtruth``): top-left x, y, w, h in pixels, float64, with NaN rows where the layout writes
no box (VOT's special code, ``nan``) and 0,0,0,0 rows where it writes that (LasHeR, RGBT234, VisEvent).
"""

from __future__ import annotations

import zlib
from pathlib import Path

import cv2
import numpy as np

LAYOUTS = ("depthtrack", "vot-rgbd", "lasher", "rgbt234", "visevent", "folder")
X_FORMAT = {"depthtrack": "depth", "vot-rgbd": "depth", "lasher": "thermal", "rgbt234": "thermal",
            "visevent": "event"}
DEFAULT_SEQUENCES = {"alpha": 8, "bravo": 6, "charlie": 7}
SIZE = (160, 120)
INFRARED_SHIFT = np.array([1.0, -1.0, 0.0, 0.0])  # infrared.txt = visible.txt + this, on present frames
OCCLUSION_TAG = "full-occlusion"  # the per-frame attribute the VOT-style layouts get (True where absent)
_ABSENT = (3, 4)


def absent_frames(count: int) -> np.ndarray:
    """(count,) bool: frames 4 and 5 (1-based) where the target is hidden, never the first or last frame."""
    absent = np.zeros(count, dtype=bool)
    absent[[i for i in _ABSENT if 0 < i < count - 1]] = True
    return absent


def infrared_groundtruth(visible: np.ndarray) -> np.ndarray:
    """The ``infrared.txt`` boxes written beside ``visible`` (RGBT layouts): shifted on present frames."""
    shifted = visible + INFRARED_SHIFT
    invalid = (visible[:, 2] <= 0) | (visible[:, 3] <= 0)
    shifted[invalid] = visible[invalid]
    return shifted


def write_benchmark(layout: str, root: Path, sequences: dict[str, int] | None = None,
                    size: tuple[int, int] = SIZE, *, naming: str | None = None,
                    x_format: str = "depth") -> dict[str, np.ndarray]:
    """Write sequences ``{name: frame count}`` (default :data:`DEFAULT_SEQUENCES`) of ``size`` (W, H)
    into ``root`` in ``layout`` (one of :data:`LAYOUTS`); returns the ground truth per sequence.

    ``naming`` picks the RGB-T frame names: ``"lasher"`` (``visible/v000000.jpg``, ``infrared/i000000.jpg``,
    LasHeR's default) or ``"rgbt234"`` (``visible/00001v.jpg``, ``infrared/00001i.jpg``, RGBT234's default).
    ``x_format`` is the X folder of the ``folder`` layout. List files: ``vot-rgbd`` writes ``list.txt``
    in reverse name order and ``visevent`` a ``testlist.txt`` in name order; the others write none.
    """
    if layout not in LAYOUTS:
        raise ValueError(f"unknown layout {layout!r}: one of {', '.join(LAYOUTS)}")
    sequences = DEFAULT_SEQUENCES if sequences is None else sequences
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    writer = {"depthtrack": _write_vot, "vot-rgbd": _write_vot, "lasher": _write_rgbt, "rgbt234": _write_rgbt,
              "visevent": _write_visevent, "folder": _write_folder}[layout]
    truths = {}
    for name, count in sequences.items():
        boxes = _boxes(count, size)
        frames = _frames(name, boxes, absent_frames(count), size, X_FORMAT.get(layout, x_format))
        truths[name] = writer(layout, root / name, frames, boxes, absent_frames(count), naming, x_format)
    if layout == "vot-rgbd":
        (root / "list.txt").write_text("".join(f"{name}\n" for name in sorted(sequences, reverse=True)))
    if layout == "visevent":
        (root / "testlist.txt").write_text("".join(f"{name}\n" for name in sorted(sequences)))
    return truths


def _boxes(count: int, size: tuple[int, int]) -> np.ndarray:
    width, height = size
    box_w, box_h = width // 5, height // 5
    t = np.linspace(0.0, 1.0, count)
    x = np.round(8 + t * (width - box_w - 16))
    y = np.round((height - box_h) / 2 + height / 6 * np.sin(2 * np.pi * t))
    return np.stack([x, y, np.full(count, box_w), np.full(count, box_h)], axis=1).astype(np.float64)


def _frames(name: str, boxes: np.ndarray, absent: np.ndarray, size: tuple[int, int],
            x_format: str) -> list[tuple[np.ndarray, np.ndarray]]:
    """(BGR uint8 colour, X) per frame; X is uint16 depth or a 3-channel uint8 image."""
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    width, height = size
    background = cv2.GaussianBlur(rng.integers(0, 256, (height, width, 3), dtype=np.uint8), (0, 0), 2)
    box_w, box_h = int(boxes[0, 2]), int(boxes[0, 3])
    texture = rng.integers(0, 256, (box_h, box_w, 3), dtype=np.uint8)
    texture[..., 2] = 230  # a reddish target (BGR)
    ramp = np.linspace(0, 400, width)[None, :]
    frames = []
    for box, hidden in zip(boxes.astype(int), absent):
        x, y = box[0], box[1]
        target = np.s_[y : y + box_h, x : x + box_w]
        color = background.copy()
        if x_format == "depth":
            other = (4000 + ramp + rng.normal(0, 15, (height, width))).astype(np.uint16)
            if not hidden:
                other[target] = 1500
            other[rng.random((height, width)) < 0.02] = 0
        elif x_format == "thermal":
            other = np.repeat((60 + rng.normal(0, 8, (height, width, 1))).clip(0, 255).astype(np.uint8), 3, axis=2)
            if not hidden:
                other[target] = 210
        else:
            other = np.full((height, width, 3), 255, dtype=np.uint8)
            if not hidden:
                cv2.rectangle(other, (x, y), (x + box_w - 1, y + box_h - 1), (255, 0, 0), 1)
                cv2.rectangle(other, (x + 2, y + 2), (x + box_w - 3, y + box_h - 3), (0, 0, 255), 1)
        if not hidden:
            color[target] = texture
        frames.append((color, other))
    return frames


def _lines(boxes: np.ndarray, separator: str = ",") -> str:
    return "".join(separator.join(f"{v:g}" for v in box) + "\n" for box in boxes)


def _write_images(folder: Path, names: list[str], images: list[np.ndarray]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, image in zip(names, images):
        cv2.imwrite(str(folder / name), image)


def _write_vot(layout: str, folder: Path, frames: list, boxes: np.ndarray, absent: np.ndarray, naming: str | None,
               x_format: str) -> np.ndarray:
    """color/%08d.jpg, depth/%08d.png, groundtruth.txt, full-occlusion.tag; vot-rgbd adds a ``sequence``
    file, a polygon on frame 2, a mask on frame 3 and VOT's special code 0 where absent (DepthTrack: nan)."""
    names = [f"{i + 1:08d}" for i in range(len(frames))]
    _write_images(folder / "color", [f"{n}.jpg" for n in names], [c for c, _ in frames])
    _write_images(folder / "depth", [f"{n}.png" for n in names], [d for _, d in frames])
    truth = boxes.copy()
    truth[absent] = np.nan
    lines = _lines(truth).splitlines()
    tags = absent.astype(int).tolist()
    if layout == "vot-rgbd":
        (folder / "sequence").write_text(f"name={folder.name}\nfps=30\nformat=default\n"
                                         "channels.color=color/%08d.jpg\nchannels.depth=depth/%08d.png\n")
        lines = ["0" if hidden else line for line, hidden in zip(lines, absent)]
        if len(frames) > 2:
            x, y, w, h = boxes[1]
            lines[1] = f"{x + w / 2},{y - 1.5},{x + w + 0.5},{y + h / 2},{x + w / 2},{y + h},{x},{y + h / 2}"
            truth[1] = [x, y - 1.5, w + 0.5, h + 1.5]
            x, y, w, h = boxes[2].astype(int)
            lines[2] = f"m{x},{y - 1},{w},{h + 2},{w},{w * h}"  # an empty row, h full rows, an empty row
            truth[2] = boxes[2]
        while tags and not tags[-1]:  # VOT tag files may stop at their last 1
            tags.pop()
    (folder / "groundtruth.txt").write_text("\n".join(lines) + "\n")
    (folder / f"{OCCLUSION_TAG}.tag").write_text("".join(f"{t}\n" for t in tags))
    return truth


def _write_rgbt(layout: str, folder: Path, frames: list, boxes: np.ndarray, absent: np.ndarray, naming: str | None,
                x_format: str) -> np.ndarray:
    """visible/ + infrared/ jpgs, visible.txt (commas), infrared.txt (tabs); 0,0,0,0 where absent;
    RGBT234 also writes init.txt (= visible.txt)."""
    naming = naming or layout
    if naming == "lasher":
        visible = [f"v{i:06d}.jpg" for i in range(len(frames))]
        infrared = [f"i{i:06d}.jpg" for i in range(len(frames))]
    elif naming == "rgbt234":
        visible = [f"{i + 1:05d}v.jpg" for i in range(len(frames))]
        infrared = [f"{i + 1:05d}i.jpg" for i in range(len(frames))]
    else:
        raise ValueError(f"unknown naming {naming!r}: 'lasher' or 'rgbt234'")
    _write_images(folder / "visible", visible, [c for c, _ in frames])
    _write_images(folder / "infrared", infrared, [t for _, t in frames])
    truth = boxes.copy()
    truth[absent] = 0.0
    (folder / "visible.txt").write_text(_lines(truth))
    (folder / "infrared.txt").write_text(_lines(infrared_groundtruth(truth), "\t"))
    if layout == "rgbt234":
        (folder / "init.txt").write_text(_lines(truth))
    return truth


def _write_visevent(layout: str, folder: Path, frames: list, boxes: np.ndarray, absent: np.ndarray, naming: str | None,
                    x_format: str) -> np.ndarray:
    """vis_imgs/ + event_imgs/ frame0000.bmp..., groundtruth.txt (0,0,0,0 where absent) and
    absent_label.txt (1 = present)."""
    names = [f"frame{i:04d}.bmp" for i in range(len(frames))]
    _write_images(folder / "vis_imgs", names, [c for c, _ in frames])
    _write_images(folder / "event_imgs", names, [e for _, e in frames])
    truth = boxes.copy()
    truth[absent] = 0.0
    (folder / "groundtruth.txt").write_text(_lines(truth))
    (folder / "absent_label.txt").write_text("".join(f"{int(not a)}\n" for a in absent))
    return truth


def _write_folder(layout: str, folder: Path, frames: list, boxes: np.ndarray, absent: np.ndarray, naming: str | None,
                  x_format: str) -> np.ndarray:
    """color/%08d.png + X_FORMAT/%08d.png + groundtruth.txt (nan where absent): sdstrack.io's layout."""
    names = [f"{i + 1:08d}.png" for i in range(len(frames))]
    _write_images(folder / "color", names, [c for c, _ in frames])
    _write_images(folder / x_format, names, [x for _, x in frames])
    truth = boxes.copy()
    truth[absent] = np.nan
    (folder / "groundtruth.txt").write_text(_lines(truth))
    return truth
