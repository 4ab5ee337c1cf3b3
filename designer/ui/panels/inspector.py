"""The inspector: the selected layer's name, type, parameters, readouts and issues.

A layer with weights (CONV, FC, BatchNorm) has a "Trainable" switch: unticked, the layer is frozen
for a fine-tune (its weights are not trained; Node.frozen), one undo step per click.

Shows what the Document's report says about one layer and edits it only through the undo
commands: one undo step per finished change (Enter, focus out, an arrow step, a click). While the
same kind of layer stays selected the editors are kept and only their values change (with their
signals blocked), so a refresh never steals the focus from the field being edited.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QSize, Qt
from PySide6.QtWidgets import (
    QApplication,
    QCheckBox,
    QFormLayout,
    QGridLayout,
    QLabel,
    QLineEdit,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from ...model.layers import Fix
from ...model.network import FREEZABLE
from ...model.units import format_bytes, format_count
from .. import commands
from ..document import Document
from ..widgets.decor import Figure, WrappingLabel, section, vertical_scroll
from ..widgets.formatting import activation_bytes, layer_title, receptive_field, volumes
from ..widgets.issues import IssueList

_HINT = "Select a layer"
# the layer page's widgets (built with it: Inspector._build_content)
_CONTENT = frozenset({"id_edit", "type_label", "doc_label", "error_label", "params_title",
                      "params_box", "params_form", "trainable", "readouts", "issues", "content",
                      "_make_editor"})
_TRAINABLE_TIP = ("Ticked: training changes this layer's weights. Unticked: the layer is frozen "
                  "for a fine-tune: its weights stay as they are (no gradient, no optimizer "
                  "state), and a frozen BatchNorm keeps its running statistics (eval mode)")


class Inspector(QWidget):
    def __init__(self, doc: Document, parent: QWidget | None = None):
        super().__init__(parent)
        self.doc = doc
        self.nid: str | None = None
        self._type: str | None = None
        self.editors: dict[str, Any] = {}
        self._refusal: str | None = None  # doc.error's message while our own edit runs
        self._committing = False
        self._renaming: str | None = None

        self.hint = WrappingLabel(_HINT)
        self.hint.setAlignment(Qt.AlignCenter)
        self.hint.setWordWrap(True)
        self.hint.setEnabled(False)
        self.stack = QStackedWidget()
        self.stack.addWidget(self.hint)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(self.stack)
        # The layer's page (name, parameters, readouts, issues) is built when a layer is first
        # shown (or one of its widgets asked for): the window starts with nothing selected.
        self._content_built = False

        doc.changed.connect(self._refresh)
        doc.selection_changed.connect(self._selection_changed)
        doc.error.connect(self._error)
        self._selection_changed(doc.selection)

    def __getattr__(self, name: str):
        # (only for names not found: the layer page's widgets before it is built)
        if name in _CONTENT and not self.__dict__.get("_content_built", True):
            self._build_content()
            return getattr(self, name)
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def _build_content(self) -> None:
        """The layer's page: its name, type, parameters, readouts and issues."""
        if self._content_built:
            return
        self._content_built = True
        from PySide6.QtCore import QRegularExpression
        from PySide6.QtGui import QRegularExpressionValidator

        from ..widgets.params import make_editor

        self._make_editor = make_editor
        self.id_edit = QLineEdit()
        self.id_edit.setValidator(QRegularExpressionValidator(
            QRegularExpression(r"[A-Za-z_][A-Za-z0-9_]*"), self.id_edit))
        self.id_edit.setToolTip("The layer's name (also its attribute name in exported code). "
                                "Enter renames it; wires follow.")
        font = self.id_edit.font()
        font.setBold(True)
        font.setPointSizeF(font.pointSizeF() * 1.1)
        self.id_edit.setFont(font)
        self.id_edit.editingFinished.connect(self._rename)
        self.type_label = QLabel()
        self.doc_label = WrappingLabel()
        self.doc_label.setWordWrap(True)
        self.doc_label.setEnabled(False)
        self.error_label = WrappingLabel()
        self.error_label.setWordWrap(True)
        self.error_label.setStyleSheet("color: #dc2626;")
        self.error_label.hide()

        self.params_title = section("Parameters")
        self.params_box = QWidget()
        self.params_form = QFormLayout(self.params_box)
        self.params_form.setContentsMargins(0, 0, 0, 0)
        self.params_form.setFieldGrowthPolicy(QFormLayout.AllNonFixedFieldsGrow)
        self.params_form.setLabelAlignment(Qt.AlignRight | Qt.AlignVCenter)
        self.params_form.setVerticalSpacing(3)
        self.trainable = QCheckBox("Trainable")
        self.trainable.clicked.connect(self._set_trainable)

        # A grid, not a form: QFormLayout under-counts the height of a value that wraps (the
        # activations at a narrow width), and the next row is drawn over its second line.
        readouts_box = QWidget()
        grid = QGridLayout(readouts_box)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setHorizontalSpacing(6)
        grid.setVerticalSpacing(3)
        grid.setColumnStretch(1, 1)
        self.readouts: dict[str, QLabel] = {}
        for key, title, tip in (
            ("input", "Input", "The volume(s) coming in, W×H×D"),
            ("output", "Output", "The volume going out, W×H×D: (W − F + 2P)/S + 1 for CONV/POOL"),
            ("params", "Parameters", "Trainable weights and biases (and non-trainable buffers)"),
            ("macs", "MACs", "Multiply-accumulates per image (FLOPs = 2·MACs)"),
            ("memory", "Activations", "Values in the output volume, and their bytes for the "
                                      "batch size and dtype set in the totals"),
            ("rf", "Receptive field", "Input pixels one output neuron sees (W×H), and the jump: "
                                      "the product of the strides so far"),
        ):
            value = Figure()
            value.setWordWrap(True)
            value.setToolTip(tip)
            value.setAlignment(Qt.AlignLeft | Qt.AlignTop)
            name = QLabel(title)
            name.setToolTip(tip)
            row = grid.rowCount()
            grid.addWidget(name, row, 0, Qt.AlignRight | Qt.AlignTop)
            grid.addWidget(value, row, 1)
            self.readouts[key] = value

        self.issues = IssueList(show_layer=False, empty_text="No problems.")
        self.issues.fix_requested.connect(self._apply_fix)

        content = QWidget()
        layout = QVBoxLayout(content)
        layout.setContentsMargins(8, 8, 8, 8)
        layout.setSpacing(4)
        layout.addWidget(self.id_edit)
        layout.addWidget(self.type_label)
        layout.addWidget(self.doc_label)
        layout.addWidget(self.error_label)
        layout.addWidget(self.params_title)
        layout.addWidget(self.params_box)
        layout.addWidget(self.trainable)
        layout.addWidget(section("Readouts"))
        layout.addWidget(readouts_box)
        layout.addWidget(section("Issues"))
        layout.addWidget(self.issues)
        layout.addStretch(1)
        scroll = vertical_scroll(content)
        self.content = content
        self.stack.addWidget(scroll)

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt's name)
        return QSize(320, 480)

    # ----------------------------------------------------------------------------- showing

    def _selection_changed(self, ids: list[str]) -> None:
        if self._content_built:
            self.error_label.hide()
        if len(ids) == 1:
            self._show(ids[0])
        else:
            self.hint.setText(_HINT if not ids else
                              f"{len(ids)} layers selected: select one to edit it")
            self._show(None)

    def _refresh(self, _report=None) -> None:
        # during our own rename the old name is gone before the new one is selected
        self._show(self._renaming or self.nid)

    def _show(self, nid: str | None) -> None:
        if nid != self.nid and self.nid is not None and self._renaming is None:
            # What was typed but not yet committed belongs to the layer it was typed for:
            # leaving the field commits it there before another layer takes the editors.
            focused = QApplication.focusWidget()
            if focused is not None and self.isAncestorOf(focused):
                focused.clearFocus()
        node = self.doc.network.nodes.get(nid) if nid is not None else None
        if node is None:
            if self.nid is not None and nid is not None:
                self.hint.setText(_HINT)  # the layer went away (deleted, renamed, undone)
            self.nid = None
            self.stack.setCurrentWidget(self.hint)
            return
        self._build_content()
        if nid != self.nid or not self.id_edit.hasFocus():
            self.id_edit.setText(nid)
        self.nid = nid
        if node.type != self._type:
            self._build_editors(node)
        for name, editor in self.editors.items():
            editor.set_value(node.params[name])
        freezable = node.type in FREEZABLE
        self.trainable.setChecked(not node.frozen)
        self.trainable.setEnabled(freezable)
        self.trainable.setToolTip(_TRAINABLE_TIP if freezable else
                                  f"A {node.layer.name} layer has no weights to train or freeze")
        self._show_readouts(nid)
        self.stack.setCurrentIndex(1)

    def _build_editors(self, node) -> None:
        layer = node.layer
        self._type = node.type
        while self.params_form.rowCount():
            self.params_form.removeRow(0)
        self.editors = {}
        for spec in layer.params:
            editor = self._make_editor(spec)
            editor.committed.connect(lambda v, name=spec.name: self._set_param(name, v))
            editor.refused.connect(self._refused)
            label = QLabel(spec.name)
            label.setToolTip(editor.toolTip())
            self.params_form.addRow(label, editor)
            self.editors[spec.name] = editor
        self.params_title.setVisible(bool(layer.params))
        self.params_box.setVisible(bool(layer.params))
        self.type_label.setText(f"{layer_title(layer)}  ·  {layer.category}")
        self.doc_label.setText(layer.doc)

    def _show_readouts(self, nid: str) -> None:
        report = self.doc.report
        rep = report.layers.get(nid)
        r = self.readouts
        if rep is None:
            for label in r.values():
                label.setText("—")
            self.issues.set_issues([])
            return
        r["input"].setText(volumes(rep.in_shapes) if rep.in_shapes else "—")
        r["output"].setText(volumes([rep.shape]) if rep.shape is not None else "unknown")
        params = f"{rep.params:,}" + ("  ·  frozen" if rep.frozen and rep.params else "")
        if rep.buffers:
            params += f"  (+ {rep.buffers:,} in buffers)"
        r["params"].setText(params)
        r["macs"].setText(f"{rep.macs:,}  ·  {format_count(2 * rep.macs)} FLOPs"
                          if rep.macs else "0")
        if rep.shape is None:
            r["memory"].setText("—")
        elif rep.in_place:
            r["memory"].setText(f"{format_count(rep.activations)} per image, in place (counted "
                                "with its input, as the notes count RELU)")
        else:
            r["memory"].setText(
                f"{format_count(rep.activations)} per image  ·  "
                f"{format_bytes(activation_bytes(report, rep))} at batch {report.batch:,}, "
                f"{report.dtype}")
        r["rf"].setText(receptive_field(rep.rf))
        self.issues.set_issues([(nid, issue) for issue in rep.issues])

    # ----------------------------------------------------------------------------- editing

    def _edit(self, action: Callable[[], None]) -> bool:
        """Run one command; show the refusal under the name when the network refuses it."""
        self._refusal = None
        self._committing = True
        try:
            action()
        finally:
            self._committing = False
        if self._refusal is not None:
            self.error_label.setText(self._refusal)
            self.error_label.show()
            self._show(self.nid)  # put back the values the layer still has
            return False
        self.error_label.hide()
        return True

    def _refused(self, reason: str) -> None:
        """A value typed outside the parameter's limits: nothing changes, the reason shows under
        the name (the field already shows the value the layer still has)."""
        self.error_label.setText(f"{self.nid}.{reason}" if self.nid else reason)
        self.error_label.show()

    def _error(self, message: str) -> None:
        if self._committing:
            self._refusal = message

    def _set_param(self, name: str, value: Any) -> None:
        nid = self.nid
        node = self.doc.network.nodes.get(nid) if nid is not None else None
        if node is None or node.params.get(name) == value:
            return
        self._edit(lambda: commands.set_params(self.doc, nid, **{name: value}))

    def _set_trainable(self, trainable: bool) -> None:
        nid = self.nid
        node = self.doc.network.nodes.get(nid) if nid is not None else None
        if node is None or node.frozen != trainable:
            return
        self._edit(lambda: commands.set_frozen(self.doc, nid, not trainable))

    def _rename(self) -> None:
        old, new = self.nid, self.id_edit.text().strip()
        if old is None or new == old:
            return
        if not new:
            self.id_edit.setText(old)
            return
        self._renaming = new
        try:
            done = self._edit(lambda: commands.rename(self.doc, old, new))
        finally:
            self._renaming = None
        if done:
            self.doc.select([new])
        else:
            self.id_edit.setText(old)

    def _apply_fix(self, nid: str, fix: Fix) -> None:
        self._edit(lambda: commands.apply_fix(self.doc, nid, fix))
