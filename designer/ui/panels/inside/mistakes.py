"""The misclassified view of the "Inside the network" dock: the validation samples the network
gets wrong most confidently, as thumbnails; a click shows a sample's feature maps.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Signal
from PySide6.QtWidgets import QVBoxLayout, QWidget

from .gallery import SampleGallery
from .text import caption_label, plain


class MisclassifiedView(QWidget):
    """The validation samples the network gets wrong most confidently."""

    sample_chosen = Signal(int)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.caption = caption_label()
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
            self.caption.setText(f"No mistakes on the {e.size:,} validation "
                                 f"sample{'s' if e.size != 1 else ''}{when}.")
        else:
            self.caption.setText(
                f"The <b>{len(report.wrong)}</b> most confidently wrong of the {wrong:,} "
                f"misclassified validation sample{'s' if wrong != 1 else ''} "
                f"(true → predicted, the network's "
                f"confidence){when}. Click one to see its feature maps.")
