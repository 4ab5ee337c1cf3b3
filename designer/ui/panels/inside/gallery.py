"""Samples as thumbnails: SampleGallery, a list of sample pictures with a line of text each, a
click choosing one (the misclassified view and the confusion matrix's cells use it).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QIcon, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QListView,
    QListWidget,
    QListWidgetItem,
    QSizePolicy,
    QWidget,
)

from .text import class_name, sample_text
from .tiles import to_qimage

THUMB_PX = 72  # thumbnails are drawn this large (nearest neighbour: pixels stay pixels)


def thumbnail_icon(picture: np.ndarray, size: int = THUMB_PX) -> QIcon:
    image = to_qimage(picture)
    pix = QPixmap.fromImage(image).scaled(size, size, Qt.KeepAspectRatio, Qt.FastTransformation)
    return QIcon(pix)


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
