"""Carry the VCIP 2020 images to a machine with a size limit on what travels, losslessly.

``pack`` re-encodes the PNGs of the chosen folders as lossless WebP (about 80 % of the PNG bytes)
and records the sha256 of every image's decoded pixels; ``unpack`` writes them back as PNGs in the
dataset's own layout and fails on any pixel that differs. The file bytes differ from the
originals (PNG encoders differ), the pixels do not; crossspec reads pixels.

    python tools/gpu/pack_vcip.py pack ../shared/data/vcip2020 .devpack/vcip NIR RGB-Registered Testing
    python tools/gpu/pack_vcip.py unpack .devpack/vcip /root/vcip2020
    python tools/gpu/pack_vcip.py half vgg16.pth .devpack/w/vgg16-fp16.pth

``half`` writes a float16 copy of a state dict (an ImageNet trunk: half the bytes; the model that
loads it casts to its own dtype, so only the initial weights are rounded).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image

MANIFEST = "pixels.json"


def _digest(a: np.ndarray) -> str:
    return hashlib.sha256(f"{a.shape}{a.dtype}".encode() + a.tobytes()).hexdigest()


def _pack_one(job: tuple[Path, Path]) -> tuple[str, str, str]:
    src, dst = job
    a = np.asarray(Image.open(src))
    mode = "L" if a.ndim == 2 else "RGB"
    dst.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(a, mode).save(dst, "WEBP", lossless=True, quality=100, method=6)
    back = np.asarray(Image.open(dst).convert(mode))
    if not np.array_equal(back, a):
        raise SystemExit(f"{src}: WebP round trip changed pixels")
    return str(src), _digest(a), mode


def _unpack_one(job: tuple[Path, Path, str, str]) -> str | None:
    src, dst, mode, digest = job
    a = np.asarray(Image.open(src).convert(mode))
    if _digest(a) != digest:
        return f"{src}: decoded pixels differ from the packed image's sha256"
    dst.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(a, mode).save(dst, "PNG")
    return None


def pack(root: Path, out: Path, folders: list[str]) -> None:
    jobs = [(p, out / p.relative_to(root).with_suffix(".webp")) for f in folders for p in sorted((root / f).glob("*.png"))]
    if not jobs:
        raise SystemExit(f"{root}: no PNGs under {folders}")
    with ProcessPoolExecutor() as ex:
        rows = list(ex.map(_pack_one, jobs, chunksize=8))
    manifest = {str(Path(s).relative_to(root)): {"sha256_pixels": d, "mode": m} for s, d, m in rows}
    (out / MANIFEST).write_text(json.dumps(manifest, indent=0, sort_keys=True))
    size = sum(p.stat().st_size for p in out.rglob("*.webp"))
    print(f"{len(rows)} images -> {out} ({size / 2**20:.1f} MiB)")


def unpack(packed: Path, root: Path) -> None:
    manifest = json.loads((packed / MANIFEST).read_text())
    jobs = [(packed / Path(rel).with_suffix(".webp"), root / rel, m["mode"], m["sha256_pixels"])
            for rel, m in manifest.items()]
    with ProcessPoolExecutor() as ex:
        errors = [e for e in ex.map(_unpack_one, jobs, chunksize=8) if e]
    if errors:
        raise SystemExit("\n".join(errors))
    print(f"{len(jobs)} images -> {root}, pixels verified")


def half(src: Path, dst: Path) -> None:
    import torch

    state = torch.load(src, map_location="cpu", weights_only=True)
    dst.parent.mkdir(parents=True, exist_ok=True)
    torch.save({k: v.half() if v.is_floating_point() else v for k, v in state.items()}, dst)
    print(f"{src} -> {dst} (float16, {dst.stat().st_size / 2**20:.1f} MiB)")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("pack")
    p.add_argument("root", type=Path)
    p.add_argument("out", type=Path)
    p.add_argument("folders", nargs="+")
    u = sub.add_parser("unpack")
    u.add_argument("packed", type=Path)
    u.add_argument("root", type=Path)
    h = sub.add_parser("half")
    h.add_argument("src", type=Path)
    h.add_argument("dst", type=Path)
    a = ap.parse_args(argv)
    if a.cmd == "pack":
        pack(a.root, a.out, a.folders)
    elif a.cmd == "unpack":
        unpack(a.packed, a.root)
    else:
        half(a.src, a.dst)
    return 0


if __name__ == "__main__":
    sys.exit(main())
