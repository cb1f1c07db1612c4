import math

import pytest
import torch

from tests.engine.tiny_data import TinyPairs

from crossspec.color import LUMA_BT601
from crossspec.config import from_dict
from crossspec.engine.trainer import Trainer
from crossspec.models import create_model, load_model
from crossspec.models.ddcolor import DDColorSmall
from crossspec.models.ddcolor.color_decoder import Attention, ColorDecoder, ColorQueryBlock
from crossspec.models.ddcolor.positional import sine_positions

TINY = dict(stages=3, frozen_stages=3, widths=(8, 8), num_queries=4, dim=8, layers=3, heads=2)


@pytest.mark.parametrize("lightness", ["predict", "input"])
@pytest.mark.parametrize("hw", [(16, 16), (19, 30), (5, 7)])
def test_any_size_gives_rgb_in_range(hw, lightness):
    torch.manual_seed(0)
    model = create_model("ddcolor-small", tiny=True, lightness=lightness).eval()
    out = model.forward_train(torch.rand(2, 1, *hw))
    assert out["rgb"].shape == (2, 3, *hw) and 0 <= out["rgb"].min() and out["rgb"].max() <= 1
    assert out["color_embedding"].shape == (2, 4, *hw)
    x = torch.rand(1, 1, *hw)
    torch.testing.assert_close(model(x), model.forward_train(x)["rgb"])
    lab = out["lab"]
    assert 0 <= lab[:, 0].min() and lab[:, 0].max() <= 100 and lab[:, 1:].abs().max() <= model.ab_range


@pytest.mark.parametrize("lightness", ["predict", "input"])
def test_runs_under_bf16_autocast_with_a_float32_colour_conversion(lightness):
    torch.manual_seed(0)
    model = DDColorSmall(**TINY, lightness=lightness)
    x = torch.rand(1, 1, 16, 16)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = model.forward_train(x)
    assert out["rgb"].dtype == torch.float32 and out["lab"].dtype == torch.float32
    torch.testing.assert_close(out["rgb"], model(x), atol=0.05, rtol=0)


def test_channels_last_gives_the_same_colours():
    torch.manual_seed(0)
    model = DDColorSmall(**TINY)
    x = torch.rand(2, 1, 16, 16)
    plain = model(x)
    model.to(memory_format=torch.channels_last)
    torch.testing.assert_close(model(x.contiguous(memory_format=torch.channels_last)), plain, atol=1e-5, rtol=0)


def test_gradient_reaches_queries_decoders_and_heads_not_the_frozen_trunk():
    torch.manual_seed(0)
    model = DDColorSmall(**TINY)
    model(torch.rand(2, 1, 16, 16)).mean().backward()
    dec = model.color_decoder
    for name, p in [("query_feat", dec.query_feat), ("query_pos", dec.query_pos), ("level_embed", dec.level_embed),
                    ("to_ab", model.to_ab.weight), ("to_l", model.to_l.weight), ("embed", model.embed.weight)]:
        assert p.grad is not None and p.grad.abs().sum() > 0, name
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.pixel_decoder.parameters())
    assert all(not p.requires_grad and p.grad is None for p in model.encoder.parameters())


def test_lightness_from_input_keeps_the_gray_input_as_luminance():
    torch.manual_seed(1)
    model = DDColorSmall(**TINY, lightness="input")
    assert model.to_l is None
    x = torch.rand(2, 1, 12, 12) * 0.5 + 0.25
    y = model(x)
    luma = (y * torch.tensor(LUMA_BT601).view(1, 3, 1, 1)).sum(1, keepdim=True)
    torch.testing.assert_close(luma, x, atol=1e-5, rtol=0)


def test_predicted_lightness_starts_from_the_input():
    # untrained, with no chroma: the output is the input copied to R = G = B (the nir-gray baseline)
    torch.manual_seed(6)
    model = DDColorSmall(**TINY)
    with torch.no_grad():
        model.to_ab.weight.zero_()
    x = torch.rand(1, 1, 16, 16)
    torch.testing.assert_close(model(x), x.expand(-1, 3, -1, -1), atol=2e-4, rtol=0)
    before = model.forward_train(x)["lab"][:, 0]
    with torch.no_grad():
        model.to_l.bias.fill_(1.0)  # a positive correction (logit space) brightens every pixel
    after = model.forward_train(x)["lab"][:, 0]
    assert (after > before).all() and after.max() <= 100


