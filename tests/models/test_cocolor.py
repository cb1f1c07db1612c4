"""Cooperative family: translators, the domain-conditioned colorizer, the batched cooperative forward."""
import pytest
import torch

from crossspec.errors import CrossspecError
from crossspec.models import create_model, get_entry
from crossspec.models.cocolor import Plan
from crossspec.models.colormamba.model import ColorMamba, TINY


def _batch(b=2, size=32, seed=0):
    g = torch.Generator().manual_seed(seed)
    return {"input": torch.rand(b, 1, size, size, generator=g), "target": torch.rand(b, 3, size, size, generator=g),
            "gray_input": torch.rand(b, 1, size, size, generator=g),
            "gray_target": torch.rand(b, 3, size, size, generator=g)}


@pytest.mark.parametrize("name", ["nir2gray", "gray2nir"])
def test_translator_is_identity_at_init_and_keeps_range(name):
    t = create_model(name, tiny=True)
    x = torch.rand(2, 1, 19, 27) * 0.98 + 0.01
    y = t(x)
    assert y.shape == x.shape
    torch.testing.assert_close(y, x, atol=1e-5, rtol=0)
    with torch.no_grad():
        t.head.weight.normal_(0, 0.5)
        x = torch.rand(1, 1, 16, 16)
        y = t(x)
    assert float(y.min()) >= 0 and float(y.max()) <= 1 and (y - x).abs().max() > 1e-3
    assert get_entry(name).task == "translate"


def test_translator_gradients_and_bad_input():
    t = create_model("nir2gray", tiny=True)
    t(torch.rand(1, 1, 16, 16)).mean().backward()
    assert t.head.weight.grad is not None and t.head.weight.grad.abs().sum() > 0
    with pytest.raises(CrossspecError, match=r"nir2gray input: expected a \(B, 1, H, W\)"):
        t(torch.rand(1, 3, 16, 16))


def test_domain_film_starts_neutral_then_separates_domains():
    torch.manual_seed(0)
    m = ColorMamba(**TINY, num_domains=2).eval()
    x = torch.rand(2, 1, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(m(x, "nir"), m(x, "gray"))
        m.domain_film["hsv"].gamma[1].fill_(0.5)
        m.domain_film["rgb"].beta[1].fill_(0.3)
        nir, gray = m(x, "nir"), m(x, "gray")
        assert (nir - gray).abs().max() > 1e-3
        # per-image indices give each image its own domain, as separate calls would
        mixed = m(x, torch.tensor([0, 1]))
        torch.testing.assert_close(mixed[0], nir[0], atol=1e-5, rtol=1e-4)
        torch.testing.assert_close(mixed[1], gray[1], atol=1e-5, rtol=1e-4)
    with pytest.raises(CrossspecError, match="domain: expected one of nir, gray"):
        m(x, "rgb")
    with pytest.raises(CrossspecError, match="num_domains > 1"):
        ColorMamba(**TINY)(x, torch.tensor([0, 1]))


@pytest.mark.parametrize("plan", [Plan(), Plan(translate=True, cycle=True), Plan(True, True, True)])
def test_cooperative_forward_outputs(plan):
    m = create_model("cocolor-small", tiny=True)
    out = m.cooperative_forward(_batch(), plan)
    for name in ("nir", "gray") + (("nir_via_gray", "gray_via_nir") if plan.colorize_translations else ()):
        assert out[name]["rgb"].shape == (2, 3, 32, 32) and out[name]["hsv"].shape == (2, 3, 32, 32)
        assert len(out[name]["features"]) == len(m.colorizer.hsv_branch.guidance_channels)
    assert ("n2g" in out) == plan.translate and ("cycle_nir" in out) == plan.cycle
    assert ("nir_via_gray" in out) == plan.colorize_translations


def test_batched_views_equal_separate_calls():
    """The one batched colorizer call gives each view what a call on that view alone gives."""
    torch.manual_seed(1)
    m = create_model("cocolor-small", tiny=True).eval()
    with torch.no_grad():
        for p in m.colorizer.domain_film.parameters():
            p.normal_(0, 0.3)
        b = _batch()
        out = m.cooperative_forward(b, Plan(True, True, True))
        torch.testing.assert_close(out["nir"]["rgb"], m(b["input"], "nir"), atol=1e-5, rtol=1e-4)
        torch.testing.assert_close(out["gray"]["rgb"], m(b["gray_input"], "gray"), atol=1e-5, rtol=1e-4)
        torch.testing.assert_close(out["nir_via_gray"]["rgb"], m(m.nir2gray(b["input"]), "gray"), atol=1e-5, rtol=1e-4)
        torch.testing.assert_close(out["gray_via_nir"]["rgb"], m(m.gray2nir(b["gray_input"]), "nir"), atol=1e-5,
                                   rtol=1e-4)


def test_cocolor_any_size_and_both_domains():
    m = create_model("cocolor", tiny=True).eval()
    with torch.no_grad():
        for domain in ("nir", "gray"):
            assert m(torch.rand(1, 1, 37, 21), domain=domain).shape == (1, 3, 37, 21)
