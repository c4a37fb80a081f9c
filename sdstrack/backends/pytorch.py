"""The PyTorch backend: an :class:`sdstrack.SDSTrack` on a device, with the precision owned here."""

from __future__ import annotations

import copy

import torch
from torch import Tensor, nn

from ..model import SDSTrack, SDSTrackOutput
from ..runtime import dtype_name, parse_dtype, resolve_device


class TorchBackend:
    """Runs an :class:`SDSTrack` for inference in float32 or mixed precision.

    Mixed precision (``dtype=torch.float16`` / ``torch.bfloat16``) runs matrix products and
    convolutions in that type under ``torch.autocast`` while the residual stream, LayerNorm and the
    candidate-elimination ranking stay float32. The linear and convolution weights of the backend's
    model are stored in that type once, which gives bit for bit what autocast computes from float32
    weights, without casting them on every call. Prefer this to ``model.to(torch.bfloat16)``: a
    bfloat16 residual stream changes which candidates are eliminated and moves the output far more
    (on the parity input: score map off by 0.11 instead of 0.008).

    Args:
        model: the network. It is never modified: the backend works on its own copy, unless
            ``copy_model=False``, in which case the backend takes ownership and moves, sets to eval
            mode and (in reduced precision) rounds that very object.
        device: ``"cuda"``, ``"cpu"``, ``"mps"``...; default ``cuda`` when available, else ``cpu``.
        dtype: ``torch.float32`` (default), ``torch.float16`` (GPUs) or ``torch.bfloat16`` (GPUs,
            CPUs with AVX-512 BF16 or AMX); names such as ``"bfloat16"`` are accepted too.
        compile: wrap the network in ``torch.compile`` (on CUDA with ``mode="reduce-overhead"``, i.e.
            CUDA graphs: every shape in the network is static). The first calls are slow.
        copy_model: see ``model``.
    """

    def __init__(
        self,
        model: SDSTrack,
        *,
        device: str | torch.device | None = None,
        dtype: torch.dtype | str | None = None,
        compile: bool = False,
        copy_model: bool = True,
    ) -> None:
        if not isinstance(model, SDSTrack):
            raise TypeError(f"TorchBackend runs an sdstrack.SDSTrack, got {type(model).__name__}")
        self.device = resolve_device(device)
        self.dtype = parse_dtype(dtype if dtype is not None else torch.float32)
        if copy_model:
            model = copy.deepcopy(model)
        self.model = model.to(device=self.device, dtype=torch.float32).eval()
        if self.dtype != torch.float32:
            for module in self.model.modules():
                if isinstance(module, (nn.Linear, nn.Conv2d)):
                    module.to(self.dtype)
        self.config = self.model.config
        mode = "reduce-overhead" if self.device.type == "cuda" else None
        self._network = torch.compile(self.model, mode=mode) if compile else self.model

    def __call__(
        self, template: Tensor, search: Tensor, *, rgb_mask: Tensor | None = None, x_mask: Tensor | None = None
    ) -> SDSTrackOutput:
        with torch.autocast(self.device.type, dtype=self.dtype, enabled=self.dtype != torch.float32):
            return self._network(template, search, rgb_mask=rgb_mask, x_mask=x_mask)

    def __repr__(self) -> str:
        return f"TorchBackend(device={self.device}, dtype={dtype_name(self.dtype)}, attention={self.model.attention})"
