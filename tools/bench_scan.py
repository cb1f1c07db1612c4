"""Benchmark the selective scan backends: speed, peak memory and error against float64.

    python tools/bench_scan.py                       # the issue's size: batch 2, d_inner 128, d_state 16, L 4096
    python tools/bench_scan.py --naive-length 4096   # time the naive loop at full length (minutes)
    python tools/bench_scan.py --write               # also update the bench_scan section of BENCHMARKS.md

Rows:
  torch   crossspec's portable backend (`selective_scan(..., backend="torch")`).
  naive   a loop in the style of mamba-ssm's `selective_scan_ref`: decays and inputs precomputed with
          einsum, then one step per iteration indexing [..., t] and plain autograd. Its backward is
          very slow, so by default it is timed at a shorter L (--naive-length), next to the torch
          backend at that same L.
  cuda    mamba-ssm's fused kernel (only with mamba-ssm installed and a GPU).

Inputs follow Mamba's initialisation: A = -(1..d_state) (S4D-real), delta = softplus(x + dt_bias)
with dt_bias the inverse softplus of a log-uniform step in [1e-3, 1e-1], D = 1, a z gate; the full
call (D, z, delta_bias, softplus) is timed. "fwd" is the forward without autograd (inference),
"fwd+bwd" a forward with autograd plus the backward of out.sum() w.r.t. every input. Times are the
median of --repeat runs after one warm-up. "max rel err" is max|x - x64| / max|x64| over the output
and every input gradient (worst tensor), against the float64 sequential reference
(`selective_scan_reference`) at the same size. CPU peak memory is the rise of the process's peak
resident set over the fwd+bwd run; GPU peak memory is torch.cuda.max_memory_allocated.
"""
from __future__ import annotations

import argparse
import math
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from benchmd import header, write_section

from crossspec.ops import available_backends, selective_scan, selective_scan_reference

REPO = Path(__file__).resolve().parents[1]
SECTION = "bench_scan"
INPUT_NAMES = ("u", "delta", "A", "B", "C", "D", "z", "delta_bias")


def make_inputs(batch: int, d_inner: int, d_state: int, length: int, groups: int, device: str, seed: int = 0):
    """Mamba-initialised float32 inputs (see the module docstring), on ``device``."""
    g = torch.Generator().manual_seed(seed)
    step = torch.exp(torch.rand(d_inner, generator=g) * (math.log(0.1) - math.log(1e-3)) + math.log(1e-3))
    inputs = {
        "u": torch.randn(batch, d_inner, length, generator=g),
        "delta": torch.randn(batch, d_inner, length, generator=g) * 0.5,
        "A": -torch.arange(1, d_state + 1, dtype=torch.float32).repeat(d_inner, 1),
        "B": torch.randn(batch, groups, d_state, length, generator=g),
        "C": torch.randn(batch, groups, d_state, length, generator=g),
        "D": torch.ones(d_inner),
        "z": torch.randn(batch, d_inner, length, generator=g),
        "delta_bias": step + torch.log(-torch.expm1(-step)),  # inverse softplus
    }
    return {k: v.to(device) for k, v in inputs.items()}


