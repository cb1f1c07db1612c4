"""VCIP 2020 Grand Challenge on NIR image colorization (256x256 NIR / registered RGB pairs).

Layout under ``root`` (as released and as every published method uses it)::

    NIR/<cat>_<nnnn>_nir.png                    372 training NIR crops (cat: country field forest mountain)
    RGB-Registered/<cat>_<nnnn>_rgb_reg.png     their RGB targets
    Validation/validation_<nnnn>_{nir,rgb_reg}.png                 18 pairs
    Testing/testing_<nnnn>_nir_reg.png, Testing/Testing_<nnnn>_rgb_reg.png   28 pairs

The split lists and the sha256 manifest ship with the package in ``crossspec/data/splits/vcip2020/``
(written by ``tools/vcip_photo_groups.py``; the card is ``datasets/vcip2020/README.md``).
"""
from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

from crossspec.data.base import ColorizationDataset, Transform, as_root, check_domain, load_pair
from crossspec.errors import DataError

SPLITS_DIR = Path(__file__).resolve().parent / "splits" / "vcip2020"
_SPLITS = ("train", "train-fit", "train-val", "test-28", "test-clean-20", "test-unseen-15", "test-dup-8", "holdout-23")
# Scene categories of the training pairs (their file names start with one); a sample's "label" is
# the index into this tuple. Validation and Testing files carry no category.
CLASSES = ("country", "field", "forest", "mountain")
_KEY = re.compile(r"^(country|field|forest|mountain|validation|testing)_(\d{4})$")
_HOW_TO_GET = ("download the VCIP 2020 NIR colorization data (e.g. the datasets/ folder of github.com/AlexYangxx/MCFNet) "
               "and put NIR/, RGB-Registered/, Validation/ and Testing/ directly under root; "
               "see datasets/vcip2020/README.md")


def key_files(key: str) -> tuple[str, str]:
    """Relative paths ``(nir, rgb)`` of the pair named ``key`` (e.g. "testing_0005")."""
    m = _KEY.match(key)
    if m is None:
        raise DataError(f"{key!r}: not a VCIP 2020 key (expected e.g. country_0001, validation_0003, testing_0005)")
    kind, num = m.groups()
    if kind == "testing":
        return f"Testing/testing_{num}_nir_reg.png", f"Testing/Testing_{num}_rgb_reg.png"
    if kind == "validation":
        return f"Validation/validation_{num}_nir.png", f"Validation/validation_{num}_rgb_reg.png"
    return f"NIR/{key}_nir.png", f"RGB-Registered/{key}_rgb_reg.png"


def all_keys() -> list[str]:
    """Every pair of the release: 372 training, 18 Validation and 28 Testing keys."""
    return (read_list("train.txt") + [f"validation_{i:04d}" for i in range(18)]
            + [f"testing_{i:04d}" for i in range(1, 29)])


def verify_release(root: str | os.PathLike, checksum: bool = False) -> dict[str, int]:
    """Check every file that any split uses: the training pairs, Validation and Testing.

    Raises ``DataError`` naming the missing files, or with ``checksum`` a file whose sha256 differs
    from the shipped manifest (e.g. a truncated download). Returns the pairs checked per part:
    ``{"train": 372, "Validation": 18, "Testing": 28}``.
    """
    root = as_root(root, "vcip2020")
    keys = all_keys()
    _check_files(root, [rel for k in keys for rel in key_files(k)], "the release (training, Validation and Testing)",
                 checksum)
    parts = {"train": 0, "Validation": 0, "Testing": 0}
    for k in keys:
        parts[{"validation": "Validation", "testing": "Testing"}.get(k.split("_")[0], "train")] += 1
    return parts


def _check_files(root: Path, rels: list[str], what: str, checksum: bool) -> None:
    if not root.is_dir():
        raise DataError(f"{root}: VCIP 2020 root folder not found; {_HOW_TO_GET}")
    missing = [rel for rel in rels if not (root / rel).is_file()]
    if missing:
        folders = sorted({m.split("/")[0] + "/" for m in missing})
        raise DataError(f"{root}: {len(missing)} VCIP 2020 file(s) of {what} missing "
                        f"(in {', '.join(folders)}; first: {missing[0]}); {_HOW_TO_GET}")
    if checksum:
        _check_sha256(root, rels)


