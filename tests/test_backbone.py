"""Parts of the backbone against hand-written oracles."""

import math

import numpy as np
import pytest
import torch

from sdstrack import SDSTrack, SDSTrackConfig
from sdstrack.model.backbone import Backbone, eliminate_candidates, scatter_search_tokens

TINY = SDSTrackConfig(embed_dim=64, num_heads=4, head_channels=32)


def _randomised(module: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for tensor in module.parameters():
            tensor.copy_(torch.randn(tensor.shape, generator=generator) * 0.2)
    return module.eval()


def _hand_attention_weights(block, tokens):
    """Post-softmax attention of every head, written out from the block's own weight matrices."""
    normed = torch.nn.functional.layer_norm(tokens, (tokens.shape[-1],), block.norm1.weight, block.norm1.bias, 1e-6)
    heads = block.attn.num_heads
    dim = tokens.shape[-1]
    head_dim = dim // heads
    w, b = block.attn.qkv.weight, block.attn.qkv.bias
    q = normed @ w[:dim].T + b[:dim]
    k = normed @ w[dim : 2 * dim].T + b[dim : 2 * dim]
    rows = []
    for h in range(heads):
        sl = slice(h * head_dim, (h + 1) * head_dim)
        rows.append(torch.softmax(q[..., sl] @ k[..., sl].transpose(-1, -2) / math.sqrt(head_dim), dim=-1))
    return torch.stack(rows, dim=1)


def test_keep_counts_are_180_126_89():
    counts = SDSTrackConfig().search_tokens_kept()
    assert [counts[i] for i in (2, 3, 6, 9, 11)] == [256, 180, 126, 89, 89]


def test_eliminate_candidates_keeps_exactly_the_top_scores():
    generator = torch.Generator().manual_seed(1)
    tokens = torch.randn(2, 64 + 256, 8, generator=generator)
    scores = torch.rand(2, 256, generator=generator)
    index = torch.randperm(256, generator=generator).expand(2, -1)
    kept_tokens, kept_index = eliminate_candidates(tokens, scores, 64, 180, index)
    assert kept_tokens.shape == (2, 64 + 180, 8)
    assert torch.equal(kept_tokens[:, :64], tokens[:, :64])
    for b in range(2):
        oracle = np.argsort(-scores[b].numpy(), kind="stable")[:180]
        assert set(kept_index[b].tolist()) == set(index[b, oracle].tolist())
        assert torch.equal(kept_tokens[b, 64:], tokens[b, 64 + oracle])


def test_scatter_restores_grid_positions_and_zeros_the_rest():
    search = torch.arange(1, 4, dtype=torch.float32).view(1, 3, 1).expand(1, 3, 2)
    index = torch.tensor([[5, 0, 2]])
    grid = scatter_search_tokens(search, index, 6)
    assert grid[0, :, 0].tolist() == [2.0, 0.0, 3.0, 0.0, 0.0, 1.0]


@pytest.mark.parametrize("fused", [False, True], ids=["eager", "fast"])
@pytest.mark.parametrize("keep", [180, 126])
def test_block_elimination_follows_template_centre_attention(keep, fused):
    backbone = _randomised(Backbone(TINY, fused=fused))
    block = backbone.blocks[3]
    n_search = {180: 256, 126: 180}[keep]
    generator = torch.Generator().manual_seed(2)
    tokens = torch.randn(1, 64 + n_search, 64, generator=generator)
    index = torch.randperm(256, generator=generator)[:n_search].unsqueeze(0)
    with torch.no_grad():
        out, kept_index = backbone._path(block, tokens, index, block.x_adapters, keep)
        centre_row = _hand_attention_weights(block, tokens)[0, :, 27, 64:].mean(0)
    oracle = torch.topk(centre_row, keep).indices
    assert out.shape == (1, 64 + keep, 64)
    assert set(kept_index[0].tolist()) == set(index[0, oracle].tolist())


@pytest.mark.parametrize("layout", ["eager_concatenated", "fast_concatenated", "fast_batch_halves"])
def test_fusion_pass_is_pure_cross_attention(layout):
    backbone = _randomised(Backbone(TINY, fused=layout.startswith("fast")), seed=3)
    block = backbone.blocks[6]
    generator = torch.Generator().manual_seed(4)
    rgb = torch.randn(2, 64 + 126, 64, generator=generator)
    x = torch.randn(2, 64 + 126, 64, generator=generator)
    with torch.no_grad():
        if layout.endswith("batch_halves"):
            stacked, _ = block.attend(torch.cat([rgb, x], 0), block.fusion_adapters, cross_halves=True)
            fused = torch.cat([stacked[:2], stacked[2:]], dim=1)
        else:
            fused, _ = block.attend(torch.cat([rgb, x], 1), block.fusion_adapters, cross_split=rgb.shape[1])

        # Hand-written cross-attention: RGB queries over X keys/values and vice versa.
        def project(t):
            t = torch.nn.functional.layer_norm(t, (64,), block.norm1.weight, block.norm1.bias, 1e-6)
            return (t @ block.attn.qkv.weight.T + block.attn.qkv.bias).split(64, dim=-1)

        q_rgb, k_rgb, v_rgb = project(rgb)
        q_x, k_x, v_x = project(x)

        def cross(q, k, v):
            heads = []
            for h in range(4):
                sl = slice(16 * h, 16 * (h + 1))
                weights = torch.softmax(q[..., sl] @ k[..., sl].transpose(-1, -2) / 4.0, dim=-1)
                heads.append(weights @ v[..., sl])
            return torch.cat(heads, -1) @ block.attn.proj.weight.T + block.attn.proj.bias

        attended = torch.cat([cross(q_rgb, k_x, v_x), cross(q_x, k_rgb, v_rgb)], dim=1)
        space = block.fusion_adapters.space
        adapted = attended + space.fc2(torch.nn.functional.gelu(space.fc1(attended)))
        oracle = torch.cat([rgb, x], 1) + adapted
    assert torch.allclose(fused, oracle, atol=1e-5)


def test_fusion_adapters_only_in_fusion_blocks():
    backbone = Backbone(TINY)
    with_fusion = [i for i, block in enumerate(backbone.blocks) if block.fusion_adapters is not None]
    assert with_fusion == [3, 6, 9, 11]


def test_masked_tokens_are_zeroed_before_positions():
    backbone = _randomised(Backbone(TINY), seed=5)
    generator = torch.Generator().manual_seed(6)
    template = torch.randn(1, 3, 128, 128, generator=generator)
    search = torch.randn(1, 3, 256, 256, generator=generator)
    mask = torch.zeros(1, 320, dtype=torch.bool)
    mask[0, [0, 27, 64, 300]] = True
    with torch.no_grad():
        plain = backbone.embed(backbone.x_patch_embed, template, search, None)
        masked = backbone.embed(backbone.x_patch_embed, template, search, mask)
        positions = torch.cat([backbone.template_pos_embed, backbone.search_pos_embed], 1)
    assert torch.equal(masked[0, mask[0]], positions[0, mask[0]])
    assert torch.equal(masked[0, ~mask[0]], plain[0, ~mask[0]])


@pytest.mark.parametrize("attention", ["eager", "fast"])
def test_fusion_token_counts_follow_elimination(attention):
    model = _randomised(SDSTrack(TINY, attention=attention), seed=7)
    with torch.inference_mode():
        out = model(torch.randn(1, 6, 128, 128), torch.randn(1, 6, 256, 256), return_fusion_tokens=True)
    assert [t.shape[1] for t in out.fusion_tokens] == [2 * (64 + n) for n in (180, 126, 89, 89)]


def test_vit_b_parameter_count_and_cpu_forward():
    model = SDSTrack().eval()
    assert sum(p.numel() for p in model.parameters()) == 102_424_965
    with torch.inference_mode():
        out = model(torch.randn(1, 6, 128, 128), torch.randn(1, 6, 256, 256))
    assert out.score_map.shape == (1, 1, 16, 16)
    assert out.features.shape == (1, 320, 768)
    assert torch.isfinite(out.boxes).all()


def test_bad_inputs_are_named():
    model = SDSTrack(TINY)
    with pytest.raises(ValueError, match=r"template must have shape \(B, 6, 128, 128\)"):
        model(torch.zeros(1, 3, 128, 128), torch.zeros(1, 6, 256, 256))
    with pytest.raises(TypeError, match="floating-point"):
        model(torch.zeros(1, 6, 128, 128, dtype=torch.uint8), torch.zeros(1, 6, 256, 256))
    with pytest.raises(ValueError, match="rgb_mask must be a bool tensor of shape"):
        model(torch.zeros(1, 6, 128, 128), torch.zeros(1, 6, 256, 256), rgb_mask=torch.zeros(1, 256, dtype=torch.bool))


def test_fast_and_eager_agree_with_masks_and_batches():
    model = _randomised(SDSTrack(TINY), seed=8)
    generator = torch.Generator().manual_seed(9)
    template = torch.randn(3, 6, 128, 128, generator=generator)
    search = torch.randn(3, 6, 256, 256, generator=generator)
    rgb_mask = torch.rand(3, 320, generator=generator) < 0.3
    x_mask = torch.rand(3, 320, generator=generator) < 0.3
    with torch.inference_mode():
        fast = model(template, search, rgb_mask=rgb_mask, x_mask=x_mask)
        model.set_attention("eager")
        eager = model(template, search, rgb_mask=rgb_mask, x_mask=x_mask)
    assert model.attention == "eager"
    assert (fast.score_map - eager.score_map).abs().max() <= 1e-5
    assert (fast.boxes - eager.boxes).abs().max() <= 1e-5
    assert (fast.features - eager.features).abs().max() <= 1e-4
    with pytest.raises(ValueError, match="'fast' or 'eager'"):
        model.set_attention("flash")


def test_config_rejects_inconsistent_values():
    with pytest.raises(ValueError, match="not divisible by num_heads"):
        SDSTrackConfig(embed_dim=64, num_heads=5)
    with pytest.raises(ValueError, match="modality"):
        SDSTrackConfig(modality="lidar")
