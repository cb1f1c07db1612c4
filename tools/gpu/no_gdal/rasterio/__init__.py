"""Stand-in for rasterio on a machine that has no GDAL (the GPU session's machine, which cannot
install packages): crossspec imports rasterio at module level in its raster modules, but VCIP's
8-bit PNGs are read by Pillow, so training and scoring on VCIP never call it. Any real use fails
loudly with the name that was needed."""


class _Missing:
    def __init__(self, name: str) -> None:
        self._name = name

    def __getattr__(self, attr: str) -> "_Missing":
        return _Missing(f"{self._name}.{attr}")

    def __getitem__(self, key: object) -> "_Missing":
        return _Missing(f"{self._name}[{key!r}]")

    def __call__(self, *args: object, **kwargs: object) -> None:
        raise RuntimeError(f"{self._name}: rasterio is not installed on this machine (stand-in from tools/gpu/no_gdal)")


class RasterioError(Exception):
    pass


class RasterioIOError(RasterioError):
    pass


class NotGeoreferencedWarning(UserWarning):
    pass


def __getattr__(name: str) -> _Missing:
    return _Missing(f"rasterio.{name}")
