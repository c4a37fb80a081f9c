"""What trains and how: parameter policies, optimizer groups, frozen batch norms, the CE keep-rate schedule.

Policies (``policy`` arguments):

* ``"paper"``: the paper's parameter-efficient fine-tuning. Every adapter (the X adapters of every block
  and the fusion adapters) and the X patch embedding train at the base learning rate, the backbone's
  final LayerNorm at ``tuned_lr_scale`` (0.1) times it, everything else (RGB patch embedding, position
  tables, shared blocks, head) is frozen. The original selects by name: ``Adapter`` or ``multimodal``
  (its X patch embedding ``patch_embed_multimodal``) at the base rate, ``backbone.norm`` at 0.1x.
* ``"full"``: every parameter trains, the head included, at the base rate; the final norm keeps the
  paper's 0.1x.
* ``"scratch"``: every parameter trains at the base rate.

Parameter counts: the original ViT-B builds fusion adapters in all 12 blocks but only runs those of
blocks 3, 6, 9 and 11, so its trainable count (14,793,984, the paper's "14.8M") includes eight unused
adapter pairs that never receive a gradient. This implementation builds only the four used pairs: the
same training has 10,060,032 trainable parameters here.
"""

from __future__ import annotations

import math
from typing import Any, Literal

from torch import nn

Policy = Literal["paper", "full", "scratch"]
POLICIES: tuple[str, ...] = ("paper", "full", "scratch")

#: The original's learning-rate multiplier for the final norm (``TRAIN.BACKBONE_MULTIPLIER``).
TUNED_LR_SCALE = 0.1

_ADAPTER_MARKERS = (".x_adapters.", ".fusion_adapters.")
_X_PATCH_EMBED = "backbone.x_patch_embed."
_FINAL_NORM = "backbone.norm."


def parameter_role(name: str, policy: Policy) -> Literal["base", "tuned"] | None:
    """How ``policy`` trains the parameter called ``name`` (as in ``model.named_parameters()``).

    Returns ``"base"`` (base learning rate), ``"tuned"`` (``TUNED_LR_SCALE`` times it) or None (frozen).
    """
    if policy not in POLICIES:
        raise ValueError(f"policy must be one of {POLICIES}, got {policy!r}")
    if policy == "scratch":
        return "base"
    if name.startswith(_FINAL_NORM):
        return "tuned"
    if policy == "full" or name.startswith(_X_PATCH_EMBED) or any(marker in name for marker in _ADAPTER_MARKERS):
        return "base"
    return None


def apply_policy(model: nn.Module, policy: Policy) -> None:
    """Set ``requires_grad`` on every parameter of ``model``: True exactly where ``policy`` trains it."""
    for name, parameter in model.named_parameters():
        parameter.requires_grad_(parameter_role(name, policy) is not None)


def trainable_parameters(
    model: nn.Module, policy: Policy, lr: float, tuned_lr_scale: float = TUNED_LR_SCALE
) -> list[dict[str, Any]]:
    """Optimizer parameter groups for ``policy``, e.g. ``torch.optim.AdamW(trainable_parameters(...))``.

    Args:
        model: an :class:`sdstrack.model.SDSTrack` (names are matched as its ``named_parameters()``).
        policy: ``"paper"``, ``"full"`` or ``"scratch"`` (see the module docstring).
        lr: the base learning rate.
        tuned_lr_scale: the final norm's learning-rate multiplier.

    Returns the non-empty groups among ``{"name": "base", "params": [...], "lr": lr}`` and
    ``{"name": "tuned", "params": [...], "lr": tuned_lr_scale * lr}``. Frozen parameters appear in no
    group; call :func:`apply_policy` too so that they get no gradient.
    """
    groups: dict[str, list[nn.Parameter]] = {"base": [], "tuned": []}
    for name, parameter in model.named_parameters():
        role = parameter_role(name, policy)
        if role is not None:
            groups[role].append(parameter)
    rates = {"base": lr, "tuned": tuned_lr_scale * lr}
    return [{"name": role, "params": params, "lr": rates[role]} for role, params in groups.items() if params]


def count_trainable(model: nn.Module, policy: Policy) -> int:
    """Number of scalar parameters ``policy`` trains in ``model``."""
    return sum(p.numel() for name, p in model.named_parameters() if parameter_role(name, policy) is not None)


def train_mode(model: nn.Module) -> nn.Module:
    """``model.train()``, except that every batch norm stays in eval mode (frozen running statistics).

    The original fixes the head's batch norms the same way (``TRAIN.FIX_BN``). SDSTrack's own head uses
    :class:`sdstrack.model.head.FrozenBatchNorm2d`, which never updates its statistics; this also covers
    ``torch.nn`` batch norms in any other module. Returns ``model``.
    """
    model.train()
    for module in model.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            module.eval()
    return model


def keep_rate_schedule(
    epoch: int,
    start_epoch: int = 4,
    warmup_epochs: int = 16,
    final_keep_rate: float = 0.7,
    max_keep_rate: float = 1.0,
) -> float:
    """Candidate-elimination keep ratio for a training epoch (the original's ``adjust_keep_rate``).

    With ``e = epoch - start_epoch``: ``max_keep_rate`` before ``start_epoch``, then the cosine ramp
    ``final + (max - final) * (1 + cos(pi * e / warmup_epochs)) / 2``, and ``final_keep_rate`` from
    ``start_epoch + warmup_epochs`` on. The defaults are the original's (``CE_START_EPOCH: 4``,
    ``CE_WARM_EPOCH: 16``, ``CE_KEEP_RATIO: 0.7``, one iteration per epoch).

    Args:
        epoch: the epoch number as the original's trainer counts it: the first epoch is 1.
        start_epoch: first epoch of the ramp (where it still equals ``max_keep_rate``).
        warmup_epochs: length of the ramp in epochs.
        final_keep_rate: the ratio after the ramp, the test-time ratio.
        max_keep_rate: the ratio before the ramp (1.0: no elimination).
    """
    if epoch < start_epoch:
        return max_keep_rate
    if epoch >= start_epoch + warmup_epochs:
        return final_keep_rate
    progress = (epoch - start_epoch) / warmup_epochs
    return final_keep_rate + (max_keep_rate - final_keep_rate) * (1 + math.cos(math.pi * progress)) / 2
