"""Turn a training run into a shipped pretrained model (``crossspec/weights/<name>.*``).

    export_pretrained("runs/colormamba-small", "colormamba-small-vcip", card="card.md",
                      data="../shared/data/vcip2020", lpips_weights="alexnet.pth")

writes, beside each other, the weights (EMA when the run kept them; float32, or float16 to halve
the size), the model card (the given markdown plus a generated "Measured scores" and "Provenance"
section) and the manifest (:mod:`crossspec.io.shipped_weights`). The scores are measured on the
exported file itself, so the card describes the bytes that ship. All three files are written to a
temporary folder first and moved into place at the end; existing files are kept unless ``overwrite``.
"""
from __future__ import annotations

import json
import logging
import shutil
import tempfile
from pathlib import Path
from typing import Any

import torch
import yaml

from crossspec.engine import run_provenance as provenance
from crossspec.errors import CrossspecError, file_error
from crossspec.io import shipped_weights as P
from crossspec.io.weights_file import resolve_checkpoint
from crossspec.models import create_model, list_models, load_model, load_shipped_weights, model_info, save_weights

log = logging.getLogger("crossspec")

DTYPES = {"float32": torch.float32, "float16": torch.float16}
EVAL_SPLITS = {"vcip2020": ("test-28", "test-clean-20", "test-unseen-15"), "demo": ("test",)}
CARD_START, CARD_END = "<!-- crossspec:measured:start -->", "<!-- crossspec:measured:end -->"


def _checkpoint(run_dir: Path, checkpoint: str | None) -> Path:
    """``checkpoint``: None (best, else last), a tag of the run (``last``, ``step_0001000``) or a file."""
    if checkpoint is None:
        return resolve_checkpoint(run_dir)
    if checkpoint.endswith(".safetensors"):
        path = Path(checkpoint)
    else:
        path = run_dir / "checkpoints" / f"{checkpoint}.safetensors"
    if not path.is_file():
        raise file_error(path, "checkpoint not found", CrossspecError)
    return path


def _check_name(name: str) -> None:
    if not P.NAME_RE.match(name):
        raise CrossspecError(f"name {name!r}: use lowercase letters, digits, '.', '_' and '-'")
    if name in list_models(pretrained=False):
        raise CrossspecError(f"name {name!r} is a registered architecture; name the weights, e.g. {name}-vcip")


def _metrics(weights: Path, domain: str, data: str | None, dataset: str, lpips_weights: str | None,
             use_lpips: bool | None, device: str) -> dict[str, Any]:
    from crossspec.evaluation import run_eval

    report = run_eval(model=str(weights), root=data, dataset=dataset, splits=list(EVAL_SPLITS[dataset]),
                      domain=domain, lpips_weights=lpips_weights, use_lpips=use_lpips, device=device)
    return {"dataset": dataset, "protocol": report.protocol["description"], "splits": report.summary()}


def _raster_metrics(weights: Path, rasters: str, root: str | None, device: str) -> dict[str, Any]:
    """Scores on the held-out scenes of the scene manifest ``rasters``, beside ``nir-gain`` fitted on
    its training scenes (the bar an overhead model has to clear), as ``crossspec eval --rasters``."""
    from crossspec.data.scenes import load_manifest
    from crossspec.models import load_model
    from crossspec.raster_eval import evaluate_rasters, fit_gain, load_scenes

    scenes = load_scenes(rasters, root, "test")
    report = evaluate_rasters(scenes, load_model(str(weights), device), source="exported weights")
    gain = fit_gain(load_manifest(rasters, root)).to(device)
    ref = evaluate_rasters(scenes, gain, source="model nir-gain")
    return {"dataset": f"rasters {rasters}", "protocol": report.protocol["description"], "splits": report.summary(),
            "reference": {"model": "nir-gain", "gain": [round(float(v), 6) for v in gain.gain.tolist()],
                          "splits": ref.summary()}}


def _fmt(row: dict, key: str, fmt: str) -> str:
    return fmt.format(row[key]) if row.get(key) is not None else "n/a"


