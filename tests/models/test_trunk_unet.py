import pytest
import torch

from crossspec.models import create_model
from crossspec.models.encoders import IMAGENET_MEAN, IMAGENET_STD, VGG16Trunk
from crossspec.models.encoders.vgg import STAGE_CHANNELS
from crossspec.models.trunk_unet import TrunkUNet


def vgg_state(seed=0):
    """Random weights in torchvision's vgg16 key layout (features + a classifier entry)."""
    torch.manual_seed(seed)
    full = VGG16Trunk(stages=5).features
    state = {f"features.{k}": torch.randn_like(v) * 0.05 for k, v in full.state_dict().items()}
    state["classifier.0.weight"] = torch.randn(4, 4)
    return state


def test_trunk_keys_are_torchvisions():
    keys = set(VGG16Trunk(stages=5).features.state_dict())
    convs = (0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28)
    assert keys == {f"{i}.{p}" for i in convs for p in ("weight", "bias")}


@pytest.mark.parametrize("stages", [1, 3, 5])
def test_trunk_stage_shapes(stages):
    out = VGG16Trunk(stages=stages)(torch.rand(2, 1, 32, 48))
    assert len(out) == stages
    for s, f in enumerate(out):
        assert f.shape == (2, STAGE_CHANNELS[s], 32 // 2**s, 48 // 2**s)


def test_trunk_sees_replicated_imagenet_normalised_input():
    trunk = VGG16Trunk(stages=1)
    trunk.load_imagenet({k.removeprefix("features."): v for k, v in vgg_state().items() if k.startswith("features.")})
    x = torch.rand(1, 1, 8, 8)
    rgb = (x.repeat(1, 3, 1, 1) - torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)) / torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    torch.testing.assert_close(trunk(x)[0], trunk.features(rgb))


