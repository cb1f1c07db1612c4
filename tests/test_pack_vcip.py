"""tools/gpu/pack_vcip.py: VCIP images travel to the GPU machine pixel-exact, and damage is caught."""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

TOOL = Path(__file__).resolve().parents[1] / "tools" / "gpu" / "pack_vcip.py"


@pytest.fixture(scope="module")
def tool():
    spec = importlib.util.spec_from_file_location("pack_vcip", TOOL)
    mod = importlib.util.module_from_spec(spec)
    sys.modules["pack_vcip"] = mod  # its process pool pickles functions by module name
    spec.loader.exec_module(mod)
    yield mod
    sys.modules.pop("pack_vcip", None)


def _fake_vcip(root: Path) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    images = {
        "NIR/field_0001_nir.png": rng.integers(0, 256, (24, 20), dtype=np.uint8),
        "RGB-Registered/field_0001_rgb_reg.png": rng.integers(0, 256, (24, 20, 3), dtype=np.uint8),
        "Testing/testing_0005_nir_reg.png": rng.integers(0, 256, (16, 16), dtype=np.uint8),
    }
    for rel, a in images.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(a).save(root / rel)
    return images


def test_pack_then_unpack_restores_every_pixel_in_the_dataset_layout(tool, tmp_path):
    images = _fake_vcip(tmp_path / "vcip")
    tool.main(["pack", str(tmp_path / "vcip"), str(tmp_path / "packed"), "NIR", "RGB-Registered", "Testing"])
    assert not list((tmp_path / "packed").rglob("*.png"))
    tool.main(["unpack", str(tmp_path / "packed"), str(tmp_path / "back")])
    for rel, a in images.items():
        assert np.array_equal(np.asarray(Image.open(tmp_path / "back" / rel)), a), rel


def test_unpack_names_an_image_whose_pixels_changed(tool, tmp_path):
    _fake_vcip(tmp_path / "vcip")
    tool.main(["pack", str(tmp_path / "vcip"), str(tmp_path / "packed"), "NIR"])
    webp = tmp_path / "packed/NIR/field_0001_nir.webp"
    a = np.asarray(Image.open(webp).convert("L")).copy()
    a[0, 0] ^= 1
    Image.fromarray(a).save(webp, "WEBP", lossless=True)
    with pytest.raises(SystemExit, match="field_0001_nir.webp: decoded pixels differ"):
        tool.main(["unpack", str(tmp_path / "packed"), str(tmp_path / "back")])
