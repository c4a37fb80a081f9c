"""LasHeR (RGB + thermal infrared), its testing set or training set folder::

    ROOT/list.txt                   optional: sequence names in benchmark order (else sorted by name)
    ROOT/SEQ/visible/v000000.jpg    RGB frames (RGBT234's 00001v.jpg naming is read too)
    ROOT/SEQ/infrared/i000000.jpg   thermal frames, 8-bit, paired with the visible ones by frame number
    ROOT/SEQ/visible.txt            x,y,w,h a line (commas, tabs or spaces); 0,0,0,0 where the target is
                                    absent (fully occluded or out of view)
    ROOT/SEQ/infrared.txt           optional: the infrared ground truth, same form
    ROOT/SEQ/init.txt               read instead of visible.txt when that is missing (the training set)

``groundtruth`` is the visible ground truth (also ``extra_groundtruth["visible"]``); the infrared one is
``extra_groundtruth["infrared"]`` when present. LasHeR's attributes are per sequence in its toolkit, not
in the sequence folders, so ``attributes`` is empty. Boxes are top-left x, y, w, h in pixels; frames come
as OpenCV reads them (BGR colour; thermal as 3-channel 8-bit).
"""

from __future__ import annotations

from pathlib import Path

from ._rgbt import read_rgbt
from .sequence import Sequence


def read_lasher(root: Path, sequences: list[str] | None = None) -> list[Sequence]:
    """The sequences of a LasHeR folder (all, or ``sequences`` in that order)."""
    return read_rgbt(root, sequences)
