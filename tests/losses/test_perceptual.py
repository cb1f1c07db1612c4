import pytest
import torch

from crossspec.errors import CrossspecError
from crossspec.io import imagenet_weights as iw
from crossspec.losses.composite import ColorizationLoss
from crossspec.losses.perceptual import VGGPerceptualLoss
from crossspec.ops.vgg16_layers import vgg16_features


def _vgg_state(seed: int = 0) -> dict[str, torch.Tensor]:
    """Random VGG16 weights in torchvision's key layout (``features.N.*``), classifier keys included."""
    torch.manual_seed(seed)
    features, _ = vgg16_features()
    state = {f"features.{k}": v for k, v in features.state_dict().items()}
    state["classifier.0.weight"] = torch.zeros(2, 2)
    return state


@pytest.fixture
def vgg_file(tmp_path):
    f = tmp_path / "vgg16-random.pth"
    torch.save(_vgg_state(), f)
    return f


def _images(seed: int = 1, b: int = 2, side: int = 24) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(b, 3, side, side, generator=g), torch.rand(b, 3, side, side, generator=g)


def test_zero_for_identical_and_positive_otherwise(vgg_file):
    loss = VGGPerceptualLoss(vgg_file)
    pred, target = _images()
    assert loss(target, target).item() == 0.0
    assert loss(pred, target).item() > 0.05
    # closer images are closer in the loss
    assert loss(0.9 * target + 0.1 * pred, target) < loss(0.5 * target + 0.5 * pred, target)


def test_gradient_reaches_the_prediction_not_the_network(vgg_file):
    loss = VGGPerceptualLoss(vgg_file)
    pred, target = _images()
    pred.requires_grad_(True)
    loss(pred, target).backward()
    assert pred.grad is not None and pred.grad.abs().sum() > 0
    assert all(p.grad is None and not p.requires_grad for p in loss.parameters())
    loss.train()
    assert not loss.training


def test_file_and_state_dict_load_the_same_network(vgg_file):
    pred, target = _images()
    a = VGGPerceptualLoss(vgg_file)(pred, target)
    b = VGGPerceptualLoss(_vgg_state())(pred, target)
    c = VGGPerceptualLoss(_vgg_state(seed=5))(pred, target)
    assert a.item() == b.item() and a.item() != c.item()


def test_auto_finds_the_environment_variable(vgg_file, tmp_path, monkeypatch):
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    for name in iw.TRUNKS["vgg16"].env:
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(CrossspecError, match="CROSSSPEC_VGG16"):
        VGGPerceptualLoss("auto")
    monkeypatch.setenv("CROSSSPEC_VGG16", str(vgg_file))
    pred, target = _images()
    assert VGGPerceptualLoss("auto")(pred, target).item() == VGGPerceptualLoss(vgg_file)(pred, target).item()


def test_wrong_weights_name_the_file(tmp_path):
    f = tmp_path / "alexnet.pth"
    state = _vgg_state()
    del state["features.0.bias"]
    torch.save(state, f)
    with pytest.raises(CrossspecError, match=r"alexnet.pth: VGG16 weights lack 0.bias"):
        VGGPerceptualLoss(f)
    state = _vgg_state()
    state["features.2.weight"] = torch.zeros(64, 32, 3, 3)
    torch.save(state, f)
    with pytest.raises(CrossspecError, match=r"alexnet.pth: 2.weight has shape \(64, 32, 3, 3\)"):
        VGGPerceptualLoss(f)


def test_bad_shapes_are_rejected():
    loss = VGGPerceptualLoss(None)
    with pytest.raises(ValueError, match="expected pred and target"):
        loss(torch.rand(1, 1, 16, 16), torch.rand(1, 1, 16, 16))
    with pytest.raises(ValueError, match="at least 8 px"):
        loss(torch.rand(1, 3, 4, 16), torch.rand(1, 3, 4, 16))


def test_composite_term_with_options_and_mask(vgg_file):
    loss = ColorizationLoss.from_config({"weights": {"l1": 1.0, "perceptual": 0.5}, "perceptual_weights": vgg_file})
    pred, target = _images()
    total, terms = loss({"rgb": pred}, target)
    assert set(terms) == {"l1", "perceptual"}
    assert total.item() == pytest.approx(terms["l1"].item() + 0.5 * terms["perceptual"].item(), rel=1e-6)
    mask = torch.ones(2, 1, 24, 24)
    mask[:, :, :, :12] = 0
    base, _ = loss({"rgb": pred}, target, mask=mask)
    wild = pred.clone()
    wild[..., :12] = torch.rand(2, 3, 24, 12)
    other, _ = loss({"rgb": wild}, target, mask=mask)
    assert other.item() == pytest.approx(base.item(), rel=1e-6)
    # no network is built unless the term is weighted
    assert ColorizationLoss({"l1": 1.0}).perceptual is None
