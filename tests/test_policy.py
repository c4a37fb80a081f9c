"""Training policy: which parameters train, their learning rates, frozen batch norms, the CE keep-rate schedule."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch
from torch import nn

from sdstrack.config import SDSTrackConfig
from sdstrack.model.network import SDSTrack, example_crops
from sdstrack.training.policy import (
    apply_policy,
    count_trainable,
    keep_rate_schedule,
    train_mode,
    trainable_parameters,
)

from .conftest import SMALL_MODEL

TINY = SDSTrackConfig(**SMALL_MODEL)


def tiny_model(config: SDSTrackConfig = TINY, seed: int = 0) -> SDSTrack:
    torch.manual_seed(seed)
    model = SDSTrack(config)
    with torch.no_grad():  # non-trivial position tables and head statistics
        model.backbone.template_pos_embed.normal_(std=0.02)
        model.backbone.search_pos_embed.normal_(std=0.02)
        for name, buffer in model.head.named_buffers():
            buffer.uniform_(0.5, 1.5) if name.endswith("running_var") else buffer.normal_(std=0.1)
    return model.eval()


def expected_paper_names(model: SDSTrack) -> tuple[set[str], set[str]]:
    """(base-rate names, 0.1x names) of the paper's policy, built from the module structure."""
    base = {f"backbone.x_patch_embed.{n}" for n, _ in model.backbone.x_patch_embed.named_parameters()}
    for i, block in enumerate(model.backbone.blocks):
        base |= {f"backbone.blocks.{i}.x_adapters.{n}" for n, _ in block.x_adapters.named_parameters()}
        if block.fusion_adapters is not None:
            base |= {f"backbone.blocks.{i}.fusion_adapters.{n}" for n, _ in block.fusion_adapters.named_parameters()}
    tuned = {f"backbone.norm.{n}" for n, _ in model.backbone.norm.named_parameters()}
    return base, tuned


@pytest.mark.parametrize(
    ("epoch", "expected"),
    [
        (1, 1.0),
        (3, 1.0),
        (4, 1.0),  # the ramp starts at cos(0)
        (8, 0.7 + 0.15 * (1 + math.sqrt(0.5))),
        (12, 0.85),
        (15, 0.7 + 0.15 * (1 + math.cos(11 * math.pi / 16))),  # the last of the original's 15 RGB-D epochs
        (20, 0.7),
        (40, 0.7),
    ],
)
def test_keep_rate_schedule_matches_hand_computed_values(epoch: int, expected: float) -> None:
    assert keep_rate_schedule(epoch) == pytest.approx(expected, abs=1e-12)


def test_keep_rate_schedule_is_monotone_between_bounds() -> None:
    rates = [keep_rate_schedule(epoch) for epoch in range(1, 30)]
    assert all(a >= b for a, b in zip(rates, rates[1:]))
    assert rates[0] == 1.0 and rates[-1] == 0.7


@pytest.mark.parametrize("attention", ["fast", "eager"])
def test_keep_ratio_none_is_the_configured_ratio(attention: str) -> None:
    model = tiny_model()
    model.set_attention(attention)
    template, search = example_crops(TINY, batch=2)
    with torch.no_grad():
        default = model(template, search, return_fusion_tokens=True)
        explicit_none = model(template, search, return_fusion_tokens=True, ce_keep_ratio=None)
        configured = model(template, search, return_fusion_tokens=True, ce_keep_ratio=TINY.ce_keep_ratio)
    for other in (explicit_none, configured):
        assert torch.equal(default.features, other.features)
        assert torch.equal(default.score_map, other.score_map)
        assert all(torch.equal(a, b) for a, b in zip(default.fusion_tokens, other.fusion_tokens))


@pytest.mark.parametrize("attention", ["fast", "eager"])
def test_keep_ratio_one_keeps_every_token(attention: str) -> None:
    model = tiny_model()
    no_elimination = SDSTrack(dataclasses.replace(TINY, ce_keep_ratio=1.0)).eval()
    no_elimination.load_state_dict(model.state_dict())
    model.set_attention(attention)
    no_elimination.set_attention(attention)
    template, search = example_crops(TINY, batch=2)
    with torch.no_grad():
        per_call = model(template, search, return_fusion_tokens=True, ce_keep_ratio=1.0)
        configured = no_elimination(template, search, return_fusion_tokens=True)
    assert torch.equal(per_call.features, configured.features)
    assert torch.equal(per_call.score_map, configured.score_map)
    everything = 2 * (TINY.num_template_tokens + TINY.num_search_tokens)
    assert [t.shape[1] for t in per_call.fusion_tokens] == [everything, everything]
    assert (per_call.features[:, TINY.num_template_tokens :].abs().sum(-1) > 0).all()  # no zeroed position


