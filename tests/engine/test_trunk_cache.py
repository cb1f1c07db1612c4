"""train.cache_trunk: a frozen trunk's features computed once per image give the same training
samples a user would get by running the trunk on each crop's image (on the crop grid), and a
cached run trains and resumes exactly like any other."""
import pytest
import torch
from safetensors.torch import load_file

from tests.engine.tiny_data import TinyPairs

from crossspec.config import from_dict
from crossspec.engine.trainer import Trainer, seed_everything
from crossspec.engine.trunk_cache import TrunkCache, trunk_features
from crossspec.errors import ConfigError
from crossspec.models import create_model

TINY = {"stages": 3, "frozen_stages": 3, "widths": (8, 8)}


def _model(**kw):
    torch.manual_seed(0)
    return create_model("unet-vgg16", **{**TINY, **kw})


def _find(whole: torch.Tensor, crop: torch.Tensor) -> tuple[int, int]:
    c = crop.shape[-1]
    for top in range(whole.shape[-2] - c + 1):
        for left in range(whole.shape[-1] - c + 1):
            if torch.equal(whole[..., top:top + c, left:left + c], crop):
                return top, left
    raise AssertionError("crop not found in the image")


def test_cached_whole_image_gives_the_uncached_output():
    m = _model().eval()
    x = torch.rand(2, 1, 32, 32)
    with torch.no_grad():
        plain = m(x)
        cached = m(x, trunk_feats=m.trunk_cache(x))
    torch.testing.assert_close(cached, plain)


def test_samples_cut_image_and_features_on_the_same_grid_and_mirror_both():
    m = _model()
    data = TinyPairs(n=2, size=32)
    cache = TrunkCache(data, m, crop=16, hflip=True, device=torch.device("cpu"), max_gb=1)
    assert cache.stages == (1, 2) and cache.align == 4
    seen_mirror = seen_plain = False
    for seed in range(12):
        torch.manual_seed(seed)
        s = cache[1]
        whole = data.load(1)["input"]
        mirrored = not any(torch.equal(whole[..., t:t + 16, l:l + 16], s["input"])
                           for t in range(17) for l in range(17))
        src = whole.flip(-1) if mirrored else whole
        seen_mirror |= mirrored
        seen_plain |= not mirrored
        top, left = _find(src, s["input"])
        assert top % 4 == 0 and left % 4 == 0
        torch.testing.assert_close(s["target"], (data.load(1)["target"].flip(-1) if mirrored
                                                 else data.load(1)["target"])[..., top:top + 16, left:left + 16])
        ref = m.trunk_cache(src[None])
        for stage, f in trunk_features(s).items():
            k = 2 ** stage
            want = ref[stage][0, :, top // k:(top + 16) // k, left // k:(left + 16) // k]
            torch.testing.assert_close(f, want.half().float())
    assert seen_mirror and seen_plain


def test_refuses_what_it_cannot_cache():
    data = TinyPairs(n=2, size=32)
    cpu = torch.device("cpu")
    with pytest.raises(ConfigError, match="multiple of 4"):
        TrunkCache(data, _model(), crop=10, hflip=False, device=cpu, max_gb=1)
    with pytest.raises(ConfigError, match="no frozen trunk stage"):
        TrunkCache(data, _model(frozen_stages=1), crop=16, hflip=False, device=cpu, max_gb=1)
    with pytest.raises(ConfigError, match="cache_trunk_gb"):
        TrunkCache(data, _model(), crop=16, hflip=True, device=cpu, max_gb=1e-6)


@pytest.mark.parametrize("key,value", [("dihedral", True), ("contrast", [0.5, 1.5]), ("resize", 24)])
def test_config_refuses_augmentations_the_cache_cannot_reproduce(key, value):
    with pytest.raises(ConfigError, match=f"data.{key}"):
        from_dict({"model": {"name": "unet-vgg16", "kwargs": TINY}, "data": {"crop": 16, key: value},
                   "train": {"steps": 1, "cache_trunk": True}})


def _cfg(steps, cache=True, name="unet-vgg16", kwargs=TINY):
    return from_dict({
        "model": {"name": name, "kwargs": kwargs},
        "data": {"crop": 16, "batch_size": 2, "workers": 0, "hflip": True},
        "train": {"steps": steps, "lr": 1e-2, "seed": 3, "ema_decay": 0.9, "log_every": 1, "ckpt_every": 1,
                  "cache_trunk": cache},
        "loss": {"weights": {"l1": 1.0}},
    })


def test_a_cached_run_learns_and_resumes_exactly(tmp_path):
    train, val = TinyPairs(n=4, size=32), TinyPairs(n=1, size=32, seed=1)
    run = lambda d, **kw: Trainer(_cfg(6), tmp_path / d, device="cpu", train_set=train, val_set=val,  # noqa: E731
                                  progress=False, **kw)
    straight = run("a").fit()
    trained = {k[6:]: v for k, v in load_file(str(straight.last)).items() if k.startswith("model.")}
    seed_everything(3)  # the run's seed: its model starts from these weights
    untouched = create_model("unet-vgg16", **TINY).state_dict()
    assert trained.keys() == untouched.keys()
    assert all(not torch.equal(trained[k], untouched[k]) for k in trained if k.startswith("fuses"))
    assert all(torch.equal(trained[k], untouched[k]) for k in trained if k.startswith("encoder"))  # frozen
    run("b").fit(stop_after=3)
    resumed = run("b", resume=True).fit()
    a, b = load_file(str(straight.last)), load_file(str(resumed.last))
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_a_model_without_a_frozen_trunk_is_refused_by_name(tmp_path):
    train, val = TinyPairs(n=4, size=32), TinyPairs(n=1, size=32, seed=1)
    cfg = _cfg(1, name="unet", kwargs={"base": 4, "depth": 2})
    with pytest.raises(ConfigError, match="'unet' has no frozen trunk"):
        Trainer(cfg, tmp_path / "u", device="cpu", train_set=train, val_set=val, progress=False).fit()