def measured_section(manifest: dict[str, Any]) -> str:
    """The generated part of the card: scores table and provenance, from the manifest."""
    lines = [CARD_START, "## Measured scores", ""]
    metrics = manifest.get("metrics") or {}
    ref = metrics.get("reference")
    if metrics.get("splits"):
        lines += [f"Dataset `{metrics['dataset']}`, measured on the shipped {manifest['dtype']} weights "
                  f"(sha256 `{manifest['sha256'][:16]}…`). Protocol: {metrics['protocol']}."]
        head, rule = "| split | images | PSNR (dB) | SSIM | AE (°) | LPIPS |", "|---|---|---|---|---|---|"
        if ref:
            lines += ["", f"`{ref['model']}` (gains {', '.join(f'{g:.4f}' for g in ref['gain'])}, fitted on the "
                          "training scenes) is scored the same way; margin = this model's PSNR minus its."]
            head, rule = (f"| raster | rasters | PSNR (dB) | SSIM | AE (°) | {ref['model']} PSNR / SSIM / AE (°) | "
                          "margin (dB) |", "|---|---|---|---|---|---|---|")
        lines += ["", head, rule]
        for split, row in metrics["splits"].items():
            cells = (f"| {split} | {int(row['n'])} | {_fmt(row, 'psnr', '{:.2f}')} | {_fmt(row, 'ssim', '{:.4f}')} | "
                     f"{_fmt(row, 'ae', '{:.2f}')} |")
            if ref:
                r = ref["splits"][split]
                cells += (f" {_fmt(r, 'psnr', '{:.2f}')} / {_fmt(r, 'ssim', '{:.4f}')} / {_fmt(r, 'ae', '{:.2f}')} | "
                          f"{row['psnr'] - r['psnr']:+.2f} |")
            else:
                cells += f" {_fmt(row, 'lpips', '{:.4f}')} |"
            lines.append(cells)
    else:
        lines.append("Not measured (export with `--data`, or `--rasters` and `--data`, to score the shipped weights).")
    prov = manifest["provenance"]
    ck = prov["checkpoint"]
    lines += ["", "## Provenance", "",
              f"- weights: `{ck['file']}` of run `{prov['run_name']}` at step {ck['step']}"
              f"{' (EMA)' if ck['ema'] else ''}, sha256 `{ck['sha256'][:16]}…`"]
    sessions = (prov.get("run") or {}).get("sessions") or []
    if not sessions:
        lines.append("- training sessions: not recorded (the run predates run.json)")
    for s in sessions:
        lines.append(f"- trained from step {s['start_step']}: crossspec {s['crossspec_version']} (commit "
                     f"{s['git_commit'] or 'unknown'}), torch {s['torch_version']}, {s['device']}, "
                     f"{s['threads']} threads × {s['world_size']} process(es)")
    e = prov["export"]
    lines += [f"- exported: crossspec {e['crossspec_version']} (commit {e['git_commit'] or 'unknown'}), {e['time']}",
              CARD_END]
    return "\n".join(lines) + "\n"


def card_with_measurements(card: str, manifest: dict[str, Any]) -> str:
    """``card`` with its generated section replaced (or appended when it has none)."""
    section = measured_section(manifest)
    if CARD_START in card and CARD_END in card:
        head, rest = card.split(CARD_START, 1)
        return head + section + rest.split(CARD_END, 1)[1].lstrip("\n")
    return card.rstrip("\n") + "\n\n" + section


