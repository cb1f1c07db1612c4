"""``make_runner``: the one path by which colorize and eval run a model (padding, autocast, shape check)."""
import pytest
import torch
import torch.nn as nn

from crossspec.errors import CrossspecError
from crossspec.evaluation import _model_predictor
from crossspec.inference.predict import make_runner


class Recorder(nn.Module):
    """A 1x1 conv colorizer that needs sides divisible by 8 and records what it was run under."""

    size_multiple = 8

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 3, 1)
        self.calls = []

    def forward(self, x):
        assert x.shape[-2] % 8 == 0 and x.shape[-1] % 8 == 0, x.shape
        self.calls.append((tuple(x.shape[-2:]), torch.is_autocast_enabled(x.device.type)))
        return self.conv(x)


@pytest.mark.parametrize("amp, autocast, dtype", [(None, False, torch.float32), (False, False, torch.float32),
                                                  (True, True, torch.bfloat16)])
def test_autocast_only_where_asked_on_cpu(amp, autocast, dtype):
    model = Recorder()
    out = make_runner(model, amp=amp)(torch.rand(2, 1, 13, 21))
    assert model.calls == [((16, 24), autocast)]
    assert out.shape == (2, 3, 13, 21) and out.dtype == dtype


def test_runner_rejects_a_model_that_is_not_a_colorizer():
    class TwoChannels(nn.Module):
        def forward(self, x):
            return x.repeat(1, 2, 1, 1)

    with pytest.raises(CrossspecError, match=r"model returned shape \(1, 2, 8, 8\); a colorizer returns"):
        make_runner(TwoChannels())(torch.rand(1, 1, 8, 8))


def test_eval_runs_the_model_padded_and_in_fp32():
    model = Recorder()
    predict = _model_predictor(model, "cpu", None, False)
    samples = [{"key": f"k{i}", "input": torch.rand(1, 13, 21)} for i in range(2)]
    pred = predict(samples)
    assert model.calls == [((16, 24), False)]
    assert pred.shape == (2, 3, 13, 21) and pred.dtype == torch.float32
    expected = model.conv(torch.stack([s["input"] for s in samples])).clamp(0, 1)
    torch.testing.assert_close(pred, torch.round(expected * 255) / 255, atol=1 / 255, rtol=0)
