"""Desktop app entry point: `python main.py [FILE]` or `python -m designer [gui] [FILE]`.

Imports Qt and the window only; torch is imported later, when training or an export needs it.
"""

from __future__ import annotations

import os
import sys

_DARK = {"Window": "#1f2329", "WindowText": "#e5e7eb", "Base": "#16191d",
         "AlternateBase": "#23272e", "Text": "#e5e7eb", "Button": "#2a2f36",
         "ButtonText": "#e5e7eb", "Highlight": "#2563eb", "HighlightedText": "#ffffff",
         "ToolTipBase": "#2a2f36", "ToolTipText": "#e5e7eb", "PlaceholderText": "#9ca3af",
         "Link": "#60a5fa"}  # (its disabled and bevel colours: ui/theme.py's dark_palette)


def qt_environment() -> None:
    """What Qt reads from the environment when the application is made, set before it is (a
    value the user set is kept):

    * QT_NO_GUI_THREADPOOL: Qt's raster engine hands every fill of 96 rows or more (a scroll
      bar, a panel's background) to a thread pool in slices and waits for them; for a
      window's fills the hand-off costs more than the fill. Serial, expanding a ResNet-152
      stage takes 12 ms where it took 16-25 ms (benchmarks/bench_gui.py, BENCHMARKS.md).
    * QT_STYLE_OVERRIDE=Fusion: the style asked for before the application exists spares the
      start-up the Python side of a QStyle (_apply_look).
    """
    os.environ.setdefault("QT_NO_GUI_THREADPOOL", "1")
    os.environ.setdefault("QT_STYLE_OVERRIDE", "Fusion")


def _apply_look(app) -> None:
    """Fusion, in a light or dark palette following the system's colour scheme; both give
    helper text a 4.5:1 contrast, the dark one disabled colours and faded disabled icons."""
    from PySide6.QtCore import Qt

    from .ui.theme import dark_palette, dimmed_icons_style, light_palette

    # main() asks for Fusion before the application exists (QT_STYLE_OVERRIDE), which spares
    # the start-up the Python side of a QStyle; elsewhere it is set here
    if os.environ.get("QT_STYLE_OVERRIDE", "").lower() != "fusion":
        app.setStyle("Fusion")
    fusion = [None]  # the style's own light palette, before anything is changed

    def follow(scheme=None) -> None:
        scheme = app.styleHints().colorScheme() if scheme is None else scheme
        if fusion[0] is None:
            fusion[0] = fusion_palette(app)
        if scheme == Qt.ColorScheme.Dark:
            if not getattr(app, "_dimmed_icons", False):  # a light icon on dark must fade
                from PySide6.QtWidgets import QStyleFactory

                style = dimmed_icons_style(QStyleFactory.create("Fusion"))
                app.setStyle(style)
                app._look_style = style  # (kept: Qt does not own a Python style's wrapper)
                app._dimmed_icons = True
            app.setPalette(dark_palette(_DARK))
        else:
            app.setPalette(light_palette(fusion[0]))

    follow()
    app.styleHints().colorSchemeChanged.connect(follow)


def fusion_palette(app):
    """The Fusion style's own light palette (app's style is Fusion). Kept in the start-up cache
    (qt_start.keep) for this Qt: asking the style costs the start PySide6's QStyle class, some
    600 enum members, which nothing else at the start needs."""
    from PySide6.QtCore import qVersion
    from PySide6.QtGui import QColor, QPalette

    from .ui.qt_start import cached, keep

    key = ("fusion-palette", qVersion())
    found = cached(key)
    groups = (QPalette.ColorGroup.Active, QPalette.ColorGroup.Inactive,
              QPalette.ColorGroup.Disabled)
    roles = [role for role in QPalette.ColorRole
             if role not in (QPalette.ColorRole.NoRole, QPalette.ColorRole.NColorRoles)]
    if (type(found) is tuple and len(found) == 2 and type(found[1]) is tuple
            and len(found[1]) == len(groups) * len(roles)):
        mask, colours = found
        palette = QPalette()
        colours = iter(colours)
        for group in groups:
            for role in roles:
                palette.setColor(group, role, QColor.fromRgba64(*next(colours)))
        palette.setResolveMask(mask)
        return palette
    standard = app.style().standardPalette()
    colours = []
    for group in groups:
        for role in roles:
            c = standard.color(group, role).rgba64()
            colours.append((c.red(), c.green(), c.blue(), c.alpha()))
    keep(key, (standard.resolveMask(), tuple(colours)))
    return standard


