"""The Training tab's augmentation: the options (a random crop's padding, a horizontal flip; each
"standard" by default, which says what the data set's standard is) and a preview of training
samples as the network will see them.

The options are fields of the training settings (DataConfig.crop_padding / hflip, None: the
data set's standard recipe, training/data/recipe.py). A choice is one undo step: the box emits
`settings_requested(text, {path: value})` and the training panel pushes it (settings_undo.py).

The preview is made by `preview_samples` (training/data/preview.py) in a background Job, never on
the GUI thread: it needs torch and may read the data set. It starts when asked ("Show samples":
opening the tab loads nothing), then follows every change of the data set, the options or the
design's input; "New samples" draws others. A data set that cannot be read is said in place
with the data side's advice.
"""

from __future__ import annotations

import html
from dataclasses import asdict
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QTextDocumentFragment
from PySide6.QtWidgets import QComboBox, QGridLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from ...training.data.errors import DatasetError
from ...training.data.recipe import resolve
from ...training.events import DataConfig, TrainConfig
from ..document import Document
from ..theme import SEVERITY_COLOURS
from ..widgets.decor import choose, section
from ..widgets.sample_grid import SampleGrid
from .background import Job

SAMPLES = 16  # a 4×4 grid
PADDINGS = (0, 2, 4, 8)
FLIP_NOTE = ("A flip breaks digits and text: a mirrored 2 or 7 is not a 2 or 7. Turn it on "
             "only where a mirror image keeps the class.")


def design_input(doc: Document) -> tuple[int, ...] | None:
    """The (C, H, W) the analysis gives the design's Input layer, or None."""
    report = doc.report
    for nid in report.order:
        layer = report.layers[nid]
        if layer.type == "Input":
            shape = tuple(layer.shape) if layer.shape else ()
            return shape if len(shape) == 3 else None
    return None


def _make_preview(data: DataConfig, shape: tuple[int, ...], seed: int, report):
    from ...training.data.preview import preview_samples  # torch: in the Job's thread only

    return preview_samples(data, shape, SAMPLES, seed,
                           progress=lambda done, total, message: report((done, total, message)))


