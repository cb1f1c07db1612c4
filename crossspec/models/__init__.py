"""Model registry, the factory that builds models, and the model families it holds.

>>> from crossspec.models import create_model, list_models
>>> model = create_model("nir-gray")
"""
from crossspec.models.factory import (ModelInfo, create_model, load_model, load_shipped_weights, model_identity,
                                     model_info, save_weights)
from crossspec.models.registry import (ModelEntry, default_pretrained, get_entry, is_model, list_models,
                                      pretrained_names, register_model)

# Importing a family registers its models.
from crossspec.models import (baselines, cheng, cocolor, colormamba, ddcolor, iizuka, patchgan,  # noqa: E402,F401  isort: skip
                              trunk_unet, unet, zhang16, zhang17)

__all__ = ["ModelEntry", "ModelInfo", "create_model", "default_pretrained", "get_entry", "is_model", "list_models",
           "load_model", "load_shipped_weights", "model_identity", "model_info", "pretrained_names", "register_model", "save_weights"]
