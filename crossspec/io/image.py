"""Image files: 8/16-bit PNG, JPEG and TIFF in and out, as ``(H, W, C)`` NumPy arrays.

``read_image`` keeps the stored sample type (uint8, uint16 or float32) so callers decide how to
scale; ``to_float`` / ``load_image`` give float32 in ``[0, 1]``; ``save_image`` writes atomically
(temporary file + rename) and never replaces a file unless asked.

Pillow reads and writes most of these, but it cannot hold 16-bit RGB(A) images, so 16-bit colour
PNGs go through the small codec at the bottom of this module and 16-bit / float TIFFs through
tifffile.
"""
from __future__ import annotations

import os
import struct
import zlib
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from crossspec.errors import DataError, file_error
from crossspec.io.atomic import atomic_path

# Lower-case suffixes read_image understands (and folder scanners should pick up).
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp")
_TIFF = (".tif", ".tiff")
_JPEG = (".jpg", ".jpeg")
_SAVE_EXTENSIONS = (".png", ".tif", ".tiff", ".jpg", ".jpeg")
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def read_image(path: str | os.PathLike) -> np.ndarray:
    """Read an image file as stored.

    Returns ``(H, W, C)`` with ``C`` in {1, 2, 3, 4} and dtype uint8, uint16 or float32 (float64
    TIFFs come back as float32). Palette images are expanded to RGB(A). Raises ``DataError`` naming
    the file when it is missing, empty, truncated, not an image or of an unsupported sample type.
    """
    path = Path(path)
    if not path.is_file():
        raise file_error(path, "no such image file")
    if path.stat().st_size == 0:
        raise file_error(path, "is empty (0 bytes)")
    suffix = path.suffix.lower()
    if suffix in _TIFF:
        arr = _read_tiff(path)
    else:
        arr = _read_png16(path) if _is_png16_color(path) else _read_pillow(path)
    if arr.ndim == 2:
        arr = arr[:, :, None]
    if arr.ndim != 3 or arr.shape[2] not in (1, 2, 3, 4) or arr.shape[0] == 0 or arr.shape[1] == 0:
        raise file_error(path, f"unsupported image shape {arr.shape} (expected H x W with 1-4 channels)")
    if arr.dtype == np.float64:
        arr = arr.astype(np.float32)
    if arr.dtype not in (np.uint8, np.uint16, np.float32):
        raise file_error(path, f"unsupported sample type {arr.dtype} (expected uint8, uint16 or float32)")
    return np.ascontiguousarray(arr)


def _read_pillow(path: Path) -> np.ndarray:
    try:
        with Image.open(path) as im:
            im.load()  # decode now so truncated files fail here, not later
            if im.mode == "P":
                im = im.convert("RGBA" if "transparency" in im.info else "RGB")
            elif im.mode in ("1", "CMYK", "YCbCr", "LAB", "HSV"):
                im = im.convert("L" if im.mode == "1" else "RGB")
            elif im.mode == "I" and im.format == "PNG":
                # Some Pillow builds open 16-bit gray PNGs as 32-bit "I"; the values fit uint16.
                return np.asarray(im).astype(np.uint16)
            elif im.mode == "I;16B":
                return np.asarray(im).astype(np.uint16)
            arr = np.asarray(im)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise file_error(path, f"cannot read image ({exc})") from None
    if arr.dtype == np.int32 or arr.dtype == np.float64:
        raise file_error(path, f"unsupported sample type {arr.dtype} in mode {im.mode!r}")
    return arr


def _read_tiff(path: Path) -> np.ndarray:
    import tifffile

    try:
        with tifffile.TiffFile(path) as tif:
            if not tif.pages:
                raise file_error(path, "TIFF holds no image")
            page = tif.pages[0]
            arr = page.asarray()
            planar = page.planarconfig == tifffile.PLANARCONFIG.SEPARATE
    except DataError:
        raise
    except Exception as exc:  # tifffile raises a variety of types for damaged files
        raise file_error(path, f"cannot read TIFF ({type(exc).__name__}: {exc})") from None
    if arr.ndim == 3 and planar:
        arr = np.moveaxis(arr, 0, -1)  # stored band-sequential (C, H, W)
    return arr