def test_fusion_is_the_query_pixel_dot_product():
    torch.manual_seed(2)
    model = DDColorSmall(**TINY)
    seen = {}
    model.color_decoder.register_forward_hook(lambda m, i, o: seen.__setitem__("queries", o))  # (B, N, C)
    model.embed.register_forward_hook(lambda m, i, o: seen.__setitem__("pixels", o))  # (B, C, H, W)
    with torch.no_grad():  # to_ab: query 0 -> a, query 1 -> b
        model.to_ab.weight.zero_()
        model.to_ab.weight[0, 0] = 1.0
        model.to_ab.weight[1, 1] = 1.0
    out = model.forward_train(torch.rand(1, 1, 16, 16))
    q, e = seen["queries"][0], seen["pixels"][0]
    c = q.shape[1]
    pixel = e[:, 5, 9]  # the embedding of pixel (5, 9)
    torch.testing.assert_close(out["color_embedding"][0, :, 5, 9], q @ pixel / math.sqrt(c))
    torch.testing.assert_close(out["lab"][:, 1:], model.ab_range * torch.tanh(out["color_embedding"][:, :2]))


def test_wrong_input_and_options_are_refused():
    with pytest.raises(ValueError, match=r"expects \(B, 1, H, W\)"):
        create_model("ddcolor-small", tiny=True)(torch.rand(1, 3, 16, 16))
    with pytest.raises(ValueError, match="lightness must be one of"):
        DDColorSmall(**{**TINY, "lightness": "guess"})
    with pytest.raises(ValueError, match="scales must be in"):
        DDColorSmall(**{**TINY, "scales": 4})
    with pytest.raises(ValueError, match="widths needs 2 entries"):
        DDColorSmall(**{**TINY, "widths": (8,)})


# ----------------------------------------------------------------- attention and the colour decoder
def test_attention_matches_a_hand_computation():
    torch.manual_seed(3)
    att = Attention(dim=4, heads=2)
    q, k, v = torch.randn(1, 3, 4), torch.randn(1, 5, 4), torch.randn(1, 5, 4)
    Q, K, V = att.q(q), att.k(k), att.v(v)
    heads = []
    for h in range(2):
        s = slice(2 * h, 2 * h + 2)
        w = torch.softmax(Q[0, :, s] @ K[0, :, s].T / math.sqrt(2), dim=-1)  # (3, 5)
        heads.append(w @ V[0, :, s])
    expected = att.out(torch.cat(heads, dim=1))[None]
    torch.testing.assert_close(att(q, k, v), expected, atol=1e-6, rtol=1e-5)


def test_block_is_blind_to_token_order_and_follows_query_order():
    torch.manual_seed(4)
    block = ColorQueryBlock(dim=8, heads=2, ffn_dim=16).eval()
    q, qpos = torch.randn(2, 5, 8), torch.randn(5, 8)
    mem, mpos = torch.randn(2, 7, 8), torch.randn(7, 8)
    out = block(q, qpos, mem, mpos)
    tokens = torch.randperm(7)
    torch.testing.assert_close(block(q, qpos, mem[:, tokens], mpos[tokens]), out, atol=1e-5, rtol=1e-5)
    queries = torch.randperm(5)
    torch.testing.assert_close(block(q[:, queries], qpos[queries], mem, mpos), out[:, queries], atol=1e-5, rtol=1e-5)
    # and it does read the image: other tokens, other queries
    assert not torch.allclose(block(q, qpos, mem + 1.0, mpos), out, atol=1e-3)


