"""File input and output: images (``crossspec.io.image``), rasters (``crossspec.io.raster``) and
atomic writes (``crossspec.io.atomic``). Import rasters from their module so that image-only users
do not load rasterio."""
from crossspec.io.atomic import atomic_path, check_writable
from crossspec.io.image import IMAGE_EXTENSIONS, load_image, read_image, save_image, to_float

__all__ = ["IMAGE_EXTENSIONS", "atomic_path", "check_writable", "load_image", "read_image", "save_image", "to_float"]
