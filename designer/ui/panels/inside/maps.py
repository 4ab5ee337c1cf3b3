"""The feature-map views of the "Inside the network" dock: one layer's output for one sample as
a grid of tiles (FeatureMapView), and the sample itself as a picture with what the network made
of it (InputView). They draw the FeatureMap and Sample records of a ProbeReport
(designer/training/probes.py): plain numpy arrays, nothing to compute but colours and positions.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QCheckBox, QVBoxLayout, QWidget

from .mosaic_view import MosaicView, TilesView
from .text import caption_label, faint_label, fmt, layer_kind, sample_text
from .tiles import Mosaic, colour_table, tile_pictures, tile_values


class FeatureMapView(TilesView):
    """One layer's output for one sample: its depth slices as a grid of tiles, coloured on one
    scale for all of them or each on its own; the caption gives the slice count and W×H×D.
    The unit under the mouse is announced (unit_hovered) for its receptive field's outline."""

    # (layer id, (first, last row), (first, last column)) of the units under the mouse, or None
    unit_hovered = Signal(object)

    def __init__(self, parent: QWidget | None = None):
        # set first: filling the scale's combo box already redraws
        self.feature_map = None
        self._table = colour_table()
        super().__init__((("One scale for all slices", False),
                          ("Each slice its own scale", True)), parent)
        self.scale.setToolTip("Shared: slices compare with each other; per slice: the pattern "
                              "inside a faint slice shows too")
        self.mosaic.hovered_at.connect(self._hovered_at)

    def _hovered_at(self, where) -> None:
        fm = self.feature_map
        if where is None or fm is None or len(fm.shape) != 3:
            self.unit_hovered.emit(None)
            return
        self.unit_hovered.emit((fm.id, *fm.units(where[1], where[2])))

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
        self.caption = caption_label()
        self.caption.setTextFormat(Qt.RichText)
        self.field_label = faint_label()  # the outlined receptive field, in words
        self.field_label.setText("Hover over a feature map: its unit's receptive field is "
                                 "outlined here")
        self.effective = QCheckBox("Effective field")
        self.effective.setToolTip(
            "Also tint each input pixel by how much it counts for the unit under the mouse "
            "with these weights (the gradient of the unit with respect to the input): after "
            "training, the field a unit really uses is often much smaller than the outline")
        self.picture: np.ndarray | None = None
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(self.mosaic, 1)
        layout.addWidget(self.field_label)
        layout.addWidget(self.effective)
        layout.addWidget(self.caption)

    def show_field(self, box: tuple[int, int, int, int] | None, text: str = "") -> None:
        """Outline the input pixels (top, bottom, left, right) a unit sees, and say so."""
        self.mosaic.outline(box)
        self.field_label.setText(text or " ")
        if box is None:
            self.show_effective(None)

    def show_effective(self, field: np.ndarray | None) -> None:
        """Tint the picture by an effective receptive field ((H, W) in 0..1; None: no tint)."""
        self.mosaic.tint(field)

    def show_sample(self, sample, class_names: Sequence[str], mean=None, std=None) -> None:
        from ....training.probes import display_image

        self.show_field(None)  # a new picture: no unit hovered yet
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
