"""The views of the "Inside the network" dock (dock.py builds them when the dock is
first shown): a layer's feature maps as a grid of tiles, the input sample, the first CONV's
filters, the confusion matrix with the samples of a cell, and the most confidently wrong samples.

They draw ProbeReport records (designer/training/probes.py): plain numpy arrays, nothing to
compute but colours and positions. A grid of tiles is one picture (one pyqtgraph ImageItem, however
many slices), so a layer of 512 slices repaints as fast as one of 8; hovering a tile says which
slice, which position and the value there.

numpy and pyqtgraph are imported here, so this module is imported only when the dock is shown.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QIcon, QImage, QPalette, QPixmap, QTextDocument
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QListView,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSizePolicy,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ....model.layers import CATALOGUE
from ...theme import is_dark

COLOUR_MAP = "viridis"
GAP = 1  # pixels between tiles
THUMB_PX = 72  # thumbnails are drawn this large (nearest neighbour: pixels stay pixels)
MAX_CELL_SAMPLES = 120  # a confusion cell lists at most this many samples


# ---------------------------------------------------------------------------------------------
# Tiles


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


def thumbnail_icon(picture: np.ndarray, size: int = THUMB_PX) -> QIcon:
    image = to_qimage(picture)
    pix = QPixmap.fromImage(image).scaled(size, size, Qt.KeepAspectRatio, Qt.FastTransformation)
    return QIcon(pix)


def layer_kind(type_name: str) -> str:
    """The notes' name where there is one: CONV, POOL, RELU, NORM, FC; else the type."""
    layer = CATALOGUE.get(type_name)
    return layer.alias if layer is not None and layer.alias else type_name


def fmt(v: float) -> str:
    return f"{v:.4g}" if math.isfinite(v) else "–"


# ---------------------------------------------------------------------------------------------
# A zoomable picture of tiles with hover


class MosaicView(QWidget):
    """A mosaic in a pyqtgraph view: wheel zooms, drag pans, double-click shows it all; the
    mouse over a tile calls describe(tile, row, column) and shows the text it returns."""

    hovered = Signal(str)
    reshaped = Signal()  # its shape changed enough that another grid may fit better

    def __init__(self, parent: QWidget | None = None, min_size: int = 120):
        super().__init__(parent)
        self.graphics = pg.GraphicsLayoutWidget()
        self.graphics.setBackground(self.palette().color(QPalette.Base))
        self.graphics.ci.layout.setContentsMargins(2, 2, 2, 2)
        self.box = self.graphics.addViewBox(lockAspect=True, invertY=True, enableMenu=False)
        self.item = pg.ImageItem(axisOrder="row-major")
        self.box.addItem(self.item)
        self.graphics.setMinimumSize(min_size, min_size)
        self.graphics.setFocusPolicy(Qt.NoFocus)
        self.graphics.scene().sigMouseMoved.connect(self._moved)
        self.mosaic: Mosaic | None = None
        self.describe: Callable[[int, int, int], str] | None = None
        self.hover_text = ""
        self._aspect = self.aspect
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.graphics)

    def set_mosaic(self, mosaic: Mosaic | None,
                   describe: Callable[[int, int, int], str] | None = None,
                   keep_view: bool = False) -> None:
        same_size = (self.mosaic is not None and mosaic is not None
                     and self.mosaic.image.shape == mosaic.image.shape)
        self.mosaic, self.describe = mosaic, describe
        if mosaic is None:
            self.item.clear()
            return
        self.item.setImage(mosaic.image, autoLevels=False, levels=None)
        if not (keep_view and same_size):
            h, w = mosaic.image.shape[:2]
            self.box.setRange(xRange=(0, w), yRange=(0, h), padding=0.02)

    @property
    def aspect(self) -> float:
        """Width / height of the area the grid is drawn in."""
        w, h = self.graphics.width(), self.graphics.height()
        return w / h if w > 10 and h > 10 else 1.6

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        super().resizeEvent(event)
        a = self.aspect
        if abs(math.log(a / self._aspect)) > 0.15:
            self._aspect = a
            self.reshaped.emit()

    def text_at(self, x: float, y: float) -> str:
        """What hovering picture position (x, y) says ('' off the tiles)."""
        if self.mosaic is None or self.describe is None:
            return ""
        where = self.mosaic.locate(x, y)
        return self.describe(*where) if where is not None else ""

    def _moved(self, scene_pos) -> None:
        if self.mosaic is None:
            return
        p = self.box.mapSceneToView(scene_pos)
        text = self.text_at(p.x(), p.y())
        if text != self.hover_text:
            self.hover_text = text
            self.hovered.emit(text)


