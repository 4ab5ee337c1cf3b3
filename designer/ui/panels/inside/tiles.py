"""Tiles as one picture: scalar maps or pictures laid out in a grid (a Mosaic) with a colour
table, and the conversions between numpy pictures and QImages. The views of the "Inside the
network" dock draw with these.

A grid of tiles is one picture (one pyqtgraph ImageItem, however many slices), so a layer of 512
slices repaints as fast as one of 8; the Mosaic says which tile lies under a position.

numpy and pyqtgraph are imported here, so this module is imported only when the dock is shown.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pyqtgraph as pg
from PySide6.QtGui import QImage

COLOUR_MAP = "viridis"
GAP = 1  # pixels between tiles


@dataclass
class Mosaic:
    """Tiles laid out in a grid, as one RGBA picture, and how to find a tile in it."""

    image: np.ndarray  # (H, W, 4) uint8, row-major
    tiles: int
    rows: int
    columns: int
    tile_h: int
    tile_w: int
    gap: int
    lo: np.ndarray  # (tiles,) the value drawn darkest, per tile
    hi: np.ndarray  # (tiles,) the value drawn brightest

    def locate(self, x: float, y: float) -> tuple[int, int, int] | None:
        """(tile, row, column inside the tile) under picture position (x, y), or None."""
        if x < 0 or y < 0:
            return None
        cx, cy = int(x) // (self.tile_w + self.gap), int(y) // (self.tile_h + self.gap)
        c, r = int(x) - cx * (self.tile_w + self.gap), int(y) - cy * (self.tile_h + self.gap)
        if cx >= self.columns or c >= self.tile_w or r >= self.tile_h:
            return None
        tile = cy * self.columns + cx
        return (tile, r, c) if tile < self.tiles else None

    def origin(self, tile: int) -> tuple[int, int]:
        """(x, y) of a tile's top-left pixel in the picture."""
        r, c = divmod(tile, self.columns)
        return c * (self.tile_w + self.gap), r * (self.tile_h + self.gap)


def grid_columns(n: int, tile_h: int, tile_w: int, aspect: float = 1.6) -> int:
    """Columns for n tiles that draw them largest in an area `aspect` times wider than high."""
    if n <= 1:
        return 1
    gap = 0 if tile_h == tile_w == 1 else GAP
    best, best_scale = 1, -1.0
    for cols in range(1, n + 1):
        rows = math.ceil(n / cols)
        if cols > 1 and rows == math.ceil(n / (cols - 1)):
            continue  # as many rows with fewer columns: no larger
        width = cols * tile_w + (cols - 1) * gap
        height = rows * tile_h + (rows - 1) * gap
        scale = min(aspect / width, 1.0 / height)
        if scale > best_scale * (1 + 1e-9):
            best, best_scale = cols, scale
    return best


def colour_table(name: str = COLOUR_MAP) -> np.ndarray:
    """(256, 4) uint8 RGBA."""
    if name == "grey":
        ramp = np.arange(256, dtype=np.uint8)
        return np.stack([ramp, ramp, ramp, np.full(256, 255, np.uint8)], 1)
    return pg.colormap.get(name).getLookupTable(nPts=256, mode="byte", alpha=True)


def tile_values(maps: np.ndarray, per_slice: bool = False, table: np.ndarray | None = None,
                background: Sequence[int] = (0, 0, 0, 0), columns: int | None = None,
                aspect: float = 1.6) -> Mosaic:
    """Scalar maps (k, h, w) as a grid of coloured tiles, on one scale for all (shared) or one
    per slice (per_slice): the lowest value darkest, the highest brightest. 1×1 slices (an FC
    layer's units) touch, one pixel each."""
    maps = np.asarray(maps, dtype=np.float32)
    if maps.ndim == 2:
        maps = maps[None]
    k = maps.shape[0]
    finite = np.where(np.isfinite(maps), maps, np.nan)
    with np.errstate(all="ignore"):
        if per_slice:
            lo = np.nanmin(finite.reshape(k, -1), axis=1)
            hi = np.nanmax(finite.reshape(k, -1), axis=1)
        else:
            lo = np.full(k, np.nanmin(finite)) if k else np.zeros(0)
            hi = np.full(k, np.nanmax(finite)) if k else np.zeros(0)
    lo = np.nan_to_num(lo.astype(np.float64))
    hi = np.nan_to_num(hi.astype(np.float64))
    span = np.where(hi > lo, hi - lo, 1.0)
    scaled = (np.nan_to_num(maps) - lo[:, None, None]) / span[:, None, None]
    index = np.clip(np.rint(scaled * 255), 0, 255).astype(np.uint8)
    table = colour_table() if table is None else table
    rgba = table[index]  # (k, h, w, 4)
    mosaic = _lay_out(rgba, background, columns, aspect)
    mosaic.lo, mosaic.hi = lo, hi
    return mosaic


