import hashlib

import numpy as np
import pytest

from crossspec.data import build_dataset
from crossspec.data.vcip2020 import VCIP2020, all_keys, key_files, read_list
from crossspec.errors import ConfigError, DataError

TEST_DUPLICATES = {"testing_0003": "mountain_0001", "testing_0006": "field_0056", "testing_0015": "forest_0022",
                   "testing_0016": "country_0056", "testing_0017": "field_0021", "testing_0019": "forest_0080",
                   "testing_0024": "country_0008", "testing_0028": "forest_0040"}


def test_split_lists_are_consistent():
    train = read_list("train.txt")
    assert len(train) == 372 and len(set(train)) == 372
    fit, val = set(read_list("train-fit.txt")), set(read_list("train-val.txt"))
    assert not fit & val and fit | val == set(train)
    assert 0.08 * 372 <= len(val) <= 0.16 * 372
    for cat in ("country", "field", "forest", "mountain"):
        assert any(k.startswith(cat) for k in val), f"train-val has no {cat} photo"
    # by photo: each photograph lies wholly in train-val or wholly in train-fit
    groups = [ln.split() for ln in read_list("photo_groups.txt")]
    assert sorted(k for g in groups for k in g) == sorted(train)
    for g in groups:
        assert set(g) <= val or set(g) <= fit, g
    # no photo holding a Testing duplicate is used for validation
    dup_photos = [g for g in groups if set(g) & set(TEST_DUPLICATES.values())]
    assert dup_photos and not any(set(g) & val for g in dup_photos)
    assert read_list("test-28.txt") == [f"testing_{i:04d}" for i in range(1, 29)]
    assert set(read_list("test-clean-20.txt")) == set(read_list("test-28.txt")) - set(TEST_DUPLICATES)
    unseen = set(read_list("test-clean-20.txt")) - {f"testing_{i:04d}" for i in (1, 7, 10, 18, 21)}
    assert set(read_list("test-unseen-15.txt")) == unseen and len(unseen) == 15
    assert set(read_list("test-dup-8.txt")) == set(TEST_DUPLICATES) == set(read_list("test-28.txt")) - set(read_list("test-clean-20.txt"))
    hold = read_list("holdout-23.txt")
    assert set(hold) == {f"validation_{i:04d}" for i in range(18)} | {f"testing_{i:04d}" for i in (5, 7, 9, 13, 21)}


def test_splits_sizes_and_samples(fake_vcip):
    sizes = {s: len(VCIP2020(fake_vcip, split=s)) for s in VCIP2020.splits()}
    assert sizes == {"train": 372, "train-fit": 326, "train-val": 46, "test-28": 28, "test-clean-20": 20, "test-unseen-15": 15, "test-dup-8": 8,
                     "holdout-23": 23}
    s = VCIP2020(fake_vcip, split="test-28")[4]
    assert s["key"] == "testing_0005" and s["name"] == "testing_0005_nir_reg" and s["domain"] == "nir"
    assert s["input"].shape == (1, 8, 8) and s["target"].shape == (3, 8, 8)
    assert s["input"].dtype == s["target"].dtype and str(s["input"].dtype) == "torch.float32"
    v = VCIP2020(fake_vcip, split="holdout-23")[3]
    assert v["key"] == "validation_0003" and v["name"] == "validation_0003_nir"
    t = VCIP2020(fake_vcip, split="train")[1]
    assert t["key"] == "country_0001" and t["name"] == "country_0001_nir"
    g = VCIP2020(fake_vcip, split="train", domain="gray")[1]
    assert g["domain"] == "gray" and g["input"].shape == (1, 8, 8)
    np.testing.assert_allclose(g["input"].numpy(), t["target"].mean(0, keepdim=True).numpy(), atol=1e-6)


