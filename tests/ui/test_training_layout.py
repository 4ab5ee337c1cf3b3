"""The Training tab in a 1400×900 window leaves the panels beside it readable: opened, its
settings and plots take the middle, and the Totals dock keeps the width its figures need (it
was squeezed under them, "1012 KiB" and "forward with the input" cut at its edge)."""

from __future__ import annotations

from pathlib import Path

from .windows import shown_window

LENET = Path(__file__).resolve().parents[2] / "presets" / "lenet5.convnet.json"


def test_opening_the_training_tab_squeezes_no_dock_below_its_figures(qtbot, tmp_path,
                                                                       monkeypatch):
    w = shown_window(qtbot, tmp_path, monkeypatch)
    w.open_example(LENET)
    w.show_training()
    qtbot.waitUntil(lambda: w.training.isVisible(), timeout=5_000)
    qtbot.wait(50)
    assert w.width() == 1400  # the window did not grow to make room
    assert w.totals.width() >= w.totals.sizeHint().width()
    panel = w.training
    assert panel.width() >= panel.minimumSizeHint().width()  # nothing of it cut either
    # the run list's check box has a line of its own: its long text no longer sets the
    # panel's width beside the Resume and Delete buttons
    runs = panel.run_list
    assert runs.resume_button.y() > runs.start_from.y()