def _caption() -> QLabel:
    label = QLabel()
    label.setWordWrap(True)
    label.setTextFormat(Qt.RichText)
    label.setTextInteractionFlags(Qt.TextSelectableByMouse)
    return label


def _faint_label() -> QLabel:
    label = QLabel(" ")
    label.setTextInteractionFlags(Qt.TextSelectableByMouse)
    label.setStyleSheet("color: palette(mid);" if not is_dark() else "color: #9ca3af;")
    return label


def plain(label: QLabel) -> str:
    """A rich-text label as the user reads it."""
    doc = QTextDocument()
    doc.setHtml(label.text())
    return doc.toPlainText()


# ---------------------------------------------------------------------------------------------
# Feature maps


class _TilesView(QWidget):
    """A caption with a choice of colour scale, a grid of tiles, and the value under the mouse:
    what the feature-map and filter views share. Subclasses draw in `_redraw(keep_view)`."""

    def __init__(self, scales: Sequence[tuple[str, bool]], parent: QWidget | None = None):
        super().__init__(parent)
        self.caption = _caption()
        self.scale = QComboBox()
        for text, per_tile in scales:
            self.scale.addItem(text, per_tile)
        self.scale.currentIndexChanged.connect(lambda _i: self._redraw(keep_view=True))
        self.mosaic = MosaicView()
        self.mosaic.reshaped.connect(lambda: self._redraw(keep_view=False))
        self.hover = _faint_label()
        self.mosaic.hovered.connect(lambda t: self.hover.setText(t or " "))
        top = QHBoxLayout()
        top.addWidget(self.caption, 1)
        top.addWidget(self.scale, 0, Qt.AlignTop)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(3)
        layout.addLayout(top)
        layout.addWidget(self.mosaic, 1)
        layout.addWidget(self.hover)

    @property
    def tile_count(self) -> int:
        m = self.mosaic.mosaic
        return m.tiles if m is not None else 0

    @property
    def caption_text(self) -> str:
        return plain(self.caption)

    def _redraw(self, keep_view: bool) -> None:
        raise NotImplementedError


class FeatureMapView(_TilesView):
    """One layer's output for one sample: its depth slices as a grid of tiles, coloured on one
    scale for all of them or each on its own; the caption gives the slice count and W×H×D."""

    def __init__(self, parent: QWidget | None = None):
        # set first: filling the scale's combo box already redraws
        self.feature_map = None
        self._table = colour_table()
        super().__init__((("One scale for all slices", False),
                          ("Each slice its own scale", True)), parent)
        self.scale.setToolTip("Shared: slices compare with each other; per slice: the pattern "
                              "inside a faint slice shows too")

    @property
    def per_slice(self) -> bool:
        return bool(self.scale.currentData())

    def set_per_slice(self, on: bool) -> None:
        self.scale.setCurrentIndex(1 if on else 0)

    def show_map(self, fm, note: str = "") -> None:
        """Draw a FeatureMap (None: nothing, with `note` saying why)."""
        self.feature_map = fm
        self._note = note
        self._redraw(keep_view=False)

    def _redraw(self, keep_view: bool) -> None:
        fm = self.feature_map
        if fm is None:
            self.mosaic.set_mosaic(None)
            self.caption.setText(getattr(self, "_note", "") or "")
            self.hover.setText(" ")
            return
        bg = self.palette().color(QPalette.Base)
        mosaic = tile_values(fm.maps, self.per_slice, self._table,
                             background=(bg.red(), bg.green(), bg.blue(), 255),
                             aspect=self.mosaic.aspect)
        self.mosaic.set_mosaic(mosaic, self._describe, keep_view)
        self.caption.setText(self._caption_html(fm, mosaic))

    def _caption_html(self, fm, mosaic: Mosaic) -> str:
        slices = (f"{fm.slices} slices" if fm.slices == fm.depth
                  else f"the first {fm.slices} of {fm.depth} slices")
        if fm.depth == 1:
            slices = "1 slice"
        parts = [f"<b>{fm.id}</b> ({layer_kind(fm.type)})", slices, f"<b>{fm.whd}</b>"]
        if fm.step > 1:
            h, w = fm.spatial
            parts.append(f"shown at {math.ceil(w / fm.step)}×{math.ceil(h / fm.step)}: each pixel "
                         f"the mean of a {fm.step}×{fm.step} block")
        if len(mosaic.lo):
            if self.per_slice:
                parts.append("each slice on its own scale")
            else:
                parts.append(f"scale {fmt(mosaic.lo[0])} … {fmt(mosaic.hi[0])}")
        if getattr(self, "_note", ""):
            parts.append(self._note)
        return " · ".join(parts)

    def _describe(self, tile: int, r: int, c: int) -> str:
        fm = self.feature_map
        value = float(fm.maps[tile, r, c])
        h, w = fm.spatial
        if h == w == 1:
            return f"unit {tile}: {fmt(value)}"
        s = fm.step
        if s == 1:
            where = f"x {c}, y {r}"
        else:
            where = (f"x {c * s}–{min((c + 1) * s, w) - 1}, y {r * s}–{min((r + 1) * s, h) - 1} "
                     "(block mean)")
        return f"slice {tile} · {where}: {fmt(value)}"


