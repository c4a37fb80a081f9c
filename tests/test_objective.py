"""Tests of the training objective against hand computations on small tensors."""

from __future__ import annotations

import math

import pytest
import torch

from sdstrack.config import SDSTrackConfig
from sdstrack.model.network import SDSTrack
from sdstrack.training import (
    complementary_masks,
    distillation_loss,
    focal_loss,
    gaussian_heatmap,
    giou_loss,
    l1_loss,
    sdstrack_objective,
    tracking_loss,
)

from .conftest import SMALL_MODEL


def test_focal_loss_matches_hand_computation_on_3x3() -> None:
    target = torch.tensor([[0.0, 0.5, 0.0], [0.5, 1.0, 0.5], [0.0, 0.5, 0.0]]).view(1, 1, 3, 3)
    pred = torch.tensor([[0.1, 0.2, 0.1], [0.3, 0.7, 0.2], [0.05, 0.4, 0.1]]).view(1, 1, 3, 3)
    positive = math.log(0.7) * 0.3**2
    # negatives: log(1 - p) * p^2 * (1 - t)^4, (1 - 0.5)^4 = 0.0625
    negative = (
        math.log(0.9) * 0.01 * 1  # (0, 0)
        + math.log(0.8) * 0.04 * 0.0625  # (0, 1)
        + math.log(0.9) * 0.01 * 1  # (0, 2)
        + math.log(0.7) * 0.09 * 0.0625  # (1, 0)
        + math.log(0.8) * 0.04 * 0.0625  # (1, 2)
        + math.log(0.95) * 0.0025 * 1  # (2, 0)
        + math.log(0.6) * 0.16 * 0.0625  # (2, 1)
        + math.log(0.9) * 0.01 * 1  # (2, 2)
    )
    expected = -(positive + negative) / 1
    assert focal_loss(pred, target).item() == pytest.approx(expected, rel=1e-6)
    # no positive anywhere: -negative sum, no normalisation
    no_positive = target.clone()
    no_positive[0, 0, 1, 1] = 0.5
    expected_negative = -(negative + math.log(0.3) * 0.49 * 0.0625)
    assert focal_loss(pred, no_positive).item() == pytest.approx(expected_negative, rel=1e-6)
    # two samples: sums over the batch, divided by the total number of positives (2)
    batch = focal_loss(torch.cat([pred, pred]), torch.cat([target, target]))
    assert batch.item() == pytest.approx(expected, rel=1e-6)


def test_giou_overlapping_and_disjoint_boxes() -> None:
    # overlapping: corners (0.1, 0.1, 0.5, 0.5) and (0.3, 0.3, 0.7, 0.7): inter 0.04, union 0.28, hull 0.36
    loss, iou = giou_loss(torch.tensor([[0.3, 0.3, 0.4, 0.4]]), torch.tensor([[0.5, 0.5, 0.4, 0.4]]))
    giou_overlap = 0.04 / 0.28 - (0.36 - 0.28) / 0.36
    assert loss.item() == pytest.approx(1 - giou_overlap, rel=1e-5)
    assert iou.item() == pytest.approx(1 / 7, rel=1e-5)
    # disjoint: (0.1, 0.1, 0.3, 0.3) and (0.6, 0.6, 0.8, 0.8): inter 0, union 0.08, hull 0.49
    loss, iou = giou_loss(torch.tensor([[0.2, 0.2, 0.2, 0.2]]), torch.tensor([[0.7, 0.7, 0.2, 0.2]]))
    giou_disjoint = 0.0 - (0.49 - 0.08) / 0.49
    assert loss.item() == pytest.approx(1 - giou_disjoint, rel=1e-5)
    assert iou.item() == 0.0
    # both at once: means over the pair
    pred = torch.tensor([[0.3, 0.3, 0.4, 0.4], [0.2, 0.2, 0.2, 0.2]])
    target = torch.tensor([[0.5, 0.5, 0.4, 0.4], [0.7, 0.7, 0.2, 0.2]])
    loss, iou = giou_loss(pred, target)
    assert loss.item() == pytest.approx(1 - (giou_overlap + giou_disjoint) / 2, rel=1e-5)
    assert iou.item() == pytest.approx(1 / 14, rel=1e-5)
    # identical boxes: GIoU 1
    loss, iou = giou_loss(target, target)
    assert loss.item() == pytest.approx(0.0, abs=1e-6) and iou.item() == pytest.approx(1.0)


