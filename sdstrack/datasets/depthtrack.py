"""DepthTrack: the same folder layout as VOT-RGBD (its test set ships as a VOT workspace)::

    ROOT/list.txt                     optional: sequence names in benchmark order
    ROOT/SEQ/sequence                 optional: channels.color=color/%08d.jpg, channels.depth=depth/%08d.png
    ROOT/SEQ/color/00000001.jpg ...   RGB frames
    ROOT/SEQ/depth/00000001.png ...   16-bit depth in millimetres
    ROOT/SEQ/groundtruth.txt          x,y,w,h a line; nan,nan,nan,nan where the target is absent
    ROOT/SEQ/*.tag                    optional per-frame attributes (full-occlusion.tag, out-of-frame.tag, ...)

See :mod:`.vot` for every form read. Boxes are top-left x, y, w, h in pixels; frames come as OpenCV reads
them (BGR colour, 16-bit depth unchanged).
"""

from __future__ import annotations

from pathlib import Path

from .sequence import Sequence
from .vot import read_workspace


def read_depthtrack(root: Path, sequences: list[str] | None = None) -> list[Sequence]:
    """The sequences of a DepthTrack folder (all, or ``sequences`` in that order), as ``list.txt``
    orders them or else sorted by name."""
    return read_workspace(root, sequences)
