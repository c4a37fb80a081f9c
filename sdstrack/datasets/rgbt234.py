"""RGBT234 (RGB + thermal infrared)::

    ROOT/list.txt                 optional: sequence names in benchmark order (else sorted by name)
    ROOT/SEQ/visible/00001v.jpg   RGB frames (LasHeR's v000000.jpg naming is read too)
    ROOT/SEQ/infrared/00001i.jpg  thermal frames, paired with the visible ones by frame number
    ROOT/SEQ/visible.txt          visible ground truth, x,y,w,h a line (or 8-number polygons, read as their
                                  axis-aligned bounding box); a non-positive size or nan marks an absent target
    ROOT/SEQ/infrared.txt         optional: the infrared ground truth, same form
    ROOT/SEQ/init.txt             read instead of visible.txt when that is missing

``groundtruth`` is the visible ground truth (also ``extra_groundtruth["visible"]``), the infrared one
``extra_groundtruth["infrared"]``: the benchmark's MPR/MSR take, per frame, the better of the two. The
12 challenge attributes are per sequence in the toolkit (not in the sequence folders), so ``attributes``
is empty. Boxes are top-left x, y, w, h in pixels; frames come as OpenCV reads them (BGR colour; thermal
as 3-channel 8-bit).
"""

from __future__ import annotations

from pathlib import Path

from ._rgbt import read_rgbt
from .sequence import Sequence


def read_rgbt234(root: Path, sequences: list[str] | None = None) -> list[Sequence]:
    """The sequences of an RGBT234 folder (all, or ``sequences`` in that order)."""
    return read_rgbt(root, sequences)
