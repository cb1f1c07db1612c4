"""ColorMamba's RGB branch on an ImageNet VGG16 trunk (``rgb_encoder="vgg16"``)."""
import pytest
import torch

from tests.models.test_trunk_unet import vgg_state

from crossspec.errors import CrossspecError
from crossspec.models import create_model
from crossspec.models.colormamba.model import TINY, TINY_VGG16, ColorMamba
from crossspec.models.colormamba.rgb_trunk import TrunkLevel
from crossspec.models.encoders import VGG16Trunk


def _tiny(**kw):
    torch.manual_seed(0)
    return create_model("colormamba-small-vgg16", tiny=True, **kw)


def _features_state(seed=0):
    """What the trainer passes to ``load_encoder``: torchvision's ``features.*``, prefix stripped."""
    return {k.removeprefix("features."): v for k, v in vgg_state(seed).items() if k.startswith("features.")}


def test_default_model_is_unchanged():
    """The option adds nothing to the default model: same keys, shapes and (same seed) weights."""
    torch.manual_seed(0)
    plain = ColorMamba(**TINY)
    torch.manual_seed(0)
    conv = ColorMamba(**TINY, rgb_encoder="conv")
    assert plain.encoder is None and conv.encoder is None
    a, b = plain.state_dict(), conv.state_dict()
    assert list(a) == list(b)
    for k in a:
        assert torch.equal(a[k], b[k]), k
    assert not any(k.startswith("encoder.") or "trunk_levels" in k for k in a)


def test_vgg_keys_are_torchvisions_and_load_strictly():
    m = _tiny()
    state = _features_state(seed=3)
    m.load_encoder(state)
    own = {k.removeprefix("encoder.features."): v for k, v in m.state_dict().items() if k.startswith("encoder.")}
    # stages 1..3 of the trunk: every key of those layers, exactly the file's tensors
    assert set(own) == {k for k in state if int(k.split(".")[0]) < m.encoder.bounds[-1]}
    for k, v in own.items():
        assert torch.equal(v, state[k]), k
    partial = {k: v for k, v in state.items() if not k.startswith("12.")}
    with pytest.raises(ValueError, match="12.weight"):
        m.load_encoder(partial)


def test_the_trunk_replaces_the_first_encoder_levels():
    m = _tiny()
    branch = m.rgb_branch
    # 3 VGG stages (strides 1, 2, 4): levels 1/2 and 1/4 from relu2_2 and relu3_3, then the convs
    assert len(branch.trunk_levels) == 2 and len(branch.downs) == branch.levels - 3
    assert [lvl.proj.in_channels for lvl in branch.trunk_levels] == [128, 256]
    assert [lvl.proj.out_channels for lvl in branch.trunk_levels] == list(branch.encoder_channels[:2])
    # the tiny config has VSSBs at 1/2, 1/4, 1/8: the trunk levels keep theirs
    assert all(isinstance(lvl, TrunkLevel) and lvl.vssb is not None for lvl in branch.trunk_levels)
    # the decoder is built exactly as the conv model's
    conv = ColorMamba(**TINY)
    assert ({k: v.shape for k, v in branch.ups.state_dict().items()}
            == {k: v.shape for k, v in conv.rgb_branch.ups.state_dict().items()})


@pytest.mark.parametrize("hw", [(37, 45), (32, 32), (5, 70)])
def test_any_size_in_rgb_out(hw):
    m = _tiny().eval()
    m.load_encoder(_features_state())
    x = torch.rand(2, 1, *hw)
    with torch.no_grad():
        out = m.forward_train(x)
        rgb = m(x)
    assert rgb.shape == out["rgb"].shape == (2, 3, *hw) and out["hsv"].shape == (2, 3, *hw)
    for t in (rgb, out["hsv"]):
        assert torch.isfinite(t).all() and t.min() >= 0 and t.max() <= 1
    torch.testing.assert_close(rgb, out["rgb"])