def _check_sha256(root: Path, rels: list[str]) -> None:
    manifest = {}
    for ln in read_list("sha256.txt"):
        digest, rel = ln.split(maxsplit=1)
        manifest[rel] = digest
    bad = []
    for rel in rels:
        h = hashlib.sha256((root / rel).read_bytes()).hexdigest()
        if manifest.get(rel) != h:
            bad.append((rel, h))
    if bad:
        rel, h = bad[0]
        others = f"; {len(bad) - 1} more file(s) differ too" if len(bad) > 1 else ""
        raise DataError(f"{root / rel}: sha256 {h[:12]}... does not match the manifest "
                        f"({(manifest.get(rel) or 'no entry')[:12]}...); the file differs from the "
                        f"published VCIP 2020 data (truncated or re-encoded?); re-download it{others}")


def read_list(name: str) -> list[str]:
    path = SPLITS_DIR / name
    if not path.is_file():
        raise DataError(f"{path}: split list missing from the crossspec installation (reinstall crossspec)")
    return [ln.strip() for ln in path.read_text().splitlines() if ln.strip() and not ln.startswith("#")]


class VCIP2020(ColorizationDataset):
    """VCIP 2020 NIR->RGB pairs.

    Splits: ``train`` (all 372 training pairs), ``train-fit`` (train minus train-val: what training
    uses), ``train-val`` (46 training pairs from 23 whole photographs, for model selection),
    ``test-28`` (all Testing pairs; what papers report), ``test-clean-20`` (Testing minus the 8 that
    duplicate training pairs), ``test-unseen-15`` (test-clean-20 minus 1, 7, 10, 18, 21, which show a
    photograph or scene that train-fit also shows: ``crossspec data audit``), ``test-dup-8`` (the 8
    Testing pairs identical to training pairs: how well a model fits, never a held-out score), ``holdout-23`` (18
    Validation + Testing 5, 7, 9, 13, 21).

    Samples: ``input`` (1, 256, 256), ``target`` (3, 256, 256), both float32 in [0, 1]; ``key`` like
    "testing_0005"; ``name`` the NIR file stem; ``domain`` "nir", or "gray" with ``domain="gray"``
    (input = BT.601 luminance of the RGB target, for gray-domain training on the same scenes).
    Training pairs also carry ``label``: the index of their scene category in :attr:`classes`
    (country, field, forest, mountain); Validation and Testing samples have no ``label``.
    ``checksum=True`` checks every file of the split against the shipped sha256 manifest.
    """

    classes: tuple[str, ...] = CLASSES

    def __init__(self, root: str | os.PathLike, split: str = "train", transforms: Transform | None = None,
                 checksum: bool = False, domain: str = "nir") -> None:
        self.root = as_root(root, "vcip2020")
        if split not in _SPLITS:
            raise DataError(f"split {split!r}: unknown VCIP 2020 split; valid splits are {', '.join(_SPLITS)}")
        self.split = split
        self.transforms = transforms
        self.checksum = checksum
        self.domain = check_domain(domain)
        self._keys = read_list(f"{split}.txt")
        self.files = [key_files(k) for k in self._keys]
        self._verify()

    @property
    def keys(self) -> list[str]:
        return self._keys

    @property
    def prediction_pool(self) -> list[str]:
        """Keys a folder of predictions for this dataset may hold: every Testing and Validation pair."""
        return list(dict.fromkeys(read_list("test-28.txt") + read_list("holdout-23.txt")))

    @staticmethod
    def splits() -> list[str]:
        """Names of the defined splits."""
        return list(_SPLITS)

    def _verify(self) -> None:
        _check_files(self.root, [rel for pair in self.files for rel in pair], f"split {self.split!r}", self.checksum)

    def __len__(self) -> int:
        return len(self._keys)

    def load(self, i: int) -> dict:
        nir, rgb = self.files[i]
        nir_path = self.root / nir
        sample = load_pair(nir_path, self.root / rgb, self._keys[i], self.domain, name=nir_path.stem,
                           input_from_target=self.domain == "gray")
        category = self._keys[i].split("_")[0]
        if category in CLASSES:
            sample["label"] = CLASSES.index(category)
        return sample

    def __repr__(self) -> str:
        return f"VCIP2020(root={str(self.root)!r}, split={self.split!r}, {len(self)} pairs)"