def test_decoder_cycles_through_the_scales_coarsest_first():
    torch.manual_seed(5)
    feats = [torch.randn(1, 8, 2, 2), torch.randn(1, 8, 4, 4), torch.randn(1, 8, 8, 8)]
    two = ColorDecoder(dim=8, num_queries=3, layers=2, scales=3, heads=2).eval()
    out = two(feats)
    assert out.shape == (1, 3, 8)
    # two blocks read scales 0 and 1 only: the finest map does not matter, the others do
    torch.testing.assert_close(two([feats[0], feats[1], torch.randn(1, 8, 8, 8)]), out)
    assert not torch.allclose(two([feats[0], torch.randn(1, 8, 4, 4), feats[2]]), out, atol=1e-4)
    with pytest.raises(ValueError, match="expected 3 feature maps"):
        two(feats[:2])


def test_sine_positions_hand_values_and_scale_invariance():
    p = sine_positions(2, 3, 4)
    assert p.shape == (6, 4) and p.abs().max() <= 1
    # dim 4: one frequency (1) -> [sin y, cos y, sin x, cos x] with y = 2 pi (row + 0.5) / 2 etc.
    y, x = 2 * math.pi * 1.5 / 2, 2 * math.pi * 0.5 / 3  # row 1, column 0 -> flat index 3
    torch.testing.assert_close(p[3], torch.tensor([math.sin(y), math.cos(y), math.sin(x), math.cos(x)]))
    # a relative place keeps its code across sizes: pixel (0, 0) of 2x2 and pixel (1, 1) of 6x6
    torch.testing.assert_close(sine_positions(2, 2, 8)[0], sine_positions(6, 6, 8)[1 * 6 + 1])
    with pytest.raises(ValueError, match="divisible by 4"):
        sine_positions(2, 2, 6)


# ----------------------------------------------------------------- training through the real Trainer
@pytest.mark.parametrize("domain", ["nir", "gray"])
def test_trainer_smoke_with_colorfulness_and_imagenet_encoder(tmp_path, domain):
    import json

    from tests.models.test_trunk_unet import vgg_state

    wfile, state = tmp_path / "vgg16.pth", vgg_state(seed=1)
    torch.save(state, wfile)
    kwargs = dict(TINY, lightness="input" if domain == "gray" else "predict")
    cfg = from_dict({
        "domain": domain,
        "model": {"name": "ddcolor-small", "kwargs": kwargs, "encoder_weights": str(wfile)},
        "data": {"crop": 16, "batch_size": 2, "workers": 0},
        "train": {"steps": 2, "lr": 1e-3, "log_every": 1, "ema_decay": None, "seed": 0},
        "loss": {"weights": {"l1": 1.0, "colorfulness": 0.05}},
    })
    train = TinyPairs(n=4, size=16, crop=16, domain=domain)
    val = TinyPairs(n=1, size=16, seed=1, domain=domain)
    res = Trainer(cfg, tmp_path / "run", device="cpu", train_set=train, val_set=val, progress=False).fit()
    assert res.step == 2 and res.last.is_file()
    model = load_model(tmp_path / "run")
    assert isinstance(model, DDColorSmall) and model.lightness == kwargs["lightness"]
    # the ImageNet trunk was loaded and stayed frozen
    torch.testing.assert_close(model.encoder.features[0].weight, state["features.0.weight"])
    logged = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert all("colorfulness" in line for line in logged if line["kind"] == "train")
    out = model(torch.rand(1, 1, 20, 12))
    assert out.shape == (1, 3, 20, 12)


@pytest.mark.parametrize("path,lightness,has_cf", [("configs/nir/ddcolor-small.yaml", "predict", True),
                                                   ("configs/nir/ddcolor-small-nocf.yaml", "predict", False),
                                                   ("configs/gray/ddcolor-small.yaml", "input", True)])
def test_shipped_configs_build_their_model_and_loss(path, lightness, has_cf):
    from pathlib import Path

    from crossspec.config import load_config
    from crossspec.losses import ColorizationLoss

    cfg = load_config(Path(__file__).resolve().parents[2] / path)
    model = create_model(cfg.model.name, **cfg.model.kwargs)
    assert isinstance(model, DDColorSmall) and model.lightness == lightness
    loss = ColorizationLoss.from_config({"weights": dict(cfg.loss.weights), **cfg.loss.options})
    assert ("colorfulness" in loss.weights) == has_cf
