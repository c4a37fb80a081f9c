"""Convert the authors' SDSTrack checkpoints into sdstrack's ``config.json`` + ``model.safetensors``.

The authors publish one ``.pth.tar`` per modality pair: a dict whose ``net`` entry is the state_dict
of their network. This module renames those keys to ours (in the spirit of timm's
``checkpoint_filter_fn``), drops the entries their network carries but never uses, infers the
hyper-parameters from tensor shapes and refuses anything it does not recognise.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from pathlib import Path

import torch
from safetensors.torch import load_file

from .checkpoint import CheckpointError, load_state_dict_strict
from .config import SDSTrackConfig
from .model import SDSTrack

_BRANCHES = {"ctr": "score", "size": "size", "offset": "offset"}
_ADAPTERS = {
    "Space_X_DTE_Adapter": "x_adapters.space",
    "MLP_X_DTE_Adapter": "x_adapters.mlp",
    "Space_X_X_DTE_Adapter": "fusion_adapters.space",
    "MLP_X_X_DTE_Adapter": "fusion_adapters.mlp",
}

# Original entries that the original network never reads: the ImageNet class token and 197-token
# position table, two concatenated-position tables, and BatchNorm step counters.
_UNUSED = re.compile(
    r"backbone\.(cls_token|pos_embed|pos_embed_z_z_dte|pos_embed_x_x_dte)|.*\.num_batches_tracked"
)

_RULES: list[tuple[re.Pattern[str], object]] = [
    (re.compile(r"backbone\.patch_embed\.proj\.(weight|bias)"), r"backbone.rgb_patch_embed.\1"),
    (re.compile(r"backbone\.patch_embed_multimodal\.proj\.(weight|bias)"), r"backbone.x_patch_embed.\1"),
    (re.compile(r"backbone\.pos_embed_z"), "backbone.template_pos_embed"),
    (re.compile(r"backbone\.pos_embed_x"), "backbone.search_pos_embed"),
    (
        re.compile(r"backbone\.blocks\.(\d+)\.(norm1|norm2|attn\.qkv|attn\.proj|mlp\.fc1|mlp\.fc2)\.(weight|bias)"),
        r"backbone.blocks.\1.\2.\3",
    ),
    (
        re.compile(r"backbone\.blocks\.(\d+)\.(" + "|".join(_ADAPTERS) + r")\.D_fc([12])\.(weight|bias)"),
        lambda m: f"backbone.blocks.{m[1]}.{_ADAPTERS[m[2]]}.fc{m[3]}.{m[4]}",
    ),
    (re.compile(r"backbone\.norm\.(weight|bias)"), r"backbone.norm.\1"),
    (
        re.compile(r"box_head\.conv([1-4])_(ctr|size|offset)\.0\.(weight|bias)"),
        lambda m: f"head.{_BRANCHES[m[2]]}.{int(m[1]) - 1}.conv.{m[3]}",
    ),
    (
        re.compile(r"box_head\.conv([1-4])_(ctr|size|offset)\.1\.(weight|bias|running_mean|running_var)"),
        lambda m: f"head.{_BRANCHES[m[2]]}.{int(m[1]) - 1}.norm.{m[3]}",
    ),
    (
        re.compile(r"box_head\.conv5_(ctr|size|offset)\.(weight|bias)"),
        lambda m: f"head.{_BRANCHES[m[1]]}.4.{m[2]}",
    ),
]


def read_original(path: str | Path) -> dict[str, torch.Tensor]:
    """Read an original checkpoint: ``.pth.tar``/``.pth`` (dict with ``net``, or a bare state_dict) or
    ``.safetensors`` with the original key names. Pickles are loaded with ``weights_only=True``."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path} does not exist or is not a file")
    if path.suffix == ".safetensors":
        return load_file(str(path))
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises several types for corrupt or unsafe pickles
        raise CheckpointError(
            f"could not read {path} as a PyTorch checkpoint with weights_only=True ({err}); it may be "
            "truncated, or hold objects other than tensors"
        ) from err
    if isinstance(obj, dict) and "net" in obj:
        obj = obj["net"]
    if not isinstance(obj, dict) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise CheckpointError(f"{path} holds neither a dict with a 'net' state_dict nor a bare state_dict")
    return dict(obj)


