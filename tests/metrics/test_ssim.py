import numpy as np
import pytest
import torch
from scipy.ndimage import gaussian_filter
from skimage.metrics import structural_similarity

from crossspec.metrics import MS_SSIM_WEIGHTS, SSIM_VARIANTS, ms_ssim, ssim
from crossspec.metrics.ssim import ms_ssim_scales

from ._images import image_pair, to_tensor

SHAPES = [(7, 7), (9, 13), (24, 24), (33, 20)]


@pytest.mark.parametrize("h, w", SHAPES)
def test_skimage_variant_equals_scikit_image(h, w):
    rng = np.random.default_rng(h * 100 + w)
    pairs = [image_pair(rng, h, w, noise=n) for n in (0.03, 0.2, 0.5)]
    gt = to_tensor(*(g for g, _ in pairs))
    pred = to_tensor(*(p for _, p in pairs))
    values = ssim(pred, gt)
    assert values.shape == (3,) and values.dtype == torch.float64
    for i, (g, p) in enumerate(pairs):
        reference = structural_similarity(g, p, data_range=1, channel_axis=-1)
        assert values[i].item() == pytest.approx(reference, abs=1e-9)
        # Batching must not mix images.
        assert ssim(pred[i : i + 1], gt[i : i + 1]).item() == pytest.approx(values[i].item(), abs=1e-12)


def test_skimage_variant_on_float32_and_single_channel():
    rng = np.random.default_rng(5)
    g, p = image_pair(rng, 20, 18, c=1)
    reference = structural_similarity(g[..., 0], p[..., 0], data_range=1)
    assert ssim(to_tensor(p), to_tensor(g)).item() == pytest.approx(reference, abs=1e-9)
    g3, p3 = image_pair(rng, 20, 18)
    g32, p32 = g3.astype(np.float32), p3.astype(np.float32)
    reference = structural_similarity(g32.astype(np.float64), p32.astype(np.float64), data_range=1, channel_axis=-1)
    # float32 inputs are computed in float64 by default: same value as the float64 reference.
    assert ssim(to_tensor(p32), to_tensor(g32)).item() == pytest.approx(reference, abs=1e-9)
    fast = ssim(to_tensor(p32), to_tensor(g32), dtype=None)
    assert fast.dtype == torch.float32 and fast.item() == pytest.approx(reference, abs=1e-5)


@pytest.mark.parametrize("h, w", [(11, 11), (24, 31)])
def test_gaussian_variant_equals_wang_settings(h, w):
    rng = np.random.default_rng(h + w)
    pairs = [image_pair(rng, h, w, noise=n) for n in (0.05, 0.3)]
    values = ssim(to_tensor(*(p for _, p in pairs)), to_tensor(*(g for g, _ in pairs)), "gaussian")
    for i, (g, p) in enumerate(pairs):
        reference = structural_similarity(
            g, p, data_range=1, channel_axis=-1, gaussian_weights=True, sigma=1.5, use_sample_covariance=False
        )
        assert values[i].item() == pytest.approx(reference, abs=1e-9)


