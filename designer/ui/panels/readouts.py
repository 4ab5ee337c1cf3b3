"""The readouts: the per-layer table (like torchinfo's summary), the totals with the memory for
one training step, and the list of every issue.

All three show what the Document's latest Report says and edit only through the Document (its
settings) or the undo commands (fixes). The table formats lazily: a refresh after an edit only
tells the view its cells changed, and the rows are written when the view asks for them.
"""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from ...model.analysis import DTYPE_BYTES, OPTIMIZER_STATE, Report
from ...model.units import format_bytes, format_count, parse_size
from .. import commands
from ..document import Document
from ..theme import severity_colour
from ..widgets.decor import Figure, WrappingLabel, section, vertical_scroll
from ..widgets.issues import IssueList
from ..widgets.layer_table import COLUMNS, LayerTable, LayerTableModel
from ..widgets.memory_bar import MemoryBar, MemoryLegend, estimate_tooltip
from .batch import BATCH_LIMIT, adopt_file_batch, follow_in_training

__all__ = ["COLUMNS", "IssuesPanel", "LayerTable", "LayerTableModel", "TotalsPanel"]

# ---------------------------------------------------------------------------------------------
# Totals and memory

DTYPES = tuple(DTYPE_BYTES)
OPTIMIZERS = tuple(OPTIMIZER_STATE)
BUDGET_PRESETS_GB = (3, 4, 6, 8, 12, 16, 24, 40, 48, 80)
_CUSTOM = "custom"