def test_learned_input_conv_starts_equal_to_the_replicated_trunk_inside_the_border():
    features = {k.removeprefix("features."): v for k, v in vgg_state().items() if k.startswith("features.")}
    plain, learned = VGG16Trunk(stages=2), VGG16Trunk(stages=2, input_conv="learned")
    plain.load_imagenet(features)
    learned.load_imagenet(features)
    assert learned.features[0].weight.shape == (64, 1, 3, 3)
    x = torch.rand(1, 1, 32, 32)
    a, b = plain(x), learned(x)
    # zero padding pads a different value in the two forms: only the one-pixel ring of stage 1 and
    # what it reaches at stage 2 differ
    torch.testing.assert_close(b[0][..., 2:-2, 2:-2], a[0][..., 2:-2, 2:-2], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(b[1][..., 4:-4, 4:-4], a[1][..., 4:-4, 4:-4], atol=1e-5, rtol=1e-5)
    assert not torch.allclose(b[0], a[0], atol=1e-5)


def test_learned_input_conv_trains_behind_frozen_stages_and_disables_the_cache():
    model = TrunkUNet(stages=3, frozen_stages=3, widths=(8, 8), input_conv="learned")
    assert model.trunk_cache_stages == ()
    model(torch.rand(2, 1, 16, 16)).mean().backward()
    feats = model.encoder.features
    assert all(p.grad is not None for p in feats[0].parameters())
    assert all(not p.requires_grad and p.grad is None for i in range(1, model.encoder.bounds[3])
               for p in feats[i].parameters())
    with pytest.raises(ValueError, match="input_conv"):
        VGG16Trunk(input_conv="adapted")
    with pytest.raises(ValueError, match="conv1_1 has 1 input"):
        VGG16Trunk(stages=1, input_conv="learned").load_imagenet(
            {k: v for k, v in VGG16Trunk(stages=1, input_conv="learned").features.state_dict().items()})


def test_stages_before_outputs_from_run_only_on_the_way_to_later_ones():
    trunk = VGG16Trunk(stages=4, frozen_stages=3)
    x = torch.rand(1, 1, 16, 16)
    full = trunk(x)
    calls = []
    trunk.features[0].register_forward_hook(lambda *a: calls.append(0))
    # nothing cached: stage 0 still runs, as the way to stage 1
    out = trunk(x, outputs_from=1)
    assert calls == [0] and all(torch.equal(a, b) for a, b in zip(out, full))
    # stage 1 cached: stage 0 is not needed and not run
    calls.clear()
    out = trunk(x, {1: full[1]}, outputs_from=1)
    assert calls == [] and out[0] is None
    for a, b in zip(out[1:], full[1:]):
        torch.testing.assert_close(a, b)


def test_load_imagenet_refuses_missing_layers():
    trunk = VGG16Trunk(stages=5)
    partial = {k: v for k, v in trunk.features.state_dict().items() if not k.startswith("28.")}
    with pytest.raises(ValueError, match="28.weight"):
        trunk.load_imagenet(partial)


def test_frozen_stages_get_no_gradient_and_later_ones_do():
    model = TrunkUNet(stages=3, frozen_stages=2, widths=(8, 8))
    model(torch.rand(2, 1, 16, 16)).mean().backward()
    feats = model.encoder.features
    frozen = [p for i in range(model.encoder.bounds[2]) for p in feats[i].parameters()]
    tuned = [p for i in range(model.encoder.bounds[2], model.encoder.bounds[3]) for p in feats[i].parameters()]
    assert frozen and all(not p.requires_grad and p.grad is None for p in frozen)
    assert tuned and all(p.grad is not None for p in tuned)
    assert all(p.grad is not None for p in model.head.parameters())


@pytest.mark.parametrize("hw", [(16, 16), (19, 30), (5, 7)])
def test_any_size_in_rgb_out(hw):
    model = create_model("unet-vgg16", tiny=True).eval()
    x = torch.rand(2, 1, *hw)
    y = model(x)
    assert y.shape == (2, 3, *hw) and 0 <= y.min() and y.max() <= 1


def test_wrong_input_is_refused():
    with pytest.raises(ValueError, match=r"expects \(B, 1, H, W\)"):
        create_model("unet-vgg16", tiny=True)(torch.rand(1, 3, 16, 16))
    with pytest.raises(ValueError, match="widths needs 2 entries"):
        TrunkUNet(stages=3, widths=(8,))


def test_gradcheck_through_frozen_trunk_and_decoder():
    # numerically exact input gradients prove the frozen trunk passes them on (not only the skip)
    model = TrunkUNet(stages=2, frozen_stages=2, widths=(4,)).double()
    x = torch.rand(1, 1, 4, 4, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda t: model(t), (x,), eps=1e-6, atol=1e-4)


def test_frozen_trunk_still_passes_gradient_to_an_input_that_needs_it():
    model = TrunkUNet(stages=3, frozen_stages=3, widths=(8, 8))
    x = torch.rand(1, 1, 16, 16, requires_grad=True)
    model(x).sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    assert all(p.grad is None for p in model.encoder.parameters())  # the weights stay fixed


def test_luma_from_input_keeps_the_gray_input_as_luminance():
    from crossspec.color import LUMA_BT601

    torch.manual_seed(0)
    plain = TrunkUNet(stages=2, frozen_stages=2, widths=(4,))
    keep = TrunkUNet(stages=2, frozen_stages=2, widths=(4,), luma_from_input=True)
    keep.load_state_dict(plain.state_dict())  # the option holds no weights
    x = torch.rand(2, 1, 12, 12) * 0.4 + 0.3
    y, y_plain = keep(x), plain(x)
    luma = (y * torch.tensor(LUMA_BT601).view(1, 3, 1, 1)).sum(1, keepdim=True)
    torch.testing.assert_close(luma, x, atol=1e-6, rtol=0)
    # chroma (differences between channels) is the network's own
    torch.testing.assert_close(y[:, :1] - y[:, 1:2], y_plain[:, :1] - y_plain[:, 1:2], atol=1e-6, rtol=0)


def test_input_residual_starts_at_the_gain_baseline_and_keeps_gradients_out_of_range():
    torch.manual_seed(0)
    m = create_model("unet-vgg16", stages=3, frozen_stages=3, widths=(8, 8), input_residual=True, residual_gain=0.8)
    x = torch.rand(2, 1, 20, 28)
    m.eval()
    with torch.no_grad():
        torch.testing.assert_close(m(x), (0.8 * x).expand(-1, 3, -1, -1))  # nir-gain before training
        m.residual_gain.fill_(2.0)
        out = m(x)
    assert out.max() == 1.0 and out.min() >= 0.0  # eval output is an image
    m.train()
    y = m(x)
    assert y.max() > 1.0  # not clamped while training ...
    (y - 1.0).abs().mean().backward()
    assert m.residual_gain.grad.abs().min() > 0  # ... so too-bright pixels still pull the gain down


def test_input_residual_and_luma_from_input_exclude_each_other():
    with pytest.raises(ValueError, match="exclude"):
        create_model("unet-vgg16", stages=3, frozen_stages=3, widths=(8, 8), input_residual=True, luma_from_input=True)
