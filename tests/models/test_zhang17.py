"""zhang17: the hint-guided colorizer and its training task."""
import json

import pytest
import torch

from tests.engine.tiny_data import TinyPairs

from crossspec.color import LUMA_BT601, gray_to_rgb, rgb_to_lab
from crossspec.config import from_dict
from crossspec.engine.tasks.hint_guided import WithSimulatedHints
from crossspec.engine.trainer import Trainer
from crossspec.models import create_model, get_entry, load_model
from crossspec.models.zhang17.model import AB_SCALE, hint_pyramid_level, propagate_hints


def _hints(b, h, w, rows=slice(2, 6), cols=slice(3, 7), a=0.5, bb=-0.3):
    ab, mask = torch.zeros(b, 2, h, w), torch.zeros(b, 1, h, w)
    ab[:, 0, rows, cols], ab[:, 1, rows, cols], mask[:, :, rows, cols] = a, bb, 1
    return ab, mask


def test_entry_says_hint_task_both_domains():
    e = get_entry("zhang17")
    assert e.task == "hint-colorize" and set(e.domains) == {"nir", "gray"}


@pytest.mark.parametrize("hw", [(16, 16), (19, 30), (5, 7)])
@pytest.mark.parametrize("lightness", ["predict", "input"])
def test_any_size_rgb_in_range_with_and_without_hints(hw, lightness):
    m = create_model("zhang17", tiny=True, lightness=lightness).eval()
    x = torch.rand(2, 1, *hw)
    y = m(x)
    assert y.shape == (2, 3, *hw) and 0 <= y.min() and y.max() <= 1
    assert m(x, hints=_hints(2, *hw, rows=slice(0, 2), cols=slice(0, 2))).shape == (2, 3, *hw)
    # no hints is the all-zero hint map
    zero = (torch.zeros(2, 2, *hw), torch.zeros(2, 1, *hw))
    torch.testing.assert_close(m(x), m(x, hints=zero))


def test_hints_change_the_output_and_get_gradient():
    torch.manual_seed(0)
    m = create_model("zhang17", tiny=True, frozen_stages=0)
    x = torch.rand(1, 1, 16, 16)
    with torch.no_grad():
        assert not torch.allclose(m(x), m(x, hints=_hints(1, 16, 16)))
    ab, mask = _hints(1, 16, 16)
    ab.requires_grad_(True)
    m(x, hints=(ab, mask)).mean().backward()
    assert ab.grad is not None and ab.grad.abs().sum() > 0
    assert all(p.grad is not None for p in m.parameters() if p.requires_grad)


def test_wrong_hint_shapes_are_refused():
    m = create_model("zhang17", tiny=True)
    with pytest.raises(ValueError, match="hints must be"):
        m(torch.rand(1, 1, 8, 8), hints=(torch.zeros(1, 2, 8, 8), torch.zeros(1, 1, 4, 4)))
    with pytest.raises(ValueError, match="lightness"):
        create_model("zhang17", tiny=True, lightness="guess")


def test_hint_pyramid_is_the_mean_hint_and_hinted_fraction_per_cell():
    ab, mask = torch.zeros(1, 2, 4, 4), torch.zeros(1, 1, 4, 4)
    ab[0, 0, 0, 0], ab[0, 0, 0, 1], mask[0, 0, 0, :2] = 0.2, 0.6, 1  # two hinted pixels of the first 2x2 cell
    level = hint_pyramid_level(ab, mask, 2)
    assert level.shape == (1, 3, 2, 2)
    torch.testing.assert_close(level[0, :, 0, 0], torch.tensor([0.4, 0.0, 0.5]))
    assert level[0, :, 1, 1].abs().sum() == 0


def test_untrained_nir_model_starts_from_the_input_as_gray():
    m = create_model("zhang17", tiny=True).eval()
    x = torch.rand(1, 1, 12, 12)
    lab = m.forward_train(x)["lab"]
    torch.testing.assert_close(lab[:, :1], rgb_to_lab(gray_to_rgb(x))[:, :1], atol=1e-3, rtol=0)


def test_gray_lightness_keeps_the_input_as_luminance():
    torch.manual_seed(1)
    m = create_model("zhang17", tiny=True, lightness="input").eval()
    with torch.no_grad():
        m.to_ab.weight.normal_(0, 0.05)  # a colourful output
    x = torch.rand(1, 1, 12, 12) * 0.6 + 0.2
    rgb = m(x, hints=_hints(1, 12, 12))
    luma = (rgb * torch.tensor(LUMA_BT601).view(1, 3, 1, 1)).sum(1, keepdim=True)
    inside = ((rgb > 0) & (rgb < 1)).all(1, keepdim=True)  # the final clamp may move the others
    assert inside.float().mean() > 0.5 and (rgb.std(1) > 0.02).any()
    torch.testing.assert_close(luma[inside], x[inside], atol=1e-4, rtol=0)


