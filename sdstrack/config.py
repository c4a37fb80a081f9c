"""The model configuration: every hyper-parameter of the SDSTrack network, JSON in and out.

The defaults are the paper's ViT-B configuration (102,424,965 parameters). The same dataclass
describes reduced models (for example the parity fixture's ``embed_dim=64`` model), so nothing
about the network's size is hard-coded elsewhere.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MODALITIES = ("depth", "thermal", "event")


@dataclass(frozen=True)
class SDSTrackConfig:
    """Hyper-parameters of one SDSTrack model.

    Sizes are in pixels (``template_size``, ``search_size``, ``patch_size``) or in channels
    (``embed_dim``, ``head_channels``). ``modality`` names the X sensor the weights were trained on.
    """

    modality: str = "depth"
    embed_dim: int = 768
    depth: int = 12
    num_heads: int = 12
    mlp_ratio: float = 4.0
    qkv_bias: bool = True
    adapter_ratio: float = 0.25
    adapter_scale: float = 0.5
    fusion_layers: tuple[int, ...] = (3, 6, 9, 11)
    ce_layers: tuple[int, ...] = (3, 6, 9)
    ce_keep_ratio: float = 0.7
    head_channels: int = 256
    template_size: int = 128
    search_size: int = 256
    patch_size: int = 16
    template_factor: float = 2.0
    search_factor: float = 4.0
    layernorm_eps: float = 1e-6

    def __post_init__(self) -> None:
        object.__setattr__(self, "fusion_layers", tuple(int(i) for i in self.fusion_layers))
        object.__setattr__(self, "ce_layers", tuple(int(i) for i in self.ce_layers))
        problems = []
        if self.modality not in MODALITIES:
            problems.append(f"modality={self.modality!r} is not one of {MODALITIES}")
        if self.embed_dim % self.num_heads:
            problems.append(f"embed_dim={self.embed_dim} is not divisible by num_heads={self.num_heads}")
        for name in ("template_size", "search_size"):
            if getattr(self, name) % self.patch_size:
                problems.append(f"{name}={getattr(self, name)} is not a multiple of patch_size={self.patch_size}")
        for name in ("fusion_layers", "ce_layers"):
            bad = [i for i in getattr(self, name) if not 0 <= i < self.depth]
            if bad:
                problems.append(f"{name} {bad} lie outside blocks 0..{self.depth - 1}")
        if not 0.0 < self.ce_keep_ratio <= 1.0:
            problems.append(f"ce_keep_ratio={self.ce_keep_ratio} must lie in (0, 1]")
        if self.head_channels % 8:
            problems.append(f"head_channels={self.head_channels} must be divisible by 8")
        if problems:
            raise ValueError("invalid SDSTrackConfig: " + "; ".join(problems))

    # Derived sizes -------------------------------------------------------------------------------
    @property
    def template_grid(self) -> int:
        """Side of the template token grid (8 for a 128 px template and 16 px patches)."""
        return self.template_size // self.patch_size

    @property
    def search_grid(self) -> int:
        """Side of the search token grid; also the side of the score/size/offset maps (16)."""
        return self.search_size // self.patch_size

    @property
    def num_template_tokens(self) -> int:
        return self.template_grid**2

    @property
    def num_search_tokens(self) -> int:
        return self.search_grid**2

    @property
    def template_centre_index(self) -> int:
        """Index of the template token that drives candidate elimination (27 for an 8x8 grid)."""
        centre = (self.template_grid - 1) // 2
        return centre * self.template_grid + centre

    def search_tokens_kept(self) -> list[int]:
        """Search-token count after each block: 256 -> 180 -> 126 -> 89 for the paper's model."""
        counts, n = [], self.num_search_tokens
        for i in range(self.depth):
            if i in self.ce_layers:
                n = math.ceil(self.ce_keep_ratio * n)
            counts.append(n)
        return counts

    # JSON ----------------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["fusion_layers"] = list(self.fusion_layers)
        data["ce_layers"] = list(self.ce_layers)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SDSTrackConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(
                f"config has unknown fields {unknown}; known fields are {sorted(known)}. "
                "Was it written by a newer sdstrack? Upgrade the package or remove those fields."
            )
        return cls(**data)

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=2) + "\n")

    @classmethod
    def load(cls, path: str | Path) -> SDSTrackConfig:
        try:
            data = json.loads(Path(path).read_text())
        except json.JSONDecodeError as err:
            raise ValueError(f"{path} is not valid JSON ({err}); re-create it with save_pretrained()") from err
        return cls.from_dict(data)
