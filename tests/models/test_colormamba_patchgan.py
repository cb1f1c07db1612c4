import pytest
import torch

from crossspec.models import create_model, get_entry
from crossspec.models.patchgan import PatchGAN


def test_patchgan_70x70_layout_and_output_shape():
    d = PatchGAN(3)
    assert d(torch.rand(1, 3, 256, 256)).shape == (1, 1, 30, 30)  # pix2pix's 70x70 PatchGAN grid
    convs = [m for m in d.modules() if isinstance(m, torch.nn.Conv2d)]
    assert [c.stride[0] for c in convs] == [2, 2, 2, 1, 1] and all(c.kernel_size == (4, 4) for c in convs)


@pytest.mark.parametrize("sn", [True, False])
def test_patchgan_spectral_norm_option_and_gradients(sn):
    d = PatchGAN(6, base=8, layers=2, spectral_norm=sn)
    has_sn = any(hasattr(m, "parametrizations") for m in d.modules())
    assert has_sn == sn
    out = d(torch.rand(2, 6, 40, 40))
    out.mean().backward()
    assert all(p.grad is not None for p in d.parameters() if p.requires_grad)


def test_patchgan_registered_and_checks_channels():
    assert get_entry("patchgan").domains == ("disc",)
    d = create_model("patchgan", tiny=True, in_channels=3)
    with pytest.raises(ValueError, match=r"\(B, 3, H, W\)"):
        d(torch.rand(1, 1, 32, 32))
