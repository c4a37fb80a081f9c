"""The RGB-T layout LasHeR and RGBT234 share (see :mod:`.lasher` and :mod:`.rgbt234`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ._common import check_length, check_paired, image_files, invalid_boxes, read_boxes, sequence_folder
from ._common import sequence_names as _sequence_names
from .sequence import DatasetError, Sequence

LIST_FILE = "list.txt"
VISIBLE, INFRARED = "visible", "infrared"
INIT_FILE = "init.txt"


def read_rgbt(root: Path, sequences: list[str] | None) -> list[Sequence]:
    """Sequences of a LasHeR / RGBT234-style folder: ``list.txt`` order if present, else by name."""
    root = Path(root)
    names = _sequence_names(root, (LIST_FILE,), sequences)
    return [read_sequence(sequence_folder(root, name), name) for name in names]


def read_sequence(folder: Path, name: str) -> Sequence:
    """One sequence: ``visible/`` and ``infrared/`` frames paired by frame number, ``visible.txt`` (else
    ``init.txt``) as the ground truth, ``infrared.txt`` as the infrared one when present."""
    rgb = image_files(folder / VISIBLE, name)
    thermal = image_files(folder / INFRARED, name)
    check_paired(name, rgb, thermal)
    files = [folder / f"{VISIBLE}.txt", folder / INIT_FILE]
    found = [file for file in files if file.is_file()]
    if not found:
        raise DatasetError(f"sequence {name}: neither {files[0]} nor {files[1]} exists; the sequence needs its "
                           "visible ground truth (one x,y,w,h line per frame) in one of them")
    groundtruth = _read_boxes(found[0], name, len(rgb))
    extra = {VISIBLE: groundtruth}
    if (folder / f"{INFRARED}.txt").is_file():
        extra[INFRARED] = _read_boxes(folder / f"{INFRARED}.txt", name, len(rgb))
    return Sequence(name, "thermal", rgb, thermal, groundtruth, invalid_boxes(groundtruth), {}, extra)


def _read_boxes(path: Path, sequence: str, frames: int) -> np.ndarray:
    boxes = read_boxes(path, sequence)
    check_length(sequence, path, len(boxes), frames)
    return boxes