def _rename(key: str) -> str | None:
    for pattern, replacement in _RULES:
        match = pattern.fullmatch(key)
        if match:
            return replacement(match) if callable(replacement) else match.expand(replacement)
    return None


def infer_config(
    original: Mapping[str, torch.Tensor], modality: str, num_heads: int | None = None
) -> SDSTrackConfig:
    """Hyper-parameters from tensor shapes; the head count cannot be read off and defaults to 12 for
    768-dimensional models only."""
    required = ["backbone.pos_embed_z", "backbone.pos_embed_x", "backbone.patch_embed.proj.weight",
                "backbone.blocks.0.mlp.fc1.weight", "backbone.blocks.0.Space_X_DTE_Adapter.D_fc1.weight",
                "box_head.conv1_ctr.0.weight"]
    absent = [k for k in required if k not in original]
    if absent:
        raise CheckpointError(f"not an SDSTrack checkpoint: missing keys {absent}")
    dim = original["backbone.pos_embed_z"].shape[-1]
    patch = original["backbone.patch_embed.proj.weight"].shape[-1]
    if num_heads is None:
        if dim != 768:
            raise CheckpointError(
                f"the head count of a {dim}-dimensional model cannot be inferred from its weights; "
                "pass num_heads (CLI: --num-heads)"
            )
        num_heads = 12
    depth = 1 + max(int(m[1]) for k in original if (m := re.match(r"backbone\.blocks\.(\d+)\.", k)))
    return SDSTrackConfig(
        modality=modality,
        embed_dim=dim,
        depth=depth,
        num_heads=num_heads,
        mlp_ratio=original["backbone.blocks.0.mlp.fc1.weight"].shape[0] / dim,
        qkv_bias="backbone.blocks.0.attn.qkv.bias" in original,
        adapter_ratio=original["backbone.blocks.0.Space_X_DTE_Adapter.D_fc1.weight"].shape[0] / dim,
        head_channels=original["box_head.conv1_ctr.0.weight"].shape[0],
        patch_size=patch,
        template_size=math.isqrt(original["backbone.pos_embed_z"].shape[1]) * patch,
        search_size=math.isqrt(original["backbone.pos_embed_x"].shape[1]) * patch,
    )


def convert_state_dict(
    original: Mapping[str, torch.Tensor], modality: str, num_heads: int | None = None
) -> tuple[SDSTrackConfig, dict[str, torch.Tensor]]:
    """Rename an original state_dict to sdstrack's names; returns the inferred config and the tensors.

    Known-unused entries are dropped (see ``_UNUSED``, and the fusion adapters of blocks that run no
    fusion pass); any other key that no rule recognises is an error listing every such key.
    """
    config = infer_config(original, modality, num_heads)
    converted, unknown = {}, []
    for key, tensor in original.items():
        if _UNUSED.fullmatch(key):
            continue
        new_key = _rename(key)
        if new_key is None:
            unknown.append(key)
            continue
        fusion = re.fullmatch(r"backbone\.blocks\.(\d+)\.fusion_adapters\..*", new_key)
        if fusion and int(fusion[1]) not in config.fusion_layers:
            continue
        converted[new_key] = tensor.detach().clone().contiguous()
    if unknown:
        raise CheckpointError(f"unrecognised keys in the original checkpoint: {sorted(unknown)}")
    return config, converted


def convert_checkpoint(
    source: str | Path, output_dir: str | Path, modality: str, num_heads: int | None = None
) -> SDSTrack:
    """Convert an original checkpoint file into ``output_dir`` and return the loaded model.

    The converted tensors are loaded strictly into a model built from the inferred config before
    anything is written, so a missing or mis-shaped key fails here with the key named.
    """
    config, state_dict = convert_state_dict(read_original(source), modality, num_heads)
    model = SDSTrack(config)
    load_state_dict_strict(model, state_dict, source=str(source))
    model.save_pretrained(output_dir)
    return model.eval()
