import time

import numpy as np
import pytest
import torch
from PIL import Image

from crossspec.data import build_dataset
from crossspec.data.demo import Demo
from crossspec.data.epfl import RGBNIRScene
from crossspec.data.folders import PairedFolders, RGBFolderGray, match_key
from crossspec.errors import ConfigError, DataError
from crossspec.io.image import save_image


def _png(path, shape, value=0, mode=None):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full(shape, value, np.uint8)).save(path)


@pytest.fixture
def epfl_root(tmp_path):
    for cat, n in (("country", 7), ("water", 3)):
        for i in range(n):
            d = tmp_path / "nirscene1" / cat
            d.mkdir(parents=True, exist_ok=True)
            save_image(d / f"{i:04d}_nir.tiff", np.full((6, 9), i, np.uint8))
            save_image(d / f"{i:04d}_rgb.tiff", np.full((6, 9, 3), i, np.uint8))
    return tmp_path


def test_epfl_layouts_and_split(epfl_root):
    all_ = RGBNIRScene(epfl_root)
    assert len(all_) == 10
    test = RGBNIRScene(epfl_root, split="test")
    assert [s for s, *_ in test.items] == ["country_0004"]  # every 5th pair per category
    assert len(RGBNIRScene(epfl_root, split="train")) == 9
    s = RGBNIRScene(epfl_root / "nirscene1", categories=["water"])[2]
    assert s["key"] == "water_0002" and s["name"] == "water_0002_nir" and s["input"].shape == (1, 6, 9)
    assert len(RGBNIRScene(epfl_root / "nirscene1" / "country")) == 7
    with pytest.raises(DataError, match="category urban not found; found country, water"):
        RGBNIRScene(epfl_root, categories="urban")
    with pytest.raises(DataError, match="split 'val'"):
        RGBNIRScene(epfl_root, split="val")


def test_epfl_jpg_folder_and_errors(tmp_path):
    _png(tmp_path / "0000_nir.png", (5, 5))
    _png(tmp_path / "0000_rgb.png", (5, 5, 3))
    Image.fromarray(np.zeros((5, 5), np.uint8)).save(tmp_path / "0001_nir.jpg")
    Image.fromarray(np.zeros((5, 5, 3), np.uint8)).save(tmp_path / "0001_rgb.jpg")
    assert len(build_dataset("epfl", root=tmp_path)) == 2
    _png(tmp_path / "0002_nir.png", (5, 5))
    with pytest.raises(DataError, match=r"0002_nir\.png: NIR image has no RGB partner"):
        RGBNIRScene(tmp_path)
    with pytest.raises(DataError, match="nirscene1.zip"):
        RGBNIRScene(tmp_path / "empty")


@pytest.mark.shared_data
def test_epfl_real_country(shared_data):
    ds = RGBNIRScene(shared_data / "epfl-rgbnir-country", split="test")
    assert len(ds) == 10
    assert ds[0]["input"].shape[-2:] == ds[0]["target"].shape[-2:]


def test_match_key():
    assert match_key("Testing_0005_rgb_reg") == match_key("testing_0005_nir_reg") == "testing_0005"
    assert match_key("a_nir") == match_key("A_RGB") == "a"
    assert match_key("plain") == "plain"


def test_paired_folders(tmp_path):
    for n in ("a", "b"):
        _png(tmp_path / "in" / f"{n}_nir.png", (4, 4), 10)
        _png(tmp_path / "out" / f"{n}_rgb_reg.png", (4, 4, 3), 20)
    ds = PairedFolders(tmp_path / "in", tmp_path / "out", domain="gray")
    s = ds[1]
    assert (s["key"], s["name"], s["domain"]) == ("b", "b_nir", "gray")
    assert torch.allclose(s["input"], torch.full((1, 4, 4), 10 / 255))
    _png(tmp_path / "in" / "c_nir.png", (4, 4))
    _png(tmp_path / "out" / "d_rgb.png", (4, 4, 3))
    with pytest.raises(DataError, match=r"input\(s\) without a target.*c_nir\.png.*target\(s\) without an input.*d_rgb\.png"):
        PairedFolders(tmp_path / "in", tmp_path / "out")
    with pytest.raises(DataError, match="input folder not found"):
        PairedFolders(tmp_path / "nope", tmp_path / "out")
    with pytest.raises(ConfigError, match="target_dir"):
        build_dataset("paired", root=tmp_path / "in")


def test_paired_size_mismatch_names_file(tmp_path):
    _png(tmp_path / "in" / "a.png", (4, 4))
    _png(tmp_path / "out" / "a.png", (4, 5, 3))
    with pytest.raises(DataError, match=r"a\.png: input is \(4, 4\)"):
        PairedFolders(tmp_path / "in", tmp_path / "out")[0]


