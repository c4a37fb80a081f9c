"""The converted fixture model reproduces the original implementation's outputs (forward_io)."""

import pytest
import torch


def _match_rows(ours: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    """Max abs difference after pairing each of our rows with its nearest reference row; the pairing
    must be a bijection (token order inside a modality is the order candidate elimination left)."""
    distance = torch.cdist(ours, reference, compute_mode="donot_use_mm_for_euclid_dist")
    nearest = distance.argmin(dim=1)
    assert sorted(nearest.tolist()) == list(range(len(reference))), "rows do not pair one-to-one"
    return (ours - reference[nearest]).abs().max()


@pytest.mark.parametrize("attention", ["fast", "eager"])
def test_forward_matches_original(tiny_model, forward_io, attention):
    tiny_model.set_attention(attention)
    template, search = forward_io["input.template"], forward_io["input.search"]
    centre = forward_io["input.ce_template_mask"][0].nonzero().flatten().tolist()
    assert centre == [tiny_model.config.template_centre_index] == [27]
    with torch.inference_mode():
        out = tiny_model(template, search, return_fusion_tokens=True)
    tiny_model.set_attention("fast")
    for name, ours in [
        ("score_map", out.score_map),
        ("size_map", out.size_map),
        ("offset_map", out.offset_map),
        ("pred_boxes", out.boxes.unsqueeze(1)),
    ]:
        reference = forward_io[f"output.{name}"]
        assert ours.shape == reference.shape, name
        assert (ours - reference).abs().max() <= 1e-5, name
    assert (out.features - forward_io["output.backbone_feat"]).abs().max() <= 1e-4
    assert len(out.fusion_tokens) == 4
    for i, ours in enumerate(out.fusion_tokens):
        reference = forward_io[f"output.fusion_tokens.{i}"]
        assert ours.shape == reference.shape
        assert _match_rows(ours[0], reference[0]) <= 1e-4


def test_rgb_and_x_halves_equal_six_channel_input(tiny_model, forward_io):
    template, search = forward_io["input.template"], forward_io["input.search"]
    with torch.inference_mode():
        whole = tiny_model(template, search)
        halves = tiny_model((template[:, :3], template[:, 3:]), (search[:, :3], search[:, 3:]))
    assert torch.equal(whole.score_map, halves.score_map)
    assert torch.equal(whole.boxes, halves.boxes)


def test_batch_rows_equal_single_forwards(tiny_model, forward_io):
    template, search = forward_io["input.template"], forward_io["input.search"]
    search2 = search.flip(-1)
    with torch.inference_mode():
        batched = tiny_model(template.expand(2, -1, -1, -1), torch.cat([search, search2]))
        first = tiny_model(template, search)
        second = tiny_model(template, search2)
    assert torch.allclose(batched.boxes[0], first.boxes[0], atol=1e-5)
    assert torch.allclose(batched.boxes[1], second.boxes[0], atol=1e-5)
    assert torch.allclose(batched.score_map[1], second.score_map[0], atol=1e-5)
