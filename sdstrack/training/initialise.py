"""Initialise an SDSTrack model for training: from an OSTrack checkpoint (as the authors do) or a timm ViT.

The authors start from OSTrack's trained ViT-B tracker (hoqolo/SDSTrack, ``build_sdstrack``: the
OSTrack ``net`` state dict loaded with ``strict=False``). OSTrack has one patch embedding, one set of
blocks and the same centre head, so its tensors land in SDSTrack's RGB patch embedding, the shared
blocks (used by every path), the two position tables, the final norm and the head. What OSTrack lacks
keeps its own initialisation: the X and fusion adapters, and the X patch embedding. In the original the
latter (``patch_embed_multimodal``) is a fresh ``nn.Conv2d`` that the ViT weight init leaves at
PyTorch's default (``_init_vit_weights`` only touches ``Linear`` and norm layers in its non-JAX mode),
which :func:`initialise_from_ostrack` reproduces with ``reset_parameters()``; pass
``copy_rgb_patch_embed_to_x=True`` to start it from the RGB one instead.

Unlike the original's non-strict load, everything here is strict: a source entry that nothing uses is an
error unless it is listed in :data:`OSTRACK_IGNORED` / :data:`TIMM_IGNORED`, and so is any model tensor
the mapping must fill but cannot (all names are given in the message).

Position tables whose grid differs from the model's (e.g. an OSTrack-384 checkpoint or a 224 px timm
ViT) are resampled with timm's ``resample_abs_pos_embed`` when timm is installed, else with the
equivalent :func:`torch.nn.functional.interpolate` call (bicubic, ``align_corners=False``,
``antialias=True``, in float32).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..checkpoint import CheckpointError
from ..config import SDSTrackConfig
from ..convert import read_original
from ..model import SDSTrack

# OSTrack entries SDSTrack never reads: the ImageNet class token, its 197-token position table (the
# tracker uses pos_embed_z / pos_embed_x), the class token's position (``add_cls_token`` variants) and
# BatchNorm step counters (present when the head was trained with nn.BatchNorm2d).
OSTRACK_IGNORED = re.compile(r"backbone\.(cls_token|pos_embed|cls_pos_embed)|.*\.num_batches_tracked")
# timm ViT entries without an SDSTrack counterpart: prefix tokens and the classifier. ``pos_embed`` is
# resampled into both tables and is not listed here.
TIMM_IGNORED = re.compile(r"cls_token|reg_token|head\.(weight|bias)")

_SHARED = r"backbone\.blocks\.(\d+)\.(norm1|attn\.qkv|attn\.proj|norm2|mlp\.fc1|mlp\.fc2)\.(weight|bias)"
_HEAD_BRANCHES = {"score": "ctr", "size": "size", "offset": "offset"}
_TEMPLATE_TABLE = "backbone.template_pos_embed"
_SEARCH_TABLE = "backbone.search_pos_embed"
_RGB_PATCH = "backbone.rgb_patch_embed"


def ostrack_key_map(model: SDSTrack) -> dict[str, str]:
    """Our parameter/buffer name -> the OSTrack checkpoint entry it is initialised from.

    Covers every tensor except the X patch embedding and the adapters. The names are those of
    botaoye/OSTrack (``lib/models/ostrack/vit_ce.py``, ``lib/models/layers/head.py``) and the inverse of
    :mod:`sdstrack.convert`'s renaming for the same entries.
    """
    mapping = {}
    for name in model.state_dict():
        source = _ostrack_name(name)
        if source is not None:
            mapping[name] = source
    return mapping


def _ostrack_name(name: str) -> str | None:
    if re.fullmatch(_SHARED + r"|backbone\.norm\.(weight|bias)", name):
        return name
    if match := re.fullmatch(_RGB_PATCH + r"\.(weight|bias)", name):
        return f"backbone.patch_embed.proj.{match[1]}"
    if name == _TEMPLATE_TABLE:
        return "backbone.pos_embed_z"
    if name == _SEARCH_TABLE:
        return "backbone.pos_embed_x"
    if match := re.fullmatch(r"head\.(score|size|offset)\.([0-3])\.(conv|norm)\.(\w+)", name):
        layer = 0 if match[3] == "conv" else 1
        return f"box_head.conv{int(match[2]) + 1}_{_HEAD_BRANCHES[match[1]]}.{layer}.{match[4]}"
    if match := re.fullmatch(r"head\.(score|size|offset)\.4\.(weight|bias)", name):
        return f"box_head.conv5_{_HEAD_BRANCHES[match[1]]}.{match[2]}"
    return None


def timm_key_map(model: SDSTrack) -> dict[str, str]:
    """Our parameter name -> the timm ``VisionTransformer`` entry it is initialised from.

    The shared blocks, the RGB patch embedding and the final norm. The position tables come from
    timm's ``pos_embed`` (class-token entries dropped, resampled); the head is not initialised.
    """
    mapping = {}
    for name in model.state_dict():
        if re.fullmatch(_SHARED + r"|backbone\.norm\.(weight|bias)", name):
            mapping[name] = name.removeprefix("backbone.")
        elif match := re.fullmatch(_RGB_PATCH + r"\.(weight|bias)", name):
            mapping[name] = f"patch_embed.proj.{match[1]}"
    return mapping


def resample_position_table(table: Tensor, grid: tuple[int, int], old_grid: tuple[int, int] | None = None) -> Tensor:
    """Resample a (1, H*W, C) position table without prefix tokens to ``grid`` (rows, columns).

    ``old_grid`` defaults to a square one. Uses timm's ``resample_abs_pos_embed`` (bicubic, antialiased)
    when timm is installed, else :func:`_interpolate_position_table`, which makes the same call to
    :func:`torch.nn.functional.interpolate`. A table already on ``grid`` is returned unchanged.
    """
    tokens = table.shape[1]
    if old_grid is None:
        side = math.isqrt(tokens)
        if side * side != tokens:
            raise CheckpointError(f"a position table of {tokens} tokens is not a square grid; cannot resample it")
        old_grid = (side, side)
    if old_grid[0] * old_grid[1] != tokens:
        raise CheckpointError(f"a position table of {tokens} tokens does not fit the grid {old_grid}")
    if tuple(old_grid) == tuple(grid):
        return table
    resample = _timm_resample()
    if resample is None:
        return _interpolate_position_table(table, grid, old_grid)
    return resample(table, new_size=list(grid), old_size=list(old_grid), num_prefix_tokens=0)


def _interpolate_position_table(table: Tensor, grid: tuple[int, int], old_grid: tuple[int, int]) -> Tensor:
    """The fallback resampler, with timm's ``resample_abs_pos_embed`` conventions: the table viewed as a
    (1, C, rows, columns) image in row-major token order, bicubic interpolation with
    ``align_corners=False`` and ``antialias=True``, computed in float32 and cast back."""
    dim = table.shape[-1]
    image = table.float().reshape(1, old_grid[0], old_grid[1], dim).permute(0, 3, 1, 2)
    image = F.interpolate(image, size=tuple(grid), mode="bicubic", align_corners=False, antialias=True)
    return image.permute(0, 2, 3, 1).reshape(1, grid[0] * grid[1], dim).to(table.dtype)


def _timm_resample() -> Callable[..., Tensor] | None:
    try:
        from timm.layers import resample_abs_pos_embed
    except ImportError:
        return None
    return resample_abs_pos_embed


def _grids(config: SDSTrackConfig) -> tuple[tuple[int, int], tuple[int, int]]:
    return (config.template_grid, config.template_grid), (config.search_grid, config.search_grid)


def initialise_from_ostrack(
    model: SDSTrack,
    checkpoint: str | Path | Mapping[str, Tensor],
    *,
    copy_rgb_patch_embed_to_x: bool = False,
) -> None:
    """Initialise ``model`` in place from an OSTrack checkpoint, as SDSTrack's training starts.

    Args:
        model: the network to initialise; its adapters are left as they are.
        checkpoint: a ``.pth.tar``/``.pth`` file (a dict with ``net``, or a bare state dict; read with
            ``weights_only=True``), a ``.safetensors`` file, or an in-memory state dict (optionally
            wrapped in ``{"net": ...}``) with OSTrack's key names.
        copy_rgb_patch_embed_to_x: start the X patch embedding from OSTrack's patch embedding instead
            of PyTorch's default ``Conv2d`` initialisation (what the original does).

    The mapping is :func:`ostrack_key_map`; ``pos_embed_z`` / ``pos_embed_x`` are resampled when their
    grid differs from the model's template / search grid.

    Raises:
        CheckpointError: the file cannot be read, or an entry is neither mapped nor in
            :data:`OSTRACK_IGNORED`, or a mapped entry is missing or has the wrong shape; the message
            names every such key.
    """
    if isinstance(checkpoint, (str, Path)):
        source_name, original = str(checkpoint), read_original(checkpoint)
    else:
        source_name = "the OSTrack state dict"
        net = checkpoint.get("net")
        original = dict(net if isinstance(net, Mapping) else checkpoint)
    mapping = ostrack_key_map(model)
    placed = _gather(original, mapping, OSTRACK_IGNORED, set(), source_name)
    template_grid, search_grid = _grids(model.config)
    placed[_TEMPLATE_TABLE] = resample_position_table(placed[_TEMPLATE_TABLE], template_grid)
    placed[_SEARCH_TABLE] = resample_position_table(placed[_SEARCH_TABLE], search_grid)
    _load(model, placed, mapping, source_name, copy_rgb_patch_embed_to_x)


def initialise_from_timm(
    model: SDSTrack,
    name_or_module: str | nn.Module,
    *,
    pretrained: bool = False,
    copy_rgb_patch_embed_to_x: bool = False,
) -> None:
    """Initialise ``model``'s backbone in place from a timm ``VisionTransformer``.

    Args:
        model: the network; its embed_dim, depth, head count, patch size, MLP width, qkv bias and
            LayerNorm epsilon must be the ViT's.
        name_or_module: a timm model name (``"vit_base_patch16_224.mae"``), created with
            ``timm.create_model(name, pretrained=pretrained)``, or an already built timm ViT.
        pretrained: download the pretrained weights (only with a name).
        copy_rgb_patch_embed_to_x: also copy the ViT's patch embedding into the X patch embedding
            (default: PyTorch's ``Conv2d`` initialisation, as the original).

    The blocks, patch embedding and final norm are copied per :func:`timm_key_map`; the position table
    without its class-token entries is resampled to the template and the search grids. The head and the
    adapters are left as they are.

    Raises:
        CheckpointError: the ViT's architecture differs from the model's (both values are named), or it
            has tensors with no SDSTrack counterpart (e.g. layer scale, QK norm, ``fc_norm``).
        ImportError: a name was given and timm is not installed.
        ValueError: ``pretrained=True`` with a module.
    """
    if isinstance(name_or_module, str):
        try:
            import timm
        except ImportError as err:
            raise ImportError("initialise_from_timm needs timm: pip install 'sdstrack[train]'") from err
        vit, source_name = timm.create_model(name_or_module, pretrained=pretrained), f"timm {name_or_module}"
    else:
        if pretrained:
            raise ValueError("pretrained=True applies to a timm model name, not to an already built module")
        vit, source_name = name_or_module, f"timm {type(name_or_module).__name__}"
    _check_timm_architecture(model.config, vit, source_name)
    mapping = timm_key_map(model)
    state = vit.state_dict()
    if state.get("pos_embed") is None:
        raise CheckpointError(f"{source_name} has no absolute position table (pos_embed); SDSTrack needs one")
    placed = _gather(state, mapping, TIMM_IGNORED, {"pos_embed"}, source_name)
    prefix = 0 if getattr(vit, "no_embed_class", False) else getattr(vit, "num_prefix_tokens", 1)
    table = state["pos_embed"][:, prefix:]
    old_grid = tuple(vit.patch_embed.grid_size)
    template_grid, search_grid = _grids(model.config)
    placed[_TEMPLATE_TABLE] = resample_position_table(table, template_grid, old_grid)
    placed[_SEARCH_TABLE] = resample_position_table(table, search_grid, old_grid)
    _load(model, placed, mapping, source_name, copy_rgb_patch_embed_to_x)


def _check_timm_architecture(config: SDSTrackConfig, vit: nn.Module, source_name: str) -> None:
    """Raise a :class:`CheckpointError` naming every hyper-parameter that differs between the two."""
    blocks = getattr(vit, "blocks", None)
    patch_embed = getattr(vit, "patch_embed", None)
    if not isinstance(blocks, nn.Sequential | nn.ModuleList) or len(blocks) == 0 or patch_embed is None:
        raise CheckpointError(f"{source_name} is not a timm VisionTransformer (no blocks / patch_embed)")
    block = blocks[0]
    attn, mlp = getattr(block, "attn", None), getattr(block, "mlp", None)
    if not hasattr(attn, "qkv") or not hasattr(mlp, "fc1"):
        raise CheckpointError(f"{source_name}'s blocks are not timm ViT blocks (attn.qkv, mlp.fc1)")
    act = getattr(mlp, "act", None)
    theirs = {
        "embed_dim": getattr(vit, "embed_dim", None),
        "depth": len(blocks),
        "num_heads": getattr(attn, "num_heads", None),
        "patch_size": tuple(getattr(patch_embed, "patch_size", ())),
        "mlp_hidden": mlp.fc1.out_features,
        "qkv_bias": attn.qkv.bias is not None,
        "layernorm_eps": getattr(block.norm1, "eps", None),
        "activation": f"GELU({act.approximate})" if isinstance(act, nn.GELU) else type(act).__name__,
    }
    ours = {
        "embed_dim": config.embed_dim,
        "depth": config.depth,
        "num_heads": config.num_heads,
        "patch_size": (config.patch_size, config.patch_size),
        "mlp_hidden": int(config.embed_dim * config.mlp_ratio),
        "qkv_bias": config.qkv_bias,
        "layernorm_eps": config.layernorm_eps,
        "activation": "GELU(none)",
    }
    differences = [
        f"{key}: model {ours[key]!r} vs {source_name} {theirs[key]!r}" for key in ours if ours[key] != theirs[key]
    ]
    if differences:
        raise CheckpointError(f"the model's architecture does not match {source_name}: " + "; ".join(differences))


def _gather(
    source: Mapping[str, Tensor],
    mapping: Mapping[str, str],
    ignored: re.Pattern[str],
    handled: set[str],
    source_name: str,
) -> dict[str, Tensor]:
    """Our name -> source tensor per ``mapping``; every source entry must be mapped, ignored or handled."""
    wanted = set(mapping.values()) | handled
    unplaced = [key for key in source if key not in wanted and not ignored.fullmatch(key)]
    missing = [entry for entry in (*mapping.values(), *handled) if entry not in source]
    problems = []
    if missing:
        problems.append(f"missing entries {missing}")
    if unplaced:
        problems.append(f"entries with no place in the model {unplaced}")
    if problems:
        raise CheckpointError(f"{source_name} cannot initialise the model: " + "; ".join(problems))
    return {ours: source[entry] for ours, entry in mapping.items()}


def _load(
    model: SDSTrack,
    placed: Mapping[str, Tensor],
    mapping: Mapping[str, str],
    source_name: str,
    copy_rgb_patch_embed_to_x: bool,
) -> None:
    """Copy ``placed`` into the model after checking every shape; then initialise the X patch embedding."""
    state = model.state_dict()
    mismatched = [
        f"{name} <- {mapping.get(name, 'pos_embed')}: source {tuple(tensor.shape)} vs model {tuple(state[name].shape)}"
        for name, tensor in placed.items()
        if tensor.shape != state[name].shape
    ]
    if mismatched:
        raise CheckpointError(f"{source_name} does not fit the model: shape mismatches {mismatched}")
    with torch.no_grad():
        for name, tensor in placed.items():
            state[name].copy_(tensor)
        x_patch_embed = model.backbone.x_patch_embed
        if copy_rgb_patch_embed_to_x:
            x_patch_embed.weight.copy_(model.backbone.rgb_patch_embed.weight)
            x_patch_embed.bias.copy_(model.backbone.rgb_patch_embed.bias)
        else:
            x_patch_embed.reset_parameters()
