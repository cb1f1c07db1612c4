"""Datasets over plain folders: paired input/target folders, and RGB collections used as gray data."""
from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from crossspec.color import rgb_to_luminance
from crossspec.data.base import ColorizationDataset, Transform, as_root, check_domain, image_files, load_pair, to_tensor
from crossspec.errors import DataError, file_error
from crossspec.io.image import read_image, to_float

# Longest tags first so "_nir_reg" is not read as "_reg" left over after "_nir".
_TAG = re.compile(r"_(nir_reg|rgb_reg|nir|rgb)$", re.IGNORECASE)


def match_key(stem: str) -> str:
    """Matching key of a file stem: trailing _nir/_rgb/_rgb_reg/_nir_reg removed, lower case."""
    return _TAG.sub("", stem).lower()


def _index(folder: Path, role: str) -> dict[str, Path]:
    if not folder.is_dir():
        raise DataError(f"{folder}: {role} folder not found")
    found: dict[str, Path] = {}
    for f in image_files(folder):
        k = match_key(f.stem)
        if k in found:
            raise DataError(f"{folder}: {found[k].name} and {f.name} both match key {k!r}; keep one")
        found[k] = f
    if not found:
        raise DataError(f"{folder}: no images in the {role} folder")
    return found


def _names(keys: set[str], files: dict[str, Path], limit: int = 5) -> str:
    names = sorted(files[k].name for k in keys)
    return ", ".join(names[:limit]) + (f" and {len(names) - limit} more" if len(names) > limit else "")


class PairedFolders(ColorizationDataset):
    """Pairs matched by file name: ``input_dir/x_nir.png`` with ``target_dir/x_rgb.png`` (tags
    ``_nir``, ``_rgb``, ``_rgb_reg``, ``_nir_reg`` and letter case are ignored when matching).

    ``domain`` says what the inputs are ("nir" or "gray"). Samples: ``input`` (1, H, W),
    ``target`` (3, H, W), float32 in [0, 1]; ``key`` the matching key; ``name`` the input stem.
    Any file without a partner is an error that names it.
    """

    def __init__(self, input_dir: str | os.PathLike, target_dir: str | os.PathLike, domain: str = "nir",
                 transforms: Transform | None = None) -> None:
        self.input_dir = as_root(input_dir, "paired (input_dir)")
        self.target_dir = as_root(target_dir, "paired (target_dir)")
        self.root = self.input_dir
        self.domain = check_domain(domain)
        self.transforms = transforms
        self._verify()

    def _verify(self) -> None:
        inputs = _index(self.input_dir, "input")
        targets = _index(self.target_dir, "target")
        lonely_in, lonely_t = set(inputs) - set(targets), set(targets) - set(inputs)
        problems = []
        if lonely_in:
            problems.append(f"{len(lonely_in)} input(s) without a target in {self.target_dir}: {_names(lonely_in, inputs)}")
        if lonely_t:
            problems.append(f"{len(lonely_t)} target(s) without an input in {self.input_dir}: {_names(lonely_t, targets)}")
        if problems:
            raise DataError(f"{self.input_dir}: unmatched files; " + "; ".join(problems))
        self._keys = sorted(inputs)
        self.pairs = [(inputs[k], targets[k]) for k in self._keys]

    @property
    def keys(self) -> list[str]:
        return self._keys

    def __len__(self) -> int:
        return len(self._keys)

    def load(self, i: int) -> dict:
        inp, tgt = self.pairs[i]
        return load_pair(inp, tgt, self._keys[i], self.domain, name=inp.stem)


def in_val(relative: str, fraction: float) -> bool:
    """Whether a file belongs to the validation part, from a hash of its relative path: stable
    when images are added or removed, and the same on every machine."""
    digest = hashlib.sha1(relative.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < fraction


class RGBFolderGray(ColorizationDataset):
    """Any folder of RGB images as gray-domain training data.

    ``split``: "all", or "train" / "val" (a stable ``val_fraction`` of the files, chosen by a
    hash of each relative path).

    ``input`` (1, H, W) = BT.601 luminance of ``target`` (3, H, W), float32 in [0, 1]; ``key`` the
    path relative to ``root`` without suffix; ``name`` the file stem; ``domain`` "gray". RGBA
    images lose their alpha; single-channel images are refused (they have no colour to learn).
    """

    SPLITS = ("all", "train", "val")

    def __init__(self, root: str | os.PathLike, split: str = "all", transforms: Transform | None = None,
                 recursive: bool = True, val_fraction: float = 0.1) -> None:
        self.root = as_root(root, "rgb-folder")
        if split not in self.SPLITS:
            raise DataError(f"{self.root}: split {split!r} is not one of {', '.join(self.SPLITS)}")
        if not 0.0 < val_fraction < 1.0:
            raise DataError(f"{self.root}: val_fraction must be in (0, 1), got {val_fraction}")
        self.split, self.val_fraction = split, float(val_fraction)
        self.domain = "gray"
        self.transforms = transforms
        self.recursive = recursive
        self._verify()
        if split != "all":
            found = len(self.files)
            self.files = [f for f in self.files if (in_val(f.relative_to(self.root).as_posix(), val_fraction)
                                                    == (split == "val"))]
            if not self.files:
                raise DataError(f"{self.root}: the {split!r} split is empty (val_fraction={val_fraction}, "
                                f"{found} images); add images or use split 'all'")

    def sizes(self) -> dict[Path, tuple[int, int, str]]:
        """``{file: (height, width, PIL mode)}`` from the file headers (no pixel data is read)."""
        out = {}
        for f in self.files:
            try:
                with Image.open(f) as im:
                    out[f] = (im.height, im.width, im.mode)
            except (UnidentifiedImageError, OSError) as exc:
                raise file_error(f, f"cannot read the image header ({exc})") from None
        return out

    def _verify(self) -> None:
        if not self.root.is_dir():
            raise DataError(f"{self.root}: folder of RGB images not found")
        self.files = image_files(self.root, self.recursive)
        readable = False
        for f in self.files:
            try:
                with Image.open(f):
                    readable = True
                    break
            except (UnidentifiedImageError, OSError):
                continue  # tifffile-only TIFFs and broken files: look further for one that opens
        if not readable and not any(f.suffix.lower() in (".tif", ".tiff") for f in self.files):
            raise DataError(f"{self.root}: no readable image (png, jpg, tif, bmp) found"
                            + (" in it or its subfolders" if self.recursive else " (recursive=False)"))

    @property
    def keys(self) -> list[str]:
        return [f.relative_to(self.root).with_suffix("").as_posix() for f in self.files]

    def __len__(self) -> int:
        return len(self.files)

    def load(self, i: int) -> dict:
        f = self.files[i]
        arr = read_image(f)
        if arr.shape[2] == 4:
            arr = arr[..., :3]
        if arr.shape[2] != 3:
            raise file_error(f, f"expected an RGB image, found {arr.shape[2]} channel(s)")
        rgb = to_tensor(to_float(arr, str(f)))
        key = f.relative_to(self.root).with_suffix("").as_posix()
        return {"input": rgb_to_luminance(rgb), "target": rgb, "name": f.stem, "key": key, "domain": "gray"}
