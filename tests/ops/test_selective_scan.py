"""selective_scan: every available backend against the float64 sequential reference."""
from __future__ import annotations

import logging
from pathlib import Path

import pytest
import torch

import crossspec
from crossspec.errors import ConfigError, CrossspecError
from crossspec.ops import available_backends, resolve_backend, selective_scan, selective_scan_reference
from crossspec.ops import scan as scan_module
from crossspec.ops.scan_torch import scan_torch
from crossspec.ops.scan_inputs import check_scan_inputs

FAST_BACKENDS = [b for b in available_backends() if b != "ref"]
DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
CASES = [  # (with D, with z, with delta_bias, softplus, groups or None for 3-D B/C)
    (False, False, False, False, 1),
    (True, True, True, True, 2),
    (True, False, True, True, None),
    (False, True, False, False, 2),
    (True, True, False, True, 1),
]


def make_inputs(batch=2, d_inner=4, d_state=3, length=19, groups=1, *, D=True, z=True, delta_bias=True,
                dtype=torch.float64, device="cpu", s4d_real=False, generator_seed=0):
    """Random scan inputs; groups=None gives 3-D B/C. A is negative (decaying), as in Mamba."""
    g = torch.Generator().manual_seed(generator_seed)

    def rnd(*shape, scale=1.0):
        return (torch.randn(*shape, generator=g, dtype=torch.float64) * scale).to(dtype=dtype, device=device)

    if s4d_real:  # Mamba's S4D-real initialisation: A = -(1, 2, ..., d_state) for every channel
        A = -torch.arange(1, d_state + 1, dtype=torch.float64).repeat(d_inner, 1).to(dtype=dtype, device=device)
    else:
        A = -torch.exp(torch.rand(d_inner, d_state, generator=g, dtype=torch.float64)).to(dtype=dtype, device=device)
    bc_shape = (batch, d_state, length) if groups is None else (batch, groups, d_state, length)
    args = {
        "u": rnd(batch, d_inner, length),
        "delta": rnd(batch, d_inner, length, scale=0.5),
        "A": A,
        "B": rnd(*bc_shape),
        "C": rnd(*bc_shape),
        "D": rnd(d_inner) if D else None,
        "z": rnd(batch, d_inner, length) if z else None,
        "delta_bias": rnd(d_inner, scale=0.5) if delta_bias else None,
    }
    for t in args.values():
        if t is not None:
            t.requires_grad_(True)
    return args


def run_with_grads(fn, args, softplus, seed=1):
    """out, last_state and the gradients of a random projection of both w.r.t. every input."""
    out, last = fn(**args, delta_softplus=softplus, return_last_state=True)
    g = torch.Generator().manual_seed(seed)
    w_out = torch.randn(out.shape, generator=g, dtype=torch.float64).to(out)
    w_last = torch.randn(last.shape, generator=g, dtype=torch.float64).to(last)
    names = [k for k, v in args.items() if v is not None]
    grads = torch.autograd.grad((out * w_out).sum() + (last * w_last).sum(), [args[k] for k in names])
    return out, last, dict(zip(names, grads))


def rel_err(a: torch.Tensor, b: torch.Tensor) -> float:
    """max |a - b| / max |b|: relative to the tensor's scale, robust to entries near zero."""
    return ((a.double() - b.double()).abs().max() / b.double().abs().max().clamp_min(1e-30)).item()


@pytest.mark.parametrize("backend", FAST_BACKENDS)
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("case", CASES)
def test_matches_float64_reference_forward_and_grads(backend, device, case):
    with_D, with_z, with_bias, softplus, groups = case
    if backend == "cuda" and device != "cuda":
        pytest.skip("the cuda backend needs GPU tensors")
    # The cuda kernel computes in fp32; everything else is checked in float64.
    dtype = torch.float32 if backend == "cuda" else torch.float64
    tol = 1e-4 if dtype == torch.float32 else 1e-10
    args = make_inputs(d_inner=4, groups=groups, D=with_D, z=with_z, delta_bias=with_bias, dtype=dtype, device=device)
    ref_args = {k: (v.detach().double().cpu().requires_grad_(True) if v is not None else None) for k, v in args.items()}

    out, last, grads = run_with_grads(lambda **kw: selective_scan(**kw, backend=backend), args, softplus)
    ref_out, ref_last, ref_grads = run_with_grads(selective_scan_reference, ref_args, softplus)

    assert out.dtype == dtype and out.shape == ref_out.shape
    assert last.shape == (2, 4, 3)
    assert rel_err(out.cpu(), ref_out) < tol
    assert rel_err(last.cpu(), ref_last) < tol
    assert set(grads) == set(ref_grads)
    for name in grads:
        assert rel_err(grads[name].cpu(), ref_grads[name]) < tol, name


