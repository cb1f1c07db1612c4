import pytest
import torch

from crossspec.models import create_model, list_models


def test_baselines_registered():
    assert {"nir-gray", "nir-gain"} <= set(list_models())


def test_nir_gray_copies_input():
    x = torch.rand(2, 1, 5, 7)
    y = create_model("nir-gray")(x)
    assert y.shape == (2, 3, 5, 7)
    for c in range(3):
        assert torch.equal(y[:, c], x[:, 0])


def test_nir_gain_fit_is_ratio_of_means():
    torch.manual_seed(0)
    samples = []
    for _ in range(3):
        nir = torch.rand(1, 4, 4) * 0.5 + 0.25
        rgb = torch.cat([nir * 0.8, nir * 0.7, nir * 0.5]) + 0.01 * torch.randn(3, 4, 4)
        samples.append({"input": nir, "target": rgb})
    model = create_model("nir-gain")
    gain = model.fit(samples)
    nir_sum = sum(s["input"].double().sum() for s in samples)
    expected = torch.stack([sum(s["target"][c].double().sum() for s in samples) / nir_sum for c in range(3)])
    torch.testing.assert_close(gain.double(), expected, rtol=1e-5, atol=1e-6)
    y = model(torch.full((1, 1, 2, 2), 0.5))
    torch.testing.assert_close(y[0, :, 0, 0], (0.5 * gain).clamp(0, 1))


def test_nir_gain_saturates_and_rejects_bad_shape():
    model = create_model("nir-gain", gain=(3.0, 1.0, 0.5))
    y = model(torch.ones(1, 1, 2, 2))
    assert y.max() <= 1.0
    with pytest.raises(ValueError, match=r"\(B, 1, H, W\)"):
        model(torch.ones(1, 3, 2, 2))


def test_unknown_model_suggests_closest():
    from crossspec.errors import CrossspecError

    with pytest.raises(CrossspecError, match="did you mean 'nir-gain'"):
        create_model("nir-gian")
