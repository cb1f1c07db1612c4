import os
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from scipy import ndimage
from skimage.transform import resize

REPO = Path(__file__).resolve().parents[1]
# tools/ holds scripts, not a package; their tests import them by module name
sys.path.insert(0, str(REPO / "tools"))
SHARED_DATA = Path(os.environ.get("CROSSSPEC_SHARED_DATA", REPO.parent / "shared" / "data"))


@pytest.fixture(autouse=True)
def _seed_and_threads():
    torch.manual_seed(0)
    yield


@pytest.fixture
def shared_data() -> Path:
    """Root of the real development data (../shared/data); skips the test when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real data not found at {SHARED_DATA} (set CROSSSPEC_SHARED_DATA)")
    return SHARED_DATA


DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


@pytest.fixture(scope="session")
def fake_vcip(tmp_path_factory):
    """Every VCIP 2020 file name, as an 8x8 PNG whose pixels encode its index."""
    from crossspec.data.vcip2020 import all_keys, key_files

    root = tmp_path_factory.mktemp("vcip")
    for n, key in enumerate(all_keys()):
        nir, rgb = key_files(key)
        for rel, shape in ((nir, (8, 8)), (rgb, (8, 8, 3))):
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(np.full(shape, n % 256, np.uint8)).save(root / rel)
    return root


@pytest.fixture
def weights_dir(tmp_path, monkeypatch):
    """An empty folder standing in for the package's shipped weights (crossspec/weights)."""
    from crossspec.io import shipped_weights as pretrained

    folder = tmp_path / "weights"
    monkeypatch.setattr(pretrained, "WEIGHTS_DIR", folder)
    return folder


def _photo(seed: int, shape=(200, 240)) -> np.ndarray:
    """A synthetic photograph: smoothed colour noise at two scales, uint8 (H, W, 3)."""
    rng = np.random.default_rng(seed)
    img = sum(ndimage.gaussian_filter(rng.random(shape + (3,)), (s, s, 0)) * w for s, w in ((1.5, 1.0), (6, 3.0)))
    img = (img - img.min()) / (img.max() - img.min())
    return np.rint(img * 255).astype(np.uint8)


def _save_png(path, arr):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr).save(path)
    return path


@pytest.fixture(scope="session")
def leak_case(tmp_path_factory):
    """train/: two photographs (a with a NIR partner); test/: an exact copy of a, a 0.5-scale crop of
    it at offset (40, 60), a same-scale crop that sticks out of it, a crop at offset (20, 100) under
    another tone curve, and an unrelated image."""
    root = tmp_path_factory.mktemp("leak")
    a, b = _photo(1), _photo(2)
    _save_png(root / "train" / "a_rgb.png", a)
    _save_png(root / "train" / "a_nir.png", a[..., 0])
    _save_png(root / "train" / "b_rgb.png", b)
    (root / "test").mkdir()
    (root / "test" / "copy_rgb.png").write_bytes((root / "train" / "a_rgb.png").read_bytes())
    crop = resize(a[40:168, 60:188] / 255.0, (64, 64), anti_aliasing=True)
    _save_png(root / "test" / "half_rgb.png", np.rint(crop * 255).astype(np.uint8))
    nir = resize(a[40:168, 60:188, 0] / 255.0, (64, 64), anti_aliasing=True)
    _save_png(root / "test" / "half_nir.png", np.rint(nir * 255).astype(np.uint8))
    edge = np.concatenate([a[150:200, 180:240], _photo(3, (50, 30))], axis=1)  # 60 of 90 columns from a
    edge = np.concatenate([edge, _photo(4, (20, 90))], axis=0)  # 50 of 70 rows from a
    _save_png(root / "test" / "edge_rgb.png", edge)
    _save_png(root / "test" / "other_rgb.png", _photo(5, (64, 64)))
    toned = (a[20:84, 100:164] / 255.0) ** 2.2  # gamma: the same pixels, far apart in PSNR
    _save_png(root / "test" / "toned_rgb.png", np.rint(toned * 255).astype(np.uint8))
    return root
