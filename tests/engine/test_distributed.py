import os
import subprocess
import sys
from pathlib import Path

import torch

from crossspec.engine.data import ResumableBatchSampler

HERE = Path(__file__).parent


def test_sampler_shards_each_global_batch():
    one = ResumableBatchSampler(10, 4, seed=1)
    r0 = ResumableBatchSampler(10, 4, seed=1, rank=0, world_size=2)
    r1 = ResumableBatchSampler(10, 4, seed=1, rank=1, world_size=2)
    for s in (one, r0, r1):
        s.set_epoch(3)
    for full, a, b in zip(one, r0, r1):
        assert sorted(full) == sorted(a + b)
    assert len(one) == 2  # the incomplete tail of 2 samples is dropped
    one.set_epoch(3, start=1)
    assert len(list(one)) == 1
    other = ResumableBatchSampler(10, 4, seed=1)
    other.set_epoch(4)
    assert one.order(3) != other.order(4)  # a new permutation each epoch


def _run(cmd, tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(HERE.parents[1])}
    proc = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]


def test_torchrun_two_processes_match_one(tmp_path):
    from safetensors.torch import load_file

    _run([sys.executable, "-m", "tests.engine.ddp_worker", str(tmp_path / "single")], tmp_path)
    _run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
          "-m", "tests.engine.ddp_worker", str(tmp_path / "ddp")], tmp_path)
    a = load_file(str(tmp_path / "single/checkpoints/last.safetensors"))
    b = load_file(str(tmp_path / "ddp/checkpoints/last.safetensors"))
    assert a.keys() == b.keys()
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=1e-4, atol=1e-5, msg=k)
    # rank 0 alone wrote the log: one line per step, not two
    lines = (tmp_path / "ddp/log.jsonl").read_text().splitlines()
    assert sum('"kind": "train"' in line for line in lines) == 4
