"""Scene classification term: cross-entropy of a model's scene logits against dataset labels.

Iizuka et al. (2016) train their global features jointly with a scene classifier, adding
``alpha * CE`` to the colour MSE with ``alpha = 1/300``. Labels come from the batch (a dataset's
integer ``"label"``, e.g. VCIP's category); samples labelled ``IGNORE`` (-1) do not count, and a
batch without labels contributes 0.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

IGNORE = -1


def scene_ce_loss(logits: torch.Tensor, label: torch.Tensor | None) -> torch.Tensor:
    """Mean cross-entropy over the labelled samples.

    Args:
        logits: ``(B, K)`` unnormalised class scores.
        label: ``(B,)`` integer class indices in ``[0, K)`` or :data:`IGNORE`; ``None`` when the
            batch carries no labels.

    Returns:
        A scalar; 0 (still attached to ``logits``, so every parameter gets a gradient, if zero)
        when no sample is labelled.
    """
    if logits.dim() != 2:
        raise ValueError(f"scene_ce: logits must be (B, K), got {tuple(logits.shape)}")
    if label is None:
        return logits.sum() * 0.0
    label = label.reshape(-1).to(device=logits.device, dtype=torch.long)
    if label.shape[0] != logits.shape[0]:
        raise ValueError(f"scene_ce: {label.shape[0]} labels for {logits.shape[0]} logits")
    bad = (label != IGNORE) & ((label < 0) | (label >= logits.shape[1]))
    if bool(bad.any()):
        raise ValueError(f"scene_ce: labels must be in [0, {logits.shape[1]}) or {IGNORE}, got "
                         f"{sorted(set(label[bad].tolist()))}")
    if not bool((label != IGNORE).any()):
        return logits.sum() * 0.0
    return F.cross_entropy(logits.float(), label, ignore_index=IGNORE)