def test_keep_ratio_sets_ceil_counts_per_call() -> None:
    model = tiny_model()
    template, search = example_crops(TINY)
    t, s = TINY.num_template_tokens, TINY.num_search_tokens
    with torch.no_grad():
        out = model(template, search, return_fusion_tokens=True, ce_keep_ratio=0.45)
    after_first = math.ceil(0.45 * s)  # block 1 eliminates, then fuses
    after_second = math.ceil(0.45 * after_first)  # block 2 eliminates; block 3 fuses
    assert [x.shape[1] for x in out.fusion_tokens] == [2 * (t + after_first), 2 * (t + after_second)]
    dropped = (out.features[0, t:].abs().sum(-1) == 0).sum().item()
    assert dropped >= s - 2 * after_second  # each modality keeps after_second; the union survives


def test_paper_policy_marks_adapters_x_embedding_and_final_norm() -> None:
    model = tiny_model()
    apply_policy(model, "paper")
    base, tuned = expected_paper_names(model)
    assert {n for n, p in model.named_parameters() if p.requires_grad} == base | tuned
    groups = trainable_parameters(model, "paper", lr=5e-5)
    by_id = {id(p): n for n, p in model.named_parameters()}
    assert [g["name"] for g in groups] == ["base", "tuned"]
    assert groups[0]["lr"] == 5e-5 and groups[1]["lr"] == pytest.approx(5e-6, rel=1e-12)
    assert {by_id[id(p)] for p in groups[0]["params"]} == base
    assert {by_id[id(p)] for p in groups[1]["params"]} == tuned


@pytest.mark.parametrize("policy", ["full", "scratch"])
def test_full_and_scratch_train_everything(policy: str) -> None:
    model = tiny_model()
    apply_policy(model, policy)
    assert all(p.requires_grad for p in model.parameters())
    groups = trainable_parameters(model, policy, lr=1e-4)
    assert sum(len(g["params"]) for g in groups) == len(list(model.parameters()))
    rates = {g["name"]: g["lr"] for g in groups}
    assert rates == ({"base": 1e-4, "tuned": pytest.approx(1e-5)} if policy == "full" else {"base": 1e-4})


def test_unknown_policy_is_rejected() -> None:
    with pytest.raises(ValueError, match="policy must be one of"):
        apply_policy(tiny_model(), "adapters")  # type: ignore[arg-type]


def test_one_adamw_step_moves_only_trainable_tensors() -> None:
    model = tiny_model()
    apply_policy(model, "paper")
    optimizer = torch.optim.AdamW(trainable_parameters(model, "paper", lr=1e-3), weight_decay=0.0)
    before = {n: t.detach().clone() for n, t in [*model.named_parameters(), *model.named_buffers()]}
    train_mode(model)
    template, search = example_crops(TINY, batch=2, seed=1)
    out = model(template, search, return_fusion_tokens=True, ce_keep_ratio=keep_rate_schedule(10))
    loss = out.score_map.mean() + out.size_map.mean() + out.offset_map.square().mean() + out.features.square().mean()
    loss.backward()
    optimizer.step()
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    for name, tensor in [*model.named_parameters(), *model.named_buffers()]:
        if name in trainable:
            assert not torch.equal(tensor, before[name]), f"{name} did not move"
        else:
            assert torch.equal(tensor, before[name]), f"{name} changed"
    assert all(p.grad is None for p in model.parameters() if not p.requires_grad)


def test_training_forward_keeps_batch_norm_statistics() -> None:
    model = train_mode(tiny_model())
    assert model.training and model.head.training
    statistics = {n: b.clone() for n, b in model.named_buffers()}
    template, search = example_crops(TINY, batch=3, seed=2)
    for _ in range(2):
        model(template, search).score_map.sum().backward()
    assert all(torch.equal(b, statistics[n]) for n, b in model.named_buffers())


def test_train_mode_freezes_torch_batch_norms() -> None:
    network = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.Dropout(0.5))
    train_mode(network)
    assert network.training and network[2].training and not network[1].training
    mean, var = network[1].running_mean.clone(), network[1].running_var.clone()
    network(torch.randn(2, 3, 8, 8))
    assert torch.equal(network[1].running_mean, mean) and torch.equal(network[1].running_var, var)


def test_vit_b_trainable_count() -> None:
    """10,060,032 here; the original's 14.8M also counts 8 fusion-adapter pairs it builds but never runs."""
    model = SDSTrack(SDSTrackConfig())
    assert count_trainable(model, "paper") == 10_060_032
    fusion_pair = sum(p.numel() for p in model.backbone.blocks[3].fusion_adapters.parameters())
    unused_pairs = SDSTrackConfig().depth - len(SDSTrackConfig().fusion_layers)
    assert count_trainable(model, "paper") + unused_pairs * fusion_pair == 14_793_984
    assert count_trainable(model, "full") == count_trainable(model, "scratch") == 102_424_965


@pytest.mark.parametrize("ratio", [0.0, 1.5])
def test_keep_ratio_outside_unit_interval_is_rejected(ratio: float) -> None:
    template, search = example_crops(TINY)
    with pytest.raises(ValueError, match="ce_keep_ratio"):
        tiny_model()(template, search, ce_keep_ratio=ratio)
