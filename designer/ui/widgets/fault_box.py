"""A fault shown where it happened: a red-edged box with what went wrong in bold, what to do
below it, the details (a traceback) in its tooltip, and ✕ to hide it.

A fault of a kind with a title of its own (TITLES: a diverged loss, a NaN loss, out of memory)
shows that title in bold, then the fault's sentence (where, the learning rate, ...), then the
advice; any other shows its sentence as the title."""

from __future__ import annotations

import html

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QGridLayout, QLabel, QToolButton, QWidget

from ..theme import SEVERITY_COLOURS

TITLES = {  # Fault.kind -> what the box says first
    "diverged": "The loss diverged",
    "nan_loss": "The loss became NaN or infinite",
    "out_of_memory": "Out of memory",
}


class FaultBox(QFrame):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("fault")
        red = SEVERITY_COLOURS["error"]
        self.setStyleSheet(f"QFrame#fault {{ border: 1px solid {red}; border-left: 4px solid "
                           f"{red}; border-radius: 3px; }}")
        self.title = QLabel()
        self.title.setWordWrap(True)
        self.title.setStyleSheet(f"color: {red}; font-weight: bold;")
        self.message = QLabel()  # the fault's sentence, under a kind's title
        self.message.setWordWrap(True)
        self.message.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.advice = QLabel()
        self.advice.setWordWrap(True)
        self.advice.setTextInteractionFlags(Qt.TextSelectableByMouse)
        close = QToolButton()
        close.setText("✕")
        close.setAutoRaise(True)
        close.setToolTip("Hide this message")
        close.clicked.connect(self.hide)
        box = QGridLayout(self)
        box.setContentsMargins(10, 4, 4, 6)
        box.setVerticalSpacing(2)
        box.addWidget(self.title, 0, 0)
        box.addWidget(close, 0, 1, Qt.AlignTop)
        box.addWidget(self.message, 1, 0, 1, 2)
        box.addWidget(self.advice, 2, 0, 1, 2)
        self.hide()

    def show_fault(self, message: str, advice: str, detail: str = "", kind: str = "") -> None:
        title = TITLES.get(kind)
        self.title.setText(title or message)
        self.message.setText(message if title else "")
        self.message.setVisible(bool(title))
        self.advice.setText(f"What to do: {advice}" if title else advice)
        self.setToolTip(f"<pre>{html.escape(detail[-3000:])}</pre>" if detail else "")
        self.show()

    @property
    def text(self) -> str:
        """The fault shown, or '' (what the user reads)."""
        if self.isHidden():
            return ""
        parts = (self.title, self.message, self.advice)
        return "\n".join(label.text() for label in parts if label.text())
