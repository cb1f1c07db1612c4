"""Inference: tile grids and blending, streaming raster colorization, files/folders (see ``colorize``)."""
from crossspec.inference.colorize import colorize, colorize_image_file, colorize_raster_file

__all__ = ["colorize", "colorize_image_file", "colorize_raster_file"]