def to_float(arr: np.ndarray, name: str = "image") -> np.ndarray:
    """Scale an image array to float32 in ``[0, 1]`` by its dtype.

    uint8 is divided by 255, uint16 by 65535; float input must already lie in ``[0, 1]`` (NaN or
    values outside raise ``DataError`` naming ``name``). Shape is kept.
    """
    if arr.dtype == np.uint8:
        return arr.astype(np.float32) / np.float32(255)
    if arr.dtype == np.uint16:
        return arr.astype(np.float32) / np.float32(65535)
    if np.issubdtype(arr.dtype, np.floating):
        out = arr.astype(np.float32, copy=False)
        if out.size and not np.isfinite(out).all():
            raise DataError(f"{name}: float image contains NaN or infinity")
        if out.size and (out.min() < 0.0 or out.max() > 1.0):
            raise DataError(
                f"{name}: float image values must lie in [0, 1], found [{out.min():.4g}, {out.max():.4g}]"
            )
        return out
    raise DataError(f"{name}: cannot scale sample type {arr.dtype} to [0, 1] (expected uint8, uint16 or float)")


def load_image(path: str | os.PathLike, mode: str | None = None) -> np.ndarray:
    """Read ``path`` as float32 ``(H, W, C)`` in ``[0, 1]``.

    ``mode=None`` keeps the channels; ``"gray"`` returns ``C = 1`` and accepts a 1-channel image or
    a 3-channel one whose channels are identical (gray saved as RGB); ``"rgb"`` requires exactly 3
    channels. Any other channel count raises ``DataError`` naming the file and the count.
    """
    if mode not in (None, "gray", "rgb"):
        raise ValueError(f"mode must be None, 'gray' or 'rgb', got {mode!r}")
    path = Path(path)
    arr = read_image(path)
    c = arr.shape[2]
    if mode == "gray":
        if c == 3 and (arr[..., 0] == arr[..., 1]).all() and (arr[..., 0] == arr[..., 2]).all():
            arr = arr[..., :1]
        elif c != 1:
            raise file_error(path, f"expected a single-channel (gray/NIR) image, found {c} channels"
                             + (" that differ" if c == 3 else ""))
    elif mode == "rgb" and c != 3:
        raise file_error(path, f"expected an RGB image with 3 channels, found {c} channels")
    return to_float(arr, str(path))


