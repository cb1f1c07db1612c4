__version__ = "0.1.0"


def __getattr__(name: str):
    # Lazy, so `import crossspec` stays cheap (no torch/rasterio) until the API is used.
    if name == "colorize":
        from crossspec.inference.colorizer import colorize

        return colorize
    if name == "load_colorizer":
        from crossspec.inference.colorizer import load_colorizer

        return load_colorizer
    raise AttributeError(f"module 'crossspec' has no attribute {name!r}")
