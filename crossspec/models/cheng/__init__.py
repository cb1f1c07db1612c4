"""Deep Colorization (Cheng et al. 2015): registers ``cheng15``."""
from crossspec.models.cheng.model import Cheng15

__all__ = ["Cheng15"]
