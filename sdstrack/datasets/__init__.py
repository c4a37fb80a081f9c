"""Benchmark readers: one small module per folder layout, all returning :class:`Sequence` objects.

``load_dataset(name, root)`` reads a benchmark folder; training samples from the same type. Readers list
the files and read the ground truth at once, and the frames lazily (``Sequence.frame(i)``). Boxes are
top-left ``x, y, w, h`` in pixels; frames come as OpenCV reads them (BGR colour, 16-bit depth unchanged).

Names (each reader's module docstring gives its layout in full):

- ``depthtrack``: DepthTrack, VOT workspace style (:mod:`.depthtrack`); x_format ``depth``
- ``vot-rgbd``: VOT-RGBD, a VOT workspace (:mod:`.vot`); ``depth``
- ``lasher``: LasHeR ``visible/`` + ``infrared/`` (:mod:`.lasher`); ``thermal``
- ``rgbt234``: RGBT234 ``visible/`` + ``infrared/`` (:mod:`.rgbt234`); ``thermal``
- ``visevent``: VisEvent ``vis_imgs/`` + ``event_imgs/`` (:mod:`.visevent`); ``event``
- ``folder``: ``color/`` + ``depth/``, ``thermal/`` or ``event/`` (:mod:`.folder`); the X folder's name
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from .depthtrack import read_depthtrack
from .folder import read_folder
from .lasher import read_lasher
from .rgbt234 import read_rgbt234
from .sequence import DatasetError, Sequence
from .visevent import read_visevent
from .vot import read_vot_rgbd

Reader = Callable[[Path, list[str] | None], list[Sequence]]

DATASETS: dict[str, Reader] = {
    "depthtrack": read_depthtrack,
    "vot-rgbd": read_vot_rgbd,
    "lasher": read_lasher,
    "rgbt234": read_rgbt234,
    "visevent": read_visevent,
    "folder": read_folder,
}


def load_dataset(name: str, root: str | Path, sequences: list[str] | None = None) -> list[Sequence]:
    """The sequences of benchmark ``name`` (a key of :data:`DATASETS`) in folder ``root``: all of them in
    benchmark order (its list file's, else sorted by name), or ``sequences`` in the order given.

    Raises ``ValueError`` for an unknown ``name`` and :class:`DatasetError` (a ``ValueError``) naming the
    file or sequence for a folder that does not hold the layout, or a requested sequence it lacks.
    """
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}: choose one of {', '.join(DATASETS)}")
    return DATASETS[name](Path(root), sequences)


__all__ = [
    "DATASETS",
    "DatasetError",
    "Sequence",
    "load_dataset",
    "read_depthtrack",
    "read_folder",
    "read_lasher",
    "read_rgbt234",
    "read_visevent",
    "read_vot_rgbd",
]