def test_frozen_stages_get_no_gradient_and_unfrozen_ones_do():
    m = _tiny(rgb_frozen_stages=2)
    out = m.forward_train(torch.rand(2, 1, 32, 32))
    (out["rgb"].square().mean() + out["hsv"].square().mean()).backward()
    feats, cut = m.encoder.features, m.encoder.bounds[2]
    frozen = [p for i in range(cut) for p in feats[i].parameters()]
    tuned = [p for i in range(cut, len(feats)) for p in feats[i].parameters()]
    assert frozen and all(not p.requires_grad and p.grad is None for p in frozen)
    assert tuned and all(p.grad is not None and p.grad.abs().sum() > 0 for p in tuned)
    # everything else, the trunk levels' projections and VSSBs included, trains
    dead = [n for n, p in m.named_parameters()
            if not n.startswith("encoder.") and (p.grad is None or p.grad.abs().sum() == 0)]
    assert not dead, dead


def test_default_freezes_the_whole_trunk():
    m = create_model("colormamba-small-vgg16")
    assert m.encoder.stages == 5 and m.encoder.frozen_stages == 5
    assert not any(p.requires_grad for p in m.encoder.parameters())
    assert m.size_multiple == 32


def test_cached_trunk_stages_give_the_uncached_output():
    m = _tiny().eval()
    assert m.trunk_cache_stages == (1, 2)
    x = torch.rand(2, 1, 32, 64)
    with torch.no_grad():
        plain = m.forward_train(x)["rgb"]
        cached = m.forward_train(x, trunk_feats=m.trunk_cache(x))["rgb"]
    torch.testing.assert_close(cached, plain)
    with pytest.raises(CrossspecError, match="multiple of 32"):
        m.forward_train(torch.rand(1, 1, 40, 32), trunk_feats=m.trunk_cache(torch.rand(1, 1, 32, 32)))
    assert create_model("colormamba-small", tiny=True).trunk_cache_stages == ()


def test_bad_options_are_refused():
    with pytest.raises(CrossspecError, match="rgb_encoder must be one of conv, vgg16"):
        ColorMamba(**TINY, rgb_encoder="resnet")
    with pytest.raises(CrossspecError, match="rgb_frozen_stages only apply with rgb_encoder='vgg16'"):
        ColorMamba(**TINY, rgb_frozen_stages=2)
    with pytest.raises(CrossspecError, match=r"rgb_encoder_stages must be in 2\.\.5"):
        ColorMamba(**{**TINY_VGG16, "rgb_encoder_stages": 6})
    with pytest.raises(CrossspecError, match=r"rgb_frozen_stages must be in 0\.\.3"):
        ColorMamba(**{**TINY_VGG16, "rgb_frozen_stages": 4})
    with pytest.raises(CrossspecError, match="rgb_encoder='conv', which has no pretrained encoder"):
        ColorMamba(**TINY).load_encoder(_features_state())


def test_cooperative_colorizer_takes_the_option_and_its_weights():
    m = create_model("cocolor-small", tiny=True, rgb_encoder="vgg16", rgb_encoder_stages=3)
    assert isinstance(m.encoder, VGG16Trunk) and m.encoder is m.colorizer.encoder
    state = _features_state(seed=4)
    m.load_encoder(state)
    torch.testing.assert_close(m.colorizer.encoder.features[0].weight, state["0.weight"])
    for domain in ("nir", "gray"):
        assert m(torch.rand(1, 1, 19, 33), domain).shape == (1, 3, 19, 33)
    assert create_model("cocolor-small", tiny=True).encoder is None


@pytest.mark.parametrize("path", ["configs/nir/colormamba-small-vgg16.yaml", "configs/nir/cooperative-vgg16.yaml"])
def test_shipped_configs_build_a_frozen_vgg_rgb_encoder(path):
    from pathlib import Path

    from crossspec.config import load_config

    cfg = load_config(Path(__file__).resolve().parents[2] / path)
    assert cfg.model.encoder_weights == "auto" and cfg.train.channels_last
    with torch.device("meta"):
        model = create_model(cfg.model.name, **cfg.model.kwargs)
    assert model.encoder.arch == "vgg16" and model.encoder.stages == model.encoder.frozen_stages == 5