def export_pretrained(run_dir: str | Path, name: str, *, card: str | Path, out_dir: str | Path | None = None,
                      checkpoint: str | None = None, dtype: str = "float32", description: str = "",
                      default: bool = False, data: str | None = None, dataset: str = "vcip2020",
                      lpips_weights: str | None = None, use_lpips: bool | None = None, device: str = "cpu",
                      overwrite: bool = False, share: tuple[str, str] | None = None,
                      set_kwargs: dict[str, Any] | None = None, rasters: str | None = None,
                      imagery: str = "photo") -> P.Pretrained:
    """Write ``<name>.safetensors``, ``<name>.md`` and ``<name>.json`` into ``out_dir`` (default:
    the package's ``crossspec/weights``) from ``run_dir``'s best (else last) checkpoint.

    ``data`` (or ``dataset="demo"``) measures the exported weights on the evaluation splits and
    records the scores in the manifest and the card; without it the model ships unmeasured.
    ``rasters`` (a scene manifest; ``data`` is then the root of its paths) scores the held-out scenes
    instead, beside ``nir-gain`` fitted on its training scenes. ``imagery`` ("photo" or "overhead")
    says what the model was trained on; ``default`` makes it the default for its domain and imagery.
    ``share=(NAME, PREFIX)`` stores once the tensors under ``PREFIX`` (e.g. ``"encoder."``) that equal
    those of the shipped model ``NAME`` bit for bit: they are loaded from its file (the manifest lists
    them), the others under ``PREFIX`` (e.g. fine-tuned stages) stay in this one.
    ``set_kwargs`` changes architecture options that hold no weights (e.g. ``luma_from_input``): the
    model is rebuilt with them and the trained weights load into it strictly.
    """
    run_dir, card = Path(run_dir), Path(card)
    out_dir = Path(out_dir) if out_dir is not None else P.WEIGHTS_DIR
    _check_name(name)
    if imagery not in P.IMAGERY:
        raise CrossspecError(f"imagery {imagery!r}: choose from {', '.join(P.IMAGERY)}")
    if dtype not in DTYPES:
        raise CrossspecError(f"dtype {dtype!r}: choose from {', '.join(DTYPES)}")
    targets = {ext: out_dir / f"{name}.{ext}" for ext in ("safetensors", "md", "json")}
    existing = [str(p) for p in targets.values() if p.exists()]
    if existing and not overwrite:
        raise file_error(existing[0], f"exists already{' (and ' + ', '.join(existing[1:]) + ')' if existing[1:] else ''}; "
                                      "pass --overwrite to replace", CrossspecError)
    if not card.is_file() or not card.read_text(encoding="utf-8").strip():
        raise file_error(card, "model card missing or empty", CrossspecError)
    source = _checkpoint(run_dir, checkpoint)
    model = load_model(source)  # EMA weights when the run kept them; strict
    meta = dict(model_info(model).checkpoint)  # type: ignore[union-attr,arg-type]
    if set_kwargs:
        kwargs = {**json.loads(meta["model_kwargs"]), **set_kwargs}
        rebuilt = create_model(meta["model_name"], **kwargs)
        try:
            rebuilt.load_state_dict(model.state_dict(), strict=True)
        except RuntimeError as exc:
            raise CrossspecError(f"set_kwargs {set_kwargs}: the trained weights do not fit ({exc})") from None
        model = rebuilt
        meta["model_kwargs"] = json.dumps(kwargs, sort_keys=True)
    domain = meta["domain"]
    run = provenance.read_run_json(run_dir)
    if run is None:
        log.warning("%s: no run.json (trained before crossspec recorded provenance); the manifest says so", run_dir)
    config_path = run_dir / "config.yaml"
    prov = {
        "run_name": run_dir.resolve().name,
        "run": run,
        "config": yaml.safe_load(config_path.read_text(encoding="utf-8")) if config_path.is_file() else None,
        "checkpoint": {"file": source.relative_to(run_dir).as_posix() if source.is_relative_to(run_dir) else source.name,
                       "step": int(meta["step"]), "ema": meta.get("has_ema") == "1",
                       "sha256": P.sha256_file(source)},
        "export": provenance.collect("cpu"),
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f".{name}-", dir=out_dir) as tmp:
        staged = {ext: Path(tmp) / p.name for ext, p in targets.items()}
        save_weights(staged["safetensors"], model.to(DTYPES[dtype]), step=int(meta["step"]), domain=domain,
                     extra={"pretrained_name": name})
        manifest = {
            "format": P.FORMAT, "name": name, "description": description, "architecture": meta["model_name"],
            "kwargs": json.loads(meta["model_kwargs"]), "domain": domain, "imagery": imagery,
            "weights": targets["safetensors"].name,
            "sha256": P.sha256_file(staged["safetensors"]), "size_bytes": staged["safetensors"].stat().st_size,
            "dtype": dtype, "card": targets["md"].name, "default": bool(default), "metrics": {}, "provenance": prov,
        }
        if rasters is not None:
            manifest["metrics"] = _raster_metrics(staged["safetensors"], rasters, data, device)
        elif data is not None or dataset == "demo":
            manifest["metrics"] = _metrics(staged["safetensors"], domain, data, dataset, lpips_weights, use_lpips,
                                           device)
        if share is not None:  # after scoring: the scored file and the shared one hold the same values
            manifest.update(shared=_drop_shared(staged["safetensors"], out_dir, *share),
                            sha256=P.sha256_file(staged["safetensors"]),
                            size_bytes=staged["safetensors"].stat().st_size)
        staged["md"].write_text(card_with_measurements(card.read_text(encoding="utf-8"), manifest), encoding="utf-8")
        staged["json"].write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
        if share is None:
            spec = P.read_manifest(staged["json"])
            # loads exactly as users will: hash checked, strict, into the architecture at its dtype
            load_shipped_weights(_build(spec), spec)
        for ext in ("safetensors", "md", "json"):  # the manifest last: it is what makes the model visible
            staged[ext].chmod(0o644)  # package files, readable by all (atomic writes create them 0600)
            shutil.move(str(staged[ext]), targets[ext])
    log.info("%s: %s weights from %s, %.1f MB, sha256 %s", targets["json"], dtype, source,
             manifest["size_bytes"] / 1e6, manifest["sha256"])
    spec = P.read_manifest(targets["json"])
    if share is not None:
        try:  # a shared model loads only beside its source, so check it where it landed
            load_shipped_weights(_build(spec), spec)
        except CrossspecError:
            for path in targets.values():
                path.unlink(missing_ok=True)
            raise
    return spec


