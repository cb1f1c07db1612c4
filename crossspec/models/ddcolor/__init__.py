"""DDColor-style colour-query decoder (``ddcolor-small``)."""
from crossspec.models.ddcolor.model import DDColorSmall

__all__ = ["DDColorSmall"]
