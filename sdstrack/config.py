"""The model configuration: every hyper-parameter of the SDSTrack network, JSON in and out.

The defaults are the paper's ViT-B configuration (102,424,965 parameters). The same dataclass
describes reduced models (for example the parity fixture's ``embed_dim=64`` model), so nothing
about the network's size is hard-coded elsewhere.
"""

from __future__ import annotations

import dataclasses
import json
import math
import numbers
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MODALITIES = ("depth", "thermal", "event")

# Field kinds, checked in this order before any arithmetic on the values.
_POSITIVE_INTS = frozenset(
    {"embed_dim", "depth", "num_heads", "head_channels", "template_size", "search_size", "patch_size"}
)
_POSITIVE_FLOATS = frozenset({"mlp_ratio", "adapter_ratio", "template_factor", "search_factor", "layernorm_eps"})
_LAYER_LISTS = frozenset({"fusion_layers", "ce_layers"})
_CHANNEL_TRIPLES = frozenset({"pixel_mean", "pixel_std"})


@dataclass(frozen=True)
class SDSTrackConfig:
    """Hyper-parameters of one SDSTrack model.

    Sizes are in pixels (``template_size``, ``search_size``, ``patch_size``) or in channels
    (``embed_dim``, ``head_channels``). ``modality`` names the X sensor the weights were trained on.
    ``template_factor`` and ``search_factor`` are the crop sides as multiples of the target box's
    context-padded side. ``fusion_layers`` and ``ce_layers`` are 0-based block indices (JSON lists).

    Crops are scaled to [0, 1] and then normalised per channel as ``(value - pixel_mean) / pixel_std``;
    the same three values (R, G, B order; default: the ImageNet statistics) apply to the RGB crop and
    to the three channels of the rendered X crop. The published weights were trained with these
    statistics, so change them only for weights trained with others.

    Every field's type and range is checked on construction; all problems are reported together in
    one ``ValueError`` that names each field.
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
    pixel_mean: tuple[float, float, float] = (0.485, 0.456, 0.406)
    pixel_std: tuple[float, float, float] = (0.229, 0.224, 0.225)
    layernorm_eps: float = 1e-6

    def __post_init__(self) -> None:
        problems = []
        invalid = set()
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            normalised, problem = _check_field(field.name, value, field.default)
            if problem:
                problems.append(f"{field.name}={value!r} {problem}")
                invalid.add(field.name)
            else:
                object.__setattr__(self, field.name, normalised)
        problems += self._consistency_problems(invalid)
        if problems:
            raise ValueError("invalid SDSTrackConfig: " + "; ".join(problems))

    def _consistency_problems(self, invalid: set[str]) -> list[str]:
        """Checks between fields; each runs only when the fields it reads passed their own checks."""

        def valid(*names: str) -> bool:
            return not invalid.intersection(names)

        problems = []
        if valid("embed_dim", "num_heads") and self.embed_dim % self.num_heads:
            problems.append(
                f"embed_dim={self.embed_dim} is not divisible by num_heads={self.num_heads}; "
                "pick a head count that divides embed_dim"
            )
        for name in ("template_size", "search_size"):
            if valid(name, "patch_size") and getattr(self, name) % self.patch_size:
                problems.append(
                    f"{name}={getattr(self, name)} is not a multiple of patch_size={self.patch_size}; "
                    "use a whole number of patches"
                )
        for name in ("mlp_ratio", "adapter_ratio"):
            if valid(name, "embed_dim") and int(self.embed_dim * getattr(self, name)) < 1:
                problems.append(
                    f"{name}={getattr(self, name)} leaves no hidden channels for embed_dim={self.embed_dim}; "
                    f"{name} * embed_dim must be at least 1"
                )
        for name in ("fusion_layers", "ce_layers"):
            if valid(name, "depth"):
                bad = [i for i in getattr(self, name) if not 0 <= i < self.depth]
                if bad:
                    problems.append(f"{name} {bad} lie outside blocks 0..{self.depth - 1}; list 0-based block indices")
        if valid("head_channels") and self.head_channels % 8:
            problems.append(f"head_channels={self.head_channels} must be divisible by 8")
        return problems

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
        """The fields as JSON-ready values; tuples become lists."""
        data = dataclasses.asdict(self)
        for name in _LAYER_LISTS | _CHANNEL_TRIPLES:
            data[name] = list(getattr(self, name))
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SDSTrackConfig:
        """Build a config from a ``to_dict``/JSON mapping; absent fields take their defaults."""
        if not isinstance(data, dict):
            raise TypeError(
                f"a config must be a JSON object of field names to values, got {type(data).__name__}; "
                "re-create it with save_pretrained()"
            )
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(
                f"config has unknown fields {unknown}; known fields are {sorted(known)}. "
                "Was it written by a newer sdstrack? Upgrade the package or remove those fields."
            )
        return cls(**data)

    def save(self, path: str | Path) -> None:
        """Write the config as indented JSON to ``path``."""
        Path(path).write_text(json.dumps(self.to_dict(), indent=2) + "\n")

    @classmethod
    def load(cls, path: str | Path) -> SDSTrackConfig:
        """Read a JSON config file; any error message names ``path``."""
        try:
            data = json.loads(Path(path).read_text())
        except json.JSONDecodeError as err:
            raise ValueError(f"{path} is not valid JSON ({err}); re-create it with save_pretrained()") from err
        try:
            return cls.from_dict(data)
        except (TypeError, ValueError) as err:
            raise ValueError(f"{path}: {err}; edit that file or re-create it with save_pretrained()") from err


def _is_int(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_finite_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)


def _is_list(value: Any) -> bool:
    return isinstance(value, Sequence) and not isinstance(value, (str, bytes))


def _check_field(name: str, value: Any, default: Any) -> tuple[Any, str | None]:
    """Type and range check of one field on its own: ``(normalised value, None)`` or ``(value, problem)``.

    The problem text follows ``name=value`` in the error and says what to write instead.
    """
    if name == "modality":
        if isinstance(value, str) and value in MODALITIES:
            return value, None
        return value, f"is not one of {MODALITIES}; set the X sensor the weights were trained on"
    if name == "qkv_bias":
        if isinstance(value, bool):
            return value, None
        return value, "must be a boolean: write true or false (JSON), without quotes"
    if name in _POSITIVE_INTS:
        if not _is_int(value):
            kind = type(value).__name__
            return value, f"must be an int, got {kind}: write a whole number without quotes, e.g. {default}"
        if value <= 0:
            return value, f"must be > 0, e.g. {default}"
        return int(value), None
    if name in _LAYER_LISTS:
        if not _is_list(value) or not all(_is_int(i) for i in value):
            return value, f"must be a list of 0-based block indices (ints), e.g. {list(default)}"
        repeated = sorted({i for i in value if list(value).count(i) > 1})
        if repeated:
            return value, f"lists block(s) {repeated} more than once; list each block once"
        return tuple(int(i) for i in value), None
    if name in _CHANNEL_TRIPLES:
        if not _is_list(value) or len(value) != 3 or not all(_is_finite_number(v) for v in value):
            return value, f"must be 3 finite numbers, one per channel in R, G, B order, e.g. {list(default)}"
        if name == "pixel_std" and min(value) <= 0:
            return value, f"must be > 0 in every channel (pixels are divided by it), e.g. {list(default)}"
        return tuple(float(v) for v in value), None
    if not _is_finite_number(value):
        return value, f"must be a finite number (not a string, bool, NaN or infinity), e.g. {default}"
    if name == "ce_keep_ratio" and not 0 < value <= 1:
        return value, f"must lie in (0, 1]: the fraction of search tokens kept, e.g. {default}"
    if name in _POSITIVE_FLOATS and value <= 0:
        return value, f"must be > 0, e.g. {default}"
    return float(value), None
