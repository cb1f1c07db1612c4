from rasterio import NotGeoreferencedWarning, RasterioError, RasterioIOError

__all__ = ["NotGeoreferencedWarning", "RasterioError", "RasterioIOError"]
