"""Group the VCIP 2020 training crops into photographs and write crossspec's split lists.

The 372 training pairs are 256x256 crops, mostly two per photograph (the photo resized to height
256, then a left and a right crop that share ~126 columns). A random split of NIR/ therefore puts
half of a scene in training and half in validation. This script finds which crops overlap:

1. within each category, phase correlation of every pair of NIR crops gives the best translation
   and a peak height (1.0 for identical content, ~0.01 for unrelated images);
2. a pair counts as the same photo only when the peak is >= PEAK_MIN *and* the pixels in the
   overlap agree at that translation (mean absolute difference <= MAE_MAX grey levels, Pearson
   correlation >= CORR_MIN, overlap at least MIN_OVERLAP pixels on each side);
3. photos are the connected components of that relation.

It also finds, by pixel equality, the training pairs duplicated in Testing, and (by the same
overlap test) Testing/Validation images that are other crops of training photos. From these it
writes every split list plus the sha256 manifest into crossspec/data/splits/vcip2020/ (the one
source of truth; datasets/vcip2020/README.md documents them).

Usage:  python tools/vcip_photo_groups.py ../shared/data/vcip2020 [--out DIR] [--show DIR]
``--show`` also saves side-by-side PNGs of a few groups for a visual check. Takes ~20 s on 2 cores.
"""
from __future__ import annotations

import argparse
import collections
import hashlib
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from crossspec.io.image import read_image, save_image  # noqa: E402

CATEGORIES = ("country", "field", "forest", "mountain")
# Measured on the real data: true overlaps have peaks >= 0.081, unrelated pairs <= 0.077, and the
# highest unrelated ones sit at zero shift (JPEG block grid), failing the pixel check by far.
PEAK_MIN = 0.06
MAE_MAX = 16.0
CORR_MIN = 0.85
MIN_OVERLAP = 32
VAL_FRACTION = 0.12
SALT = "crossspec-vcip2020-train-val-v1"


def load_stack(paths: list[Path]) -> np.ndarray:
    return np.stack([read_image(p)[..., 0].astype(np.float32) for p in paths])


def spectra(imgs: np.ndarray) -> np.ndarray:
    return np.fft.rfft2(imgs - imgs.mean(axis=(1, 2), keepdims=True))