def tile_pictures(pictures: np.ndarray, background: Sequence[int] = (0, 0, 0, 0),
                  columns: int | None = None, aspect: float = 1.6) -> Mosaic:
    """Pictures in 0..1, (k, h, w) grey or (k, h, w, 3) colour, as a grid of tiles."""
    p = np.clip(np.asarray(pictures, dtype=np.float32), 0.0, 1.0)
    if p.ndim == 3:
        p = np.repeat(p[..., None], 3, axis=3)
    rgb = np.rint(p * 255).astype(np.uint8)
    alpha = np.full((*rgb.shape[:3], 1), 255, np.uint8)
    mosaic = _lay_out(np.concatenate([rgb, alpha], 3), background, columns, aspect)
    mosaic.lo, mosaic.hi = np.zeros(mosaic.tiles), np.ones(mosaic.tiles)
    return mosaic


def _lay_out(rgba: np.ndarray, background: Sequence[int], columns: int | None,
             aspect: float) -> Mosaic:
    k, h, w = rgba.shape[:3]
    gap = 0 if h == w == 1 else GAP
    cols = columns or grid_columns(k, h, w, aspect)
    rows = max(1, math.ceil(k / cols))
    height, width = rows * h + (rows - 1) * gap, cols * w + (cols - 1) * gap
    image = np.empty((height, width, 4), np.uint8)
    image[:] = np.asarray(background, np.uint8)
    if k:
        # place every tile at once: pad to the full grid, then interleave the gaps
        full = np.empty((rows * cols, h + gap, w + gap, 4), np.uint8)
        full[:] = np.asarray(background, np.uint8)
        full[:k, :h, :w] = rgba
        grid = full.reshape(rows, cols, h + gap, w + gap, 4).transpose(0, 2, 1, 3, 4)
        grid = grid.reshape(rows * (h + gap), cols * (w + gap), 4)
        image[:] = grid[:height, :width]
    return Mosaic(image, k, rows, cols, h, w, gap, np.zeros(k), np.zeros(k))


def to_qimage(picture: np.ndarray) -> QImage:
    """A picture in 0..1, (H, W) grey or (H, W, 3) colour, or (H, W, 4) uint8 RGBA, as a QImage
    (a copy: it owns its pixels)."""
    p = np.asarray(picture)
    if p.dtype != np.uint8:
        p = np.rint(np.clip(p, 0.0, 1.0) * 255).astype(np.uint8)
    if p.ndim == 2:
        p = np.repeat(p[..., None], 3, axis=2)
    if p.shape[2] == 3:
        p = np.concatenate([p, np.full((*p.shape[:2], 1), 255, np.uint8)], 2)
    p = np.ascontiguousarray(p)
    h, w = p.shape[:2]
    return QImage(p.data, w, h, 4 * w, QImage.Format_RGBA8888).copy()


def picture_pixels(image: QImage) -> np.ndarray:
    """A QImage's pixels as (H, W, 4) uint8 RGBA (what probes.prepare_image takes)."""
    rgba = image.convertToFormat(QImage.Format_RGBA8888)
    w, h = rgba.width(), rgba.height()
    data = np.frombuffer(rgba.constBits(), np.uint8, count=rgba.bytesPerLine() * h)
    return data.reshape(h, rgba.bytesPerLine())[:, : 4 * w].reshape(h, w, 4).copy()
