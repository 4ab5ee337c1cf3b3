"""The main window as the window tests use it: its settings and recovery folder in the test's
temporary folder, "Discard" answered to a question about unsaved changes (closing at teardown),
1400×900, shown and exposed."""

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QMessageBox

from designer.ui.main_window import MainWindow


def shown_window(qtbot, tmp_path, monkeypatch, size=(1400, 900)) -> MainWindow:
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.Discard)
    w = MainWindow(settings=QSettings(str(tmp_path / "s.ini"), QSettings.IniFormat),
                   recovery_dir=tmp_path / "rec")
    qtbot.addWidget(w)
    w.resize(*size)
    w.show()
    qtbot.waitExposed(w)
    return w
