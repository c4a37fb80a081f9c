"""Helpers the benchmark readers share: listing sequences, listing and pairing frame files, parsing
ground-truth and per-frame flag files. Every error is a :class:`DatasetError` naming the file (and line)
or the sequence, and the fix.

Conventions: boxes are top-left ``x, y, w, h`` in pixels, float64; a row of NaN marks a frame whose box
the file does not give (VOT's special codes, ``nan`` entries, empty masks).
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np

from ..io import IMAGE_SUFFIXES
from .sequence import DatasetError

OTHER_BOXES_SUFFIX = ".box"  # ROOT/SEQ/KIND.box: other objects' boxes, one x,y,w,h line a frame
_SEPARATORS = re.compile(r"[,\s]+")
_DIGITS = re.compile(r"\d+")
_SHOWN_NAMES = 5


def sequence_names(root: Path, list_files: tuple[str, ...], sequences: list[str] | None) -> list[str]:
    """The sequences to read from benchmark folder ``root``.

    All of them are the lines of the first of ``list_files`` found in ``root`` (in that order), else every
    sub-folder not starting with ``.``, sorted by name. ``sequences`` selects some of them, in the order
    given; a name that is not among them raises :class:`DatasetError` naming it and a few that exist.
    """
    if not root.is_dir():
        raise DatasetError(f"{root} is not a folder: pass the benchmark's folder, the one holding a sub-folder "
                           "per sequence")
    listed = [root / name for name in list_files if (root / name).is_file()]
    if listed:
        names = [line.strip() for line in listed[0].read_text().splitlines() if line.strip()]
        where = f"{listed[0]} lists"
    else:
        names = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
        where = f"{root} holds"
    if not names:
        raise DatasetError(f"{where} no sequences: put one sub-folder per sequence in {root}")
    if sequences is None:
        return names
    known = set(names)
    for name in sequences:
        if name not in known:
            shown = ", ".join(names[:_SHOWN_NAMES]) + (", ..." if len(names) > _SHOWN_NAMES else "")
            raise DatasetError(f"sequence {name!r} not found: {where} {len(names)} sequences ({shown}); "
                               "check the name and the benchmark folder")
    return list(sequences)


def sequence_folder(root: Path, name: str) -> Path:
    """``root / name``; :class:`DatasetError` when that folder is missing (a stale list file)."""
    folder = root / name
    if not folder.is_dir():
        raise DatasetError(f"sequence {name}: folder {folder} is missing; restore it or remove {name} from the "
                           "benchmark's list file")
    return folder


def frame_number(path: Path) -> int | None:
    """The frame number in a file name: its last run of digits (``v000012.jpg``, ``00012i.jpg``,
    ``frame0012.bmp`` and ``00000012.png`` are all frame 12); ``None`` when the name has no digits."""
    runs = _DIGITS.findall(path.stem)
    return int(runs[-1]) if runs else None


def image_files(folder: Path, sequence: str, pattern: str | None = None) -> list[Path]:
    """Image files of one channel of ``sequence``, sorted by frame number (then name).

    ``pattern`` is a VOT-style name pattern such as ``%08d.jpg`` (``%d`` or ``%0Nd`` for the number):
    only matching files are taken. Without it, every file with an image suffix is. Two files with the same
    frame number raise :class:`DatasetError`.
    """
    if not folder.is_dir():
        raise DatasetError(f"sequence {sequence}: folder {folder} is missing (expected its frames there)")
    if pattern is None:
        files = [p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()]
    else:
        regex = _pattern_regex(pattern, sequence)
        files = [p for p in folder.iterdir() if regex.fullmatch(p.name) and p.is_file()]
    if not files:
        what = f"files named like {pattern}" if pattern else f"image files ({', '.join(sorted(IMAGE_SUFFIXES))})"
        raise DatasetError(f"sequence {sequence}: {folder} holds no {what}")
    numbered = sorted(((frame_number(p), p) for p in files), key=_by_number)
    for (number, file), (previous_number, previous) in zip(numbered[1:], numbered):
        if number is not None and number == previous_number:
            raise DatasetError(f"sequence {sequence}: {previous.name} and {file.name} in {folder} are both "
                               f"frame {number}; keep one of them")
    return [file for _, file in numbered]


def _by_number(item: tuple[int | None, Path]) -> tuple[bool, int, str]:
    number, path = item
    return number is None, number or 0, path.name


def _pattern_regex(pattern: str, sequence: str) -> re.Pattern[str]:
    match = re.fullmatch(r"(.*)%0?\d*d(.*)", pattern)
    if match is None:
        raise DatasetError(f"sequence {sequence}: frame name pattern {pattern!r} has no %d or %0Nd for the frame "
                           "number (write it like %08d.jpg)")
    return re.compile(re.escape(match.group(1)) + r"(\d+)" + re.escape(match.group(2)))


def check_paired(sequence: str, rgb: list[Path], x: list[Path]) -> None:
    """Both channels have the same number of frames and the same frame numbers (``v000012.jpg`` pairs
    with ``i000012.jpg``, ``00012v.jpg`` with ``00012i.jpg``; names without digits pair by stem);
    :class:`DatasetError` names the first file without a partner."""
    rgb_keys, x_keys = [_pair_key(p) for p in rgb], [_pair_key(p) for p in x]
    if rgb_keys == x_keys:
        return
    counts = f"{rgb[0].parent} has {len(rgb)} frames but {x[0].parent} has {len(x)}; " if len(rgb) != len(x) else ""
    x_set, rgb_set = set(x_keys), set(rgb_keys)
    lonely = [(p, x[0].parent) for p, key in zip(rgb, rgb_keys) if key not in x_set]
    lonely += [(p, rgb[0].parent) for p, key in zip(x, x_keys) if key not in rgb_set]
    if lonely:
        more = f" (and {len(lonely) - 1} more unpaired files)" if len(lonely) > 1 else ""
        detail = f"{lonely[0][0]} has no partner in {lonely[0][1]}{more}"
    else:
        detail = f"the frame names of {rgb[0].parent} and {x[0].parent} do not sort in the same order"
    raise DatasetError(f"sequence {sequence}: {counts}{detail}; every frame needs one file in each channel "
                       "with the same frame number: add the missing file or remove the unpaired one")


def _pair_key(path: Path) -> int | str:
    number = frame_number(path)
    return path.stem if number is None else number


def read_boxes(path: Path, sequence: str, vot: bool = False) -> np.ndarray:
    """Boxes from a ground-truth file, one line per frame: float64 ``(N, 4)`` top-left ``x, y, w, h``.

    Numbers are separated by commas, tabs or spaces. A line holds a box ``x, y, w, h`` (kept as written,
    ``nan`` included) or a polygon ``x1, y1, x2, y2, ...`` (8 or more numbers, converted to its
    axis-aligned bounding box; NaN row if any number is NaN). With ``vot=True`` the VOT toolkit's forms are
    also read: a single number (a special code: no box, NaN row) and a mask ``m<x>,<y>,<w>,<h>,<RLE>``
    (the bounding box of its pixels; NaN row if empty). Empty lines at the end are ignored; any other
    line raises :class:`DatasetError` naming the file and line number.
    """
    if not path.is_file():
        raise DatasetError(f"sequence {sequence}: ground-truth file {path} is missing")
    lines = path.read_text().rstrip().splitlines()
    if not lines:
        raise DatasetError(f"sequence {sequence}: {path} is empty; expected one x,y,w,h line per frame")
    boxes = np.empty((len(lines), 4), dtype=np.float64)
    for number, line in enumerate(lines, start=1):
        text = line.strip()
        try:
            boxes[number - 1] = _mask_box(text[1:]) if vot and text.startswith("m") else _line_box(text, vot)
        except ValueError:
            forms = "x,y,w,h, a polygon x1,y1,x2,y2,..." + (", a special code or a mask m..." if vot else "")
            raise DatasetError(f"{path} line {number}: expected {forms} (numbers separated by commas, tabs or "
                               f"spaces), got {line!r}; fix or remove that line") from None
    return boxes


def _line_box(text: str, vot: bool) -> np.ndarray:
    values = [float(field) for field in _SEPARATORS.split(text) if field]
    if len(values) == 4:
        return np.array(values)
    if vot and len(values) == 1:
        return np.full(4, np.nan)
    if len(values) < 8 or len(values) % 2:
        raise ValueError
    if any(math.isnan(v) for v in values):
        return np.full(4, np.nan)
    xs, ys = values[0::2], values[1::2]
    return np.array([min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys)])


def _mask_box(text: str) -> np.ndarray:
    values = [int(field) for field in _SEPARATORS.split(text) if field]
    if len(values) < 4:
        raise ValueError
    left, top, width, height = values[:4]
    runs = np.asarray(values[4:], dtype=np.int64)
    if (runs < 0).any() or runs.sum() > width * height:
        raise ValueError
    flat = np.zeros(width * height, dtype=bool)
    for start, length in zip(np.cumsum(runs)[0::2], runs[1::2]):  # runs alternate 0s and 1s, 0s first
        flat[start : start + length] = True
    rows, cols = np.nonzero(flat.reshape(height, width))
    if not len(rows):
        return np.full(4, np.nan)
    return np.array([left + cols.min(), top + rows.min(), cols.max() - cols.min() + 1, rows.max() - rows.min() + 1],
                    dtype=np.float64)


def invalid_boxes(boxes: np.ndarray) -> np.ndarray:
    """(N,) bool: rows with a NaN or a non-positive width or height (the target is absent there)."""
    return np.isnan(boxes).any(axis=1) | (boxes[:, 2] <= 0) | (boxes[:, 3] <= 0)


def check_length(sequence: str, path: Path, rows: int, frames: int, what: str = "boxes") -> None:
    """:class:`DatasetError` unless ``path`` has one line (``rows``) per frame."""
    if rows != frames:
        raise DatasetError(f"sequence {sequence}: {path} has {rows} {what} but the sequence has {frames} frames; "
                           "it needs one line per frame")


def write_flags(path: Path, flags: np.ndarray) -> None:
    """Write (N,) flags as :func:`read_flags` reads them: one ``0`` or ``1`` line a frame (VOT's ``*.tag``)."""
    path.write_text("".join(f"{int(flag)}\n" for flag in flags))


def read_flags(path: Path, sequence: str, frames: int, pad: bool = False) -> np.ndarray:
    """(N,) bool from a file with one number per line (non-zero is True, an empty line False).

    ``pad=True`` accepts a file shorter than the sequence and pads it with False (as the VOT toolkit does
    for ``*.tag`` files); otherwise its length must be the number of frames.
    """
    lines = path.read_text().rstrip().splitlines()
    if len(lines) > frames or (len(lines) < frames and not pad):
        check_length(sequence, path, len(lines), frames, "lines")
    flags = np.zeros(frames, dtype=bool)
    for number, line in enumerate(lines, start=1):
        try:
            flags[number - 1] = float(line.strip() or 0) != 0
        except ValueError:
            raise DatasetError(f"{path} line {number}: expected 0 or 1, got {line!r}; fix or remove that line") \
                from None
    return flags
