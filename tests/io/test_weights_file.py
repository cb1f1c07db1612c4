import hashlib
import json

import pytest
import torch
from safetensors import safe_open

from crossspec.io.weights_file import read_metadata, safetensors_bytes, write_weights


def _state() -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    return {
        "b.weight": torch.randn(3, 4, generator=g),
        "a.half": torch.randn(5, generator=g).half(),
        "c.bf16": torch.randn(2, 2, generator=g).bfloat16(),
        "d.count": torch.tensor(7, dtype=torch.int64),
        "e.mask": torch.tensor([True, False]),
        "f.empty": torch.zeros(0, 3),
        "g.strided": torch.arange(12.0).view(3, 4).t(),  # not contiguous
    }


@pytest.mark.parametrize("dtype", [None, torch.float16])
def test_round_trip_through_the_safetensors_reader(tmp_path, dtype):
    state = _state()
    if dtype is not None:
        state = {k: v.to(dtype) if v.is_floating_point() else v for k, v in state.items()}
    f = tmp_path / "w.safetensors"
    f.write_bytes(safetensors_bytes(state, {"z": "1", "a": "two"}))
    with safe_open(str(f), "pt") as r:
        assert r.metadata() == {"z": "1", "a": "two"}
        assert sorted(r.keys()) == sorted(state)
        for k, v in state.items():
            got = r.get_tensor(k)
            assert got.dtype == v.dtype and got.shape == v.shape and torch.equal(got, v), k


def test_same_contents_give_the_same_bytes_whatever_the_order(tmp_path):
    state = _state()
    meta = {f"key{i}": str(i) for i in range(20)}
    a = safetensors_bytes(state, meta)
    b = safetensors_bytes(dict(reversed(list(state.items()))), dict(reversed(list(meta.items()))))
    assert a == b
    head = int.from_bytes(a[:8], "little")
    assert head % 8 == 0
    header = json.loads(a[8:8 + head])
    for name, entry in header.items():
        if name != "__metadata__":  # every tensor starts on a multiple of its element size
            assert entry["data_offsets"][0] % state[name].element_size() == 0, name
    changed = dict(state, **{"b.weight": state["b.weight"] + 1})
    assert safetensors_bytes(changed, meta) != a


def test_write_weights_is_reproducible(tmp_path):
    state = {"w": torch.randn(4, 4)}
    digests = []
    for name in ("one", "two"):
        path = write_weights(tmp_path / f"{name}.safetensors", state, model_name="m", model_kwargs={"b": 1, "a": [1, 2]},
                             step=3, domain="gray")
        digests.append(hashlib.sha256(path.read_bytes()).hexdigest())
    assert digests[0] == digests[1]
    meta = read_metadata(tmp_path / "one.safetensors")
    assert meta["model_name"] == "m" and meta["step"] == "3" and meta["domain"] == "gray"


def test_unsupported_dtype_is_named():
    with pytest.raises(ValueError, match="x: dtype torch.complex64"):
        safetensors_bytes({"x": torch.zeros(2, dtype=torch.complex64)}, {})