def naive_scan(u, delta, A, B, C, D=None, z=None, delta_bias=None, delta_softplus=False, return_last_state=False):
    """The selective_scan_ref pattern: bulk decays/inputs, then a per-step loop indexing [..., t]."""
    dtype_in = u.dtype
    u, delta = u.float(), delta.float()
    if delta_bias is not None:
        delta = delta + delta_bias[:, None].float()
    if delta_softplus:
        delta = F.softplus(delta)
    d_inner = A.shape[0]
    B = B.float().repeat_interleave(d_inner // B.shape[1], dim=1)  # (b, d_inner, N, L)
    C = C.float().repeat_interleave(d_inner // C.shape[1], dim=1)
    decay = torch.exp(torch.einsum("bdl,dn->bdln", delta, A.float()))
    drive = torch.einsum("bdl,bdnl,bdl->bdln", delta, B, u)
    h = u.new_zeros(u.shape[0], d_inner, A.shape[1])
    ys = []
    for t in range(u.shape[2]):
        h = decay[:, :, t] * h + drive[:, :, t]
        ys.append(torch.einsum("bdn,bdn->bd", h, C[:, :, :, t]))
    y = torch.stack(ys, dim=2)
    if D is not None:
        y = y + u * D[:, None]
    if z is not None:
        y = y * F.silu(z)
    y = y.to(dtype_in)
    return (y, h) if return_last_state else y


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


class PeakMemory:
    """Peak memory rise over a block: CUDA allocator stats on GPU, VmHWM of the process on CPU.

    On CPU the rise is only meaningful in a fresh process (memory freed earlier is reused without
    raising the RSS), hence `cpu_peak_in_child`.
    """

    def __init__(self, device: str):
        self.device, self.mib = device, float("nan")

    def __enter__(self):
        if self.device.startswith("cuda"):
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            self.base = torch.cuda.memory_allocated()
        else:
            # Writing 5 to clear_refs resets VmHWM (peak RSS) to the current RSS (Linux >= 4.0).
            try:
                Path("/proc/self/clear_refs").write_text("5")
                self.base = self._status("VmRSS")
            except OSError:
                self.base = None
        return self

    def __exit__(self, *exc):
        if self.device.startswith("cuda"):
            torch.cuda.synchronize()
            self.mib = (torch.cuda.max_memory_allocated() - self.base) / 2**20
        elif self.base is not None:
            self.mib = (self._status("VmHWM") - self.base) / 2**20

    @staticmethod
    def _status(key: str) -> int:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
        raise OSError(f"/proc/self/status has no {key}")


def _leaf(inputs, dtype=None):
    return {k: v.detach().to(dtype or v.dtype).clone().requires_grad_(True) for k, v in inputs.items()}


def run_once(fn, inputs, grads: bool):
    """One call; with grads, backward of out.sum(). Returns (out, {name: grad})."""
    if not grads:
        with torch.no_grad():
            return fn(**inputs, delta_softplus=True), {}
    leaves = _leaf(inputs)
    out = fn(**leaves, delta_softplus=True)
    out.sum().backward()
    return out.detach(), {k: v.grad for k, v in leaves.items()}


def time_it(fn, inputs, grads: bool, repeat: int, device: str) -> tuple[float, float]:
    """(median, min) wall milliseconds of ``repeat`` calls after one warm-up."""
    run_once(fn, inputs, grads)  # warm-up
    times = []
    for _ in range(repeat):
        _sync(device)
        t0 = time.perf_counter()
        run_once(fn, inputs, grads)
        _sync(device)
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1e3, min(times) * 1e3


def reference(inputs):
    """Float64 output and input gradients from the sequential reference, on the CPU."""
    leaves = {k: v.detach().cpu().double().requires_grad_(True) for k, v in inputs.items()}
    out = selective_scan_reference(**leaves, delta_softplus=True)
    out.sum().backward()
    return out.detach(), {k: v.grad for k, v in leaves.items()}


def max_rel_err(result, ref) -> float:
    out, grads = result
    ref_out, ref_grads = ref
    pairs = [(out, ref_out)] + [(grads[k], ref_grads[k]) for k in ref_grads]
    return max(((a.detach().cpu().double() - b).abs().max() / b.abs().max().clamp_min(1e-30)).item()
               for a, b in pairs)


BACKEND_FNS = {
    "torch": lambda **kw: selective_scan(**kw, backend="torch"),
    "cuda": lambda **kw: selective_scan(**kw, backend="cuda"),
    "naive": naive_scan,
}


def cpu_peak_in_child(name: str, length: int, args) -> float:
    """Peak RSS rise (MiB) of one fwd+bwd, measured in a fresh Python process."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--peak-child", name, "--length", str(length),
           "--batch", str(args.batch), "--d-inner", str(args.d_inner), "--d-state", str(args.d_state),
           "--groups", str(args.groups), "--device", "cpu", "--threads", str(torch.get_num_threads())]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        print(f"  peak-memory child failed: {done.stderr.strip()[-500:]}", file=sys.stderr)
        return float("nan")
    return float(done.stdout.strip().splitlines()[-1])


def peak_child(args) -> None:
    # A tiny first call loads kernels and initialises libraries, so the peak counts only the scan.
    tiny = make_inputs(args.batch, args.d_inner, args.d_state, 8, args.groups, args.device)
    run_once(BACKEND_FNS[args.peak_child], tiny, True)
    inputs = make_inputs(args.batch, args.d_inner, args.d_state, args.length, args.groups, args.device)
    with PeakMemory(args.device) as peak:
        run_once(BACKEND_FNS[args.peak_child], inputs, True)
    print(f"{peak.mib:.3f}")


def measure(name, args, length, device, repeat, ref_cache) -> dict:
    fn = BACKEND_FNS[name]
    inputs = make_inputs(args.batch, args.d_inner, args.d_state, length, args.groups, device)
    fwd, _ = time_it(fn, inputs, False, repeat, device)
    cpu0 = time.process_time()
    both, both_min = time_it(fn, inputs, True, repeat, device)
    cpu_ms = (time.process_time() - cpu0) * 1e3 / (repeat + 1)  # CPU time per call, all threads
    if device.startswith("cuda"):
        with PeakMemory(device) as peak:
            result = run_once(fn, inputs, True)
        peak_mib = peak.mib
    else:
        result = run_once(fn, inputs, True)
        peak_mib = cpu_peak_in_child(name, length, args)
    if length not in ref_cache:
        print(f"  float64 reference at L={length} ...", file=sys.stderr, flush=True)
        ref_cache[length] = reference(inputs)
    err = max_rel_err(result, ref_cache[length])
    row = {"backend": name, "threads": torch.get_num_threads(), "L": length, "fwd_ms": fwd, "fwdbwd_ms": both, "fwdbwd_min_ms": both_min, "cpu_ms": cpu_ms, "peak_mib": peak_mib,
           "err": err}
    print(f"  {name:6s} threads={row['threads']} L={length:5d} fwd {fwd:9.1f} ms  fwd+bwd {both:10.1f} ms (CPU {cpu_ms:10.1f} ms)"
          f"  peak {peak_mib:8.1f} MiB"
          f"  max rel err {err:.1e}", file=sys.stderr, flush=True)
    return row


def table(rows) -> str:
    lines = ["| backend | threads | L | fwd ms | fwd+bwd ms | fwd+bwd min ms | fwd+bwd CPU ms | peak memory (fwd+bwd) MiB "
             "| max rel err vs float64 |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['backend']} | {r['threads']} | {r['L']} | {r['fwd_ms']:.1f} | {r['fwdbwd_ms']:.1f} | "
                     f"{r['fwdbwd_min_ms']:.1f} | {r['cpu_ms']:.1f} | "
                     f"{r['peak_mib']:.1f} | {r['err']:.1e} |")
    return "\n".join(lines)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--batch", type=int, default=2)
    p.add_argument("--d-inner", type=int, default=128)
    p.add_argument("--d-state", type=int, default=16)
    p.add_argument("--length", type=int, default=4096)
    p.add_argument("--groups", type=int, default=1)
    p.add_argument("--threads", default=None,
                   help="torch CPU threads, or a comma list to measure each (default: torch's setting)")
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--naive-length", type=int, default=512,
                   help="L at which the naive loop is timed (its backward takes minutes at 4096)")
    p.add_argument("--skip-naive", action="store_true")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--write", action="store_true", help="update the bench_scan section of BENCHMARKS.md")
    p.add_argument("--peak-child", choices=sorted(BACKEND_FNS), help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    thread_counts = [int(t) for t in str(args.threads).split(",")] if args.threads else [torch.get_num_threads()]
    torch.set_num_threads(thread_counts[0])
    if args.peak_child:
        peak_child(args)
        return

    ref_cache: dict[int, tuple] = {}
    rows = []
    for threads in thread_counts:
        torch.set_num_threads(threads)
        rows.append(measure("torch", args, args.length, args.device, args.repeat, ref_cache))
        if "cuda" in available_backends() and args.device.startswith("cuda"):
            rows.append(measure("cuda", args, args.length, args.device, args.repeat, ref_cache))
        if not args.skip_naive:
            if args.naive_length != args.length:
                rows.append(measure("torch", args, args.naive_length, args.device, args.repeat, ref_cache))
            # The naive loop is slow enough that one timed run (after the warm-up) is representative.
            rows.append(measure("naive", args, args.naive_length, args.device, 1, ref_cache))

    body = "\n".join([
        header(args.device, None if argv is None else ["tools/bench_scan.py", *argv]),
        f"Size: batch {args.batch}, d_inner {args.d_inner}, d_state {args.d_state}, groups {args.groups}, "
        f"fp32, with D, z, delta_bias and softplus; device {args.device}.",
        "",
        table(rows),
        "",
        "fwd: forward without autograd; fwd+bwd: forward with autograd + backward w.r.t. all inputs, "
        f"wall time (median and min of {args.repeat} runs; naive: 1 run); fwd+bwd CPU: process CPU time per "
        "fwd+bwd summed over threads, less sensitive to other jobs on a shared machine. Peak memory: "
        "rise of peak RSS over one fwd+bwd in a fresh process (CPU) or CUDA max allocated (GPU). Error: max |x - x64| / max |x64| over output and all gradients "
        "against the float64 sequential reference. See tools/bench_scan.py.",
    ])
    print(body)
    if args.write:
        write_section(SECTION, body)
        print(f"wrote the {SECTION} section of BENCHMARKS.md", file=sys.stderr)


if __name__ == "__main__":
    main()
