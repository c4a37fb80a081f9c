"""Network backends: what runs the SDSTrack network for a tracker, behind one small interface.

A backend takes normalised crops and token masks as tensors (see :class:`sdstrack.SDSTrack` for the
layout) and returns an :class:`sdstrack.SDSTrackOutput`. The tracker only calls that interface
(:class:`NetworkBackend`) and never looks at the class behind it, so a new runtime (TensorRT,
OpenVINO, ...) is one new module and one :func:`register_backend` call:

* ``"torch"`` — :class:`sdstrack.backends.pytorch.TorchBackend`: the PyTorch network on any device,
  float32 or mixed float16/bfloat16, optionally ``torch.compile``'d;
* ``"onnxruntime"`` — :class:`sdstrack.backends.onnx_runtime.OnnxRuntimeBackend`: an exported
  ``model.onnx`` run by ONNX Runtime (CPU, float32).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

import torch
from torch import Tensor

from ..config import SDSTrackConfig
from ..model import SDSTrackOutput


@runtime_checkable
class NetworkBackend(Protocol):
    """What a tracker calls once per frame.

    Attributes:
        config: the model configuration (crop sizes, token counts, normalisation).
        device: where the backend wants its input tensors.
        dtype: the precision of its matrix products (for reporting; inputs are always float32).
    """

    config: SDSTrackConfig
    device: torch.device
    dtype: torch.dtype

    def __call__(
        self, template: Tensor, search: Tensor, *, rgb_mask: Tensor | None = None, x_mask: Tensor | None = None
    ) -> SDSTrackOutput:
        """(N, 6, Ht, Wt) and (N, 6, Hs, Ws) float32 crops and optional (N, T + S) bool masks -> outputs."""
        ...


BackendLoader = Callable[..., NetworkBackend]
"""``load(folder, *, device, dtype, compile) -> NetworkBackend``; unsupported options raise ValueError."""


@dataclass(frozen=True)
class _Registration:
    files: tuple[str, ...]
    load: BackendLoader


_REGISTRY: dict[str, _Registration] = {}


def register_backend(name: str, files: tuple[str, ...], load: BackendLoader) -> None:
    """Make ``Tracker.from_pretrained(..., backend=name)`` use ``load`` on a folder holding ``files``."""
    _REGISTRY[name] = _Registration(tuple(files), load)


def backend_names() -> tuple[str, ...]:
    return tuple(_REGISTRY)


def backend_files(name: str) -> tuple[str, ...]:
    """The files backend ``name`` reads from a checkpoint folder (fetched from the Hub if needed)."""
    return _registration(name).files


def load_backend(name: str, folder: Path, **options) -> NetworkBackend:
    """Build backend ``name`` from a local checkpoint folder; ``options``: device, dtype, compile."""
    return _registration(name).load(folder, **options)


def _registration(name: str) -> _Registration:
    if name not in _REGISTRY:
        raise ValueError(f"backend must be one of {', '.join(map(repr, _REGISTRY))}, got {name!r}")
    return _REGISTRY[name]


def _load_torch(folder: Path, **options) -> NetworkBackend:
    from ..model import SDSTrack
    from .pytorch import TorchBackend

    return TorchBackend(SDSTrack.from_pretrained(folder), copy_model=False, **options)


def _load_onnxruntime(folder: Path, **options) -> NetworkBackend:
    from .onnx_runtime import OnnxRuntimeBackend

    return OnnxRuntimeBackend.from_folder(folder, **options)


register_backend("torch", ("config.json", "model.safetensors"), _load_torch)
register_backend("onnxruntime", ("config.json", "model.onnx"), _load_onnxruntime)

__all__ = ["NetworkBackend", "backend_files", "backend_names", "load_backend", "register_backend"]