def test_simulated_hints_dataset_is_deterministic_under_the_engine_seed():
    from crossspec.engine.data import SeededDataset

    ds = SeededDataset(WithSimulatedHints(TinyPairs(n=3, size=16)), seed=4)
    a, b = ds[(0, 1)], ds[(0, 1)]
    assert a["hint_ab"].shape == (2, 16, 16) and a["hint_mask"].shape == (1, 16, 16)
    assert torch.equal(a["hint_ab"], b["hint_ab"]) and torch.equal(a["hint_mask"], b["hint_mask"])
    masks = [ds[(e, i)]["hint_mask"] for e in range(4) for i in range(3)]
    assert len({m.sum().item() for m in masks}) > 1  # the draws differ between samples and epochs


def _cfg(steps, domain="nir"):
    return from_dict({
        "domain": domain,
        "model": {"name": "zhang17", "kwargs": {"stages": 3, "frozen_stages": 3, "widths": [8, 8],
                                                "lightness": "predict" if domain == "nir" else "input"}},
        "data": {"crop": 8, "batch_size": 2, "workers": 0},
        "train": {"steps": steps, "lr": 1e-2, "seed": 2, "ema_decay": None, "log_every": 1, "ckpt_every": 1},
        "loss": {"weights": {"l1": 1.0}},
    })


@pytest.mark.parametrize("domain", ["nir", "gray"])
def test_trains_through_the_trainer_and_resumes_exactly(tmp_path, domain):
    train, val = TinyPairs(n=4, size=16, crop=8, domain=domain), TinyPairs(n=1, size=16, seed=1, domain=domain)
    straight = Trainer(_cfg(2, domain), tmp_path / "a", device="cpu", train_set=train, val_set=val,
                       progress=False).fit()
    assert straight.step == 2 and "psnr" in straight.metrics
    lines = [json.loads(l) for l in (tmp_path / "a/log.jsonl").read_text().splitlines()]
    assert [l["step"] for l in lines if l["kind"] == "train"] == [1, 2]
    model = load_model(tmp_path / "a")
    assert type(model).__name__ == "HintGuidedColorizer"
    if domain == "gray":
        return
    Trainer(_cfg(2), tmp_path / "b", device="cpu", train_set=train, val_set=val, progress=False).fit(stop_after=1)
    resumed = Trainer(_cfg(2), tmp_path / "b", device="cpu", resume=True, train_set=train, val_set=val,
                      progress=False).fit()
    from safetensors.torch import load_file

    a, b = load_file(str(straight.last)), load_file(str(resumed.last))
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_an_untrained_model_already_follows_a_hint_and_ignores_absent_ones():
    """The hint gate starts open on a hint: a user's pinned colour shows at once; no hint changes nothing."""
    torch.manual_seed(0)
    model = create_model("zhang17", tiny=True).eval()
    x = torch.rand(1, 1, 32, 32)
    ab, mask = _hints(1, 32, 32, rows=slice(10, 17), cols=slice(10, 17), a=0.4, bb=0.3)
    with torch.no_grad():
        plain = model.forward_train(x)["lab"]
        zeros = model.forward_train(x, (torch.zeros_like(ab), torch.zeros_like(mask)))["lab"]
        hinted = model.forward_train(x, (ab, mask))["lab"]
    assert torch.equal(plain, zeros)
    want = torch.tensor([0.4, 0.3]) * AB_SCALE
    at_hint = hinted[0, 1:, 13, 13]
    assert torch.allclose(at_hint, want, atol=2.0), at_hint
    far = hinted[0, 1:, 30, 30] - plain[0, 1:, 30, 30]
    assert far.abs().max() < 0.5 * (want - plain[0, 1:, 30, 30]).abs().max()


def test_propagated_hints_are_the_hint_colour_where_they_reach_and_zero_elsewhere():
    ab, mask = _hints(1, 64, 64, rows=slice(8, 12), cols=slice(8, 12), a=0.5, bb=-0.25)
    prop, density = propagate_hints(ab, mask)
    assert density.shape == (1, 3, 64, 64)
    reached = density.sum(1) > 1e-6
    # one colour in: that colour wherever it reaches, nothing where it does not
    assert torch.allclose(prop[0, 0][reached[0]], torch.tensor(0.5), atol=1e-5)
    assert torch.allclose(prop[0, 1][reached[0]], torch.tensor(-0.25), atol=1e-5)
    assert reached[0, 10, 10] and not reached[0, 60, 60] and (prop[0, :, 60, 60] == 0).all()
    assert density[0, 0, 10, 10] == 1 and density[0, 0, 20, 20] == 0 and density[0, 2, 20, 20] > 0
