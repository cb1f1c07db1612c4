import pytest
import torch

from crossspec.data import transforms as T
from crossspec.errors import DataError


def _sample(h=10, w=12):
    x = torch.arange(h * w, dtype=torch.float32).view(1, h, w) / (h * w)
    return {"input": x, "target": x.expand(3, h, w).clone(), "name": "s1", "key": "s1", "domain": "nir"}


def test_random_crop_same_window():
    torch.manual_seed(3)
    seen = set()
    for _ in range(20):
        out = T.RandomCrop(4)(_sample())
        assert out["input"].shape == (1, 4, 4) and out["target"].shape == (3, 4, 4)
        assert torch.equal(out["target"][1:2], out["input"])
        seen.add(float(out["input"][0, 0, 0]))
    assert len(seen) > 5  # the window moves
    assert T.RandomCrop((10, 12))(_sample())["input"].shape == (1, 10, 12)


def test_crop_too_small_names_sample():
    with pytest.raises(DataError, match=r"sample s1: image is 10x12, smaller than the 11x11 crop"):
        T.RandomCrop(11)(_sample())
    with pytest.raises(DataError, match="sample s1"):
        T.RandomResizedCrop(size=16, crop=11)(_sample())


def test_random_resized_crop():
    torch.manual_seed(0)
    out = T.RandomResizedCrop(size=16, crop=8)(_sample())
    assert out["input"].shape == (1, 16, 16) and out["target"].shape == (3, 16, 16)
    assert torch.allclose(out["target"][2:3], out["input"])
    assert out["input"].min() >= 0 and out["input"].max() <= 1
    out = T.RandomResizedCrop(6, scale=(0.3, 0.6))(_sample())
    assert out["input"].shape == (1, 6, 6)
    # a full-size crop resized to its own size is the identity
    s = _sample(8, 8)
    assert torch.allclose(T.RandomResizedCrop(8, crop=8)(s)["input"], s["input"], atol=1e-6)


def test_flip_and_compose():
    s = _sample()
    flipped = T.RandomHorizontalFlip(p=1.0)(s)
    assert torch.equal(flipped["input"], s["input"].flip(-1)) and torch.equal(flipped["target"], s["target"].flip(-1))
    assert T.RandomHorizontalFlip(p=0.0)(s) is s
    g = torch.Generator().manual_seed(1)
    pipe = T.Compose([T.RandomCrop(6, generator=g), T.RandomHorizontalFlip(generator=g)])
    out = pipe(s)
    assert out["input"].shape == (1, 6, 6) and torch.equal(out["target"][0:1], out["input"])
    assert out["name"] == "s1"


def test_mismatched_pair_rejected():
    s = _sample()
    s["target"] = torch.zeros(3, 9, 12)
    with pytest.raises(DataError, match="differ in size"):
        T.RandomCrop(4)(s)


def test_dihedral_moves_input_target_and_mask_together_and_reaches_all_eight():
    x = torch.arange(16.0).view(1, 4, 4) / 16
    sample = {"input": x, "target": x.repeat(3, 1, 1), "mask": (x > 0.3).float(), "name": "s"}
    g = torch.Generator().manual_seed(0)
    t = T.RandomDihedral(generator=g)
    seen = set()
    for _ in range(200):
        out = t(sample)
        assert torch.equal(out["target"][0], out["input"][0])
        assert torch.equal(out["mask"][0], (out["input"][0] > 0.3).float())
        assert sorted(out["input"].flatten().tolist()) == sorted(x.flatten().tolist())  # a permutation
        seen.add(tuple(out["input"].flatten().tolist()))
    assert len(seen) == 8
    with pytest.raises(DataError, match="square"):
        t({"input": torch.rand(1, 4, 6), "target": torch.rand(3, 4, 6), "name": "wide"})


def test_contrast_changes_the_input_only_and_keeps_its_mean():
    x = torch.linspace(0.3, 0.7, 64).view(1, 8, 8)
    target = torch.rand(3, 8, 8)
    t = T.RandomContrast((0.5, 0.5))
    out = t({"input": x, "target": target, "name": "s"})
    assert torch.equal(out["target"], target)
    assert torch.allclose(out["input"].mean(), x.mean(), atol=1e-6)
    assert torch.allclose(out["input"].std(), 0.5 * x.std(), atol=1e-5)
    boosted = T.RandomContrast((3.0, 3.0))({"input": x, "target": target})["input"]
    assert boosted.min() == 0 and boosted.max() == 1  # clamped to [0, 1]
    with pytest.raises(ValueError, match="0 < lo <= hi"):
        T.RandomContrast((1.5, 0.5))


def test_train_transforms_follow_the_config():
    from crossspec.config import from_dict
    from crossspec.engine.data import train_transforms

    cfg = from_dict({"data": {"crop": 8, "dihedral": True, "contrast": [0.5, 1.5]}, "train": {"steps": 1}})
    kinds = [type(t).__name__ for t in train_transforms(cfg.data).transforms]
    assert kinds == ["RandomCrop", "RandomDihedral", "RandomContrast"]
    plain = [type(t).__name__ for t in train_transforms(from_dict({"data": {"crop": 8}, "train": {"steps": 1}}).data).transforms]
    assert plain == ["RandomCrop", "RandomHorizontalFlip"]