def _drop_shared(weights: Path, out_dir: Path, source: str, prefix: str) -> dict[str, Any]:
    """Rewrite ``weights`` without those ``model.<prefix>*`` tensors that equal the shipped model
    ``source``'s exactly (same name, dtype and values); returns the manifest's ``shared`` entry:
    ``source``, its weights' sha256 and those tensors' names (without ``model.``)."""
    from safetensors import safe_open

    from crossspec.io.weights_file import safetensors_bytes

    shipped = P.discover(out_dir)
    if source not in shipped:
        raise CrossspecError(f"share: {source!r} is not a shipped model in {out_dir} ({', '.join(sorted(shipped))})")
    base = P.load_state(shipped[source])
    with safe_open(str(weights), "pt") as f:
        meta = f.metadata()
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    mine = {k[len("model."):]: v for k, v in tensors.items() if k.startswith("model." + prefix)}
    if not mine:
        raise CrossspecError(f"share: the exported model has no {prefix}* tensors")
    same = sorted(k for k, v in mine.items() if k in base and base[k].dtype == v.dtype and base[k].shape == v.shape
                  and torch.equal(base[k], v))
    if not same:
        raise CrossspecError(f"share: no {prefix}* tensor of the exported model is identical to {source!r}'s; "
                             "nothing to store once")
    log.info("share: %d of %d %s* tensors taken from %s, %d kept (they differ)", len(same), len(mine), prefix,
             source, len(mine) - len(same))
    drop = {"model." + k for k in same}
    weights.write_bytes(safetensors_bytes({k: v for k, v in tensors.items() if k not in drop}, meta))
    return {"from": source, "sha256": shipped[source].sha256, "keys": same}


def _build(spec: P.Pretrained) -> torch.nn.Module:
    return create_model(spec.architecture, **spec.kwargs)
