"""ONNX export of the network, candidate elimination included (run it with the ``onnxruntime`` backend,
:mod:`sdstrack.backends.onnx_runtime`).

Needs the optional dependencies: ``pip install "sdstrack[onnx]"`` (onnx and onnxscript for the
exporter, onnxruntime for inference).

The exported graph takes ``template`` (N, 6, 128, 128), ``search`` (N, 6, 256, 256) float32 and the
token masks ``rgb_mask`` / ``x_mask`` (N, T + S) bool (all False = nothing masked), with a dynamic
batch N (several targets); it returns ``score_map``, ``size_map``, ``offset_map`` and ``features``.
Candidate elimination keeps a fixed number of tokens per block, so every other shape is static.
"""

from __future__ import annotations

import copy
from pathlib import Path

import torch
from torch import Tensor, nn

from .model import SDSTrack, example_crops

ONNX_NAME = "model.onnx"
INPUT_NAMES = ("template", "search", "rgb_mask", "x_mask")
OUTPUT_NAMES = ("score_map", "size_map", "offset_map", "features")


class _ExportableNetwork(nn.Module):
    """SDSTrack with plain tensor outputs and the masks as required inputs."""

    def __init__(self, model: SDSTrack) -> None:
        super().__init__()
        self.model = model

    def forward(self, template: Tensor, search: Tensor, rgb_mask: Tensor, x_mask: Tensor):
        out = self.model(template, search, rgb_mask=rgb_mask, x_mask=x_mask)
        return out.score_map, out.size_map, out.offset_map, out.features


def export_onnx(model: SDSTrack, path: str | Path, max_batch: int = 64) -> Path:
    """Export a float32 copy of ``model`` (fast attention) to ``path``, dynamic batch 1..``max_batch``; the
    weights are inside the file (no ``.data`` side file), so the file alone is the model."""
    cfg = model.config
    network = copy.deepcopy(model).to(device="cpu", dtype=torch.float32).eval()
    network.set_attention("fast")
    tokens = cfg.num_template_tokens + cfg.num_search_tokens
    # Two distinct mask tensors: the exporter would tie inputs that alias one tensor.
    example = (*example_crops(cfg, batch=2), torch.zeros(2, tokens, dtype=torch.bool),
               torch.zeros(2, tokens, dtype=torch.bool))
    batch = torch.export.Dim("batch", min=1, max=max_batch)
    path = Path(path)
    torch.onnx.export(
        _ExportableNetwork(network).eval(),
        example,
        str(path),
        dynamo=True,
        input_names=list(INPUT_NAMES),
        output_names=list(OUTPUT_NAMES),
        dynamic_shapes={name: {0: batch} for name in INPUT_NAMES},
        external_data=False,  # one self-contained file (ViT-B: about 400 MB, under ONNX's 2 GB limit)
        verbose=False,
    )
    return path