class TotalsPanel(QWidget):
    def __init__(self, doc: Document, parent: QWidget | None = None):
        super().__init__(parent)
        self.doc = doc
        self._design = None  # the design whose file batch was taken in (batch.py)

        figures = QFormLayout()
        figures.setLabelAlignment(Qt.AlignLeft)
        figures.setHorizontalSpacing(12)
        self.params_label = Figure()
        self.macs_label = Figure()
        self.activations_label = Figure()
        for label in (self.params_label, self.macs_label, self.activations_label):
            label.setWordWrap(True)
        figures.addRow("Parameters", self.params_label)
        figures.addRow("Compute", self.macs_label)
        figures.addRow("Activations", self.activations_label)

        self.batch = QSpinBox()
        self.batch.setRange(1, BATCH_LIMIT)
        self.batch.setKeyboardTracking(False)
        self.batch.setAccelerated(True)
        self.batch.setToolTip("Images per training step: the activations grow with it. The "
                              "design's one batch size: training uses it too")
        self.batch.valueChanged.connect(lambda v: self.doc.set_settings(batch=int(v)))
        self.dtype = QComboBox()
        self.dtype.addItems(list(DTYPES))
        self.dtype.setToolTip("Bytes per value: fp32 4, fp16/bf16 2, fp64 8")
        self.dtype.activated.connect(lambda _i: self.doc.set_settings(
            dtype=self.dtype.currentText()))
        self.optimizer = QComboBox()
        for name in OPTIMIZERS:
            state = OPTIMIZER_STATE[name]
            self.optimizer.addItem(name, name)
            self.optimizer.setItemData(
                self.optimizer.count() - 1,
                (f"keeps {state} value{'s' if state != 1 else ''} of state per parameter"
                 if state else "keeps no state"),
                Qt.ToolTipRole)
        self.optimizer.setToolTip("The optimizer's state per parameter: none for SGD, a step "
                                  "cache for momentum / Adagrad / RMSProp, two moments for Adam")
        self.optimizer.activated.connect(lambda _i: self.doc.set_settings(
            optimizer=self.optimizer.currentData()))
        self.budget = QComboBox()
        self.budget.addItem("None", None)
        for gb in BUDGET_PRESETS_GB:
            self.budget.addItem(f"{gb} GiB", parse_size(f"{gb} GiB"))  # as format_bytes writes
        self.budget.addItem("Custom…", _CUSTOM)
        self._offered = {self.budget.itemData(i) for i in range(self.budget.count())}
        self.budget.setToolTip("GPU memory to fit one training step into")
        self.budget.activated.connect(self._budget_chosen)

        for combo in (self.dtype, self.optimizer, self.budget):
            combo.setSizeAdjustPolicy(QComboBox.AdjustToMinimumContentsLengthWithIcon)
            combo.setMinimumContentsLength(5)
        controls = QGridLayout()
        controls.setHorizontalSpacing(8)
        controls.setVerticalSpacing(4)
        for i, (title, widget) in enumerate((("Batch", self.batch), ("dtype", self.dtype),
                                             ("Optimizer", self.optimizer),
                                             ("Budget", self.budget))):
            controls.addWidget(QLabel(title), i // 2, 2 * (i % 2))
            controls.addWidget(widget, i // 2, 2 * (i % 2) + 1)
        controls.setColumnStretch(1, 1)
        controls.setColumnStretch(3, 1)

        self.bar = MemoryBar()
        self.legend = MemoryLegend()
        self.verdict = WrappingLabel()
        self.verdict.setWordWrap(True)
        self.use_batch = QPushButton()
        self.use_batch.setToolTip("Set the design's batch size (for training too) to the largest "
                                  "that fits the budget")
        self.use_batch.clicked.connect(self._use_largest_batch)
        verdict_row = QHBoxLayout()
        verdict_row.addWidget(self.verdict, 1)
        verdict_row.addWidget(self.use_batch)
        # the step's two totals, a short row each: plain text that does not wrap (a rich-text,
        # wrapping label is laid out again, with the whole panel, on every edit)
        self.book_total = Figure()
        self.peak_total = Figure()
        bold = self.book_total.font()
        bold.setBold(True)
        totals = QFormLayout()
        totals.setLabelAlignment(Qt.AlignLeft)
        totals.setHorizontalSpacing(12)
        for title, label in (("Textbook total", self.book_total),
                             ("PyTorch's peak", self.peak_total)):
            label.setTextFormat(Qt.PlainText)
            label.setFont(bold)
            totals.addRow(title, label)

        content = QWidget()
        layout = QVBoxLayout(content)
        layout.setContentsMargins(8, 4, 8, 8)
        layout.setSpacing(4)
        layout.addWidget(section("Totals per image"))
        layout.addLayout(figures)
        layout.addWidget(section("Memory for one training step"))
        layout.addLayout(controls)
        layout.addSpacing(4)
        layout.addWidget(self.bar)
        layout.addWidget(self.legend)
        layout.addLayout(verdict_row)
        layout.addLayout(totals)
        layout.addStretch(1)
        scroll = vertical_scroll(content)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(scroll)

        doc.changed.connect(self._update)
        self._update(doc.report)

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt's name)
        return QSize(330, 360)

    def add_budget_option(self, label: str, budget: int) -> None:
        """Offer another budget (e.g. the detected GPU, which the window finds off the GUI
        thread) at the top of the list."""
        self._offered.add(int(budget))
        self.budget.insertItem(1, label, int(budget))
        self._sync_controls()

    # ----------------------------------------------------------------------------- settings

    def _budget_chosen(self, index: int) -> None:
        data = self.budget.itemData(index)
        if data != _CUSTOM:
            self.doc.set_settings(budget=data)
            return
        current = self.doc.settings["budget"]
        text = format_bytes(current) if current else "11 GiB"
        prompt = "GPU memory, e.g. 11 GiB, 800 MiB or 2G:"
        from PySide6.QtWidgets import QInputDialog

        while True:
            text, ok = QInputDialog.getText(self, "Memory budget", prompt, text=text)
            if not ok:
                self._sync_controls()
                return
            try:
                budget = parse_size(text)
            except ValueError as e:
                prompt = f"{e}.\nGPU memory, e.g. 11 GiB, 800 MiB or 2G:"
                continue
            self.doc.set_settings(budget=budget)
            self._sync_controls()
            return

    def _use_largest_batch(self) -> None:
        best = self.doc.report.textbook.max_batch
        if best:
            self.doc.set_settings(batch=int(best))

    def _sync_controls(self) -> None:
        s = self.doc.settings
        widgets = (self.batch, self.dtype, self.optimizer, self.budget)
        for w in widgets:
            w.blockSignals(True)
        try:
            if self.batch.value() != int(s["batch"]):  # (setValue repaints it even so)
                self.batch.setValue(int(s["batch"]))
            self.dtype.setCurrentText(s["dtype"])
            self.optimizer.setCurrentIndex(max(self.optimizer.findData(s["optimizer"]), 0))
            budget = s["budget"]
            for i in reversed(range(self.budget.count())):  # one custom entry: the current one
                data = self.budget.itemData(i)
                if data not in self._offered and data != budget:
                    self.budget.removeItem(i)
            i = self.budget.findData(budget)
            if i < 0:
                i = self.budget.count() - 1  # before "Custom…"
                self.budget.insertItem(i, format_bytes(budget), int(budget))
            self.budget.setCurrentIndex(i)
        finally:
            for w in widgets:
                w.blockSignals(False)

    # ----------------------------------------------------------------------------- figures

    def _update(self, report: Report) -> None:
        if self.doc.design is not self._design:  # a design opened: an older file's training
            self._design = self.doc.design       # batch becomes the design's (batch.py)
            if adopt_file_batch(self.doc):
                return  # refreshed: shown by the _update its refresh made
        follow_in_training(self.doc)
        self._sync_controls()
        t = report.totals
        trainable = f"{t.params_trainable:,} trainable" + (
            f"  ·  {t.params_frozen:,} frozen" if t.params_frozen else "")
        self.params_label.setText(
            trainable + (f"  ·  {t.buffers:,} in buffers" if t.buffers else ""))
        self.params_label.setToolTip(
            f"{t.params:,} parameters, {t.params_frozen:,} of them in frozen layers: a fine-tune "
            "keeps those as they are (no gradients, no optimizer state in the memory below)"
            if t.params_frozen else "")
        self.macs_label.setText(f"{format_count(t.macs)} MACs  ·  {format_count(t.flops)} FLOPs")
        value = DTYPE_BYTES[report.dtype]
        self.activations_label.setText(
            f"{format_count(t.activations)} values  ·  "
            f"{format_bytes(t.forward_values * value)} forward with the input")
        self.activations_label.setToolTip(
            f"input {t.input_values:,} + activations {t.activations:,} = "
            f"{t.forward_values:,} values per image, × {value} bytes ({report.dtype})"
            + (f"\n{report.totals_remark}" if report.totals_remark else ""))

        book, torch_est = report.textbook, report.pytorch
        self.bar.set_estimate(book, value, "The notes' count")
        self.legend.set_estimate(book, value)
        if book.budget is None:
            self.verdict.setText("Choose a budget to see whether it fits, and the largest "
                                 "batch that does.")
            self._verdict_style("")
            self.use_batch.hide()
        elif book.fits:
            self.verdict.setText(f"✓ fits in {format_bytes(book.budget)}"
                                 + self._largest(book.max_batch))
            self._verdict_style("color: #15803d;")
            self.use_batch.hide()
        else:
            self.verdict.setText(f"✗ does NOT fit in {format_bytes(book.budget)} — "
                                 + ("the largest batch that fits is unknown"
                                    if book.max_batch is None else
                                    "not even a batch of 1 fits" if book.max_batch == 0 else
                                    f"largest batch that fits: {book.max_batch:,}"))
            self._verdict_style(f"color: {severity_colour('error').name()};")
            self.use_batch.setText(f"Use batch {book.max_batch or 0:,}")
            self.use_batch.setVisible(bool(book.max_batch))
        self.book_total.setText(f"{format_bytes(book.total)}  (batch {book.batch:,})")
        self.peak_total.setText(f"≈ {format_bytes(torch_est.total)}")
        self.peak_total.setToolTip(estimate_tooltip(
            torch_est, None, "PyTorch's peak in one training step on "
                             f"{report.device.upper()} (estimate: the tensors saved for backward "
                             "and still held, gradients in flight, scratch space, weights and "
                             "optimizer state at the highest point of the step)"))

    def _verdict_style(self, sheet: str) -> None:
        # a style sheet re-polishes the widget and lays out the panel again: only on a change
        if self.verdict.styleSheet() != sheet:
            self.verdict.setStyleSheet(sheet)

    @staticmethod
    def _largest(max_batch: int | None) -> str:
        return "" if max_batch is None else f" (up to batch {max_batch:,})"


# ---------------------------------------------------------------------------------------------
# Issues


_SEVERITY_WORDS = {"error": ("error", "errors"), "warning": ("warning", "warnings"),
                   "info": ("note", "notes")}


class IssuesPanel(QWidget):
    """Every error, warning and note, the network's first, then the layers' in network order."""

    def __init__(self, doc: Document, parent: QWidget | None = None):
        super().__init__(parent)
        self.doc = doc
        self.summary = QLabel()
        self.list = IssueList(show_layer=True)
        self.list.layer_clicked.connect(lambda nid: self.doc.select([nid]))
        self.list.fix_requested.connect(
            lambda nid, fix: commands.apply_fix(self.doc, nid, fix))
        inner = QWidget()
        inner_layout = QVBoxLayout(inner)
        inner_layout.setContentsMargins(6, 0, 6, 6)
        inner_layout.addWidget(self.list)
        scroll = vertical_scroll(inner)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 6, 0, 0)
        layout.setSpacing(4)
        head = QHBoxLayout()
        head.setContentsMargins(8, 0, 8, 0)
        head.addWidget(self.summary)
        layout.addLayout(head)
        layout.addWidget(scroll)
        doc.changed.connect(self._update)
        self._update(doc.report)

    def _update(self, report: Report) -> None:
        issues = list(report.issues)
        layers = report.layers
        for nid in report.order:
            found = layers[nid].issues
            if found:  # (most layers have none: no generator made for them)
                issues.extend([(nid, i) for i in found])
        parts = []
        for severity, (one, many) in _SEVERITY_WORDS.items():
            n = sum(1 for _, i in issues if i.severity == severity)
            if n:
                parts.append(f"{n} {one if n == 1 else many}")
        self.summary.setText(", ".join(parts) if parts else
                             "✓ No errors or warnings: every size works out.")
        self.list.set_issues(issues)
