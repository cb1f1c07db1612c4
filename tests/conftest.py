import os
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

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
    from crossspec.models import pretrained

    folder = tmp_path / "weights"
    monkeypatch.setattr(pretrained, "WEIGHTS_DIR", folder)
    return folder