def overlap(a: np.ndarray, b: np.ndarray, dy: int, dx: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixels where ``a[y, x]`` and ``b[y - dy, x - dx]`` both exist."""
    h, w = a.shape
    y0, y1, x0, x1 = max(0, dy), min(h, h + dy), max(0, dx), min(w, w + dx)
    return a[y0:y1, x0:x1], b[y0 - dy:y1 - dy, x0 - dx:x1 - dx]


def match(a: np.ndarray, b: np.ndarray, fa: np.ndarray, fb: np.ndarray) -> dict | None:
    """Best translation of ``b`` onto ``a`` if they share content by the strict test, else None."""
    h, w = a.shape
    r = fa * np.conj(fb)
    corr = np.fft.irfft2(r / (np.abs(r) + 1e-9), s=(h, w))
    k = int(corr.argmax())
    peak = float(corr.flat[k])
    if peak < PEAK_MIN:
        return None
    dy, dx = divmod(k, w)
    best = None
    # The circular correlation only knows the shift modulo the image size: try both signs.
    for sy in {dy, dy - h}:
        for sx in {dx, dx - w}:
            if (sy, sx) == (0, 0):
                continue  # zero shift of non-identical images is the JPEG grid, not content
            oa, ob = overlap(a, b, sy, sx)
            if min(oa.shape) < MIN_OVERLAP:
                continue
            mae = float(np.abs(oa - ob).mean())
            c = float(np.corrcoef(oa.ravel(), ob.ravel())[0, 1])
            if mae <= MAE_MAX and c >= CORR_MIN and (best is None or mae < best["mae"]):
                best = {"peak": peak, "shift": (sy, sx), "mae": mae, "corr": c, "overlap": oa.shape}
    return best


def find_groups(keys: list[str], imgs: np.ndarray) -> tuple[list[list[str]], list[tuple]]:
    spec = spectra(imgs)
    parent = list(range(len(keys)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    links = []
    cats = [k.rsplit("_", 1)[0] for k in keys]
    for i in range(len(keys)):
        for j in range(i + 1, len(keys)):
            if cats[i] != cats[j]:
                continue
            m = match(imgs[i], imgs[j], spec[i], spec[j])
            if m is not None:
                links.append((keys[i], keys[j], m))
                parent[root(i)] = root(j)
    groups = collections.defaultdict(list)
    for i, k in enumerate(keys):
        groups[root(i)].append(k)
    return sorted(sorted(g) for g in groups.values()), links


def choose_train_val(groups: list[list[str]], excluded: set[str]) -> list[str]:
    """About VAL_FRACTION of each category's photos, chosen by a salted hash (deterministic)."""
    chosen = []
    for cat in CATEGORIES:
        photos = [g for g in groups if g[0].startswith(cat + "_")]
        eligible = [g for g in photos if not excluded & set(g)]
        n = round(VAL_FRACTION * len(photos))
        eligible.sort(key=lambda g: hashlib.sha256(f"{SALT}:{g[0]}".encode()).hexdigest())
        for g in eligible[:n]:
            chosen.extend(g)
    return sorted(chosen)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("root", type=Path, help="VCIP 2020 folder (NIR/, RGB-Registered/, Validation/, Testing/)")
    ap.add_argument("--out", type=Path, default=REPO / "crossspec" / "data" / "splits" / "vcip2020")
    ap.add_argument("--show", type=Path, default=None, help="save side-by-side PNGs of some groups here")
    args = ap.parse_args()
    root = args.root

    nir_paths = sorted((root / "NIR").glob("*_nir.png"))
    train = [p.name[: -len("_nir.png")] for p in nir_paths]
    test_keys = [f"testing_{i:04d}" for i in range(1, 29)]
    val_keys = [f"validation_{i:04d}" for i in range(18)]
    test_nir = [root / "Testing" / f"{k}_nir_reg.png" for k in test_keys]
    val_nir = [root / "Validation" / f"{k}_nir.png" for k in val_keys]
    print(f"{len(train)} training crops, {len(test_keys)} Testing, {len(val_keys)} Validation")

    imgs = load_stack(nir_paths)
    groups, links = find_groups(train, imgs)
    sizes = collections.Counter(len(g) for g in groups)
    print(f"{len(groups)} photos; group sizes {dict(sorted(sizes.items()))}; {len(links)} overlapping pairs")
    weakest = sorted(links, key=lambda t: t[2]["peak"])[:3]
    for a, b, m in weakest:
        print(f"  weakest link {a}~{b}: peak {m['peak']:.3f} shift {m['shift']} MAE {m['mae']:.1f} r {m['corr']:.3f}")
    for g in groups:
        if len(g) != 2:
            print("  group of", len(g), ":", " ".join(g))

    # Duplicates: identical NIR and RGB pixels (the data README verified them by bytes).
    rgb_train = {k: read_image(root / "RGB-Registered" / f"{k}_rgb_reg.png") for k in train}
    by_nir = collections.defaultdict(list)
    for k, im in zip(train, imgs):
        by_nir[hashlib.sha1(im.tobytes()).hexdigest()].append(k)
    test_imgs = load_stack(test_nir)
    dup = {}
    for tk, im in zip(test_keys, test_imgs):
        for k in by_nir.get(hashlib.sha1(im.tobytes()).hexdigest(), []):
            rgb_t = read_image(root / "Testing" / f"Testing_{tk.split('_')[1]}_rgb_reg.png")
            if np.array_equal(rgb_t, rgb_train[k]):
                dup[tk] = k
    print(f"{len(dup)} Testing pairs duplicate training pairs: " + ", ".join(f"{t}={k}" for t, k in sorted(dup.items())))
    val_imgs = load_stack(val_nir)
    val_dup_test = [vk for vk, v in zip(val_keys, val_imgs) if any(np.array_equal(v, t) for t in test_imgs)]
    print(f"{len(val_dup_test)} Validation images duplicate Testing images")

    # Testing/Validation images that are *other* crops of a training photo (shifted, not identical).
    spec_train = spectra(imgs)
    photo_of = {k: i for i, g in enumerate(groups) for k in g}
    near = {}
    for ek, im in list(zip(test_keys, test_imgs)) + list(zip(val_keys, val_imgs)):
        fe = spectra(im[None])[0]
        hits = sorted({k for k, t, ft in zip(train, imgs, spec_train)
                       if dup.get(ek) != k and match(im, t, fe, ft) is not None})
        if hits:
            near[ek] = hits
    for ek, hits in near.items():
        print(f"  {ek} overlaps training crop(s) {' '.join(hits)}")

    excluded = set(dup.values())
    for hits in near.values():
        excluded.update(hits)
    excluded_photos = [g for g in groups if excluded & set(g)]
    train_val = choose_train_val(groups, excluded)
    train_fit = sorted(set(train) - set(train_val))
    n_photos = sum(1 for g in groups if set(g) <= set(train_val))
    print(f"train-val: {len(train_val)} crops from {n_photos} photos "
          f"({', '.join(f'{c} {sum(k.startswith(c) for k in train_val)}' for c in CATEGORIES)}); "
          f"{len(excluded_photos)} photos were not eligible (contain a test duplicate or overlap a test/val image)")
    assert not {photo_of[k] for k in train_val} & {photo_of[k] for k in train_fit}

    clean = [k for k in test_keys if k not in dup]
    holdout = val_keys + [k for k in clean if k not in _val_twins(val_keys, val_imgs, test_keys, test_imgs)]
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    lists = {"train": train, "train-fit": train_fit, "train-val": train_val, "test-28": test_keys,
             "test-clean-20": clean, "holdout-23": holdout}
    for name, keys in lists.items():
        (out / f"{name}.txt").write_text("\n".join(keys) + "\n")
        print(f"wrote {out / (name + '.txt')} ({len(keys)})")
    (out / "photo_groups.txt").write_text(
        "# one photograph per line: the training crops that overlap it (tools/vcip_photo_groups.py)\n"
        + "\n".join(" ".join(g) for g in groups) + "\n")
    manifest = []
    for p in sorted(q for q in root.rglob("*.png")):
        manifest.append(f"{hashlib.sha256(p.read_bytes()).hexdigest()}  {p.relative_to(root).as_posix()}")
    (out / "sha256.txt").write_text("\n".join(manifest) + "\n")
    print(f"wrote {out / 'photo_groups.txt'} and {out / 'sha256.txt'} ({len(manifest)} files)")

    if args.show is not None:
        _show(args.show, root, groups)


def _val_twins(val_keys, val_imgs, test_keys, test_imgs) -> set[str]:
    """Testing keys whose NIR image also appears in Validation."""
    return {tk for tk, t in zip(test_keys, test_imgs) if any(np.array_equal(t, v) for v in val_imgs)}


def _show(folder: Path, root: Path, groups: list[list[str]]) -> None:
    picks = [g for g in groups if len(g) > 2] + [g for g in groups if len(g) == 2][::23]
    for g in picks:
        ims = [read_image(root / "RGB-Registered" / f"{k}_rgb_reg.png") for k in g]
        gap = np.full((ims[0].shape[0], 8, 3), 255, np.uint8)
        row = np.concatenate(sum(([im, gap] for im in ims), [])[:-1], axis=1)
        save_image(folder / f"{'+'.join(g)}.png", row, overwrite=True)
    print(f"saved {len(picks)} group strips under {folder}")


if __name__ == "__main__":
    main()
