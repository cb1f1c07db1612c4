"""Model registry and the model families it holds.

>>> from crossspec.models import create_model, list_models
>>> model = create_model("nir-gray")
"""
from crossspec.models.registry import (create_model, default_pretrained, get_entry, list_models, pretrained_names,
                                      register_model)

# Importing a family registers its models.
from crossspec.models import baselines, cocolor, colormamba, patchgan, trunk_unet, unet  # noqa: E402,F401  isort: skip

__all__ = ["create_model", "default_pretrained", "get_entry", "list_models", "pretrained_names", "register_model"]