@pytest.mark.parametrize("chunk", [1, 4, 7, 64])
@pytest.mark.parametrize("groups", [1, 2])
def test_torch_backend_chunk_boundaries(chunk, groups):
    # Chunks that do and do not divide L: the state and its gradient must cross every boundary.
    args = make_inputs(d_inner=6, length=23, groups=groups)
    ref = run_with_grads(selective_scan_reference, args, softplus=True)

    def chunked(delta_softplus, return_last_state, **kw):
        return scan_torch(check_scan_inputs(**kw, delta_softplus=delta_softplus), chunk=chunk)

    out, last, grads = run_with_grads(chunked, args, softplus=True)
    assert rel_err(out, ref[0]) < 1e-12
    assert rel_err(last, ref[1]) < 1e-12
    for name, g in grads.items():
        assert rel_err(g, ref[2][name]) < 1e-12, name


def test_float32_inputs_against_float64_reference():
    args32 = make_inputs(d_inner=8, d_state=16, length=300, groups=2, dtype=torch.float32, s4d_real=True)
    args64 = {k: (v.detach().double().requires_grad_(True) if v is not None else None) for k, v in args32.items()}
    out, last, grads = run_with_grads(lambda **kw: selective_scan(**kw, backend="torch"), args32, True)
    ref_out, ref_last, ref_grads = run_with_grads(selective_scan_reference, args64, True)
    assert out.dtype == torch.float32 and last.dtype == torch.float32
    assert rel_err(out, ref_out) < 1e-5
    assert rel_err(last, ref_last) < 1e-5
    for name in grads:
        assert rel_err(grads[name], ref_grads[name]) < 1e-5, name


def test_gradcheck_tiny():
    args = make_inputs(batch=1, d_inner=2, d_state=2, length=5, groups=2)
    names = list(args)

    def fn(*tensors):
        kw = dict(zip(names, tensors))
        out, last = scan_torch(check_scan_inputs(**kw, delta_softplus=True), chunk=2)
        return out, last

    assert torch.autograd.gradcheck(fn, tuple(args[k] for k in names), eps=1e-6, atol=1e-7)


@pytest.mark.parametrize("delta_scale", [1.0, 50.0])
def test_long_sequence_realistic_decay_stays_finite(delta_scale):
    # S4D-real decays with strong steps: exp(delta*A) reaches 1e-300 and below. A cumulative
    # exp(cumsum) formulation overflows here; the scan must stay finite and accurate.
    args = make_inputs(batch=1, d_inner=4, d_state=16, length=2048, groups=1, dtype=torch.float32, s4d_real=True)
    with torch.no_grad():
        args["delta"].mul_(delta_scale)
    out, last, grads = run_with_grads(lambda **kw: selective_scan(**kw, backend="torch"), args, True)
    assert torch.isfinite(out).all() and torch.isfinite(last).all()
    for name, g in grads.items():
        assert torch.isfinite(g).all(), name
    with torch.no_grad():
        ref = selective_scan_reference(**{k: (v.double() if v is not None else None) for k, v in args.items()},
                                       delta_softplus=True)
    assert rel_err(out, ref) < 1e-5


def test_low_precision_inputs_compute_in_float32():
    args = make_inputs(dtype=torch.bfloat16)
    out, last = selective_scan(**args, delta_softplus=True, return_last_state=True)
    assert out.dtype == torch.bfloat16 and last.dtype == torch.float32
    ref = selective_scan_reference(**{k: v.detach().double() for k, v in args.items()}, delta_softplus=True)
    assert rel_err(out.float(), ref) < 2e-2  # bf16 output rounding only


