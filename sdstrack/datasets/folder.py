"""The plain sequence-folder layout :class:`sdstrack.io.SequenceFolder` reads, as a benchmark::

    ROOT/list.txt                optional: sequence names in order (else every sub-folder, sorted by name)
    ROOT/SEQ/color/*             RGB frames, sorted by name
    ROOT/SEQ/depth|thermal|event/*  X frames, exactly one of these folders, as many frames as color/
    ROOT/SEQ/groundtruth.txt     x,y,w,h a line (commas, tabs or spaces; nan where the box is unknown)
    ROOT/SEQ/*.tag               optional per-frame attributes, one 0/1 line a frame (as VOT's tags and
                                 :mod:`sdstrack.datasets.synthetic` write them)
    ROOT/SEQ/*.box               optional boxes of other objects (``Sequence.distractors``, by file stem), one
                                 x,y,w,h line a frame, nan where none is in view (synthetic sequences write them)

ROOT may also be one sequence folder itself (it holds ``color/``): one sequence, named after the folder.
Frames pair by sorted position (names need not match: sensors may stamp them differently); ``x_format``
is the X folder's name. A frame is absent when its box is invalid (NaN, non-positive width or height).
Boxes are top-left x, y, w, h in pixels; frames come as OpenCV reads them (BGR colour, 16-bit depth
unchanged).
"""

from __future__ import annotations

from pathlib import Path

from ..io import COLOR_FOLDER, GROUNDTRUTH_NAME, SequenceFolder
from ._common import OTHER_BOXES_SUFFIX, check_length, invalid_boxes, read_boxes, read_flags, sequence_folder
from ._common import sequence_names as _sequence_names
from .sequence import DatasetError, Sequence

LIST_FILE = "list.txt"


def read_folder(root: Path, sequences: list[str] | None = None) -> list[Sequence]:
    """The sequence folders in ``root`` (all, or ``sequences`` in that order), or ``root`` itself when it
    is a sequence folder."""
    root = Path(root)
    if (root / COLOR_FOLDER).is_dir():
        names = [root.name] if sequences is None else sequences
        for name in names:
            if name != root.name:
                raise DatasetError(f"sequence {name!r} not found: {root} is the single sequence {root.name!r}")
        return [read_sequence(root, name) for name in names]
    names = _sequence_names(root, (LIST_FILE,), sequences)
    return [read_sequence(sequence_folder(root, name), name) for name in names]


def read_sequence(folder: Path, name: str) -> Sequence:
    """One sequence folder, read by :class:`sdstrack.io.SequenceFolder`; its ground truth is required."""
    try:
        source = SequenceFolder(folder)
    except (OSError, ValueError) as err:
        raise DatasetError(f"sequence {name}: {err}") from err
    if source.groundtruth is None:
        raise DatasetError(f"sequence {name}: {folder / GROUNDTRUTH_NAME} is missing; a benchmark sequence needs "
                           "one x,y,w,h line per frame")
    groundtruth = source.groundtruth
    attributes = {tag.stem: read_flags(tag, name, len(groundtruth)) for tag in sorted(folder.glob("*.tag"))}
    distractors = {}
    for file in sorted(folder.glob(f"*{OTHER_BOXES_SUFFIX}")):
        distractors[file.stem] = read_boxes(file, name)
        check_length(name, file, len(distractors[file.stem]), len(groundtruth))
    return Sequence(name, source.x_format, list(source.rgb.files), list(source.x.files), groundtruth,
                    invalid_boxes(groundtruth), attributes, distractors=distractors)