class InputView(QWidget):
    """The sample the maps are of, as a picture, and what the network made of it."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.mosaic = MosaicView(min_size=96)
        self.caption = _caption()
        self.caption.setTextFormat(Qt.RichText)
        self.picture: np.ndarray | None = None
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(self.mosaic, 1)
        layout.addWidget(self.caption)

    def show_sample(self, sample, class_names: Sequence[str], mean=None, std=None) -> None:
        from ....training.probes import display_image

        if sample is None:
            self.picture = None
            self.mosaic.set_mosaic(None)
            self.caption.setText("")
            return
        self.picture = display_image(sample.image, mean, std)
        mosaic = tile_pictures(self.picture[None])
        raw = np.asarray(sample.image)
        self.mosaic.set_mosaic(mosaic, lambda _t, r, c: (
            f"x {c}, y {r}: " + ", ".join(fmt(float(v)) for v in raw[:, r, c])))
        self.caption.setText(sample_text(sample, class_names, html=True, lines=True))


def class_name(names: Sequence[str], i: int | None) -> str:
    if i is None:
        return "?"
    return names[i] if 0 <= i < len(names) else str(i)


def sample_text(sample, names: Sequence[str], html: bool = False, lines: bool = False) -> str:
    """'validation sample 12: circle → predicted circle (97%) ✓' (lines: on two lines)."""
    b = (lambda s: f"<b>{s}</b>") if html else (lambda s: s)
    text = sample.name
    if sample.label is not None:
        text += f": {class_name(names, sample.label)}"
    if sample.predicted is not None:
        sure = f" ({100 * sample.confidence:.0f}%)" if sample.confidence is not None else ""
        verdict = ""
        if sample.label is not None:
            verdict = " ✓" if sample.label == sample.predicted else " ✗"
        cut = ("<br>" if html else "\n") if lines else " → "
        text += f"{cut}predicted {b(class_name(names, sample.predicted))}{sure}{verdict}"
    return text


# ---------------------------------------------------------------------------------------------
# Filters


class FiltersView(_TilesView):
    """The first CONV layer's filters as pictures (colour when they see RGB), zero at mid-grey."""

    def __init__(self, parent: QWidget | None = None):
        self.filters = None  # set first: filling the scale's combo box already redraws
        super().__init__((("Each filter its own scale", True),
                          ("One scale for all filters", False)), parent)

    def show_filters(self, filters, weights: str = "") -> None:
        self.filters = filters
        self._weights = weights
        self._redraw(keep_view=False)

    def _redraw(self, keep_view: bool) -> None:
        f = self.filters
        if f is None:
            self.mosaic.set_mosaic(None)
            self.caption.setText("The design has no CONV layer.")
            return
        per_filter = bool(self.scale.currentData())
        bg = self.palette().color(QPalette.Base)
        mosaic = tile_pictures(f.images(per_filter), (bg.red(), bg.green(), bg.blue(), 255),
                               aspect=self.mosaic.aspect)
        self.mosaic.set_mosaic(mosaic, self._describe, keep_view)
        out, cin, kh, kw = f.weights.shape
        what = (f"{out} filters of {kw}×{kh}×{cin}, in colour (they see RGB)" if f.rgb
                else f"{out} filters of {kw}×{kh}×{cin}, one grey picture per input channel "
                     f"({mosaic.tiles} tiles)")
        scale = "each filter scaled to its largest |weight|" if per_filter else \
            f"one scale, |weight| ≤ {fmt(float(np.abs(f.weights).max()))}"
        parts = [f"<b>{f.layer}</b> (CONV)", what, f"{scale}; mid-grey is 0"]
        if self._weights:
            parts.append(self._weights)
        self.caption.setText(" · ".join(parts))

    def _describe(self, tile: int, r: int, c: int) -> str:
        w = self.filters.weights
        if self.filters.rgb:
            values = ", ".join(fmt(float(v)) for v in w[tile, :, r, c])
            return f"filter {tile} · x {c}, y {r}: R G B weights {values}"
        f, ch = divmod(tile, w.shape[1])
        return f"filter {f}, input channel {ch} · x {c}, y {r}: {fmt(float(w[f, ch, r, c]))}"


