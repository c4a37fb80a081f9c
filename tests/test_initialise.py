"""Training initialisation from an OSTrack checkpoint or a timm ViT: where each tensor lands, named errors."""

from importlib.util import find_spec

import pytest
import torch
from safetensors.torch import save_file

from sdstrack import SDSTrack, SDSTrackConfig
from sdstrack.checkpoint import CheckpointError
from sdstrack.convert import _rename
from sdstrack.training import (
    initialise_from_ostrack,
    initialise_from_timm,
    ostrack_key_map,
    resample_position_table,
    timm_key_map,
)
from sdstrack.training.initialise import _interpolate_position_table

needs_timm = pytest.mark.skipif(
    find_spec("timm") is None, reason="timm is not installed (pip install 'sdstrack[train]')"
)

# A reduced model: 4x4 template grid, 8x8 search grid, two blocks (fusion in the second).
SMALL = SDSTrackConfig(
    embed_dim=64, depth=2, num_heads=4, head_channels=32, fusion_layers=(1,), ce_layers=(),
    template_size=64, search_size=128,
)


def _adapters(model: SDSTrack) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in model.state_dict().items() if "_adapters." in k}


def _ostrack_state_dict(model: SDSTrack, template_grid: int = 4, search_grid: int = 8) -> dict[str, torch.Tensor]:
    """Distinct random tensors under OSTrack's names, plus the entries OSTrack carries but SDSTrack ignores."""
    generator = torch.Generator().manual_seed(0)
    state = model.state_dict()
    shapes = {
        "backbone.pos_embed_z": (1, template_grid**2, SMALL.embed_dim),
        "backbone.pos_embed_x": (1, search_grid**2, SMALL.embed_dim),
    }
    original = {
        source: torch.randn(shapes.get(source, state[ours].shape), generator=generator) + index
        for index, (ours, source) in enumerate(ostrack_key_map(model).items())
    }
    original["backbone.cls_token"] = torch.randn(1, 1, SMALL.embed_dim)
    original["backbone.pos_embed"] = torch.randn(1, 197, SMALL.embed_dim)
    original["box_head.conv1_ctr.1.num_batches_tracked"] = torch.tensor(0)
    return original


def test_ostrack_map_covers_everything_but_x_embedding_and_adapters():
    model = SDSTrack(SMALL)
    mapping = ostrack_key_map(model)
    left = {k for k in model.state_dict() if k not in mapping}
    assert all("_adapters." in k or k.startswith("backbone.x_patch_embed.") for k in left)
    assert {"backbone.x_patch_embed.weight", "backbone.x_patch_embed.bias"} <= left
    # The same names as the converter of the authors' SDSTrack checkpoints, which share OSTrack's layout.
    assert all(_rename(source) == ours for ours, source in mapping.items())
    assert mapping["head.score.0.norm.running_mean"] == "box_head.conv1_ctr.1.running_mean"
    assert mapping["head.offset.4.weight"] == "box_head.conv5_offset.weight"


def test_ostrack_tensors_land_where_the_map_says():
    model = SDSTrack(SMALL)
    adapters = _adapters(model)
    original = _ostrack_state_dict(model)
    initialise_from_ostrack(model, original)
    state = model.state_dict()
    for ours, source in ostrack_key_map(model).items():
        assert state[ours].equal(original[source]), (ours, source)
    assert all(state[k].equal(v) for k, v in adapters.items())
    weight = state["backbone.x_patch_embed.weight"]
    assert not weight.equal(state["backbone.rgb_patch_embed.weight"])
    # PyTorch's default Conv2d init, as the original leaves patch_embed_multimodal: |w| <= 1/sqrt(fan_in).
    assert weight.abs().max() <= (3 * 16 * 16) ** -0.5