def save_image(path: str | os.PathLike, arr: np.ndarray, bits: int = 8, overwrite: bool = False) -> Path:
    """Write ``arr`` to ``path`` (PNG, TIFF or JPEG, chosen by suffix), atomically.

    ``arr`` is ``(H, W)`` or ``(H, W, C)`` with ``C`` in {1, 3, 4}: float in ``[0, 1]`` (rounded to
    the nearest level of ``bits``), or uint8 / uint16 matching ``bits``. ``bits`` is 8 or 16; JPEG
    is 8-bit only. Refuses to replace an existing file unless ``overwrite``. Returns the path.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in _SAVE_EXTENSIONS:
        raise file_error(path, f"cannot write images with suffix {path.suffix!r} (use one of {', '.join(_SAVE_EXTENSIONS)})")
    if bits not in (8, 16):
        raise file_error(path, f"bits must be 8 or 16, got {bits}")
    if bits == 16 and suffix in _JPEG:
        raise file_error(path, "JPEG stores 8 bits only; use PNG or TIFF for bits=16")
    arr = np.asarray(arr)
    if arr.ndim == 2:
        arr = arr[:, :, None]
    if arr.ndim != 3 or arr.shape[2] not in (1, 3, 4):
        raise file_error(path, f"array must be (H, W) or (H, W, C) with C in 1, 3, 4; got shape {arr.shape}")
    if suffix in _JPEG and arr.shape[2] == 4:
        raise file_error(path, "JPEG has no alpha channel; save 4-channel images as PNG or TIFF")
    data = _quantize(arr, bits, str(path))
    with atomic_path(path, overwrite=overwrite) as tmp:
        if suffix in _TIFF:
            import tifffile

            photometric = "minisblack" if data.shape[2] == 1 else "rgb"
            tifffile.imwrite(tmp, data[:, :, 0] if data.shape[2] == 1 else data, photometric=photometric,
                             compression="zlib", extrasamples=("unassalpha",) if data.shape[2] == 4 else None)
        elif suffix == ".png" and bits == 16 and data.shape[2] > 1:
            _write_png16(tmp, data)
        else:
            im = Image.fromarray(data[:, :, 0] if data.shape[2] == 1 else data)
            if suffix in _JPEG:
                im.save(tmp, format="JPEG", quality=95)
            else:
                im.save(tmp, format="PNG")
    return path


def _quantize(arr: np.ndarray, bits: int, name: str) -> np.ndarray:
    dtype = np.uint8 if bits == 8 else np.uint16
    if np.issubdtype(arr.dtype, np.floating):
        unit = to_float(arr, name)
        top = 255.0 if bits == 8 else 65535.0
        # Round to nearest: truncation would bias every image dark by half a level.
        return np.rint(unit.astype(np.float64) * top).astype(dtype)
    if arr.dtype == dtype:
        return arr
    raise DataError(f"{name}: {arr.dtype} array cannot be saved with bits={bits}; pass float in [0, 1] or {np.dtype(dtype).name}")


# --- 16-bit colour PNG (Pillow has no 48/64-bit RGB mode) -------------------------------------------

def _is_png16_color(path: Path) -> bool:
    with open(path, "rb") as f:
        head = f.read(33)
    if len(head) < 33 or head[:8] != _PNG_SIGNATURE or head[12:16] != b"IHDR":
        return False
    bit_depth, color_type = head[24], head[25]
    return bit_depth == 16 and color_type in (2, 4, 6)


def _png_chunks(path: Path, data: bytes):
    pos = 8
    while pos + 8 <= len(data):
        length, ctype = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if len(body) != length or pos + 12 + length > len(data):
            raise file_error(path, "truncated PNG (chunk cut short)")
        yield ctype, body
        pos += 12 + length
        if ctype == b"IEND":
            return
    raise file_error(path, "truncated PNG (no IEND chunk)")


def _read_png16(path: Path) -> np.ndarray:
    data = path.read_bytes()
    idat = []
    header = None
    for ctype, body in _png_chunks(path, data):
        if ctype == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif ctype == b"IDAT":
            idat.append(body)
    if header is None:
        raise file_error(path, "PNG without IHDR header")
    w, h, _depth, color_type, _comp, _filt, interlace = header
    if interlace:
        raise file_error(path, "interlaced 16-bit colour PNG is not supported; re-save it without interlacing")
    channels = {2: 3, 4: 2, 6: 4}[color_type]
    bpp = 2 * channels
    stride = w * bpp
    try:
        raw = zlib.decompress(b"".join(idat))
    except zlib.error as exc:
        raise file_error(path, f"corrupt PNG image data ({exc})") from None
    if len(raw) < h * (stride + 1):
        raise file_error(path, "truncated PNG (image data shorter than its size says)")
    rows = np.frombuffer(raw[: h * (stride + 1)], np.uint8).reshape(h, stride + 1)
    out = np.zeros((h, stride), np.uint8)
    prev = np.zeros(stride, np.int32)
    for y in range(h):
        ftype, line = rows[y, 0], rows[y, 1:].astype(np.int32)
        if ftype == 0:
            cur = line
        elif ftype == 1:  # Sub: running sum per byte lane
            cur = np.cumsum(line.reshape(w, bpp), axis=0).reshape(-1) & 0xFF
        elif ftype == 2:  # Up
            cur = (line + prev) & 0xFF
        elif ftype in (3, 4):  # Average / Paeth depend on the reconstructed left pixel: go pixel by pixel
            cur = np.zeros(stride, np.int32)
            for x in range(0, stride, bpp):
                b = prev[x:x + bpp]
                a = cur[x - bpp:x] if x else np.zeros(bpp, np.int32)
                if ftype == 3:
                    pred = (a + b) >> 1
                else:
                    c = prev[x - bpp:x] if x else np.zeros(bpp, np.int32)
                    p = a + b - c
                    pa, pb, pc = np.abs(p - a), np.abs(p - b), np.abs(p - c)
                    pred = np.where((pa <= pb) & (pa <= pc), a, np.where(pb <= pc, b, c))
                cur[x:x + bpp] = (line[x:x + bpp] + pred) & 0xFF
        else:
            raise file_error(path, f"corrupt PNG (unknown row filter {ftype})")
        out[y] = cur
        prev = cur
    return out.view(">u2").reshape(h, w, channels).astype(np.uint16)


def _write_png16(path: Path, data: np.ndarray) -> None:
    h, w, c = data.shape
    color_type = {2: 4, 3: 2, 4: 6}[c]
    body = data.astype(">u2").reshape(h, w * c).view(np.uint8)
    # Filter type 0 on every row keeps the writer trivial; zlib still compresses smooth images well.
    raw = np.concatenate([np.zeros((h, 1), np.uint8), body], axis=1).tobytes()

    def chunk(ctype: bytes, payload: bytes) -> bytes:
        return struct.pack(">I", len(payload)) + ctype + payload + struct.pack(">I", zlib.crc32(ctype + payload))

    png = (_PNG_SIGNATURE + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 16, color_type, 0, 0, 0))
           + chunk(b"IDAT", zlib.compress(raw, 6)) + chunk(b"IEND", b""))
    Path(path).write_bytes(png)