def test_rgb_folder_gray(tmp_path):
    rgb = np.zeros((3, 4, 3), np.uint8)
    rgb[..., 1] = 255
    _png(tmp_path / "x.png", (3, 4, 3))
    (tmp_path / "sub").mkdir()
    Image.fromarray(rgb).save(tmp_path / "sub" / "y.jpg")
    Image.fromarray(np.dstack([rgb, np.full((3, 4), 255, np.uint8)])).save(tmp_path / "sub" / "z.png")
    (tmp_path / "notes.txt").write_text("not an image")
    ds = RGBFolderGray(tmp_path)
    assert [s for s in (ds[i]["key"] for i in range(len(ds)))] == ["sub/y", "sub/z", "x"]
    z = ds[1]
    assert z["domain"] == "gray" and z["target"].shape == (3, 3, 4)
    assert torch.allclose(z["input"], torch.full((1, 3, 4), 0.587), atol=1e-6)
    assert len(RGBFolderGray(tmp_path, recursive=False)) == 1
    _png(tmp_path / "g.png", (3, 4))
    with pytest.raises(DataError, match=r"g\.png: expected an RGB image, found 1"):
        RGBFolderGray(tmp_path)[0]
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "bad.png").write_bytes(b"junk")
    with pytest.raises(DataError, match="no readable image"):
        RGBFolderGray(tmp_path / "empty")
    with pytest.raises(ConfigError, match="gray-domain only"):
        build_dataset("rgb-folder", root=tmp_path, domain="nir")


def test_demo_deterministic_and_disjoint():
    a, b = Demo("train", size=32, length=4), Demo("train", size=32, length=4)
    for i in range(4):
        assert torch.equal(a[i]["input"], b[i]["input"]) and torch.equal(a[i]["target"], b[i]["target"])
    assert not torch.equal(a[0]["target"], a[1]["target"])
    assert not torch.equal(a[0]["target"], Demo("val", size=32)[0]["target"])
    assert not torch.equal(a[0]["target"], Demo("test", size=32)[0]["target"])
    assert not torch.equal(a[0]["target"], Demo("train", size=32, seed=1)[0]["target"])
    s = a[0]
    assert s["input"].shape == (1, 32, 32) and s["target"].shape == (3, 32, 32) and s["input"].dtype == torch.float32
    assert 0 <= s["input"].min() and s["input"].max() <= 1 and 0 <= s["target"].min() and s["target"].max() <= 1
    assert len(Demo("val")) == 64 and len(Demo("train", length=7)) == 7
    g = Demo("train", size=32, domain="gray")[0]
    assert g["domain"] == "gray" and torch.allclose(g["target"], s["target"])
    with pytest.raises(DataError, match="split 'dev'"):
        Demo("dev")
    with pytest.raises(IndexError):
        Demo("val", length=2)[2]


def test_demo_physics_and_speed():
    # NIR is informative but not a per-pixel function: vegetation (green) and clouds (white) overlap
    # in NIR, so the best per-pixel lookup still leaves a large error, while NIR copied to gray is worse.
    ds = Demo("train", size=64, length=48)
    xs = torch.stack([ds[i]["input"] for i in range(48)])
    ys = torch.stack([ds[i]["target"] for i in range(48)])
    bins = (xs * 31.999).long().flatten()
    y = ys.permute(1, 0, 2, 3).reshape(3, -1)
    sums = torch.zeros(3, 32).index_add_(1, bins, y)
    counts = torch.bincount(bins, minlength=32).clamp(min=1)
    lut = (sums / counts)[:, bins]
    mse_lut = ((lut - y) ** 2).mean()
    mse_copy = ((xs.flatten() - y) ** 2).mean()
    assert mse_lut < 0.5 * mse_copy  # NIR carries colour information
    assert mse_lut > 1e-3  # ...but not all of it
    green_bright = (y[1] > y[0] + 0.1) & (xs.flatten() > 0.6)
    assert green_bright.float().mean() > 0.02  # vegetation: green in RGB and bright in NIR
    t = time.perf_counter()
    for i in range(40):
        ds[i]
    assert (time.perf_counter() - t) / 40 < 0.05  # budget is 5 ms; loose bound for shared CI machines


def test_rgb_folder_hashed_split_is_stable_and_disjoint(tmp_path):
    for i in range(30):
        _png(tmp_path / f"d{i % 3}" / f"im{i:02d}.png", (4, 4, 3))
    all_ = {s["key"] for s in RGBFolderGray(tmp_path)}
    train = [RGBFolderGray(tmp_path, split="train", val_fraction=0.3)[i]["key"]
             for i in range(len(RGBFolderGray(tmp_path, split="train", val_fraction=0.3)))]
    val = {s["key"] for s in RGBFolderGray(tmp_path, split="val", val_fraction=0.3)}
    assert val and set(train) | val == all_ and not set(train) & val
    # adding images never moves an existing one between splits
    _png(tmp_path / "new.png", (4, 4, 3))
    assert val <= {s["key"] for s in build_dataset("rgb-folder", root=tmp_path, split="val", val_fraction=0.3)}
    with pytest.raises(DataError, match="split 'test' is not one of all, train, val"):
        RGBFolderGray(tmp_path, split="test")


def test_every_dataset_implements_the_contract_and_the_check_leaves_transforms_alone():
    from crossspec.data import DATASETS
    from crossspec.data.base import ColorizationDataset
    from crossspec.engine.data import check_dataset

    assert all(issubclass(cls, ColorizationDataset) for cls in DATASETS.values())
    calls = []

    def tag(sample):
        calls.append(sample["key"])
        return {**sample, "input": sample["input"][:, :8, :8]}

    ds = Demo(split="val", size=32, length=3, transforms=tag)
    check_dataset(ds, split="val", crop=16, domain="nir")  # sees the untransformed 32x32 samples
    assert ds.transforms is tag and calls == []
    assert ds[0]["input"].shape[-2:] == (8, 8) and ds.load(0)["input"].shape[-2:] == (32, 32)
    assert ds.keys == [ds.load(i)["key"] for i in range(len(ds))]
