"""ONNX export of the network (candidate elimination included) and an ONNX Runtime backend.

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

import numpy as np
import torch
from torch import Tensor, nn

from .config import SDSTrackConfig
from .model import SDSTrack, SDSTrackOutput, decode_boxes

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
    """Export a float32 copy of ``model`` (fast attention) to ``path``, dynamic batch 1..``max_batch``."""
    cfg = model.config
    network = copy.deepcopy(model).to(device="cpu", dtype=torch.float32).eval()
    network.set_attention("fast")
    tokens = cfg.num_template_tokens + cfg.num_search_tokens
    example = (
        torch.zeros(2, 6, cfg.template_size, cfg.template_size),
        torch.zeros(2, 6, cfg.search_size, cfg.search_size),
        torch.zeros(2, tokens, dtype=torch.bool),
        torch.zeros(2, tokens, dtype=torch.bool),
    )
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
        verbose=False,
    )
    return path


class OnnxRuntimeNetwork:
    """An exported SDSTrack run by ONNX Runtime, called like :class:`SDSTrack` (without fusion tokens).

    ``Tracker(OnnxRuntimeNetwork(...))`` or ``Tracker.from_pretrained(folder, backend="onnxruntime")``
    tracks with it; pre- and post-processing are the same code as for the PyTorch network.
    """

    def __init__(self, onnx_path: str | Path, config: SDSTrackConfig, providers: list[str] | None = None) -> None:
        try:
            import onnxruntime
        except ImportError as err:
            raise ImportError('the ONNX Runtime backend needs onnxruntime: pip install "sdstrack[onnx]"') from err
        if not Path(onnx_path).is_file():
            raise FileNotFoundError(
                f"{onnx_path} does not exist; export it first with `sdstrack export-onnx CHECKPOINT_DIR`"
            )
        self.config = config
        self.session = onnxruntime.InferenceSession(str(onnx_path), providers=providers or ["CPUExecutionProvider"])

    def __call__(
        self, template: Tensor, search: Tensor, *, rgb_mask: Tensor | None = None, x_mask: Tensor | None = None
    ) -> SDSTrackOutput:
        batch = template.shape[0]
        tokens = self.config.num_template_tokens + self.config.num_search_tokens
        no_mask = np.zeros((batch, tokens), dtype=bool)
        feeds = {
            "template": template.detach().cpu().float().numpy(),
            "search": search.detach().cpu().float().numpy(),
            "rgb_mask": rgb_mask.cpu().numpy() if rgb_mask is not None else no_mask,
            "x_mask": x_mask.cpu().numpy() if x_mask is not None else no_mask,
        }
        score_map, size_map, offset_map, features = (
            torch.from_numpy(array).to(template.device) for array in self.session.run(list(OUTPUT_NAMES), feeds)
        )
        boxes, _ = decode_boxes(score_map, size_map, offset_map)
        return SDSTrackOutput(score_map, size_map, offset_map, boxes, features)
