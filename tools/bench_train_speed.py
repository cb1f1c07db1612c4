"""Training speed of the shipped recipes under each precision / layout / compile setting, on CPU or a GPU.

For each model (the recipe's kwargs, batch and crop) and each setting, one training step is
forward + L1 loss + backward + Adam on random data; two warm-up steps, then the median of
``--steps`` timed steps. A setting whose first step takes longer than ``--cap`` seconds is
reported as slower than that and not repeated (bf16 without native CPU support takes minutes);
``compile`` is always timed after its first step, which is mostly compilation.

Settings: ``fp32`` (NCHW), ``fp32+cl`` (channels_last), ``bf16`` (autocast), ``bf16+cl``,
``compile`` (``torch.compile`` default mode, fp32; its compile time is reported separately),
``fp32+cl+cache`` (``train.cache_trunk``: the frozen trunk's cacheable stages computed once before
timing, as the cache does before the first step; only for models with such a trunk).

    OMP_NUM_THREADS=2 python tools/bench_train_speed.py [--write]
    python tools/bench_train_speed.py --device cuda --recipes configs/nir/colormamba.yaml --write

On a GPU each timed step ends with a device synchronize, and ``--write`` fills the
bench_train_speed_cuda section instead. A recipe that resizes its crops (ColorMamba: 200 -> 256)
is timed at the resized side.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchmd import header, write_section  # noqa: E402

from crossspec.config import load_config  # noqa: E402
from crossspec.engine.trainer import cpu_has_native_bf16  # noqa: E402
from crossspec.models import create_model  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
RECIPES = ["configs/nir/unet-vgg16.yaml", "configs/nir/colormamba-small.yaml"]
SETTINGS = ["fp32", "fp32+cl", "fp32+cl+cache", "bf16", "bf16+cl", "compile"]


def side(cfg) -> int:
    """The side of the square the model sees: the crop, or its resize."""
    return cfg.data.resize or cfg.data.crop


def step_fn(cfg, setting: str, device: torch.device):
    torch.manual_seed(0)
    model = create_model(cfg.model.name, **cfg.model.kwargs).to(device).train()
    cl = setting.endswith("+cl")
    if cl:
        model = model.to(memory_format=torch.channels_last)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.Adam(params, lr=1e-4)
    fwd = torch.compile(model) if setting == "compile" else model
    b, c = cfg.data.batch_size, side(cfg)
    x, y = torch.rand(b, 1, c, c, device=device), torch.rand(b, 3, c, c, device=device)
    if cl:
        x = x.contiguous(memory_format=torch.channels_last)
    bf16 = setting.startswith("bf16")
    kw = {}
    if setting.endswith("+cache"):
        kw["trunk_feats"] = {k: v.contiguous(memory_format=torch.channels_last) for k, v in model.trunk_cache(x).items()}

    def step() -> float:
        t = time.perf_counter()
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            out = fwd(x, **kw)
        if isinstance(out, dict):
            out = out["rgb"]
        loss = (out.float() - y).abs().mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        return time.perf_counter() - t

    return step


def measure(cfg, setting: str, steps: int, cap: float, device: torch.device) -> tuple[str, str]:
    if setting.endswith("+cache") and not getattr(create_model(cfg.model.name, **cfg.model.kwargs),
                                                   "trunk_cache_stages", ()):
        return "n/a", "no frozen trunk to cache"
    step = step_fn(cfg, setting, device)
    first = step()
    if first > cap and setting != "compile":  # compile's first step is mostly compiling
        return f"> {cap:.0f} (first step {first:.0f})", "-"
    step()
    times = [step() for _ in range(steps)]
    med = statistics.median(times)
    extra = f"first step (incl. compile) {first:.1f} s" if setting == "compile" else ""
    if device.type == "cuda":
        extra = "; ".join(e for e in (extra, f"peak memory {torch.cuda.max_memory_allocated(device) / 2**30:.1f} GiB")
                          if e)
        torch.cuda.reset_peak_memory_stats(device)
        return f"{med:.4f}", extra
    return f"{med:.2f}", extra


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--cap", type=float, default=60.0, help="give up on a setting whose first step exceeds this (s)")
    ap.add_argument("--settings", nargs="*", default=SETTINGS, choices=SETTINGS)
    ap.add_argument("--recipes", nargs="*", default=RECIPES)
    ap.add_argument("--device", default="cpu", help="cpu or cuda[:N]")
    ap.add_argument("--write", action="store_true",
                    help="update the bench_train_speed (CPU) or bench_train_speed_cuda section of BENCHMARKS.md")
    args = ap.parse_args()
    device = torch.device(args.device)
    rows = []
    for recipe in args.recipes:
        cfg = load_config(REPO / recipe)
        base = None
        for setting in args.settings:
            sec, extra = measure(cfg, setting, args.steps, args.cap, device)
            if setting == "fp32" and not sec.startswith(">"):
                base = float(sec)
            timed = not (sec.startswith(">") or sec == "n/a")
            speed = f"{base / float(sec):.2f}x" if base and timed else "-"
            row = f"| `{cfg.model.name}` (batch {cfg.data.batch_size}, {side(cfg)}²) | {setting} | {sec} | {speed} | {extra} |"
            print(row, flush=True)
            rows.append(row)
    if device.type == "cuda":
        intro = header(args.device)
    else:
        native = "yes" if cpu_has_native_bf16() else "no (AVX2 only: bf16 is emulated)"
        intro = header() + f"Native CPU bf16 (avx512_bf16/amx_bf16): {native}\n"
    body = (intro + "\n| recipe | setting | s/step (median) | vs fp32 | note |\n|---|---|---|---|---|\n" + "\n".join(rows))
    print(body)
    if args.write:
        write_section("bench_train_speed_cuda" if device.type == "cuda" else "bench_train_speed", body)


if __name__ == "__main__":
    main()
