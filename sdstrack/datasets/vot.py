"""VOT-RGBD: the VOT toolkit's workspace layout (also DepthTrack's test set, see :mod:`.depthtrack`)::

    ROOT/list.txt                     optional: sequence names, one a line, in benchmark order
    ROOT/SEQ/sequence                 optional: key=value lines; channels.color=color/%08d.jpg and
                                      channels.depth=depth/%08d.png give each channel's folder and names
                                      (a value without extension names a folder: all its images)
    ROOT/SEQ/color/00000001.jpg ...   RGB frames (without a sequence file: every image in color/)
    ROOT/SEQ/depth/00000001.png ...   16-bit depth in millimetres (without a sequence file: depth/)
    ROOT/SEQ/groundtruth.txt          one region a line: x,y,w,h; a polygon x1,y1,...,x4,y4 (read as its
                                      axis-aligned bounding box); nan values, a single number (VOT's special
                                      code) or an empty mask m... for a frame without a box
    ROOT/SEQ/*.tag, *.label           optional per-frame attributes, one 0/1 a line (shorter files are
                                      padded with 0, as the VOT toolkit does), e.g. full-occlusion.tag

ROOT may also be a VOT workspace holding ``sequences/``. Frames pair by frame number; a frame is absent
when its box is missing or invalid (NaN, non-positive width or height). Boxes are top-left x, y, w, h in
pixels; frames come as OpenCV reads them (BGR colour, 16-bit depth unchanged).
"""

from __future__ import annotations

from pathlib import Path

from ._common import check_length, check_paired, image_files, invalid_boxes, read_boxes, read_flags, sequence_folder
from ._common import sequence_names as _sequence_names
from .sequence import DatasetError, Sequence

LIST_FILE = "list.txt"
METADATA_FILE = "sequence"
WORKSPACE_SEQUENCES = "sequences"


def read_vot_rgbd(root: Path, sequences: list[str] | None = None) -> list[Sequence]:
    """The sequences of a VOT-RGBD folder (all, or ``sequences`` in that order), as ``list.txt`` orders
    them or else sorted by name."""
    return read_workspace(root, sequences)


def read_workspace(root: Path, sequences: list[str] | None = None) -> list[Sequence]:
    """Sequences of any VOT-style RGB-D folder (VOT-RGBD, DepthTrack); see the module docstring."""
    root = Path(root)
    if not (root / LIST_FILE).is_file() and (root / WORKSPACE_SEQUENCES / LIST_FILE).is_file():
        root = root / WORKSPACE_SEQUENCES
    names = _sequence_names(root, (LIST_FILE,), sequences)
    return [read_sequence(sequence_folder(root, name), name) for name in names]


def read_sequence(folder: Path, name: str) -> Sequence:
    """One VOT-style RGB-D sequence folder; see the module docstring."""
    metadata = read_metadata(folder / METADATA_FILE)
    rgb = _channel(folder, name, metadata, "color")
    depth = _channel(folder, name, metadata, "depth")
    check_paired(name, rgb, depth)
    groundtruth_file = folder / metadata.get("groundtruth", "groundtruth.txt")
    groundtruth = read_boxes(groundtruth_file, name, vot=True)
    check_length(name, groundtruth_file, len(groundtruth), len(rgb))
    attributes = {
        tag.stem: read_flags(tag, name, len(rgb), pad=True)
        for tag in sorted([*folder.glob("*.tag"), *folder.glob("*.label")])
    }
    return Sequence(name, "depth", rgb, depth, groundtruth, invalid_boxes(groundtruth), attributes)


def read_metadata(path: Path) -> dict[str, str]:
    """The ``key=value`` lines of a VOT ``sequence`` file (``{}`` when there is none); other lines are
    skipped, as the VOT toolkit does."""
    if not path.is_file():
        return {}
    metadata = {}
    for line in path.read_text().splitlines():
        key, sep, value = line.partition("=")
        if sep and key.strip():
            metadata[key.strip()] = value.strip()
    return metadata


def _channel(folder: Path, sequence: str, metadata: dict[str, str], channel: str) -> list[Path]:
    value = metadata.get(f"channels.{channel}")
    if value is None:
        return image_files(folder / channel, sequence)
    if not value:
        raise DatasetError(f"sequence {sequence}: channels.{channel} in {folder / METADATA_FILE} is empty; write it "
                           f"like channels.{channel}={channel}/%08d.png")
    path = folder / value
    if path.suffix:  # a name pattern such as color/%08d.jpg
        return image_files(path.parent, sequence, path.name)
    return image_files(path, sequence)  # a folder: every image in it