# ---------------------------------------------------------------------------------------------
# Samples as thumbnails


class SampleGallery(QListWidget):
    """Thumbnails of samples with a line of text each; a click chooses one."""

    sample_chosen = Signal(int)  # index in the validation split

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setViewMode(QListView.IconMode)
        self.setResizeMode(QListView.Adjust)
        self.setMovement(QListView.Static)
        self.setIconSize(QSize(THUMB_PX, THUMB_PX))
        self.setGridSize(QSize(THUMB_PX + 84, THUMB_PX + 48))
        self.setWordWrap(True)
        self.setUniformItemSizes(True)
        self.setSelectionMode(QAbstractItemView.SingleSelection)
        self.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Expanding)
        self.itemClicked.connect(self._clicked)
        self.itemActivated.connect(self._clicked)

    def set_samples(self, samples: Sequence, names: Sequence[str], mean=None, std=None) -> None:
        from ....training.probes import display_image

        self.clear()
        for s in samples:
            sure = f" {100 * s.confidence:.0f}%" if s.confidence is not None else ""
            item = QListWidgetItem(thumbnail_icon(display_image(s.image, mean, std)),
                                   f"{class_name(names, s.label)}\n"
                                   f"→ {class_name(names, s.predicted)}{sure}")
            item.setData(Qt.UserRole, s.index)
            item.setToolTip(sample_text(s, names) + "\nClick: its feature maps")
            item.setTextAlignment(Qt.AlignHCenter | Qt.AlignTop)
            self.addItem(item)

    def texts(self) -> list[str]:
        return [self.item(i).text() for i in range(self.count())]

    def _clicked(self, item: QListWidgetItem) -> None:
        index = item.data(Qt.UserRole)
        if index is not None:
            self.sample_chosen.emit(int(index))


class MisclassifiedView(QWidget):
    """The validation samples the network gets wrong most confidently."""

    sample_chosen = Signal(int)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.caption = _caption()
        self.gallery = SampleGallery()
        self.gallery.sample_chosen.connect(self.sample_chosen)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.caption)
        layout.addWidget(self.gallery, 1)

    @property
    def caption_text(self) -> str:
        return plain(self.caption)

    def show_report(self, report) -> None:
        e = report.evaluation
        if e is None:
            self.gallery.clear()
            self.caption.setText("The mistakes are listed after an epoch of training (or "
                                 "<b>Evaluate</b> in the confusion matrix).")
            return
        wrong = e.size - int(np.trace(e.confusion))
        self.gallery.set_samples(report.wrong, e.class_names, report.mean, report.std)
        when = f" · {report.weights}" if report.weights else ""
        if not report.wrong:
            self.caption.setText(f"No mistakes on the {e.size:,} validation samples{when}.")
        else:
            self.caption.setText(
                f"The <b>{len(report.wrong)}</b> most confidently wrong of the {wrong:,} "
                f"misclassified validation samples (true → predicted, the network's "
                f"confidence){when}. Click one to see its feature maps.")


# ---------------------------------------------------------------------------------------------
# Confusion matrix