def test_backend_selection(monkeypatch):
    monkeypatch.delenv("CROSSSPEC_SCAN_BACKEND", raising=False)
    assert "torch" in available_backends() and "ref" in available_backends()
    assert resolve_backend() == "torch"
    assert resolve_backend("auto") == "torch"
    assert resolve_backend("TORCH") == "torch"
    monkeypatch.setenv("CROSSSPEC_SCAN_BACKEND", "ref")
    assert resolve_backend() == "ref"
    assert resolve_backend("torch") == "torch"  # the argument wins over the environment
    monkeypatch.setenv("CROSSSPEC_SCAN_BACKEND", "triton")
    with pytest.raises(ConfigError, match=r"CROSSSPEC_SCAN_BACKEND.*unknown.*'triton'"):
        resolve_backend()
    with pytest.raises(ConfigError, match="unknown selective-scan backend 'nope'"):
        selective_scan(**make_inputs(), backend="nope")


@pytest.mark.skipif("cuda" in available_backends(), reason="mamba-ssm is usable here")
def test_cuda_backend_unavailable_is_explained():
    with pytest.raises(ConfigError, match="'cuda' is unavailable: .*pip install crossspec\\[cuda\\]"):
        selective_scan(**make_inputs(), backend="cuda")


def test_backend_logged_once(monkeypatch, caplog):
    monkeypatch.setattr(scan_module, "_logged", set())
    args = make_inputs()
    with caplog.at_level(logging.INFO, logger="crossspec"):
        selective_scan(**args, backend="torch")
        selective_scan(**args, backend="torch")
        selective_scan(**args, backend="ref")
    messages = [r.getMessage() for r in caplog.records if "selective scan" in r.getMessage()]
    assert len(messages) == 2 and "'torch'" in messages[0] and "'ref'" in messages[1]


@pytest.mark.parametrize(
    "change, message",
    [
        ({"u": torch.zeros(2, 4)}, r"selective_scan u: expected shape \(batch, d_inner, L\), got \(2, 4\)"),
        ({"delta": torch.zeros(2, 4, 18)}, r"selective_scan delta: expected the shape of u"),
        ({"A": torch.zeros(5, 3)}, r"selective_scan A: expected shape \(d_inner=4, d_state\)"),
        ({"B": torch.zeros(2, 1, 3, 18)}, r"selective_scan B: expected shape .*got \(2, 1, 3, 18\)"),
        ({"C": torch.zeros(2, 3, 3, 19)}, r"selective_scan C: d_inner=4 is not divisible by groups=3"),
        ({"D": torch.zeros(3)}, r"selective_scan D: expected shape \(d_inner=4,\)"),
        ({"z": torch.zeros(2, 4, 20)}, r"selective_scan z: expected the shape of u"),
        ({"delta_bias": torch.zeros(4, 1)}, r"selective_scan delta_bias: expected shape"),
        ({"u": torch.zeros(2, 4, 19, dtype=torch.int64)}, r"selective_scan u: expected a floating-point tensor"),
        ({"B": [1, 2]}, r"selective_scan B: expected a torch.Tensor, got list"),
        ({"u": torch.zeros(2, 4, 0), "delta": torch.zeros(2, 4, 0)}, r"selective_scan u: sequence length L is 0"),
    ],
)
def test_bad_inputs_name_the_argument(change, message):
    args = {k: (v.detach() if v is not None else None) for k, v in make_inputs(dtype=torch.float32).items()}
    args.update(change)
    with pytest.raises(CrossspecError, match=message):
        selective_scan(**args)


def test_only_the_cuda_backend_module_imports_mamba_ssm():
    package = Path(crossspec.__file__).parent
    importers = sorted(
        str(p.relative_to(package)) for p in package.rglob("*.py")
        if any(line.lstrip().startswith(("import mamba_ssm", "from mamba_ssm"))
               for line in p.read_text(encoding="utf-8").splitlines())
    )
    assert importers == ["ops/scan_cuda.py"]