def test_ostrack_rgb_embedding_can_be_copied_to_x(tmp_path):
    model = SDSTrack(SMALL)
    original = _ostrack_state_dict(model)
    torch.save({"net": original}, tmp_path / "OSTrack_ep0300.pth.tar")
    initialise_from_ostrack(model, tmp_path / "OSTrack_ep0300.pth.tar", copy_rgb_patch_embed_to_x=True)
    assert model.backbone.x_patch_embed.weight.equal(original["backbone.patch_embed.proj.weight"])
    assert model.backbone.x_patch_embed.bias.equal(original["backbone.patch_embed.proj.bias"])


def test_ostrack_safetensors_with_other_grids_is_resampled(tmp_path):
    model = SDSTrack(SMALL)
    original = _ostrack_state_dict(model, template_grid=6, search_grid=12)
    save_file(original, str(tmp_path / "ostrack.safetensors"))
    initialise_from_ostrack(model, tmp_path / "ostrack.safetensors")
    expected_z = resample_position_table(original["backbone.pos_embed_z"], (4, 4))
    expected_x = resample_position_table(original["backbone.pos_embed_x"], (8, 8))
    assert model.backbone.template_pos_embed.equal(expected_z)
    assert model.backbone.search_pos_embed.equal(expected_x)


def test_missing_ostrack_entry_is_named():
    model = SDSTrack(SMALL)
    original = _ostrack_state_dict(model)
    del original["backbone.blocks.1.attn.qkv.bias"], original["box_head.conv5_size.weight"]
    with pytest.raises(CheckpointError, match=r"missing entries.*blocks\.1\.attn\.qkv\.bias.*conv5_size\.weight"):
        initialise_from_ostrack(model, original)


def test_unexpected_ostrack_entry_is_named():
    model = SDSTrack(SMALL)
    original = _ostrack_state_dict(model)
    original["backbone.patch_embed_multimodal.proj.weight"] = torch.zeros(1)
    original["backbone.template_segment_pos_embed"] = torch.zeros(1)
    with pytest.raises(CheckpointError, match="no place.*patch_embed_multimodal.*template_segment_pos_embed"):
        initialise_from_ostrack(model, original)


def test_mis_shaped_ostrack_entry_is_named():
    model = SDSTrack(SMALL)
    original = _ostrack_state_dict(model)
    original["backbone.blocks.0.mlp.fc1.weight"] = torch.zeros(3, 64)
    before = model.backbone.norm.weight.clone()
    with pytest.raises(CheckpointError, match=r"blocks\.0\.mlp\.fc1\.weight.*\(3, 64\) vs model \(256, 64\)"):
        initialise_from_ostrack(model, original)
    assert model.backbone.norm.weight.equal(before)  # nothing copied before the check


def test_fallback_resampling_agrees_with_timm():
    timm_layers = pytest.importorskip("timm.layers", reason="timm is not installed: nothing to compare against")
    table = torch.randn(1, 14 * 14, 32)
    for grid in [(8, 8), (16, 16), (14, 14), (5, 7)]:
        ours = _interpolate_position_table(table, grid, (14, 14))
        theirs = timm_layers.resample_abs_pos_embed(table, new_size=list(grid), old_size=[14, 14], num_prefix_tokens=0)
        torch.testing.assert_close(ours, theirs, rtol=0, atol=1e-6)
    wide = torch.randn(1, 6 * 10, 8, dtype=torch.float64)
    ours = _interpolate_position_table(wide, (4, 4), (6, 10))
    theirs = timm_layers.resample_abs_pos_embed(wide, new_size=[4, 4], old_size=[6, 10], num_prefix_tokens=0)
    assert ours.dtype == torch.float64
    torch.testing.assert_close(ours, theirs, rtol=0, atol=1e-6)
    assert resample_position_table(table, (14, 14)) is table


def _custom_vit(**overrides):
    from timm.models.vision_transformer import VisionTransformer

    kwargs = dict(img_size=96, patch_size=16, embed_dim=64, depth=2, num_heads=4, num_classes=0)
    return VisionTransformer(**(kwargs | overrides)).eval()


