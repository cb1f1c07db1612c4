"""Validation during training scores a model the way `crossspec eval` does."""
import torch
import torch.nn as nn

from crossspec.engine.validation_scores import score_model
from crossspec.metrics import psnr
from tests.engine.tiny_data import TinyPairs


class GainNeedsEight(nn.Module):
    """Per-pixel colour gains that refuse sides not divisible by 8 (as the Mamba models would mis-scan)."""

    size_multiple = 8

    def __init__(self):
        super().__init__()
        self.gain = nn.Parameter(torch.tensor([0.8, 0.62, 0.31]).view(1, 3, 1, 1))

    def forward(self, x):
        assert x.shape[-2] % 8 == 0 and x.shape[-1] % 8 == 0, f"unpadded input {tuple(x.shape)}"
        return x * self.gain + 0.05


def test_validation_pads_quantizes_and_restores_training_mode():
    data = TinyPairs(n=3, size=20)
    model = GainNeedsEight().train()
    metrics, grid = score_model(model, data, torch.device("cpu"), preview=2)
    assert model.training, "validation must hand the model back in training mode"
    expected = sum(psnr(torch.round((data[i]["input"][None] * model.gain + 0.05).clamp(0, 1) * 255) / 255,
                        data[i]["target"][None]).item() for i in range(3)) / 3
    assert metrics["images"] == 3
    assert abs(metrics["psnr"] - expected) < 1e-4
    assert grid is not None and grid.shape[0] == 3


def test_masked_samples_score_valid_pixels_and_cap_psnr():
    from crossspec.engine.validation_scores import score_model as validate
    from crossspec.models import create_model

    x = torch.ones(1, 16, 16)
    y = torch.ones(3, 16, 16)
    y[:, :, :8] = 0.2  # wrong colour, but nodata there
    mask = torch.ones(1, 16, 16)
    mask[:, :, :8] = 0
    empty = {"input": x, "target": y, "mask": torch.zeros(1, 16, 16), "name": "e", "key": "e", "domain": "nir"}
    data = [{"input": x, "target": y, "mask": mask, "name": "a", "key": "a", "domain": "nir"}, empty]
    metrics, _ = validate(create_model("nir-gray"), data, torch.device("cpu"), preview=0)
    # exact match on the valid half: capped at 100 dB, not infinite; the empty sample is skipped
    assert metrics["psnr"] == 100.0 and metrics["baseline_psnr"] == 100.0 and metrics["images"] == 1
