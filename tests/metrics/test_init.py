import pytest
import torch

import crossspec.metrics as metrics
from crossspec.metrics import METRICS, SSIM_VARIANTS, protocol_description


def test_metrics_table():
    assert set(METRICS) == {"psnr", "ssim", "ae", "lpips", "cf", "dcf"}
    assert METRICS["psnr"].unit == "dB" and METRICS["psnr"].higher_better
    assert METRICS["ae"].unit == "deg" and not METRICS["ae"].higher_better
    assert not METRICS["lpips"].higher_better and not METRICS["dcf"].higher_better
    for name, info in METRICS.items():
        assert info.name == name and info.label and info.description


def test_metric_callables_return_per_image_values():
    pred = torch.rand(2, 3, 16, 16, dtype=torch.float64)
    target = torch.rand(2, 3, 16, 16, dtype=torch.float64)
    for name, info in METRICS.items():
        if name == "lpips":  # needs weights; covered in test_lpips.py
            continue
        assert info.compute(pred, target).shape == (2,), name


def test_protocol_description():
    text = protocol_description()
    assert text == (
        "PSNR on [0,1] (data range 1), SSIM skimage (7x7 uniform, sample covariance, K=(0.01,0.03)), "
        "AE in degrees, LPIPS alex v0.1 on [-1,1], CF Hasler-Susstrunk"
    )
    for variant in SSIM_VARIANTS:
        assert f"SSIM {variant} (" in protocol_description(variant)
    assert "LPIPS not computed" in protocol_description(lpips=False)
    assert "LPIPS" not in protocol_description(lpips=False).replace("LPIPS not computed", "")
    with pytest.raises(ValueError, match="'skimage', 'gaussian', 'ms-ssim'"):
        protocol_description("wang")


def test_public_names():
    for name in metrics.__all__:
        assert hasattr(metrics, name), name


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_cuda_matches_cpu():
    pred = torch.rand(2, 3, 200, 190, dtype=torch.float64)
    target = torch.rand(2, 3, 200, 190, dtype=torch.float64)
    checks = [metrics.psnr, metrics.angular_error, metrics.colorfulness, metrics.delta_colorfulness]
    checks += [lambda p, t, v=v: metrics.ssim(p, t, v) for v in SSIM_VARIANTS]
    for fn in checks:
        args = (pred, target) if fn is not metrics.colorfulness else (pred,)
        cpu = fn(*args)
        gpu = fn(*(a.cuda() for a in args))
        assert gpu.device.type == "cuda"
        torch.testing.assert_close(gpu.cpu(), cpu, rtol=1e-9, atol=1e-9)
    net = metrics.LPIPS()
    on_cpu = net(pred.float(), target.float())
    on_gpu = net.cuda()(pred.cuda().float(), target.cuda().float()).cpu()
    torch.testing.assert_close(on_gpu, on_cpu, rtol=1e-3, atol=1e-5)