def test_target_corners_are_clamped_to_the_crop() -> None:
    # target (0.9, 0.5, 0.4, 0.2) -> corners (0.7, 0.4, 1.1, 0.6) -> clamped (0.7, 0.4, 1.0, 0.6)
    target = torch.tensor([[0.9, 0.5, 0.4, 0.2]])
    pred = torch.tensor([[0.85, 0.5, 0.3, 0.2]])  # corners (0.7, 0.4, 1.0, 0.6)
    loss, iou = giou_loss(pred, target)
    assert loss.item() == pytest.approx(0.0, abs=1e-6) and iou.item() == pytest.approx(1.0)
    assert l1_loss(pred, target).item() == pytest.approx(0.0, abs=1e-6)


def test_l1_is_mean_absolute_corner_error() -> None:
    pred = torch.tensor([[0.5, 0.5, 0.2, 0.2], [0.4, 0.6, 0.2, 0.4]])  # (0.4, 0.4, 0.6, 0.6), (0.3, 0.4, 0.5, 0.8)
    target = torch.tensor([[0.5, 0.5, 0.4, 0.2], [0.4, 0.5, 0.2, 0.4]])  # (0.3, 0.4, 0.7, 0.6), (0.3, 0.3, 0.5, 0.7)
    expected = (0.1 + 0 + 0.1 + 0 + 0 + 0.1 + 0 + 0.1) / 8
    assert l1_loss(pred, target).item() == pytest.approx(expected, rel=1e-5)


def test_heatmap_peak_radius_and_symmetry() -> None:
    # 0.25 of a 16-cell map = 4 x 4 cells: CornerNet radius min(7.63, 14.69, 1.09) -> 1, sigma = 3 / 6 = 0.5
    heat = gaussian_heatmap(torch.tensor([[0.5, 0.5, 0.25, 0.25]]), 16)
    assert heat.shape == (1, 1, 16, 16) and heat.dtype == torch.float32
    assert heat[0, 0, 8, 8].item() == 1.0
    assert heat.flatten().argmax().item() == 8 * 16 + 8
    side, corner = math.exp(-1 / (2 * 0.25)), math.exp(-2 / (2 * 0.25))
    expected = torch.zeros(16, 16)
    expected[7:10, 7:10] = torch.tensor([[corner, side, corner], [side, 1.0, side], [corner, side, corner]])
    torch.testing.assert_close(heat[0, 0], expected)
    # symmetric about the centre cell for a larger box (radius > 1)
    big = gaussian_heatmap(torch.tensor([[0.5, 0.5, 0.6, 0.6]]), 16)[0, 0]
    window = big[2:15, 2:15]
    assert (big > 0).sum() > 9
    torch.testing.assert_close(window, window.flip(0))
    torch.testing.assert_close(window, window.flip(1))
    torch.testing.assert_close(window, window.T)
    assert big.max().item() == 1.0 and int((big == 1).sum()) == 1


def test_heatmap_centre_rounding_and_border_cut() -> None:
    # cx * 8 = 2.6 -> column 3, cy * 8 = 5.4 -> row 5; tiny box: radius 0, a single cell at 1
    heat = gaussian_heatmap(torch.tensor([[2.6 / 8, 5.4 / 8, 0.01, 0.01], [0.0, 0.0, 0.5, 0.5]]), 8)
    assert heat[0, 0, 5, 3].item() == 1.0 and heat[0].sum().item() == 1.0
    # centre at the corner cell: peak there, only the in-map quarter of the kernel drawn
    assert heat[1, 0, 0, 0].item() == 1.0 and heat[1, 0, -1, -1].item() == 0.0


def test_masks_bernoulli_rates_and_complementarity() -> None:
    rgb, x = complementary_masks(64, (64, 256), generator=torch.Generator().manual_seed(0))
    assert rgb.shape == x.shape == (64, 320) and rgb.dtype == x.dtype == torch.bool
    assert not (rgb & x).any()
    # RGB: 30 % of the tokens; X: 30 % of the RGB-visible ones (21 % overall), within ~5 standard errors
    assert rgb.float().mean().item() == pytest.approx(0.3, abs=0.01)
    assert (x.sum() / (~rgb).sum()).item() == pytest.approx(0.3, abs=0.012)
    none_rgb, all_x = complementary_masks(2, 10, rgb_ratio=0.0, x_ratio=1.0)
    assert not none_rgb.any() and all_x.all()
    all_rgb, no_x = complementary_masks(2, 10, rgb_ratio=1.0, x_ratio=1.0)
    assert all_rgb.all() and not no_x.any()


