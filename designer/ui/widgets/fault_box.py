"""A fault shown where it happened: a red-edged box with what went wrong in bold, what to do
below it, the details (a traceback) in its tooltip, and ✕ to hide it."""

from __future__ import annotations

import html

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QGridLayout, QLabel, QToolButton, QWidget

from ..theme import SEVERITY_COLOURS


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
        box.addWidget(self.advice, 1, 0, 1, 2)
        self.hide()

    def show_fault(self, message: str, advice: str, detail: str = "") -> None:
        self.title.setText(message)
        self.advice.setText(advice)
        self.setToolTip(f"<pre>{html.escape(detail[-3000:])}</pre>" if detail else "")
        self.show()

    @property
    def text(self) -> str:
        """The fault shown, or '' (what the user reads)."""
        return "" if self.isHidden() else f"{self.title.text()}\n{self.advice.text()}"