def main(argv: list[str] | None = None) -> int:
    from .ui.qt_start import quick_feature_scan

    quick_feature_scan()  # (where PySide6 is loaded already; else _start does it once it is)
    from .display import display_problem

    problem = display_problem()
    if problem is not None:  # Qt would print its own text and abort (exit 134)
        print(f"convnet-designer: {problem}", file=sys.stderr)
        return 2
    # The start-up makes many objects and frees few: Python's collector, which would walk them
    # again and again, waits until the window is filled (_after_start).
    import gc

    collecting = gc.isenabled()
    gc.disable()
    try:
        return _start(argv, collecting)
    finally:
        from .ui.qt_start import stdlib_compiles, stdlib_enums

        stdlib_enums()
        stdlib_compiles()
        if collecting:
            gc.enable()


def _start(argv: list[str] | None, collecting: bool) -> int:
    from .ui import qt_start
    from .ui.qt_start import quick_compiles, quick_enums, quick_feature_scan, stdlib_compiles

    # The start-up cache (qt_start.py) in place first: PySide6's support modules and the
    # methods the model's dataclasses write, compiled once and kept. PySide6 makes a class's
    # enums when the class is first touched: until the window is filled they are made the
    # quick way, the same classes.
    quick_compiles()
    quick_enums()
    qt_start.pyside_import()
    from PySide6.QtCore import QTimer
    from PySide6.QtGui import QIcon
    from PySide6.QtWidgets import QApplication

    quick_feature_scan()  # before the window's modules are imported

    argv = sys.argv[1:] if argv is None else argv
    if QApplication.instance() is None:
        qt_environment()
    app = QApplication.instance() or QApplication([sys.argv[0], *argv])
    app.setApplicationName("ConvNet Designer")
    app.setOrganizationName("ConvNetDesigner")
    _apply_look(app)
    if app.platformName() == "offscreen":  # its clipboard crashes at exit if it holds data
        app.aboutToQuit.connect(lambda: app.clipboard().clear())
    from .assets import icon_file

    app.setWindowIcon(QIcon(str(icon_file("app"))))

    from .ui.main_window import MainWindow

    # The window goes up as a shell and is filled right after its first paint, with the file
    # named on the command line (main_window.py); once that filled window has been painted,
    # what a crashed session left is offered.
    files = [a for a in argv if not a.startswith("-")]
    window = MainWindow(staged=True, open_first=files[0] if files else None)
    window.started.connect(stdlib_compiles)  # the model's classes are made: keep their code
    window.started.connect(lambda: QTimer.singleShot(0, window,
                                                     lambda: _after_start(window, collecting)))
    window.show()
    return app.exec()


def _after_start(window, collecting: bool) -> None:
    from .ui.qt_start import stdlib_compiles, stdlib_enums

    stdlib_enums()  # the window is filled: enums made from now on are the enum module's own
    stdlib_compiles()  # (and what was compiled anew is kept for the next start)
    if collecting:
        import gc

        gc.enable()
    _check_recovery(window)


def _check_recovery(window) -> None:
    from .ui.recovery import find_recoverable

    found = find_recoverable()
    if found:
        from PySide6.QtWidgets import QMessageBox

        _offer_recovery(window, found, QMessageBox)


def _offer_recovery(window, found, QMessageBox) -> None:  # noqa: N803
    """Offer each design that crashed sessions left, newest first. A file is deleted once its
    question is answered; one whose recovery was cancelled (the design in the window was not
    to be replaced) stays, and is offered again at the next start."""
    import time

    try:
        for i, rec in enumerate(found):
            when = time.strftime("%Y-%m-%d %H:%M", time.localtime(rec.saved_at))
            which = (f"\n\n(Session {i + 1} of {len(found)} that did not close normally.)"
                     if len(found) > 1 else "")
            answer = QMessageBox.question(
                window, "Recover unsaved changes?",
                f"ConvNet Designer did not close normally. Unsaved changes to “{rec.name}” "
                f"from {when} can be recovered.{which}\n\nRecover them?",
                QMessageBox.Yes | QMessageBox.No, QMessageBox.Yes)
            if answer == QMessageBox.Yes:
                # a design recovered just before (or edited since) is saved or discarded first
                if not window.maybe_save():
                    continue
                window.doc.open_text(rec.text, rec.path)
            rec.discard()
    finally:
        for rec in found:
            rec.release()  # the ones left: this instance lets go of their locks


if __name__ == "__main__":
    sys.exit(main())
