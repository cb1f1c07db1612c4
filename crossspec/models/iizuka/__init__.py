"""Let there be Color! (Iizuka et al. 2016): registers ``iizuka16``."""
from crossspec.models.iizuka.model import Iizuka16

__all__ = ["Iizuka16"]
