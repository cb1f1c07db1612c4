"""Colour-hint files for ``crossspec colorize --hints FILE``: known colours pinned at points.

A CSV file with a header line. Each row pins one colour:

=====================  ==================================================================
``x,y``                pixel position: column and row, 0-based from the top-left corner
                       (fractions name the pixel they fall in), or
``east,north``         map position in the raster's CRS (georeferenced rasters only),
                       converted to a pixel with the raster's geotransform;
``r,g,b``              the colour, sRGB 0-255;
``size`` (optional)    side of the square hint patch in pixels, centred on the point
                       (default :data:`DEFAULT_SIZE`);
``label`` (optional)   free text for the user's own bookkeeping (ignored).
=====================  ==================================================================

Lines starting with ``#`` and blank lines are skipped. Every problem names the file and line:
an unknown or missing column, a value that is not a number, a colour outside 0-255, a point
outside the image, map coordinates for an image that is not georeferenced.

>>> hints = read_hint_file("lake.csv")           # HintFile: coordinates "pixel" or "map", rows
>>> hint_map = place_hints(hints, 1024, 2048, transform=ds.transform)   # crossspec.ops.hint_map.HintMap
"""
from __future__ import annotations

import csv
import hashlib
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from crossspec.errors import DataError, file_error
from crossspec.ops.hint_map import HintMap, centred_patch, rgb_to_ab

DEFAULT_SIZE = 3
PIXEL_COLUMNS = ("x", "y")
MAP_COLUMNS = ("east", "north")
COLOUR_COLUMNS = ("r", "g", "b")
OPTIONAL_COLUMNS = ("size", "label")


@dataclass(frozen=True)
class HintRow:
    """One hint as written: its ``line`` in the file, position ``(x, y)`` (pixels: column, row; map:
    east, north), colour ``rgb`` in [0, 1] and patch ``size`` in pixels."""

    line: int
    x: float
    y: float
    rgb: tuple[float, float, float]
    size: int


@dataclass(frozen=True)
class HintFile:
    """A parsed hint file: ``coordinates`` is ``"pixel"`` or ``"map"``; ``sha256`` of its bytes
    (recorded with outputs, so a changed file is a changed setting)."""

    path: Path
    coordinates: str
    rows: tuple[HintRow, ...]
    sha256: str


def _number(path: Path, line: int, column: str, text: str | None) -> float:
    try:
        value = float((text or "").strip())
    except ValueError:
        raise file_error(path, f"line {line}: {column} = {text!r} is not a number") from None
    if not math.isfinite(value):
        raise file_error(path, f"line {line}: {column} = {text!r} is not a finite number")
    return value


def read_hint_file(path: str | os.PathLike) -> HintFile:
    """Parse and check a hint file (module docstring); ``DataError`` naming the file and line."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise file_error(path, f"cannot read this hint file ({exc.strerror or exc})") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise file_error(path, "is not a UTF-8 text (CSV) file") from None
    lines = [(i, l) for i, l in enumerate(text.splitlines(), 1) if l.strip() and not l.lstrip().startswith("#")]
    if not lines:
        raise file_error(path, "has no header line; expected a CSV header such as x,y,r,g,b or east,north,r,g,b")
    header_line, header = lines[0]
    names = [c.strip().lower() for c in next(csv.reader([header]))]
    known = PIXEL_COLUMNS + MAP_COLUMNS + COLOUR_COLUMNS + OPTIONAL_COLUMNS
    unknown = [c for c in names if c not in known]
    if unknown:
        raise file_error(path, f"line {header_line}: unknown column {unknown[0]!r}; columns are x,y (pixels) or "
                               "east,north (map coordinates), r,g,b (0-255) and optionally size, label")
    dup = sorted({c for c in names if names.count(c) > 1})
    if dup:
        raise file_error(path, f"line {header_line}: column {dup[0]!r} appears twice")
    has_pixel, has_map = set(PIXEL_COLUMNS) <= set(names), set(MAP_COLUMNS) <= set(names)
    if has_pixel == has_map:
        what = "both" if has_pixel else "neither"
        raise file_error(path, f"line {header_line}: the header has {what} of x,y (pixel coordinates) and "
                               "east,north (map coordinates); give exactly one pair")
    missing = [c for c in COLOUR_COLUMNS + (PIXEL_COLUMNS if has_pixel else MAP_COLUMNS) if c not in names]
    stray = [c for c in (MAP_COLUMNS if has_pixel else PIXEL_COLUMNS) if c in names]
    if missing or stray:
        bad = f"lacks column {missing[0]!r}" if missing else f"mixes {stray[0]!r} into the other coordinate pair"
        raise file_error(path, f"line {header_line}: the header {bad}")
    xcol, ycol = PIXEL_COLUMNS if has_pixel else MAP_COLUMNS
    rows = []
    for line, content in lines[1:]:
        cells = next(csv.reader([content]))
        if len(cells) != len(names):
            raise file_error(path, f"line {line}: {len(cells)} values for {len(names)} columns")
        rec: dict[str, Any] = dict(zip(names, cells))
        rgb = tuple(_number(path, line, c, rec[c]) for c in COLOUR_COLUMNS)
        bad = [f"{c} = {v:g}" for c, v in zip(COLOUR_COLUMNS, rgb) if not 0 <= v <= 255]
        if bad:
            raise file_error(path, f"line {line}: colour {', '.join(bad)} is outside 0-255")
        size = DEFAULT_SIZE
        if (rec.get("size") or "").strip():
            s = _number(path, line, "size", rec["size"])
            if s != int(s) or s < 1:
                raise file_error(path, f"line {line}: size = {rec['size']!r} is not a whole number of pixels >= 1")
            size = int(s)
        rows.append(HintRow(line, _number(path, line, xcol, rec[xcol]), _number(path, line, ycol, rec[ycol]),
                            (rgb[0] / 255.0, rgb[1] / 255.0, rgb[2] / 255.0), size))
    if not rows:
        raise file_error(path, "has a header but no hint")
    return HintFile(path, "pixel" if has_pixel else "map", tuple(rows), hashlib.sha256(raw).hexdigest())


def place_hints(hints: HintFile, height: int, width: int, transform: Any = None) -> HintMap:
    """The hints of ``hints`` on an ``height x width`` image: a :class:`~crossspec.ops.hint_map.HintMap`.

    ``transform``: the image's affine geotransform (pixel -> map, e.g. ``rasterio``'s
    ``ds.transform``) for map coordinates; ``None`` for an image that is not georeferenced, which
    map coordinates cannot be placed on. A point must lie inside the image (its patch may be cut
    at the border)."""
    if hints.coordinates == "map" and transform is None:
        raise file_error(hints.path, f"line {hints.rows[0].line}: east,north are map coordinates, but the image is "
                                     "not georeferenced; give pixel positions in columns x,y instead", DataError)
    inverse = ~transform if hints.coordinates == "map" else None
    ab = rgb_to_ab([r.rgb for r in hints.rows])
    patches = []
    for row, (a, b) in zip(hints.rows, ab):
        col, line = (row.x, row.y) if inverse is None else inverse @ (row.x, row.y)
        c, r = math.floor(col), math.floor(line)
        if not (0 <= r < height and 0 <= c < width):
            where = (f"x = {row.x:g}, y = {row.y:g}" if inverse is None
                     else f"east = {row.x:g}, north = {row.y:g} (pixel column {col:.1f}, row {line:.1f})")
            raise file_error(hints.path, f"line {row.line}: {where} lies outside the image "
                                         f"({width} x {height} pixels)")
        patches.append(centred_patch(r, c, row.size, a, b))
    return HintMap(height, width, patches)
