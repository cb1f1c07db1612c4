"""Zhang et al. 2017, user-guided colorization: a colorizer that also takes sparse colour hints."""
from crossspec.models.zhang17.model import HintGuidedColorizer

__all__ = ["HintGuidedColorizer"]
