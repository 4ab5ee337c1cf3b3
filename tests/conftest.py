import os

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("QT_NO_GUI_THREADPOOL", "1")  # Qt's fills serial, as the app has them


@pytest.fixture(scope="session", autouse=True)
def _empty_clipboard_at_exit():
    """Qt's offscreen platform crashes at exit when the clipboard still holds data (the canvas
    tests copy and paste), so the session empties it before the QApplication goes."""
    yield
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance()
    if app is not None:
        app.clipboard().clear()