class ConfusionView(QWidget):
    """Rows: the true class; columns: the predicted class; the last column each class's
    accuracy. Clicking a cell lists its samples below, the most confident first."""

    sample_chosen = Signal(int)
    evaluate_requested = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.caption = _caption()
        self.evaluate_button = QPushButton("Evaluate")
        self.evaluate_button.setToolTip("Classify the whole validation set with the weights "
                                        "shown now")
        self.evaluate_button.clicked.connect(self.evaluate_requested)
        self.table = QTableWidget()
        self.table.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.table.setSelectionMode(QAbstractItemView.SingleSelection)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeToContents)
        self.table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeToContents)
        self.table.cellClicked.connect(self.show_cell)
        self.cell_caption = _caption()
        self.gallery = SampleGallery()
        self.gallery.sample_chosen.connect(self.sample_chosen)
        self.report = None
        self.cell: tuple[int, int] | None = None
        top = QHBoxLayout()
        top.addWidget(self.caption, 1)
        top.addWidget(self.evaluate_button, 0, Qt.AlignTop)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(3)
        layout.addLayout(top)
        layout.addWidget(self.table, 3)
        layout.addWidget(self.cell_caption)
        layout.addWidget(self.gallery, 2)

    @property
    def caption_text(self) -> str:
        return plain(self.caption)

    @property
    def cell_text(self) -> str:
        return plain(self.cell_caption)

    def counts(self) -> list[list[int]]:
        """The matrix as the table shows it."""
        k = self.table.rowCount()
        return [[int(self.table.item(r, c).text()) for c in range(k)] for r in range(k)]

    def show_report(self, report) -> None:
        self.report = report
        e = report.evaluation
        if e is None:
            self.table.clear()
            self.table.setRowCount(0)
            self.table.setColumnCount(0)
            self.gallery.clear()
            self.cell_caption.setText("")
            self.caption.setText("The confusion matrix of the validation set comes at the end "
                                 "of every epoch of training, or press <b>Evaluate</b>.")
            return
        k = e.classes
        names = e.class_names
        dark = is_dark()
        fg = self.palette().color(QPalette.Text)
        hot, good = QColor("#2563eb"), QColor("#16a34a")
        rows = e.confusion.sum(axis=1)
        acc = e.per_class_accuracy
        self.table.setUpdatesEnabled(False)
        self.table.clear()
        self.table.setRowCount(k)
        self.table.setColumnCount(k + 1)
        self.table.setHorizontalHeaderLabels([f"→ {_short(n)}" for n in names] + ["accuracy"])
        for c, n in enumerate(names):
            self.table.horizontalHeaderItem(c).setToolTip(f"predicted {n}")
        self.table.setVerticalHeaderLabels(list(names))
        for r in range(k):
            for c in range(k):
                n = int(e.confusion[r, c])
                item = QTableWidgetItem(str(n))
                item.setTextAlignment(Qt.AlignCenter)
                share = n / rows[r] if rows[r] else 0.0
                colour = QColor(good if r == c else hot)
                colour.setAlphaF(min(1.0, 0.08 + 0.8 * share) if n else 0.0)
                item.setBackground(QBrush(colour))
                if share > 0.55 and not dark:
                    item.setForeground(QBrush(QColor("white")))
                else:
                    item.setForeground(QBrush(fg))
                item.setToolTip(f"{n} sample(s) of {names[r]} predicted as {names[c]}"
                                + ("" if r == c else " — click to see them"))
                self.table.setItem(r, c, item)
            a = acc[r]
            item = QTableWidgetItem("–" if not math.isfinite(a) else f"{100 * a:.1f}%")
            item.setTextAlignment(Qt.AlignRight | Qt.AlignVCenter)
            item.setFlags(item.flags() & ~Qt.ItemIsSelectable)
            self.table.setItem(r, k, item)
        self.table.setUpdatesEnabled(True)
        when = f" · {report.weights}" if report.weights else ""
        self.caption.setText(f"Validation set: <b>{e.size:,}</b> samples, accuracy "
                             f"<b>{100 * e.accuracy:.1f}%</b>{when}. Rows: the true class; "
                             f"columns: the prediction. Click a cell to see its samples.")
        if self.cell is not None and max(self.cell) < k:
            self.show_cell(*self.cell)
        else:
            self.gallery.clear()
            self.cell_caption.setText("")

    def show_cell(self, true: int, predicted: int) -> None:
        report = self.report
        e = report.evaluation if report is not None else None
        if e is None or true >= e.classes or predicted >= e.classes:
            return
        self.cell = (true, predicted)
        idx = e.cell(true, predicted)
        names = e.class_names
        shown = idx[:MAX_CELL_SAMPLES]
        samples = _read_samples(report, shown, e)
        what = (f"{names[true]} predicted correctly" if true == predicted
                else f"{names[true]} predicted as {names[predicted]}")
        more = f" (the {len(shown)} most confident shown)" if len(idx) > len(shown) else ""
        self.cell_caption.setText(f"<b>{len(idx)}</b> sample(s) of {what}{more}, most "
                                  "confident first.")
        self.gallery.set_samples(samples, names, report.mean, report.std)


def _short(name: str, limit: int = 9) -> str:
    return name if len(name) <= limit else name[: limit - 1] + "…"


def _read_samples(report, indices, evaluation) -> list:
    """Thumbnails of validation samples, read from the split the report came with."""
    from ....training.probes import Sample, thumbnail

    data = report.data
    out = []
    if data is None:
        return out
    for i in indices:
        i = int(i)
        x, y = data[i]
        out.append(Sample(thumbnail(x), f"validation sample {i}", index=i, label=int(y),
                          predicted=int(evaluation.predictions[i]),
                          confidence=float(evaluation.confidence[i])))
    return out
