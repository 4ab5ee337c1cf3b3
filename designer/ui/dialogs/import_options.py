"""ImportOptions: what a Python file's model is called and the input shape it takes, asked when
File → Import model… opens a .py file (or an ONNX graph whose input size is free)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QVBoxLayout,
)


class ImportOptions(QDialog):
    def __init__(self, path: str, parent=None, shape_only: bool = False, why: str = ""):
        super().__init__(parent)
        self.setWindowTitle("Import model")
        layout = QVBoxLayout(self)
        form = QFormLayout()
        self.attr = QLineEdit()
        self.attr.setPlaceholderText("the only nn.Module class in the file")
        self.shape = QLineEdit()
        self.shape.setPlaceholderText("C,H,W, e.g. 3,32,32 (empty: the model's input_shape)")
        if not shape_only:
            note = QLabel("Importing a Python file runs its code: import only files you trust.")
            note.setWordWrap(True)
            layout.addWidget(note)
            form.addRow("Model (class, instance or function):", self.attr)
        if why:
            reason = QLabel(why)
            reason.setWordWrap(True)
            layout.addWidget(reason)
        form.addRow("Input shape (C,H,W):", self.shape)
        layout.addWidget(QLabel(Path(path.split(":")[0]).name))
        layout.addLayout(form)
        buttons = QDialogButtonBox(QDialogButtonBox.Ok | QDialogButtonBox.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)

    @classmethod
    def ask(cls, parent, path: str, shape_only: bool = False,
            why: str = "") -> tuple[str, str | None] | None:
        """(model name or "", input shape or None), or None when cancelled."""
        dialog = cls(path, parent, shape_only, why)
        if dialog.exec() != QDialog.Accepted:
            return None
        return dialog.attr.text().strip(), dialog.shape.text().strip() or None