def test_masks_exact_counts_per_segment() -> None:
    rgb, x = complementary_masks(5, (64, 256), generator=torch.Generator().manual_seed(1), exact=True)
    assert not (rgb & x).any()
    # template: round(0.3 * 64) = 19 RGB, round(0.3 * 45) = 14 X; search: round(76.8) = 77, round(0.3 * 179) = 54
    assert rgb[:, :64].sum(1).tolist() == [19] * 5 and x[:, :64].sum(1).tolist() == [14] * 5
    assert rgb[:, 64:].sum(1).tolist() == [77] * 5 and x[:, 64:].sum(1).tolist() == [54] * 5
    assert not torch.equal(rgb[0], rgb[1])  # drawn per sample


@pytest.mark.parametrize("exact", [False, True])
def test_masks_are_deterministic_from_the_generator(exact: bool) -> None:
    def draw(seed: int) -> tuple[torch.Tensor, torch.Tensor]:
        return complementary_masks(3, (16, 64), generator=torch.Generator().manual_seed(seed), exact=exact)

    first, again, other = draw(7), draw(7), draw(8)
    assert torch.equal(first[0], again[0]) and torch.equal(first[1], again[1])
    assert not torch.equal(first[0], other[0]) and not torch.equal(first[1], other[1])


def test_modality_drop_hides_whole_modalities_and_leaves_the_rest_as_drawn() -> None:
    def draw(modality_drop: float) -> tuple[torch.Tensor, torch.Tensor]:
        return complementary_masks(4000, (4, 16), generator=torch.Generator().manual_seed(3),
                                   modality_drop=modality_drop)

    patch_rgb, patch_x = draw(0.0)
    plain_rgb, plain_x = complementary_masks(4000, (4, 16), generator=torch.Generator().manual_seed(3))
    assert torch.equal(patch_rgb, plain_rgb) and torch.equal(patch_x, plain_x)  # 0 = the paper's masks
    rgb, x = draw(0.4)
    assert not (rgb & x).any()
    no_rgb, no_x = rgb.all(1), x.all(1)
    # each whole-modality case with probability 0.2 (4000 samples: standard error 0.0063)
    assert no_rgb.float().mean().item() == pytest.approx(0.2, abs=0.03)
    assert no_x.float().mean().item() == pytest.approx(0.2, abs=0.03)
    assert not rgb[no_x].any() and not x[no_rgb].any()  # the other modality is seen entirely
    patched = ~(no_rgb | no_x)
    assert torch.equal(rgb[patched], patch_rgb[patched]) and torch.equal(x[patched], patch_x[patched])
    always_rgb, always_x = complementary_masks(64, 8, modality_drop=1.0, generator=torch.Generator().manual_seed(0))
    # 1.0: every sample hides exactly one modality, entirely, and shows the other entirely
    assert (always_rgb.all(1) ^ always_x.all(1)).all() and not (always_rgb.any(1) & always_x.any(1)).any()


@pytest.mark.parametrize("name, value", [("rgb_ratio", 1.5), ("x_ratio", -0.1), ("modality_drop", 1.2)])
def test_mask_arguments_are_validated(name: str, value: float) -> None:
    with pytest.raises(ValueError, match=f"{name} must lie in \\[0, 1\\], got {value}"):
        complementary_masks(1, 4, **{name: value})


def test_distillation_mse_and_gradients_reach_both_sides() -> None:
    clean = [torch.tensor([[[1.0, 2.0], [3.0, 4.0]]], requires_grad=True), torch.zeros(1, 1, 2, requires_grad=True)]
    masked = [torch.tensor([[[1.0, 0.0], [0.0, 4.0]]], requires_grad=True), torch.ones(1, 1, 2, requires_grad=True)]
    loss = distillation_loss(clean, masked)
    # block 0: (0 + 4 + 9 + 0) / 4 = 3.25; block 1: (1 + 1) / 2 = 1; mean 2.125
    assert loss.item() == pytest.approx(2.125)
    loss.backward()
    # d/dc of 0.5 * mean((c - m)^2) = 0.5 * 2 (c - m) / n
    torch.testing.assert_close(clean[0].grad, torch.tensor([[[0.0, 2.0], [3.0, 0.0]]]) / 4)
    torch.testing.assert_close(masked[0].grad, -clean[0].grad)
    torch.testing.assert_close(clean[1].grad, torch.full((1, 1, 2), -0.5))
    torch.testing.assert_close(masked[1].grad, torch.full((1, 1, 2), 0.5))
    with pytest.raises(ValueError):
        distillation_loss(clean, masked[:1])


