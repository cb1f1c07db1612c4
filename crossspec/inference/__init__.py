"""Inference: tile grids and blending, streaming raster colorization, files/folders (see ``colorize``)."""
from crossspec.inference.colorize import colorize_image_file, colorize_raster_file
from crossspec.inference.colorizer import colorize

__all__ = ["colorize", "colorize_image_file", "colorize_raster_file"]
