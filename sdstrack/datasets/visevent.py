"""VisEvent (RGB + event frames)::

    ROOT/testlist.txt                optional: sequence names in benchmark order (trainlist.txt or list.txt
                                     in a training folder); else every sub-folder, sorted by name
    ROOT/SEQ/vis_imgs/frame0000.bmp  RGB frames (.bmp, some sequences .png)
    ROOT/SEQ/event_imgs/frame0000.bmp  event frames (3-channel 8-bit images), paired by frame number
    ROOT/SEQ/groundtruth.txt         x,y,w,h a line (commas, tabs or spaces)
    ROOT/SEQ/absent_label.txt        optional: one 0/1 a line; despite its name **1 means the target is
                                     present** and 0 absent (the VisEvent loaders in SDSTrack / ViPT read it
                                     as "target visible", and SDSTrack's test script skips leading 0 frames)

``absent`` is True where ``absent_label.txt`` says 0 or the box is invalid (NaN, non-positive width or
height). Some sequences begin with absent frames: their first box is not a valid initialisation.
Boxes are top-left x, y, w, h in pixels; frames come as OpenCV reads them (BGR colour, events as 3-channel
8-bit).
"""

from __future__ import annotations

from pathlib import Path

from ._common import check_length, check_paired, image_files, invalid_boxes, read_boxes, read_flags, sequence_folder
from ._common import sequence_names as _sequence_names
from .sequence import Sequence

LIST_FILES = ("testlist.txt", "trainlist.txt", "list.txt")
RGB_FOLDER, EVENT_FOLDER = "vis_imgs", "event_imgs"
PRESENT_FILE = "absent_label.txt"


def read_visevent(root: Path, sequences: list[str] | None = None) -> list[Sequence]:
    """The sequences of a VisEvent folder (all, or ``sequences`` in that order)."""
    root = Path(root)
    names = _sequence_names(root, LIST_FILES, sequences)
    return [read_sequence(sequence_folder(root, name), name) for name in names]


def read_sequence(folder: Path, name: str) -> Sequence:
    """One VisEvent sequence folder; see the module docstring."""
    rgb = image_files(folder / RGB_FOLDER, name)
    events = image_files(folder / EVENT_FOLDER, name)
    check_paired(name, rgb, events)
    groundtruth_file = folder / "groundtruth.txt"
    groundtruth = read_boxes(groundtruth_file, name)
    check_length(name, groundtruth_file, len(groundtruth), len(rgb))
    absent = invalid_boxes(groundtruth)
    if (folder / PRESENT_FILE).is_file():
        absent |= ~read_flags(folder / PRESENT_FILE, name, len(rgb))
    return Sequence(name, "event", rgb, events, groundtruth, absent)
