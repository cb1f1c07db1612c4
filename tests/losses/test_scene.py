import math

import pytest
import torch

from crossspec.errors import CrossspecError
from crossspec.losses import ColorizationLoss
from crossspec.losses.scene import scene_ce_loss


def test_cross_entropy_by_hand_and_unlabelled_samples_skipped():
    logits = torch.tensor([[2.0, 0.0, 0.0, 0.0], [0.0, 1.0, 0.0, 0.0], [5.0, 5.0, 5.0, 5.0]])
    label = torch.tensor([0, 2, -1])
    ce0 = -(2.0 - math.log(math.exp(2.0) + 3))
    ce1 = -(0.0 - math.log(math.e + 3))
    assert scene_ce_loss(logits, label).item() == pytest.approx((ce0 + ce1) / 2, rel=1e-6)


def test_no_labels_contribute_nothing_but_keep_the_graph():
    logits = torch.randn(2, 4, requires_grad=True)
    for label in (None, torch.tensor([-1, -1])):
        value = scene_ce_loss(logits, label)
        assert value.item() == 0.0 and value.requires_grad
        value.backward()
        assert logits.grad is not None and logits.grad.abs().sum() == 0


def test_bad_labels_are_refused():
    with pytest.raises(ValueError, match=r"labels must be in \[0, 4\)"):
        scene_ce_loss(torch.randn(2, 4), torch.tensor([0, 4]))
    with pytest.raises(ValueError, match="3 labels for 2 logits"):
        scene_ce_loss(torch.randn(2, 4), torch.tensor([0, 1, 2]))


def test_composite_loss_reads_label_and_weights_the_term():
    logits = torch.zeros(2, 4)
    rgb = torch.rand(2, 3, 4, 4)
    loss = ColorizationLoss({"mse": 1.0, "scene_ce": 1 / 300})
    total, terms = loss({"rgb": rgb, "scene_logits": logits}, rgb, label=torch.tensor([1, 3]))
    assert terms["scene_ce"].item() == pytest.approx(math.log(4))
    assert total.item() == pytest.approx(math.log(4) / 300)
    # a mask restricts pixel terms; the image-level term ignores it
    total_m, _ = loss({"rgb": rgb, "scene_logits": logits}, rgb, mask=torch.zeros(2, 1, 4, 4),
                      label=torch.tensor([1, 3]))
    assert total_m.item() == pytest.approx(total.item())
    with pytest.raises(CrossspecError, match="no 'scene_logits' output"):
        loss({"rgb": rgb}, rgb, label=torch.tensor([1, 3]))
