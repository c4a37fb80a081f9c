"""The ONNX Runtime backend: a ``model.onnx`` written by ``sdstrack export-onnx``, run on the CPU in float32.

Needs the optional dependencies: ``pip install "sdstrack[onnx]"``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from ..checkpoint import CONFIG_NAME
from ..config import SDSTrackConfig
from ..export import ONNX_NAME, OUTPUT_NAMES
from ..model import SDSTrackOutput, decode_boxes
from ..runtime import parse_dtype


class OnnxRuntimeBackend:
    """An exported SDSTrack run by ONNX Runtime, called like :class:`sdstrack.SDSTrack` (without fusion
    tokens); ``Tracker(OnnxRuntimeBackend(...))`` or ``Tracker.from_pretrained(folder,
    backend="onnxruntime")`` tracks with it."""

    device = torch.device("cpu")
    dtype = torch.float32

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

    @classmethod
    def from_folder(
        cls,
        folder: str | Path,
        *,
        device: str | torch.device | None = None,
        dtype: torch.dtype | str | None = None,
        compile: bool = False,
    ) -> OnnxRuntimeBackend:
        """Load ``folder/config.json`` and ``folder/model.onnx``; the options exist to refuse GPU requests."""
        if (device is not None and torch.device(device).type != "cpu") or compile or (
            dtype is not None and parse_dtype(dtype) != torch.float32
        ):
            raise ValueError("the ONNX Runtime backend runs on the CPU in float32; drop device, dtype and compile")
        folder = Path(folder)
        return cls(folder / ONNX_NAME, SDSTrackConfig.load(folder / CONFIG_NAME))

    def __call__(
        self, template: Tensor, search: Tensor, *, rgb_mask: Tensor | None = None, x_mask: Tensor | None = None
    ) -> SDSTrackOutput:
        batch = template.shape[0]
        no_mask = np.zeros((batch, self.config.num_template_tokens + self.config.num_search_tokens), dtype=bool)
        feeds = {
            "template": template.detach().cpu().float().numpy(),
            "search": search.detach().cpu().float().numpy(),
            "rgb_mask": rgb_mask.cpu().numpy() if rgb_mask is not None else no_mask,
            "x_mask": x_mask.cpu().numpy() if x_mask is not None else no_mask,
        }
        score_map, size_map, offset_map, features = (
            torch.from_numpy(array) for array in self.session.run(list(OUTPUT_NAMES), feeds)
        )
        boxes, _ = decode_boxes(score_map, size_map, offset_map)
        return SDSTrackOutput(score_map, size_map, offset_map, boxes, features)