def _numpy_ms_ssim(gt: np.ndarray, pred: np.ndarray, scales: int) -> float:
    """Straightforward MS-SSIM with scipy's Gaussian filter, one channel at a time."""
    weights = np.array(MS_SSIM_WEIGHTS[:scales])
    weights = weights / weights.sum()
    c1, c2 = 0.01**2, 0.03**2
    per_channel = []
    for ch in range(gt.shape[-1]):
        x, y = gt[..., ch], pred[..., ch]
        result = 1.0
        for j in range(scales):
            def blur(a):
                return gaussian_filter(a, sigma=1.5, truncate=3.5, mode="reflect")[5:-5, 5:-5]

            ux, uy = blur(x), blur(y)
            vx, vy, vxy = blur(x * x) - ux**2, blur(y * y) - uy**2, blur(x * y) - ux * uy
            cs = (2 * vxy + c2) / (vx + vy + c2)
            if j < scales - 1:
                result *= max(cs.mean(), 1e-8) ** weights[j]
                h, w = x.shape[0] // 2 * 2, x.shape[1] // 2 * 2
                x = x[:h, :w].reshape(h // 2, 2, w // 2, 2).mean(axis=(1, 3))
                y = y[:h, :w].reshape(h // 2, 2, w // 2, 2).mean(axis=(1, 3))
            else:
                full = (2 * ux * uy + c1) / (ux**2 + uy**2 + c1) * cs
                result *= max(full.mean(), 1e-8) ** weights[j]
        per_channel.append(result)
    return float(np.mean(per_channel))


@pytest.mark.parametrize("h, w", [(45, 50), (180, 177)])
def test_ms_ssim_matches_numpy(h, w):
    rng = np.random.default_rng(7)
    pairs = [image_pair(rng, h, w, noise=n) for n in (0.05, 0.3)]
    values = ms_ssim(to_tensor(*(p for _, p in pairs)), to_tensor(*(g for g, _ in pairs)))
    scales = ms_ssim_scales(h, w)
    for i, (g, p) in enumerate(pairs):
        assert values[i].item() == pytest.approx(_numpy_ms_ssim(g, p, scales), abs=1e-9)
    single = ssim(to_tensor(pairs[0][1]), to_tensor(pairs[0][0]), "ms-ssim")
    assert single.item() == pytest.approx(values[0].item(), abs=1e-12)


def test_ms_ssim_scales_and_single_scale_is_gaussian():
    assert ms_ssim_scales(176, 300) == 5
    assert ms_ssim_scales(175, 300) == 4
    assert ms_ssim_scales(22, 22) == 2
    assert ms_ssim_scales(21, 40) == 1
    assert ms_ssim_scales(256, 256, max_scales=3) == 3
    rng = np.random.default_rng(3)
    g, p = image_pair(rng, 21, 30)
    pred, gt = to_tensor(p), to_tensor(g)
    assert ms_ssim(pred, gt).item() == pytest.approx(ssim(pred, gt, "gaussian").item(), abs=1e-12)


@pytest.mark.parametrize("variant", list(SSIM_VARIANTS))
def test_identical_images_score_one(variant):
    img = torch.rand(2, 3, 24, 24, dtype=torch.float64)
    assert ssim(img, img, variant).tolist() == pytest.approx([1.0, 1.0], abs=1e-12)
    other = torch.rand(2, 3, 24, 24, dtype=torch.float64)
    assert (ssim(other, img, variant) < 0.5).all()


def test_unknown_variant_lists_names():
    img = torch.rand(1, 3, 16, 16)
    with pytest.raises(ValueError) as info:
        ssim(img, img, "fancy")
    for name in SSIM_VARIANTS:
        assert repr(name) in str(info.value)


def test_bad_input():
    with pytest.raises(ValueError, match=r"ssim \(skimage\): pred is 6x6 pixels; needs at least 7x7"):
        ssim(torch.rand(1, 3, 6, 6), torch.rand(1, 3, 6, 6))
    with pytest.raises(ValueError, match="needs at least 11x11"):
        ssim(torch.rand(1, 3, 10, 40), torch.rand(1, 3, 10, 40), "gaussian")
    with pytest.raises(ValueError, match="must match"):
        ssim(torch.rand(1, 3, 16, 16), torch.rand(2, 3, 16, 16))
    with pytest.raises(ValueError, match=r"ms_ssim: target has values in \[-0.4"):
        ms_ssim(torch.rand(1, 3, 16, 16), torch.rand(1, 3, 16, 16) - 0.5)
    with pytest.raises(ValueError, match="max_scales"):
        ms_ssim(torch.rand(1, 3, 16, 16), torch.rand(1, 3, 16, 16), max_scales=6)


@pytest.mark.parametrize("variant, size", [("skimage", 8), ("gaussian", 12), ("ms-ssim", 22)])
def test_gradcheck(variant, size):
    gen = torch.Generator().manual_seed(0)
    pred = (torch.rand(1, 1, size, size, generator=gen, dtype=torch.float64) * 0.8 + 0.1).requires_grad_(True)
    gt = torch.rand(1, 1, size, size, generator=gen, dtype=torch.float64) * 0.8 + 0.1
    assert torch.autograd.gradcheck(lambda p: ssim(p, gt, variant), (pred,), fast_mode=True)


def test_ms_ssim_as_loss_improves_prediction():
    gen = torch.Generator().manual_seed(1)
    gt = torch.rand(1, 3, 24, 24, generator=gen)
    pred = torch.rand(1, 3, 24, 24, generator=gen).requires_grad_(True)
    start = ms_ssim(pred, gt).item()
    opt = torch.optim.Adam([pred], lr=0.05)
    for _ in range(10):
        opt.zero_grad()
        loss = 1 - ms_ssim(pred.clamp(0, 1), gt, dtype=None).mean()
        loss.backward()
        assert torch.isfinite(pred.grad).all()
        opt.step()
    assert ms_ssim(pred.detach().clamp(0, 1), gt).item() > start + 0.1