def _assert_rgb_path_matches(model: SDSTrack, vit, tokens: torch.Tensor) -> None:
    with torch.no_grad():
        for index, (ours, theirs) in enumerate(zip(model.backbone.blocks, vit.blocks, strict=True)):
            attended, _ = ours.attend(tokens, None)
            torch.testing.assert_close(ours.feed_forward(attended, None), theirs(tokens), rtol=0, atol=1e-5,
                                       msg=f"block {index}")


@needs_timm
def test_timm_blocks_norm_and_positions_land_in_the_rgb_path():
    from timm.layers import resample_abs_pos_embed

    torch.manual_seed(0)
    vit = _custom_vit()
    model = SDSTrack(SMALL).eval()
    adapters, head = _adapters(model), {k: v.clone() for k, v in model.head.state_dict().items()}
    initialise_from_timm(model, vit)
    _assert_rgb_path_matches(model, vit, torch.randn(2, 16 + 64, 64))
    state, source = model.state_dict(), vit.state_dict()
    for ours, theirs in timm_key_map(model).items():
        assert state[ours].equal(source[theirs]), ours
    table = vit.pos_embed[:, 1:].detach()  # 6x6 grid without the class token
    assert model.backbone.template_pos_embed.equal(resample_abs_pos_embed(table, [4, 4], num_prefix_tokens=0))
    assert model.backbone.search_pos_embed.equal(resample_abs_pos_embed(table, [8, 8], num_prefix_tokens=0))
    assert all(state[k].equal(v) for k, v in adapters.items())
    assert all(model.head.state_dict()[k].equal(v) for k, v in head.items())
    assert not model.backbone.x_patch_embed.weight.equal(vit.patch_embed.proj.weight)


@needs_timm
def test_timm_model_by_name_matches_block_by_block():
    config = SDSTrackConfig(embed_dim=192, depth=12, num_heads=3, head_channels=32)
    model = SDSTrack(config).eval()
    torch.manual_seed(0)
    initialise_from_timm(model, "vit_tiny_patch16_224", pretrained=False, copy_rgb_patch_embed_to_x=True)
    import timm

    torch.manual_seed(0)  # the same random weights again, to run timm's blocks
    vit = timm.create_model("vit_tiny_patch16_224", pretrained=False).eval()
    _assert_rgb_path_matches(model, vit, torch.randn(1, 64 + 256, 192))
    assert model.backbone.x_patch_embed.weight.equal(vit.patch_embed.proj.weight)
    assert model.backbone.norm.weight.equal(vit.norm.weight)


@needs_timm
def test_timm_architecture_mismatch_names_both_values():
    model = SDSTrack(SMALL)
    with pytest.raises(CheckpointError, match=r"embed_dim: model 64 vs timm VisionTransformer 96.*num_heads: model 4"):
        initialise_from_timm(model, _custom_vit(embed_dim=96, num_heads=3))
    with pytest.raises(CheckpointError, match=r"qkv_bias: model True vs timm VisionTransformer False"):
        initialise_from_timm(model, _custom_vit(qkv_bias=False))
    with pytest.raises(CheckpointError, match=r"patch_size: model \(16, 16\) vs timm VisionTransformer \(8, 8\)"):
        initialise_from_timm(model, _custom_vit(patch_size=8))


@needs_timm
def test_timm_tensors_without_counterpart_are_named():
    model = SDSTrack(SMALL)
    with pytest.raises(CheckpointError, match=r"no place in the model \['blocks\.0\.ls1\.gamma'"):
        initialise_from_timm(model, _custom_vit(init_values=1e-5))
    with pytest.raises(CheckpointError, match=r"missing entries \['norm\.weight', 'norm\.bias'\].*fc_norm\.weight"):
        initialise_from_timm(model, _custom_vit(global_pool="avg"))
    with pytest.raises(ValueError, match="pretrained=True"):
        initialise_from_timm(model, _custom_vit(), pretrained=True)