class AugmentationBox(QWidget):
    settings_requested = Signal(str, dict)  # undo text, {field path: value}

    def __init__(self, doc: Document, parent: QWidget | None = None):
        super().__init__(parent)
        self.doc = doc
        self._data = DataConfig()
        self._loading = False
        self._seed = 0
        self._job: Job | None = None
        self._job_key: Any = None
        self._shown_key: Any = None
        self._options_key: Any = None
        self.active = False  # the preview was asked for: it follows the settings from now on

        self.crop = QComboBox()
        self.crop.setToolTip("A random crop of the image padded by this many pixels (its mean "
                             "colour around it): the network sees it shifted a little")
        self.crop.activated.connect(self._crop_chosen)
        self.flip = QComboBox()
        self.flip.setToolTip("Half the training images mirrored left to right")
        self.flip.activated.connect(self._flip_chosen)
        self.description = QLabel()
        self.description.setWordWrap(True)
        self.note = QLabel(FLIP_NOTE)
        self.note.setWordWrap(True)
        self.note.setEnabled(False)  # muted
        self.grid = SampleGrid(4)
        self.message = QLabel()  # "making samples…" or what is wrong with the data
        self.message.setWordWrap(True)
        self.message.setTextFormat(Qt.RichText)
        self.message.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.samples_button = QPushButton("Show samples")
        self.samples_button.setToolTip("Training samples as the network will see them, "
                                       "augmented (reads the data set)")
        self.samples_button.clicked.connect(self.new_samples)
        self.message.setText("Training samples as the network sees them: press "
                             "<b>Show samples</b> (it reads the data set).")
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(150)
        self._timer.timeout.connect(self._refresh)

        grid = QGridLayout()
        grid.setHorizontalSpacing(6)
        grid.setVerticalSpacing(4)
        grid.addWidget(QLabel("Crop"), 0, 0)
        grid.addWidget(self.crop, 0, 1)
        grid.addWidget(QLabel("Flip"), 1, 0)
        grid.addWidget(self.flip, 1, 1)
        grid.setColumnStretch(1, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        heading = section("Augmentation")
        heading.setContentsMargins(0, 8, 0, 2)
        layout.addWidget(heading)
        layout.addLayout(grid)
        layout.addWidget(self.description)
        layout.addWidget(self.note)
        layout.addWidget(self.samples_button, 0, Qt.AlignLeft)
        layout.addWidget(self.message)
        layout.addWidget(self.grid)
        doc.changed.connect(self._input_maybe_changed)

    # ----------------------------------------------------------------------------- options

    def show_config(self, config: TrainConfig) -> None:
        """The settings as they are now (the panel calls this whenever they change)."""
        self._data = TrainConfig.from_dict(config.to_dict()).data
        self._show_options()
        self._schedule()

    def _show_options(self) -> None:
        data, shape = self._data, design_input(self.doc)
        key = (repr(asdict(data)), shape)
        if key == self._options_key:
            return  # (an edit of the design that leaves its input as it was)
        self._options_key = key
        try:
            usual = resolve(DataConfig(data.name), shape)
            chosen = resolve(data, shape)
        except DatasetError as e:
            self.description.setText(str(e))
            return
        self._loading = True
        try:
            self.crop.clear()
            self.crop.addItem(f"standard: {_pad_text(usual.crop_padding)}", None)
            for pad in sorted({*PADDINGS, *([data.crop_padding] if data.crop_padding else [])}):
                self.crop.addItem(_pad_text(pad), pad)
            choose(self.crop, data.crop_padding)
            self.flip.clear()
            self.flip.addItem(f"standard: {'on' if usual.hflip else 'off'}", None)
            self.flip.addItem("on", True)
            self.flip.addItem("off", False)
            choose(self.flip, data.hflip)
        finally:
            self._loading = False
        self.description.setText(f"Training images: {html.escape(chosen.description)}.")
        # the note in the warning colour where a flip is on, muted where none is
        self.note.setEnabled(chosen.hflip)
        self.note.setStyleSheet(f"color: {SEVERITY_COLOURS['warning']};" if chosen.hflip else "")

    def _crop_chosen(self, _index: int) -> None:
        if not self._loading:
            self.settings_requested.emit("Crop padding", {"data.crop_padding":
                                                          self.crop.currentData()})

    def _flip_chosen(self, _index: int) -> None:
        if not self._loading:
            self.settings_requested.emit("Horizontal flip", {"data.hflip": self.flip.currentData()})

    def _input_maybe_changed(self, _report=None) -> None:
        self._show_options()
        self._schedule()

    # ----------------------------------------------------------------------------- preview

    def _key(self) -> Any:
        return repr(asdict(self._data)), design_input(self.doc), self._seed

    def new_samples(self) -> None:
        """Other samples (the first press: the first ones)."""
        if self.active:
            self._seed += 1
        self.active = True
        self.samples_button.setText("New samples")
        self._refresh()

    def _schedule(self) -> None:
        if self.active and self._key() != self._shown_key:
            self._timer.start()

    def _refresh(self) -> None:
        if not self.active or (self._job is not None and self._job.running):
            return  # the job in progress starts the next one when it ends
        key = self._key()
        shape = key[1]
        if shape is None:
            self._shown_key = None
            self.grid.clear()
            self._say_problem("The design has no image input (C×H×W) to shape samples to",
                              "fix the Input layer, then press Show samples")
            return
        config = DataConfig(**asdict(self._data))  # a copy: the thread's own
        seed = self._seed
        job = self._job = Job(lambda report: _make_preview(config, shape, seed, report),
                              "Preview")
        self._job_key = key
        job.step.connect(self._on_loading)
        job.done.connect(self._on_preview)
        job.failed.connect(self._on_failed)
        self.message.setText("Making samples…")
        self.message.setStyleSheet("")
        self.samples_button.setEnabled(False)
        job.start()

    @property
    def busy(self) -> bool:
        return self._job is not None and self._job.running

    def _finished(self) -> bool:
        """The job is over; True when its samples are still the ones wanted."""
        job = self._job
        if job is not None:
            job.wait()
        self._job = None
        self.samples_button.setEnabled(True)
        if self._job_key != self._key():
            self._refresh()  # the settings changed meanwhile
            return False
        return True

    def _on_loading(self, value) -> None:
        """The data set loading (or downloading, where Download is on) for the samples."""
        done, total, message = value
        share = f" {100 * done / total:.0f} %" if total else ""
        self.message.setText(html.escape(f"{message or 'Loading the data…'}{share}"))

    def _on_preview(self, preview) -> None:
        if not self._finished():
            return
        self._shown_key = self._job_key
        self.grid.set_samples(preview.images, [preview.class_names[int(k)] if 0 <= int(k) < len(
            preview.class_names) else str(int(k)) for k in preview.labels])
        h, w = self.grid.image_size
        self.message.setStyleSheet("")
        self.message.setText(f"{self.grid.count} training samples, {w}×{h} as the network "
                             f"sees them, shown {_times(self.grid.scale)}")

    def _on_failed(self, error: Exception) -> None:
        if not self._finished():
            return
        self._shown_key = self._job_key
        self.grid.clear()
        if isinstance(error, DatasetError):
            self._say_problem(str(error), error.advice)
        else:
            self._say_problem(f"The samples could not be made: {type(error).__name__}: {error}",
                              "check the data set's settings")

    def _say_problem(self, message: str, advice: str) -> None:
        red = SEVERITY_COLOURS["error"]
        self.message.setStyleSheet(f"color: {red};")
        text = f"<b>{html.escape(message)}</b>"
        if advice:
            text += f"<br>{html.escape(advice[0].upper() + advice[1:])}"
        self.message.setText(text)

    @property
    def message_text(self) -> str:
        """What the line above the grid says, as plain text."""
        return QTextDocumentFragment.fromHtml(self.message.text()).toPlainText()

    def shutdown(self, timeout_ms: int = 30_000) -> bool:
        self._timer.stop()
        self.active = False
        return self._job.wait(timeout_ms) if self._job is not None else True


def _pad_text(pad: int) -> str:
    return f"pad {pad} px" if pad else "off"


def _times(scale: float) -> str:
    return f"{scale:g}× (nearest neighbour)" if scale >= 1 else f"at {100 * scale:.0f} %"

