"""Radiometric presets for remote-sensing rasters: digital numbers -> reflectance -> display [0, 1].

Two fixed steps, the same for every window of every scene that uses a preset (never a per-image
stretch, so the target colours of a scene do not depend on which window is looked at):

1. **reflectance** ``rho = DN * scale + offset``, with the sensor's published calibration;
2. **display** ``v = clip(gain * rho, 0, 1)``; RGB target bands use ``gain``, input bands
   (NIR, SWIR) ``input_gain``.

Presets and where their numbers come from:

============== ===================== ===================================================================
name           reflectance           source
============== ===================== ===================================================================
s2-l2a         (DN - 1000) / 10000   ESA Sentinel-2 L2A, processing baseline >= 04.00 (from 25 Jan 2022):
                                     QUANTIFICATION_VALUE 10000, BOA_ADD_OFFSET -1000 (MTD_MSIL2A.xml)
s2-l1c         (DN - 1000) / 10000   ESA Sentinel-2 L1C, baseline >= 04.00: RADIO_ADD_OFFSET -1000
s2-pre04       DN / 10000            Sentinel-2 L1C / L2A before baseline 04.00 (no offset)
landsat-c2-l2  DN * 2.75e-5 - 0.2    USGS Landsat Collection 2 Level-2 Science Product Guide (SR bands)
landsat-oli-l1 DN * 2e-5 - 0.1       Landsat 8/9 OLI L1 (Data Users Handbook: REFLECTANCE_MULT_BAND
                                     2.0E-05, REFLECTANCE_ADD_BAND -0.1; TOA, no sun-angle correction)
reflectance    DN                    values already reflectance in [0, 1]
aerial-8bit    DN / 255              8-bit aerial imagery (e.g. NAIP), uncalibrated: already display-ready
dn-8bit        DN / 255              any other uncalibrated 8-bit product (Landsat TM/ETM+ L1 DN, ...)
dn-11bit       DN / 2047             uncalibrated 11-bit DN (WorldView, ...): treated like reflectance
custom         DN * scale + offset   the scene gives ``scale`` and ``offset``
============== ===================== ===================================================================

Display gains: reflectance-like presets use ``gain`` 2.5 for RGB, the factor of Sentinel Hub's
"True color" L2A rendering (reflectance 0.4 is white), and ``input_gain`` 2.0 for the input bands
(dense vegetation reaches NIR reflectance ~0.5, which then stays below the clip). 8-bit DN presets
are display values already (gain 1). A scene may override ``gain`` / ``input_gain``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from crossspec.errors import ConfigError

REFLECTANCE_GAIN = 2.5
REFLECTANCE_INPUT_GAIN = 2.0


@dataclass(frozen=True)
class Radiometry:
    """``display = clip(gain * (DN * scale + offset), 0, 1)`` (``input_gain`` for input bands)."""

    preset: str
    scale: float
    offset: float
    gain: float
    input_gain: float

    def __post_init__(self) -> None:
        for name in ("scale", "offset", "gain", "input_gain"):
            v = getattr(self, name)
            if not math.isfinite(v):
                raise ConfigError(f"scaling {self.preset!r}: {name} is {v!r}, not a finite number")
        if self.scale == 0 or self.gain <= 0 or self.input_gain <= 0:
            raise ConfigError(f"scaling {self.preset!r}: scale must be non-zero and gains positive")

    def reflectance(self, raw: np.ndarray) -> np.ndarray:
        """Raw DN (any numeric dtype) -> float32 reflectance (unclipped)."""
        out = raw.astype(np.float32, copy=True)
        out *= np.float32(self.scale)
        out += np.float32(self.offset)
        return out

    def display(self, raw: np.ndarray, role: str = "target") -> np.ndarray:
        """Raw DN -> float32 display values in [0, 1]; ``role`` "target" (RGB) or "input"."""
        out = self.reflectance(raw)
        out *= np.float32(self.gain if role == "target" else self.input_gain)
        np.clip(out, 0.0, 1.0, out=out)
        return out

    def describe(self) -> str:
        return (f"{self.preset}: reflectance = DN*{self.scale:g}{self.offset:+g}; display = clip({self.gain:g}*rho) "
                f"for RGB, clip({self.input_gain:g}*rho) for input bands")


# name -> (scale, offset, gain, input_gain)
PRESETS: dict[str, tuple[float, float, float, float]] = {
    "s2-l2a": (1e-4, -0.1, REFLECTANCE_GAIN, REFLECTANCE_INPUT_GAIN),
    "s2-l1c": (1e-4, -0.1, REFLECTANCE_GAIN, REFLECTANCE_INPUT_GAIN),
    "s2-pre04": (1e-4, 0.0, REFLECTANCE_GAIN, REFLECTANCE_INPUT_GAIN),
    "landsat-c2-l2": (2.75e-5, -0.2, REFLECTANCE_GAIN, REFLECTANCE_INPUT_GAIN),
    "landsat-oli-l1": (2e-5, -0.1, REFLECTANCE_GAIN, REFLECTANCE_INPUT_GAIN),
    "reflectance": (1.0, 0.0, REFLECTANCE_GAIN, REFLECTANCE_INPUT_GAIN),
    "aerial-8bit": (1 / 255, 0.0, 1.0, 1.0),
    "dn-8bit": (1 / 255, 0.0, 1.0, 1.0),
    "dn-11bit": (1 / 2047, 0.0, REFLECTANCE_GAIN, REFLECTANCE_INPUT_GAIN),
}


def radiometry(preset: str | None, *, scale: float | None = None, offset: float | None = None,
               gain: float | None = None, input_gain: float | None = None, where: str = "scaling") -> Radiometry:
    """The :class:`Radiometry` of a named preset, with optional overrides.

    ``preset="custom"`` needs ``scale`` (and optionally ``offset``; gains default to 1). ``where``
    prefixes error messages (e.g. the scene's name).
    """
    if preset is None:
        raise ConfigError(f"{where}: no scaling preset; choose one of {', '.join([*PRESETS, 'custom'])}")
    if preset == "custom":
        if scale is None:
            raise ConfigError(f"{where}: preset 'custom' needs scale (reflectance = DN * scale + offset)")
        base = (float(scale), 0.0, 1.0, 1.0)
    elif preset in PRESETS:
        if scale is not None or offset is not None:
            raise ConfigError(f"{where}: scale/offset apply to preset 'custom' only; {preset!r} fixes them "
                              "(use preset: custom to give your own)")
        base = PRESETS[preset]
    else:
        raise ConfigError(f"{where}: unknown scaling preset {preset!r}; choose one of {', '.join([*PRESETS, 'custom'])}")
    s, o, g, ig = base
    return Radiometry(preset, s, float(offset) if offset is not None else o,
                      float(gain) if gain is not None else g,
                      float(input_gain) if input_gain is not None else ig)


__all__ = ["PRESETS", "Radiometry", "radiometry"]