def test_training_samples_carry_their_scene_label(fake_vcip):
    ds = VCIP2020(fake_vcip, split="train")
    assert ds.classes == ("country", "field", "forest", "mountain")
    for i in (0, 100, 200, 371):
        s = ds[i]
        assert ds.classes[s["label"]] == s["key"].split("_")[0]
    # every category occurs, with VCIP's counts (country 84, field 94, forest 100, mountain 94)
    counts = {c: sum(k.startswith(c + "_") for k in ds.keys) for c in ds.classes}
    assert counts == {"country": 84, "field": 94, "forest": 100, "mountain": 94}
    # Testing and Validation files name no category: no label, rather than a made-up one
    assert "label" not in VCIP2020(fake_vcip, split="test-28")[0]
    assert "label" not in VCIP2020(fake_vcip, split="holdout-23")[0]
    # the label survives the paired transforms and the default collate (an int64 batch)
    from torch.utils.data import default_collate

    from crossspec.data import transforms as T

    aug = VCIP2020(fake_vcip, split="train-fit", transforms=T.RandomCrop(4))
    batch = default_collate([aug[0], aug[1]])
    assert batch["label"].dtype.is_floating_point is False and batch["label"].shape == (2,)


def test_transforms_applied(fake_vcip):
    ds = VCIP2020(fake_vcip, split="test-28", transforms=lambda s: {**s, "input": s["input"] * 0})
    assert ds[0]["input"].sum() == 0


def test_unknown_split_lists_valid(fake_vcip):
    with pytest.raises(DataError, match="split 'val'.*train-val.*test-clean-20"):
        VCIP2020(fake_vcip, split="val")


def test_missing_root_and_files(tmp_path, fake_vcip):
    with pytest.raises(DataError, match=r"not found; download the VCIP 2020.*NIR/, RGB-Registered/"):
        VCIP2020(tmp_path / "nowhere")
    (tmp_path / "NIR").mkdir()
    with pytest.raises(DataError, match=r"744 VCIP 2020 file\(s\) of split 'train' missing.*NIR/.*RGB-Registered/"):
        VCIP2020(tmp_path)
    # the test split only needs Testing/
    with pytest.raises(DataError, match=r"Testing/testing_0001_nir_reg.png"):
        VCIP2020(tmp_path, split="test-28")


def test_checksum_mismatch_names_file(fake_vcip):
    with pytest.raises(DataError, match=r"testing_0001_nir_reg\.png: sha256 .* does not match"):
        VCIP2020(fake_vcip, split="test-28", checksum=True)


def test_manifest_covers_every_file():
    rels = {ln.split(maxsplit=1)[1] for ln in read_list("sha256.txt")}
    want = {rel for k in all_keys() for rel in key_files(k)}
    assert rels == want and len(rels) == 836


def test_build_dataset_errors(fake_vcip):
    assert len(build_dataset("vcip2020", root=fake_vcip, split="test-clean-20")) == 20
    with pytest.raises(ConfigError, match="unknown; choose one of"):
        build_dataset("imagenet", root=fake_vcip)
    with pytest.raises(ConfigError, match="unknown option.*size"):
        build_dataset("vcip2020", root=fake_vcip, size=3)
    with pytest.raises(DataError, match="root folder is required"):
        build_dataset("vcip2020")


@pytest.mark.shared_data
def test_real_vcip(shared_data):
    root = shared_data / "vcip2020"
    train = VCIP2020(root, split="train")
    assert len(train) == 372
    s = train[0]
    assert s["input"].shape == (1, 256, 256) and s["target"].shape == (3, 256, 256)
    sizes = {sp: len(VCIP2020(root, split=sp)) for sp in VCIP2020.splits()}
    assert sizes["test-28"] == 28 and sizes["test-clean-20"] == 20 and sizes["holdout-23"] == 23
    val = VCIP2020(root, split="train-val")
    fit = VCIP2020(root, split="train-fit")
    assert not set(val.keys) & set(fit.keys)
    # none of train-val's images is (byte for byte) a Testing image
    digest = lambda p: hashlib.sha1(p.read_bytes()).hexdigest()  # noqa: E731
    test_nir = {digest(root / key_files(k)[0]) for k in read_list("test-28.txt")}
    assert not {digest(root / nir) for nir, _ in val.files} & test_nir
    assert len({digest(root / nir) for nir, _ in fit.files} & test_nir) == 8
    VCIP2020(root, split="holdout-23", checksum=True)
