"""A tiny synthetic paired dataset for engine tests (no files, no network)."""
from __future__ import annotations

import torch
from torch.utils.data import Dataset


class TinyPairs(Dataset):
    """``n`` smooth NIR images (1, size, size) with an RGB target that is a fixed colour map of them.

    ``crop`` takes a random crop with the global torch RNG, so the engine's per-sample seeding is
    exercised exactly as with real random transforms.
    """

    def __init__(self, n: int = 8, size: int = 16, crop: int | None = None, seed: int = 0, domain: str = "nir"):
        g = torch.Generator().manual_seed(seed)
        base = torch.rand(n, 1, size // 4, size // 4, generator=g)
        self.inputs = torch.nn.functional.interpolate(base, size=(size, size), mode="bilinear", align_corners=False)
        gain = torch.tensor([0.9, 0.6, 0.3]).view(1, 3, 1, 1)
        self.targets = (self.inputs * gain + 0.05).clamp(0, 1)
        self.crop = crop
        self.domain = domain
        self.transforms = None

    def __len__(self) -> int:
        return self.inputs.shape[0]

    def load(self, i: int) -> dict:
        """The whole sample, uncropped (the dataset contract's ``load``)."""
        return {"input": self.inputs[i].clone(), "target": self.targets[i].clone(), "name": f"img{i}", "key": f"k{i}",
                "domain": self.domain}

    def __getitem__(self, i: int) -> dict:
        x, y = self.inputs[i], self.targets[i]
        if self.crop is not None:
            h = x.shape[-1]
            top = int(torch.randint(0, h - self.crop + 1, ()).item())
            left = int(torch.randint(0, h - self.crop + 1, ()).item())
            x = x[:, top : top + self.crop, left : left + self.crop]
            y = y[:, top : top + self.crop, left : left + self.crop]
        return {"input": x.clone(), "target": y.clone(), "name": f"img{i}", "key": f"k{i}", "domain": self.domain}
