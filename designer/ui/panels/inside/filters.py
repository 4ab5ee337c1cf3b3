"""The filters view of the "Inside the network" dock: the first CONV layer's filters as
pictures (colour when they see RGB), zero at mid-grey.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QWidget

from .mosaic_view import TilesView
from .text import fmt
from .tiles import tile_pictures


class FiltersView(TilesView):
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
        what = (f"{out} filter{'s' if out != 1 else ''} of {kw}×{kh}×{cin}, in colour (they "
                f"see RGB)" if f.rgb
                else f"{out} filter{'s' if out != 1 else ''} of {kw}×{kh}×{cin}, one grey "
                     f"picture per input channel ({mosaic.tiles} tile"
                     f"{'s' if mosaic.tiles != 1 else ''})")
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
