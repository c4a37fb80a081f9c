"""SDSTrack = backbone + centre head; tensors in, maps and boxes out."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import Tensor, nn

from .. import checkpoint
from ..config import SDSTrackConfig
from .backbone import Backbone
from .head import CentreHead, decode_boxes


@dataclass
class SDSTrackOutput:
    """What one forward pass returns (B = batch size, G = search grid side, 16 for ViT-B).

    Attributes:
        score_map: (B, 1, G, G) target-centre probability per cell, without the Hann window.
        size_map: (B, 2, G, G) box width and height as fractions of the search crop.
        offset_map: (B, 2, G, G) sub-cell offset of the centre, in cells.
        boxes: (B, 4) ``cx, cy, w, h`` as fractions of the search crop, decoded at the arg-max of
            the unwindowed score map.
        features: (B, T + G*G, C) backbone output after the final norm (template tokens first).
        fusion_tokens: the [RGB ; X] tokens after each fusion block, when requested.
    """

    score_map: Tensor
    size_map: Tensor
    offset_map: Tensor
    boxes: Tensor
    features: Tensor
    fusion_tokens: list[Tensor] = field(default_factory=list)


class SDSTrack(nn.Module):
    """The SDSTrack network (CVPR 2024) for RGB + X tracking.

    Inputs are normalised crops: ``template`` (B, 6, 128, 128) and ``search`` (B, 6, 256, 256), RGB in
    channels 0-2 and the rendered X image in channels 3-5, each scaled to [0, 1] and normalised with the
    ImageNet mean and std. Either may instead be given as a ``(rgb, x)`` pair of 3-channel tensors.
    """

    def __init__(self, config: SDSTrackConfig | None = None, *, attention: str = "fast") -> None:
        """``attention="fast"`` (default) or ``"eager"`` (the readable reference); see :meth:`set_attention`."""
        super().__init__()
        self.config = config or SDSTrackConfig()
        self.backbone = Backbone(self.config)
        self.head = CentreHead(self.config.embed_dim, self.config.head_channels)
        self.set_attention(attention)
        self.compute_dtype = torch.float32

    def forward(
        self,
        template: Tensor | tuple[Tensor, Tensor],
        search: Tensor | tuple[Tensor, Tensor],
        *,
        rgb_mask: Tensor | None = None,
        x_mask: Tensor | None = None,
        return_fusion_tokens: bool = False,
    ) -> SDSTrackOutput:
        """Run the network.

        Args:
            template, search: crops as described in the class docstring.
            rgb_mask, x_mask: optional (B, T + S) bool masks (T = 64 template and S = 256 search tokens
                for ViT-B, template first, row-major). True replaces that patch token by zeros before
                the position embedding: the masked path of the paper's self-distillation, and what a
                missing sensor feeds.
            return_fusion_tokens: fill ``SDSTrackOutput.fusion_tokens``.
        """
        cfg = self.config
        template = self._check_crop("template", template, cfg.template_size)
        search = self._check_crop("search", search, cfg.search_size)
        if template.shape[0] != search.shape[0]:
            raise ValueError(f"template batch {template.shape[0]} != search batch {search.shape[0]}")
        rgb_mask = self._check_mask("rgb_mask", rgb_mask, search.shape[0])
        x_mask = self._check_mask("x_mask", x_mask, search.shape[0])
        template, search = template.float(), search.float()
        reduced = self.compute_dtype != torch.float32
        with torch.autocast(search.device.type, dtype=self.compute_dtype, enabled=reduced):
            features, fusion_tokens = self.backbone(template, search, rgb_mask, x_mask, return_fusion_tokens)
            grid = cfg.search_grid
            search_map = features[:, cfg.num_template_tokens :].transpose(1, 2).reshape(-1, cfg.embed_dim, grid, grid)
            score_map, size_map, offset_map = self.head(search_map)
        score_map, size_map, offset_map = score_map.float(), size_map.float(), offset_map.float()
        boxes, _ = decode_boxes(score_map, size_map, offset_map)
        return SDSTrackOutput(score_map, size_map, offset_map, boxes, features, fusion_tokens)

    def set_attention(self, implementation: str) -> None:
        """Choose the attention implementation; both compute the same function.

        ``"fast"``: RGB and X batched through the shared blocks, ``scaled_dot_product_attention``, the
        elimination score from the template centre token's row only, fusion as two cross-attentions.
        ``"eager"``: the reference, structured like the original (sequential paths, materialised and
        masked attention matrices).
        """
        if implementation not in ("fast", "eager"):
            raise ValueError(f"attention must be 'fast' or 'eager', got {implementation!r}")
        self.backbone.set_fused(implementation == "fast")

    def set_precision(self, dtype: torch.dtype) -> None:
        """Run matrix products and convolutions in ``dtype`` (``torch.float16`` / ``torch.bfloat16``),
        storing those weights in it, while the residual stream, LayerNorm and the outputs stay float32
        (``torch.autocast``). Storing rounds the weights, so it cannot be undone: load the model again
        for float32.

        Prefer this to ``model.to(torch.bfloat16)``: a bfloat16 residual stream and LayerNorm change
        which candidates are eliminated and move the output far more (measured on the parity fixture
        input: score map off by 0.11, against 0.008 with this mixed precision).
        """
        if dtype not in (torch.float32, torch.float16, torch.bfloat16):
            raise ValueError(f"precision must be torch.float32, torch.float16 or torch.bfloat16, got {dtype}")
        if dtype == self.compute_dtype:
            return
        if self.compute_dtype != torch.float32:
            raise ValueError(
                f"this model's weights were already rounded to {self.compute_dtype}; load it again "
                f"(SDSTrack.from_pretrained) to run it in {dtype}"
            )
        for module in self.modules():
            if isinstance(module, (nn.Linear, nn.Conv2d)):
                module.to(dtype)
        self.compute_dtype = dtype

    @property
    def attention(self) -> str:
        return "fast" if self.backbone.fused else "eager"

    @staticmethod
    def _check_crop(name: str, crop: Tensor | tuple[Tensor, Tensor], size: int) -> Tensor:
        if isinstance(crop, (tuple, list)):
            if len(crop) != 2:
                raise ValueError(f"{name} as a sequence must be (rgb, x), got {len(crop)} tensors")
            crop = torch.cat(list(crop), dim=1)
        if crop.ndim != 4 or crop.shape[1] != 6 or crop.shape[2:] != (size, size):
            raise ValueError(
                f"{name} must have shape (B, 6, {size}, {size}) (RGB channels 0-2, X channels 3-5), "
                f"got {tuple(crop.shape)}"
            )
        if not crop.is_floating_point():
            raise TypeError(f"{name} must be a normalised floating-point tensor, got {crop.dtype}")
        return crop

    def _check_mask(self, name: str, mask: Tensor | None, batch: int) -> Tensor | None:
        if mask is None:
            return None
        expected = (batch, self.config.num_template_tokens + self.config.num_search_tokens)
        if mask.dtype != torch.bool or tuple(mask.shape) != expected:
            raise ValueError(
                f"{name} must be a bool tensor of shape {expected} (template tokens, then search tokens), "
                f"got {mask.dtype} {tuple(mask.shape)}"
            )
        return mask

    # Checkpoints ---------------------------------------------------------------------------------
    def save_pretrained(self, directory: str | Path) -> None:
        """Write ``config.json`` and ``model.safetensors`` into ``directory`` (created if needed)."""
        checkpoint.write_folder(directory, self.config, self.state_dict())

    @classmethod
    def from_pretrained(
        cls,
        name_or_path: str | Path,
        *,
        revision: str | None = None,
        cache_dir: str | Path | None = None,
        local_files_only: bool = False,
        token: str | bool | None = None,
        map_location: str | torch.device = "cpu",
    ) -> SDSTrack:
        """Load from a folder with ``config.json`` + ``model.safetensors`` or from a Hub repo id.

        Loading is strict: a missing, unexpected or mis-shaped tensor raises
        :class:`sdstrack.checkpoint.CheckpointError` naming the keys. The model is returned in eval mode.
        """
        folder = checkpoint.resolve(
            name_or_path, revision=revision, cache_dir=cache_dir, local_files_only=local_files_only, token=token
        )
        config, state_dict = checkpoint.read_folder(folder, map_location=map_location)
        model = cls(config)
        checkpoint.load_state_dict_strict(model, state_dict, source=str(name_or_path))
        return model.eval()