TINY = SDSTrackConfig(**SMALL_MODEL)


def _batch() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    template = torch.randn(2, 6, 64, 64, generator=generator)
    search = torch.randn(2, 6, 128, 128, generator=generator)
    boxes = torch.tensor([[0.5, 0.5, 0.25, 0.3], [0.4, 0.6, 0.2, 0.15]])
    return template, search, boxes


def test_full_objective_combines_parts_and_one_step_lowers_it() -> None:
    torch.manual_seed(0)
    model = SDSTrack(TINY).eval()
    template, search, boxes = _batch()
    loss, parts = sdstrack_objective(model, template, search, boxes, generator=torch.Generator().manual_seed(3))
    assert torch.isfinite(loss)
    assert parts["loss"] == pytest.approx(loss.item())
    combined = 0.6 * parts["clean/loss"] + 0.2 * parts["masked/loss"] + 0.1 * parts["distillation"]
    assert parts["loss"] == pytest.approx(combined, rel=1e-5)
    for path in ("clean", "masked"):
        per_forward = 2 * parts[f"{path}/giou"] + 5 * parts[f"{path}/l1"] + parts[f"{path}/focal"]
        assert parts[f"{path}/loss"] == pytest.approx(per_forward, rel=1e-5)
        assert 0.0 <= parts[f"{path}/iou"] <= 1.0
    assert parts["distillation"] > 0

    clean_only, clean_parts = sdstrack_objective(model, template, search, boxes, distillation=False)
    assert set(clean_parts) == {"loss", "clean/loss", "clean/giou", "clean/l1", "clean/focal", "clean/iou"}
    assert clean_only.item() == pytest.approx(parts["clean/loss"], rel=1e-5)
    direct, _ = tracking_loss(model(template, search), boxes)
    assert direct.item() == pytest.approx(clean_only.item(), rel=1e-5)

    optimiser = torch.optim.AdamW(model.parameters(), lr=1e-4, weight_decay=1e-4)
    optimiser.zero_grad()
    loss.backward()
    optimiser.step()
    after, _ = sdstrack_objective(model, template, search, boxes, generator=torch.Generator().manual_seed(3))
    assert after.item() < loss.item()


def test_target_absent_rows_drop_out_of_the_box_terms_and_want_a_zero_score_map() -> None:
    generator = torch.Generator().manual_seed(5)
    score_map = torch.rand(3, 1, 8, 8, generator=generator) * 0.9 + 0.05
    boxes = torch.tensor([[0.5, 0.5, 0.3, 0.2], [0.45, 0.55, 0.25, 0.3], [0.4, 0.4, 0.2, 0.2]])
    target = torch.tensor([[0.52, 0.48, 0.28, 0.22], [float("nan")] * 4, [0.38, 0.43, 0.25, 0.2]])

    class Output:  # the two fields tracking_loss reads
        pass

    output = Output()
    output.score_map, output.boxes = score_map.clone().requires_grad_(), boxes
    loss, parts = tracking_loss(output, target)
    present = torch.tensor([True, False, True])
    giou, iou = giou_loss(boxes[present], target[present])
    assert parts["giou"] == pytest.approx(giou.item(), rel=1e-6) and parts["iou"] == pytest.approx(iou.item(), rel=1e-6)
    assert parts["l1"] == pytest.approx(l1_loss(boxes[present], target[present]).item(), rel=1e-6)
    # the absent row's heat-map is all zero: every cell a full negative, the positives those of the other rows
    heatmap = gaussian_heatmap(target[present], 8)
    expected_focal = focal_loss(score_map, torch.cat([heatmap[:1], torch.zeros(1, 1, 8, 8), heatmap[1:]]))
    assert parts["focal"] == pytest.approx(expected_focal.item(), rel=1e-6)
    assert math.isfinite(loss.item())
    loss.backward()
    assert torch.isfinite(output.score_map.grad).all() and (output.score_map.grad[1] > 0).all()

    # every row absent: no box terms, the focal loss of an all-zero target; gradients still reach the boxes' graph
    output.boxes = boxes.clone().requires_grad_()
    loss, parts = tracking_loss(output, torch.full((3, 4), float("nan")))
    assert parts["giou"] == parts["l1"] == 0.0
    assert parts["focal"] == pytest.approx(focal_loss(score_map, torch.zeros(3, 1, 8, 8)).item(), rel=1e-6)
    loss.backward()
    assert torch.equal(output.boxes.grad, torch.zeros(3, 4))
