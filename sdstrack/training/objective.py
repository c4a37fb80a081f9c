"""The SDSTrack training objective (CVPR 2024), as tensor-in / tensor-out functions.

Conventions shared by every function here:

* Boxes are ``cx, cy, w, h`` as fractions of the search crop (what :class:`SDSTrackOutput.boxes` holds), shape
  (B, 4). The box losses convert them to corners ``x1, y1, x2, y2`` first and clamp the *target* corners to
  [0, 1], as the authors' actor does before both the GIoU and the L1 term (hoqolo/SDSTrack
  ``lib/train/actors/sdstrack.py``).
* Score and heat maps are (B, 1, G, G), row = y, column = x, one cell per backbone stride (16 px for ViT-B).
* Token masks are (B, T + S) bool, template tokens first, True = patch token replaced by zeros (the layout
  :meth:`SDSTrack.forward` takes).

Per forward, ``L = 2 * GIoU + 5 * L1 + 1 * focal`` (``GIOU_WEIGHT`` / ``L1_WEIGHT`` in
``experiments/sdstrack/cvpr2024_*.yaml``, focal weight 1 in ``lib/train/train_script.py``); the full objective is
``0.6 * L(clean) + 0.2 * L(masked) + 0.1 * distillation`` (``lib/train/actors/sdstrack.py``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import torch
import torch.nn.functional as F
from torch import Tensor

if TYPE_CHECKING:
    from ..model.network import SDSTrack

#: Overlap the CenterNet/CornerNet radius rule aims for (OSTrack/SDSTrack ``generate_heatmap`` passes 0.7).
HEATMAP_MIN_OVERLAP = 0.7
#: Lower clamp of the predicted score inside the focal loss (``lib/utils/focal_loss.py``).
FOCAL_EPS = 1e-12


class _Prediction(Protocol):
    score_map: Tensor
    boxes: Tensor


@dataclass(frozen=True)
class LossWeights:
    """Weights of the per-forward tracking loss ``L = giou * GIoU + l1 * L1 + focal * focal``."""

    giou: float = 2.0
    l1: float = 5.0
    focal: float = 1.0


@dataclass(frozen=True)
class ObjectiveWeights:
    """Weights of ``clean * L(clean) + masked * L(masked) + distillation * MSE`` (the authors' actor)."""

    clean: float = 0.6
    masked: float = 0.2
    distillation: float = 0.1


# Heat-map target ----------------------------------------------------------------------------------------------
def _gaussian_radius(width: Tensor, height: Tensor, min_overlap: float) -> Tensor:
    """CornerNet's radius rule in the form CenterNet/OSTrack use (the "bug version": all three quadratic
    roots are ``(b + sqrt(b^2 - 4ac)) / 2``), minimum of the three. Sizes in grid cells."""
    b1 = height + width
    c1 = width * height * (1 - min_overlap) / (1 + min_overlap)
    r1 = (b1 + torch.sqrt(b1**2 - 4 * c1)) / 2
    b2 = 2 * (height + width)
    c2 = (1 - min_overlap) * width * height
    r2 = (b2 + torch.sqrt(b2**2 - 16 * c2)) / 2
    a3 = 4 * min_overlap
    b3 = -2 * min_overlap * (height + width)
    c3 = (min_overlap - 1) * width * height
    r3 = (b3 + torch.sqrt(b3**2 - 4 * a3 * c3)) / 2
    return torch.minimum(r1, torch.minimum(r2, r3))


def gaussian_heatmap(boxes: Tensor, grid: int, *, min_overlap: float = HEATMAP_MIN_OVERLAP) -> Tensor:
    """CenterNet-style Gaussian heat-map of the target centre, as OSTrack/SDSTrack's ``generate_heatmap``
    (hoqolo/SDSTrack ``lib/utils/heapmap_utils.py``) draws it.

    Rules: the box is scaled to grid cells (``* grid``); the centre cell is ``round(cx * grid)``,
    ``round(cy * grid)`` (``torch.round``, halves to even); the radius is the CornerNet rule above on the box
    size in cells with ``min_overlap = 0.7``, clamped at 0 and truncated to an integer ``r``; the kernel is
    ``exp(-(dx^2 + dy^2) / (2 sigma^2))`` with ``sigma = (2r + 1) / 6`` over the (2r+1) x (2r+1) square around
    the centre, computed in float64 with values below ``float64 eps`` set to 0, then cut at the map's border.
    The peak is exactly 1 at the centre cell. (For a centre outside the grid the original's slicing is
    ill-defined; here the visible part of the square is drawn, which is empty when no cell lies within ``r``.)

    Args:
        boxes: (B, 4) target boxes ``cx, cy, w, h`` as fractions of the search crop.
        grid: side G of the score map (search size / stride, 16 for ViT-B).

    Returns:
        (B, 1, G, G) float32 heat-map on ``boxes``'s device, rows = y, columns = x.
    """
    if boxes.ndim != 2 or boxes.shape[1] != 4:
        raise ValueError(f"boxes must have shape (B, 4), got {tuple(boxes.shape)}")
    scaled = boxes.detach().float() * grid
    radius = _gaussian_radius(scaled[:, 2], scaled[:, 3], min_overlap).clamp_min(0).to(torch.int64)
    centre = scaled[:, :2].round().double()
    sigma = (2 * radius + 1).double() / 6
    cells = torch.arange(grid, dtype=torch.float64, device=boxes.device)
    dx = cells[None, :] - centre[:, 0:1]  # (B, G) along columns
    dy = cells[None, :] - centre[:, 1:2]  # (B, G) along rows
    heat = torch.exp(-(dy[:, :, None] ** 2 + dx[:, None, :] ** 2) / (2 * sigma**2)[:, None, None])
    heat = heat.masked_fill(heat < torch.finfo(torch.float64).eps, 0.0)
    inside = (dy.abs() <= radius[:, None])[:, :, None] & (dx.abs() <= radius[:, None])[:, None, :]
    return (heat * inside).float().unsqueeze(1)


# Losses -------------------------------------------------------------------------------------------------------
def focal_loss(score_map: Tensor, heatmap: Tensor, *, alpha: float = 2.0, beta: float = 4.0) -> Tensor:
    """CenterNet focal loss, in the form of hoqolo/SDSTrack ``lib/utils/focal_loss.py``.

    Positives are the cells where ``heatmap == 1`` exactly, negatives those ``< 1``; with ``p`` the score
    clamped below at 1e-12::

        pos = log(p) * (1 - p)^alpha                       summed over positives
        neg = log(1 - p) * p^alpha * (1 - heatmap)^beta    summed over negatives
        loss = -(pos + neg) / num_positives   (-neg when the whole batch has no positive)

    Sums and the positive count run over the whole batch (not per sample).

    Args:
        score_map: (B, 1, G, G) probabilities in (0, 1) (the head clamps them to [1e-4, 1 - 1e-4]).
        heatmap: (B, 1, G, G) target from :func:`gaussian_heatmap`.

    Returns a scalar float32 tensor.
    """
    if score_map.shape != heatmap.shape:
        raise ValueError(f"score_map {tuple(score_map.shape)} and heatmap {tuple(heatmap.shape)} differ")
    heatmap = heatmap.float()
    positive = heatmap.eq(1).float()
    negative = heatmap.lt(1).float()
    prediction = score_map.float().clamp(min=FOCAL_EPS)
    positive_loss = (torch.log(prediction) * (1 - prediction) ** alpha * positive).sum()
    negative_loss = (torch.log(1 - prediction) * prediction**alpha * (1 - heatmap) ** beta * negative).sum()
    num_positive = positive.sum()
    return torch.where(num_positive > 0, -(positive_loss + negative_loss) / num_positive.clamp_min(1), -negative_loss)


def box_cxcywh_to_xyxy(boxes: Tensor) -> Tensor:
    """(..., 4) ``cx, cy, w, h`` -> (..., 4) corners ``cx - w/2, cy - h/2, cx + w/2, cy + h/2`` (same units)."""
    cx, cy, w, h = boxes.unbind(-1)
    return torch.stack([cx - 0.5 * w, cy - 0.5 * h, cx + 0.5 * w, cy + 0.5 * h], dim=-1)


def _corners(pred: Tensor, target: Tensor) -> tuple[Tensor, Tensor]:
    if pred.ndim != 2 or pred.shape[1] != 4 or pred.shape != target.shape:
        raise ValueError(f"pred and target must both be (N, 4), got {tuple(pred.shape)} and {tuple(target.shape)}")
    return box_cxcywh_to_xyxy(pred.float()), box_cxcywh_to_xyxy(target.float()).clamp(0.0, 1.0)


def giou_loss(pred: Tensor, target: Tensor) -> tuple[Tensor, Tensor]:
    """Mean ``1 - GIoU`` and mean IoU of paired boxes (hoqolo/SDSTrack ``lib/utils/box_ops.py``).

    Both inputs are (N, 4) ``cx, cy, w, h`` as fractions of the search crop; they are turned into corners,
    the target's clamped to [0, 1]. ``GIoU = IoU - (enclosing - union) / enclosing`` with the enclosing box
    the smallest axis-aligned box holding both; intersections of disjoint boxes are 0.

    Returns (loss, iou): two float32 scalars; ``iou`` is the batch mean IoU, still attached to the graph.
    """
    boxes1, boxes2 = _corners(pred, target)
    area1 = (boxes1[:, 2] - boxes1[:, 0]) * (boxes1[:, 3] - boxes1[:, 1])
    area2 = (boxes2[:, 2] - boxes2[:, 0]) * (boxes2[:, 3] - boxes2[:, 1])
    inter_wh = (torch.minimum(boxes1[:, 2:], boxes2[:, 2:]) - torch.maximum(boxes1[:, :2], boxes2[:, :2])).clamp(min=0)
    inter = inter_wh[:, 0] * inter_wh[:, 1]
    union = area1 + area2 - inter
    iou = inter / union
    hull_wh = (torch.maximum(boxes1[:, 2:], boxes2[:, 2:]) - torch.minimum(boxes1[:, :2], boxes2[:, :2])).clamp(min=0)
    hull = hull_wh[:, 0] * hull_wh[:, 1]
    giou = iou - (hull - union) / hull
    return (1 - giou).mean(), iou.mean()


def l1_loss(pred: Tensor, target: Tensor) -> Tensor:
    """Mean absolute error over the four *corner* coordinates of paired boxes (``torch.nn.functional.l1_loss``
    on ``x1, y1, x2, y2``, as the authors' actor computes it).

    Both inputs are (N, 4) ``cx, cy, w, h`` as fractions of the search crop; the target's corners are clamped to
    [0, 1]. Returns a float32 scalar in search-crop units.
    """
    boxes1, boxes2 = _corners(pred, target)
    return F.l1_loss(boxes1, boxes2)


def tracking_loss(
    output: _Prediction, target_boxes: Tensor, *, weights: LossWeights = LossWeights()
) -> tuple[Tensor, dict[str, float]]:
    """Per-forward loss ``giou * GIoU + l1 * L1 + focal * focal`` (defaults 2, 5, 1).

    Args:
        output: a :class:`sdstrack.model.network.SDSTrackOutput` (uses ``boxes`` (B, 4), decoded at the arg-max,
            and ``score_map`` (B, 1, G, G)).
        target_boxes: (B, 4) ground truth ``cx, cy, w, h`` as fractions of the search crop. A NaN row marks a
            target-absent sample (not in the original; :class:`sdstrack.training.sampling.SamplingOptions`
            ``absent_probability``): the GIoU and L1 terms average over the other rows only (0 when there are
            none), and its heat-map is zero everywhere, so the focal loss pushes its whole score map down.

    Returns (loss, parts): the scalar loss (attached) and detached floats ``loss``, ``giou``, ``l1``, ``focal``
    (unweighted terms) and ``iou`` (mean IoU of the decoded boxes of the samples with a target).
    """
    target_boxes = target_boxes.to(output.boxes.device)
    present = ~torch.isnan(target_boxes).any(dim=1)
    grid = output.score_map.shape[-1]
    if bool(present.any()):
        giou, iou = giou_loss(output.boxes[present], target_boxes[present])
        l1 = l1_loss(output.boxes[present], target_boxes[present])
    else:  # zeros that keep the graph (and every parameter's gradient defined)
        giou = iou = l1 = output.boxes.sum() * 0.0
    heatmap = gaussian_heatmap(target_boxes.nan_to_num(0.5), grid) * present[:, None, None, None]
    focal = focal_loss(output.score_map, heatmap)
    loss = weights.giou * giou + weights.l1 * l1 + weights.focal * focal
    parts = {"loss": loss, "giou": giou, "l1": l1, "focal": focal, "iou": iou}
    return loss, {name: value.detach().item() for name, value in parts.items()}


# Complementary masked patch distillation -----------------------------------------------------------------------
def _check_ratio(name: str, ratio: float) -> None:
    if not 0.0 <= ratio <= 1.0:
        raise ValueError(f"{name} must lie in [0, 1], got {ratio}")


def complementary_masks(
    batch: int,
    num_tokens: int | Sequence[int],
    rgb_ratio: float = 0.3,
    x_ratio: float = 0.3,
    generator: torch.Generator | None = None,
    *,
    exact: bool = False,
    modality_drop: float = 0.0,
    device: torch.device | str | None = None,
) -> tuple[Tensor, Tensor]:
    """Masks of the paper's complementary masked patch distillation: never both modalities at one position.

    Default (``exact=False``), as the original's ``apply_mask`` (hoqolo/SDSTrack
    ``lib/models/sdstrack/vit_ce.py``): every token of every sample draws independently, RGB masked when
    ``U < rgb_ratio``, X masked when ``U' < x_ratio`` *and* RGB is kept. So each RGB token is masked with
    probability ``rgb_ratio`` and each X token with ``(1 - rgb_ratio) * x_ratio`` (0.3 and 0.21 by default):
    the counts are Bernoulli, not fixed. The original calls ``apply_mask`` separately on the template and the
    search tokens, which for independent per-token draws is the same distribution as one draw over all tokens.

    ``exact=True`` (not in the original) fixes the counts instead: in each segment of ``n`` tokens and each
    sample, exactly ``round(rgb_ratio * n)`` RGB tokens are masked, uniformly at random, and exactly
    ``round(x_ratio * kept)`` of the ``kept`` RGB-visible positions are masked in X (Python ``round``).

    ``modality_drop`` (not in the original, 0 = the paper) is the probability that a sample's masks hide a whole
    modality instead: every RGB token (X all kept) or every X token (RGB all kept), each with probability
    ``modality_drop / 2``. That is exactly what :class:`sdstrack.Tracker` gives the network for a frame whose
    sensor is missing, so the masked pass and the distillation also train that input. The extra draws come
    after the patch draws: with ``modality_drop=0`` the masks are the same as without the argument.

    Args:
        batch: B.
        num_tokens: tokens per sample, or the sizes of its segments (e.g. ``(T, S)``: template then search),
            which ``exact`` treats separately; the masks concatenate the segments in order.
        rgb_ratio, x_ratio: the two masking ratios in [0, 1].
        modality_drop: probability in [0, 1] of hiding one whole modality of a sample (see above).
        generator: source of randomness (masks are a deterministic function of its state); the global RNG when
            None. Draws happen on the generator's device, then move to ``device``.
        device: where the masks go (the generator's device when None).

    Returns:
        (rgb_mask, x_mask): two (B, sum(num_tokens)) bool tensors, True = token replaced by zeros, with
        ``rgb_mask & x_mask`` all False.
    """
    _check_ratio("rgb_ratio", rgb_ratio)
    _check_ratio("x_ratio", x_ratio)
    _check_ratio("modality_drop", modality_drop)
    segments = [num_tokens] if isinstance(num_tokens, int) else list(num_tokens)
    if batch < 0 or any(n < 0 for n in segments):
        raise ValueError(f"batch and token counts must be non-negative, got {batch} and {segments}")
    draw_device = generator.device if generator is not None else None
    total = sum(segments)
    if not exact:
        rgb_mask = torch.rand(batch, total, generator=generator, device=draw_device) < rgb_ratio
        x_draw = torch.rand(batch, total, generator=generator, device=draw_device) < x_ratio
        x_mask = ~rgb_mask & x_draw
    else:
        rgb_parts, x_parts = [], []
        for n in segments:
            # rank: a uniformly random permutation of 0..n-1 per sample; the first ranks are masked in RGB, the
            # next ones (a uniform subset of the RGB-visible positions) in X.
            rank = torch.rand(batch, n, generator=generator, device=draw_device).argsort(dim=1).argsort(dim=1)
            rgb_count = round(rgb_ratio * n)
            x_count = round(x_ratio * (n - rgb_count))
            rgb_parts.append(rank < rgb_count)
            x_parts.append((rank >= rgb_count) & (rank < rgb_count + x_count))
        rgb_mask, x_mask = torch.cat(rgb_parts, dim=1), torch.cat(x_parts, dim=1)
    if modality_drop > 0:
        # one draw per sample: below modality_drop / 2 hides RGB, below modality_drop hides X
        draw = torch.rand(batch, 1, generator=generator, device=draw_device)
        hide_rgb, hide_x = draw < modality_drop / 2, (draw >= modality_drop / 2) & (draw < modality_drop)
        rgb_mask = torch.where(hide_rgb, True, torch.where(hide_x, False, rgb_mask))
        x_mask = torch.where(hide_x, True, torch.where(hide_rgb, False, x_mask))
    if device is not None:
        rgb_mask, x_mask = rgb_mask.to(device), x_mask.to(device)
    return rgb_mask, x_mask


def distillation_loss(clean_fusion_tokens: Sequence[Tensor], masked_fusion_tokens: Sequence[Tensor]) -> Tensor:
    """Self-distillation term: ``mean_k MSE(clean_k, masked_k)`` over the fusion blocks k.

    Each MSE is ``torch.nn.MSELoss()`` (mean over every element of the (B, L, C) tensors); the per-block values are
    averaged (``sum / len``), as in hoqolo/SDSTrack ``lib/train/actors/sdstrack.py``. Neither side is detached, so
    gradients flow into both the clean and the masked pass.

    Tokens are paired by index exactly as the two passes return them (``SDSTrackOutput.fusion_tokens``:
    ``[RGB ; X]`` with search tokens in the order candidate elimination leaves them). The original does the same
    (``distill_features['fine_condition'][i]`` vs ``['masked_condition'][i]``): when elimination keeps different
    search tokens in the two passes, a clean token is compared with the masked token at the same slot, not at the
    same image position. The token counts agree because the number kept per layer is fixed.

    Args:
        clean_fusion_tokens, masked_fusion_tokens: equally long non-empty sequences of same-shaped (B, L, C).

    Returns a float32 scalar.
    """
    if len(clean_fusion_tokens) != len(masked_fusion_tokens) or not clean_fusion_tokens:
        raise ValueError(
            f"need as many clean as masked fusion outputs, at least one: got {len(clean_fusion_tokens)} "
            f"and {len(masked_fusion_tokens)}"
        )
    losses = []
    for clean, masked in zip(clean_fusion_tokens, masked_fusion_tokens):
        if clean.shape != masked.shape:
            raise ValueError(f"fusion tokens differ in shape: {tuple(clean.shape)} vs {tuple(masked.shape)}")
        losses.append(F.mse_loss(clean.float(), masked.float()))
    return torch.stack(losses).mean()


def sdstrack_objective(
    model: SDSTrack,
    template: Tensor | tuple[Tensor, Tensor],
    search: Tensor | tuple[Tensor, Tensor],
    target_boxes: Tensor,
    *,
    distillation: bool = True,
    generator: torch.Generator | None = None,
    weights: ObjectiveWeights = ObjectiveWeights(),
    loss_weights: LossWeights = LossWeights(),
    rgb_ratio: float = 0.3,
    x_ratio: float = 0.3,
    modality_drop: float = 0.0,
    masks: tuple[Tensor, Tensor] | None = None,
    ce_keep_ratio: float | None = None,
) -> tuple[Tensor, dict[str, float]]:
    """The paper's training loss for one batch.

    With ``distillation=True`` (the paper): a clean forward and a masked forward of the same network (masks from
    :func:`complementary_masks` with ``generator``, Bernoulli as the original), and
    ``total = 0.6 * L(clean) + 0.2 * L(masked) + 0.1 * distillation_loss(clean, masked fusion tokens)``.

    ``distillation=False`` is the ablation without complementary masked patch distillation: the masked path
    exists only for that module, so it is dropped entirely — one clean forward and ``total = L(clean)``
    (unscaled, the plain OSTrack-style objective), not clean + masked without the MSE term.

    Args:
        model: an :class:`sdstrack.model.network.SDSTrack` (its train/eval mode is left to the caller).
        template, search: normalised crops as :meth:`SDSTrack.forward` takes them.
        target_boxes: (B, 4) ground truth ``cx, cy, w, h`` as fractions of the search crop.
        rgb_ratio, x_ratio, modality_drop: the masked pass's masks, as :func:`complementary_masks` draws them.
        masks: the masked pass's ``(rgb_mask, x_mask)``, (B, T + S) bool, instead of drawing them from
            ``generator`` (a trainer draws them per sample, so that a batch split over processes gets the
            same masks as one process).
        ce_keep_ratio: candidate elimination's keep ratio for both passes (the training warm-up schedule);
            None = the model config's.

    Returns (total, parts): the scalar loss and detached floats: ``loss``; ``clean/<part>`` for each part of
    :func:`tracking_loss` (``loss, giou, l1, focal, iou``); with distillation also ``masked/<part>`` and
    ``distillation`` (the unweighted MSE).
    """
    clean = model(template, search, return_fusion_tokens=distillation, ce_keep_ratio=ce_keep_ratio)
    clean_loss, clean_parts = tracking_loss(clean, target_boxes, weights=loss_weights)
    parts = {f"clean/{name}": value for name, value in clean_parts.items()}
    if not distillation:
        return clean_loss, {"loss": clean_parts["loss"], **parts}
    config = model.config
    if masks is None:
        masks = complementary_masks(
            target_boxes.shape[0],
            (config.num_template_tokens, config.num_search_tokens),
            rgb_ratio,
            x_ratio,
            generator,
            modality_drop=modality_drop,
            device=clean.boxes.device,
        )
    rgb_mask, x_mask = masks
    masked = model(template, search, rgb_mask=rgb_mask, x_mask=x_mask, return_fusion_tokens=True,
                   ce_keep_ratio=ce_keep_ratio)
    masked_loss, masked_parts = tracking_loss(masked, target_boxes, weights=loss_weights)
    distill = distillation_loss(clean.fusion_tokens, masked.fusion_tokens)
    total = weights.clean * clean_loss + weights.masked * masked_loss + weights.distillation * distill
    parts.update({f"masked/{name}": value for name, value in masked_parts.items()})
    parts["distillation"] = distill.detach().item()
    return total, {"loss": total.detach().item(), **parts}
