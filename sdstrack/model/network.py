"""SDSTrack = backbone + centre head; tensors in, maps and boxes out."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from torch import Tensor, nn

from .. import checkpoint
from ..config import SDSTrackConfig
from .backbone import Backbone
from .head import CentreHead, decode_boxes

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from ..checkpoint import HubOptions


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

    def __init__(
        self, config: SDSTrackConfig | None = None, *, attention: str = "fast", drop_path_rate: float = 0.0
    ) -> None:
        """``attention="fast"`` (default) or ``"eager"`` (the readable reference); see :meth:`set_attention`.
        ``drop_path_rate``: stochastic depth for training, rising linearly from 0 in the first block to this
        in the last (the original trains with 0.1); it has no effect in eval mode and is not part of the
        checkpoint."""
        super().__init__()
        self.config = config or SDSTrackConfig()
        self.backbone = Backbone(self.config, drop_path_rate=drop_path_rate)
        self.head = CentreHead(self.config.embed_dim, self.config.head_channels)
        self.set_attention(attention)

    def forward(
        self,
        template: Tensor | tuple[Tensor, Tensor],
        search: Tensor | tuple[Tensor, Tensor],
        *,
        rgb_mask: Tensor | None = None,
        x_mask: Tensor | None = None,
        return_fusion_tokens: bool = False,
        ce_keep_ratio: float | None = None,
    ) -> SDSTrackOutput:
        """Run the network.

        It computes in the dtype of its weights and inputs and follows the caller's ``torch.autocast``
        (mixed precision for training or inference); only the candidate-elimination ranking always runs
        in float32. The maps come out in the compute dtype; ``boxes`` are decoded in float32.

        Args:
            template, search: crops as described in the class docstring.
            rgb_mask, x_mask: optional (B, T + S) bool masks (T = 64 template and S = 256 search tokens
                for ViT-B, template first, row-major). True replaces that patch token by zeros before
                the position embedding: the masked path of the paper's self-distillation, and what a
                missing sensor feeds.
            return_fusion_tokens: fill ``SDSTrackOutput.fusion_tokens``.
            ce_keep_ratio: candidate-elimination keep ratio for this call, in (0, 1]; each elimination
                block keeps ``ceil(ce_keep_ratio * n)`` of its ``n`` search tokens and 1.0 keeps them all
                (training ramps it down, see :func:`sdstrack.training.keep_rate_schedule`). None (default)
                uses ``config.ce_keep_ratio``.
        """
        cfg = self.config
        template = self._check_crop("template", template, cfg.template_size)
        search = self._check_crop("search", search, cfg.search_size)
        if template.shape[0] != search.shape[0]:
            raise ValueError(f"template batch {template.shape[0]} != search batch {search.shape[0]}")
        rgb_mask = self._check_mask("rgb_mask", rgb_mask, search.shape[0])
        x_mask = self._check_mask("x_mask", x_mask, search.shape[0])
        self._check_input_dtype(template)
        features, fusion_tokens = self.backbone(
            template, search, rgb_mask, x_mask, return_fusion_tokens, ce_keep_ratio=ce_keep_ratio
        )
        grid = cfg.search_grid
        search_map = features[:, cfg.num_template_tokens :].transpose(1, 2).reshape(-1, cfg.embed_dim, grid, grid)
        score_map, size_map, offset_map = self.head(search_map)
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

    def _check_input_dtype(self, crop: Tensor) -> None:
        weights = self.backbone.rgb_patch_embed.weight.dtype
        if crop.dtype != weights and not torch.is_autocast_enabled(crop.device.type):
            raise TypeError(
                f"the crops are {crop.dtype} but the network's weights are {weights}: cast the crops with "
                f".to({weights}), or run under torch.autocast, or use sdstrack.backends.pytorch.TorchBackend "
                "for mixed-precision inference"
            )

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
        name_or_path: str | Path = checkpoint.DEFAULT_MODEL,
        *,
        map_location: str | torch.device = "cpu",
        **hub: Unpack[HubOptions],
    ) -> SDSTrack:
        """Load from a bundled model's short name (default: :data:`sdstrack.checkpoint.DEFAULT_MODEL`), a
        folder with ``config.json`` + ``model.safetensors`` or a Hub repo id.

        ``hub`` takes the Hub download options of :class:`sdstrack.checkpoint.HubOptions`. Loading is
        strict: a missing, unexpected or mis-shaped tensor raises :class:`sdstrack.checkpoint.CheckpointError`
        naming the keys. The model is returned in eval mode.
        """
        folder = checkpoint.resolve(name_or_path, **hub)
        config, state_dict = checkpoint.read_folder(folder, map_location=map_location)
        model = cls(config)
        checkpoint.load_state_dict_strict(model, state_dict, source=str(name_or_path))
        return model.eval()


def example_crops(
    config: SDSTrackConfig, batch: int = 1, *, device: str | torch.device = "cpu", seed: int = 0
) -> tuple[Tensor, Tensor]:
    """Standard-normal (normalised-looking) template and search crops of the right shapes, for
    timing, tracing and export: (batch, 6, template_size, template_size) and (batch, 6, search_size,
    search_size) float32."""
    generator = torch.Generator().manual_seed(seed)
    template = torch.randn(batch, 6, config.template_size, config.template_size, generator=generator)
    search = torch.randn(batch, 6, config.search_size, config.search_size, generator=generator)
    return template.to(device), search.to(device)
