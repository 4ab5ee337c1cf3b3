"""The "Inside the network" dock: a layer's feature maps for one sample, the first CONV's filters,
the validation set's confusion matrix and the samples the network gets most confidently wrong.

`install(window)` adds the dock (tabbed with the Training dock), a View-menu toggle and a
Train-menu action. This module is all the window imports at start: the panel (panel.py)
is made the first time the dock is shown, and only then are numpy and pyqtgraph imported (the
views are in maps.py, filters.py, confusion.py and mistakes.py), torch only in a background
thread or by the training thread.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QDockWidget, QLabel, QMainWindow

TITLE = "Inside the network"


def install(window: QMainWindow) -> InsideDock:
    """Add the dock to the main window: tabbed with the Training dock (the tab in front stays in
    front), its toggle in the View menu, "Inside the network" in the Train menu."""
    dock = InsideDock(window)
    window.addDockWidget(Qt.BottomDockWidgetArea, dock)
    docks = getattr(window, "docks", None)
    anchor = docks.get("training") if isinstance(docks, dict) else None
    if anchor is not None:
        # Qt puts the new tab in front; the window raises the tab it wants in front after its
        # installs (finding the front tab here would wrap every widget of the window: ~20 ms)
        window.tabifyDockWidget(anchor, dock)
    if isinstance(docks, dict):
        docks["inside"] = dock
    menus = {a.text().replace("&", ""): a.menu() for a in window.menuBar().actions() if a.menu()}
    if "View" in menus:
        menus["View"].addAction(dock.toggleViewAction())
    show = QAction("&Inside the network", window)
    show.setStatusTip("Feature maps, filters, confusion matrix and misclassified samples")
    show.setToolTip(show.statusTip())
    show.triggered.connect(dock.show_panel)
    dock.show_action = show
    if "Train" in menus:
        menus["Train"].addSeparator()
        menus["Train"].addAction(show)
    window.inside = dock
    return dock


class InsideDock(QDockWidget):
    """The dock; its panel is made when it is first shown."""

    def __init__(self, window: QMainWindow):
        super().__init__(TITLE, window)
        self.setObjectName(TITLE)
        self.main_window = window
        self.panel = None  # an inside_panel.InsidePanel, once shown
        hint = QLabel("Feature maps, filters, the confusion matrix and the misclassified samples "
                      "of the network appear here.")
        hint.setWordWrap(True)
        hint.setAlignment(Qt.AlignCenter)
        self.setWidget(hint)
        self.visibilityChanged.connect(lambda seen: seen and self.ensure_panel())

    def ensure_panel(self):
        if self.panel is None:
            from .panel import InsidePanel

            finish = getattr(self.main_window, "finish_start", None)
            if finish is not None:  # a window put up as a shell gets its document first
                finish()
            self.panel = InsidePanel(self.main_window)
            self.setWidget(self.panel)
        return self.panel

    def show_panel(self):
        """Bring the dock forward, tall enough for the maps."""
        self.show()
        self.raise_()
        panel = self.ensure_panel()
        if not self.isFloating() and self.height() < 420:
            self.main_window.resizeDocks([self], [420], Qt.Vertical)
        return panel
