"""Receptive fields on the input picture of the "Inside the network" dock: hovering a unit of a
feature map outlines the input pixels it sees (the analysis's receptive field: size, jump and
start, clipped at the borders; model/windows.input_window), and, with "Effective field" ticked,
tints them by how much each counts for the weights shown (the gradient of the unit with respect
to the input: Prober.effective_field, in a background thread once the mouse rests).
"""

from __future__ import annotations

import threading
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal

from ....model.windows import input_window

REST_MS = 150  # the mouse rests this long on a unit before its effective field is computed


class ReceptiveFields(QObject):
    """Wires a panel's feature-map view to its input view (see the module)."""

    _done = Signal(object)  # (units, field or an exception), from the background thread

    def __init__(self, panel: Any):
        super().__init__(panel)
        self.panel = panel
        self.hovered = None  # (layer id, rows, cols) under the mouse, or None
        self._timer = QTimer(self, singleShot=True, interval=REST_MS)
        self._timer.timeout.connect(self._effective_field)
        self._done.connect(self._show_effective)
        panel.maps_view.unit_hovered.connect(self.outline)
        panel.input_view.effective.toggled.connect(lambda _on: self.outline(self.hovered))

    def outline(self, target) -> None:
        """Outline the pixels the units `target` see (None: nothing hovered)."""
        panel = self.panel
        self.hovered = target
        picture = panel.input_view.picture
        fm = panel.maps_view.feature_map
        layer = panel.doc.report.layers.get(target[0]) if target is not None else None
        if (layer is None or picture is None or fm is None or layer.field is None
                or layer.shape is None or tuple(layer.shape) != tuple(fm.shape)):
            panel.input_view.show_field(None)  # (a design edited since the probe: no outline)
            return
        _id, rows, cols = target
        top, bottom, left, right = input_window(layer.field, rows, cols, picture.shape[:2])
        one = rows[0] == rows[1] and cols[0] == cols[1]
        units = (f"unit x {cols[0]}, y {rows[0]}" if one
                 else f"units x {cols[0]}–{cols[1]}, y {rows[0]}–{rows[1]}")
        text = (f"{layer.id} {units} sees {right - left}×{bottom - top} input pixels: "
                f"x {left}–{right - 1}, y {top}–{bottom - 1}")
        if one and (bottom - top, right - left) != (layer.field[0], layer.field[1]):
            text += f" (its {layer.field[1]}×{layer.field[0]} field, clipped at the border)"
        panel.input_view.show_field((top, bottom, left, right), text)
        if panel.input_view.effective.isChecked():
            self._timer.start()  # once the mouse rests
        else:
            panel.input_view.show_effective(None)

    def _effective_field(self) -> None:
        """The hovered units' effective field, of the model the maps are of (between runs; a
        probe in progress goes first)."""
        panel, target = self.panel, self.hovered
        report, prober = panel.report, panel.prober
        if target is None or report is None or report.sample is None:
            return
        if panel.worker is not None or prober is None:
            label = panel.input_view.field_label
            label.setText(label.text() + " · the effective field is shown between runs")
            return
        if panel._job is not None and panel._job.is_alive():
            self._timer.start()  # after the probe
            return
        image = report.sample.image

        def work() -> None:
            try:
                result: Any = prober.effective_field(image, *target)
            except Exception as e:  # noqa: BLE001 - said in the panel
                result = e
            try:
                self._done.emit((target, result))
            except RuntimeError:  # the panel is gone
                pass

        panel._job = threading.Thread(target=work, name="effective field", daemon=True)
        panel._job.start()

    def _show_effective(self, done) -> None:
        target, result = done
        if target != self.hovered or not self.panel.input_view.effective.isChecked():
            return  # the mouse moved on
        if isinstance(result, Exception):
            self.panel._say(f"The effective field could not be computed: {result}", error=True)
            return
        self.panel.input_view.show_effective(result)
