"""Issue 16, "The window": what a user sees in the panels — the inspector's readouts and the
reasons its fields give, the Inside tab's layer list after an undo, the training curves, the
palettes' disabled and helper colours, one batch size for the design, and the memory checks
around training."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QEvent, Qt
from PySide6.QtWidgets import QApplication

from designer.model.layers import CATALOGUE
from designer.ui.document import Document
from designer.ui.panels.inspector import Inspector

ROOT = Path(__file__).resolve().parents[2]
CIFAR = ROOT / "presets" / "cifar10_example.convnet.json"


@pytest.fixture
def doc(qtbot):
    d = Document()
    d.open(str(CIFAR))
    return d


def show(qtbot, widget, width=420, height=700):
    qtbot.addWidget(widget)
    widget.resize(width, height)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


def settle() -> None:
    """Let the layouts (and the scroll area around them) finish, as the event loop does."""
    for _ in range(4):
        QApplication.sendPostedEvents(None, QEvent.LayoutRequest)
        QApplication.processEvents()


def spec(layer: str, name: str):
    return next(p for p in CATALOGUE[layer].params if p.name == name)


def type_keys(qtbot, widget, text: str) -> str:
    """Select all and type `text` key by key; return what the field shows before Enter."""
    widget.setFocus()
    widget.selectAll()
    for ch in text:
        qtbot.keyClick(widget, ch)
    shown = widget.text()
    qtbot.keyClick(widget, Qt.Key_Return)
    return shown


# ------------------------------------------------------------------------------------ inspector


@pytest.mark.parametrize("width", [230, 260, 300])
def test_inspector_readouts_show_their_whole_text_at_narrow_widths(qtbot, doc, width):
    """'Activations … at batch 32, fp32' wraps onto more lines: the row grows for them, and
    'Receptive field' starts below its last line (it was drawn over it)."""
    inspector = show(qtbot, Inspector(doc), width, 300)
    r = inspector.readouts
    for batch in (32, 65536):
        doc.set_settings(batch=batch)
        for nid in ("fc", "conv", "pool", "relu", "conv"):
            doc.select([nid])
            settle()
            memory, rf = r["memory"], r["rf"]
            assert f"batch {batch:,}" in memory.text() or "in place" in memory.text()
            assert memory.height() >= memory.heightForWidth(memory.width()), (nid, batch)
            assert memory.geometry().bottom() < rf.geometry().top(), (nid, batch)
            assert rf.height() >= rf.heightForWidth(rf.width())


def test_a_value_outside_the_limits_is_refused_inline_with_the_reason(qtbot, doc):
    inspector = show(qtbot, Inspector(doc))
    doc.select(["conv"])
    error = inspector.error_label

    kernel = inspector.editors["kernel_size"]
    lowest = int(spec("Conv2d", "kernel_size").minimum)
    type_keys(qtbot, kernel, str(lowest - 1))
    assert doc.network["conv"].params["kernel_size"] == 3 and kernel.value() == 3
    assert error.isVisible()
    assert error.text() == f"conv.kernel_size: must be ≥ {lowest}, got {lowest - 1}"

    padding = inspector.editors["padding"].lineEdit()
    floor = int(spec("Conv2d", "padding").minimum)
    shown = type_keys(qtbot, padding, str(floor - 2))
    assert shown == str(floor - 2)  # the minus sign is typed, not swallowed
    assert doc.network["conv"].params["padding"] == "same"
    assert inspector.editors["padding"].currentText() == "same"
    assert error.isVisible() and error.text() == (
        f"conv.padding: must be ≥ {floor}, got {floor - 2}")
    assert doc.undo_stack.count() == 0

    # a value that is accepted clears the message
    type_keys(qtbot, kernel, "5")
    assert doc.network["conv"].params["kernel_size"] == 5
    assert not error.isVisible()


def test_channels_can_be_typed_up_to_the_catalogue_limit_and_past_it_says_why(qtbot, doc):
    inspector = show(qtbot, Inspector(doc))
    doc.select(["conv"])
    channels = inspector.editors["out_channels"]
    top = int(spec("Conv2d", "out_channels").maximum)
    assert channels.maximum() == top

    assert type_keys(qtbot, channels, str(top)) == str(top)
    assert doc.network["conv"].params["out_channels"] == top
    assert not inspector.error_label.isVisible()

    too_many = 10 * top // 6  # a number whose first digits are allowed
    assert type_keys(qtbot, channels, str(too_many)) == str(too_many)  # not cut while typing
    assert doc.network["conv"].params["out_channels"] == top  # nothing clamped, nothing changed
    assert channels.value() == top
    assert inspector.error_label.text() == (
        f"conv.out_channels: must be ≤ {top}, got {too_many}")
    assert doc.undo_stack.count() == 1


# ------------------------------------------------------------------------------------ inside


@pytest.fixture
def window(qtbot, tmp_path, monkeypatch):
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QMessageBox

    from designer.ui.main_window import MainWindow
    from designer.ui.panels.inside import dock as inside_dock

    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.Discard)
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.IniFormat)
    w = MainWindow(settings=settings, recovery_dir=tmp_path / "rec")
    if getattr(w, "inside", None) is None:
        inside_dock.install(w)
    qtbot.addWidget(w)
    w.resize(1400, 900)
    w.show()
    qtbot.waitExposed(w)
    yield w
    w.training.shutdown()


def small_config():
    from designer.training.events import DataConfig, TrainConfig

    return TrainConfig(DataConfig("synthetic", train_size=64, val_size=32, augment=False),
                       epochs=1, batch_size=32, device="cpu")


def test_the_inside_layer_list_follows_an_undo(window, qtbot):
    """Refresh after an undo: the list shows the shapes of the maps it shows (it kept
    'conv · CONV · 32×32×24' beside 12 maps)."""
    from designer.ui import commands

    window.open_example(CIFAR)
    window.training.set_config(small_config())
    panel = window.inside.show_panel()
    qtbot.waitUntil(lambda: panel.report is not None and not panel.busy, timeout=60_000)
    doc = window.doc
    doc.select(["conv"])

    def refreshed():
        before = panel.report
        qtbot.mouseClick(panel.refresh_button, Qt.LeftButton)
        qtbot.waitUntil(lambda: panel.report is not before and not panel.busy, timeout=60_000)
        return {panel.layer_list.item(i).data(Qt.UserRole): panel.layer_list.item(i).text()
                for i in range(panel.layer_list.count())}

    commands.set_params(doc, "conv", out_channels=24)
    rows = refreshed()
    assert rows["conv"].endswith("32×32×24") and panel.maps_view.tile_count == 24
    doc.undo_stack.undo()
    rows = refreshed()
    assert panel.maps_view.tile_count == 12
    assert rows["conv"].endswith("32×32×12"), rows["conv"]
    assert rows["relu"].endswith("32×32×12") and rows["pool"].endswith("16×16×12")


# ------------------------------------------------------------------------------------ plots


def _plots(qtbot, width, height, epochs=60, steps=10, lr=1e-3):
    import math

    from designer.ui.panels.plots import TrainingPlots

    plots = TrainingPlots()
    show(qtbot, plots, width, height)
    plots.begin_run(steps, epochs)
    plots.add_points([(s, 2.3 * math.exp(-s / 200) + 0.02, 0.5, lr)
                      for s in range(1, epochs * steps + 1)])
    settle()
    return plots


def drawn_labels(plot, side: str) -> list[tuple[str, object]]:
    """The tick labels an axis paints: (text, rectangle in the axis's coordinates)."""
    from PySide6.QtGui import QImage, QPainter

    axis = plot.getPlotItem().getAxis(side)
    image = QImage(8, 8, QImage.Format_ARGB32)
    painter = QPainter(image)
    specs = axis.generateDrawSpecs(painter)
    painter.end()
    return [(text, rect) for rect, _flags, text in specs[2]] if specs else []


def test_the_loss_plot_is_not_cut_on_the_right_at_a_narrow_width(qtbot):
    """At the Training dock's usual width the loss plot was wider than its view: the key's
    'validation' and the epochs past ~48 of 60 were cut off."""
    plots = _plots(qtbot, 520, 200)
    for plot in (plots.loss_plot, plots.accuracy_plot, plots.lr_plot):
        item = plot.getPlotItem()
        assert item.geometry().width() <= plot.viewport().width() + 0.5
        box = item.getViewBox()
        assert box.viewRange()[0][1] >= 60  # the last epoch is in the view...
        right = box.mapRectToScene(box.boundingRect()).right()
        assert right <= plot.viewport().width() + 0.5  # ...and the view is on the screen
    key = plots.legend
    assert "train" in key.text() and "validation" in key.text()
    assert key.isVisible() and key.heightForWidth(key.width()) <= key.height()


def test_the_axes_label_0_once_and_the_learning_rate_gets_its_own_scale(qtbot):
    plots = _plots(qtbot, 900, 500, lr=1e-3)
    for plot in (plots.loss_plot, plots.accuracy_plot, plots.lr_plot):
        left = [text for text, _ in drawn_labels(plot, "left")]
        bottom = [text for text, _ in drawn_labels(plot, "bottom")]
        assert left.count("0") == 1 and len(set(left)) == len(left), left
        assert "0" not in bottom and len(set(bottom)) == len(bottom), bottom
    # a learning rate of 0.001 fills its plot rather than lying flat on the bottom of 0 to 1
    low, high = plots.lr_plot.getPlotItem().getViewBox().viewRange()[1]
    assert 1e-3 < high <= 2e-3
    axis = plots.lr_plot.getPlotItem().getAxis("left")
    labels = drawn_labels(plots.lr_plot, "left")
    assert len(labels) >= 4
    assert all(rect.width() <= axis.width() for _, rect in labels)  # none cut at the left


def test_resizing_the_plots_redraws_their_axes(qtbot):
    """After the dock is resized the axes show the ticks of the new size, as a plot drawn at
    that size does."""
    from PySide6.QtTest import QTest

    def picture(widget):
        QTest.qWait(80)
        return QApplication.primaryScreen().grabWindow(widget.winId()).toImage()

    plots = _plots(qtbot, 700, 180)
    picture(plots)
    for width, height in ((760, 240), (900, 420), (820, 300)):
        plots.resize(width, height)
        QTest.qWait(20)
    resized = picture(plots)
    fresh = _plots(qtbot, 820, 300)
    assert resized == picture(fresh)


# ------------------------------------------------------------------------------------ looks


class _Signal:
    def connect(self, _slot) -> None:
        pass


class _Hints:
    def __init__(self, scheme):
        self.scheme = scheme
        self.colorSchemeChanged = _Signal()

    def colorScheme(self):  # noqa: N802 (Qt's name)
        return self.scheme


class _App:
    """What app._apply_look asks of the application, recording the style and palette it sets
    (the real application is shared by the whole test session)."""

    def __init__(self, scheme):
        from PySide6.QtWidgets import QStyleFactory

        self._hints = _Hints(scheme)
        self._style = QStyleFactory.create("Fusion")
        self.palette_set = None
        self.style_set = None

    def setStyle(self, style):  # noqa: N802 (Qt's name)
        if not isinstance(style, str):
            self.style_set = style

    def style(self):
        return self.style_set or self._style

    def styleHints(self):  # noqa: N802 (Qt's name)
        return self._hints

    def setPalette(self, palette):  # noqa: N802 (Qt's name)
        self.palette_set = palette


def look(scheme):
    """(palette, style) a user gets in this colour scheme."""
    from designer.app import _apply_look

    app = _App(scheme)
    _apply_look(app)
    return app.palette_set or app.style().standardPalette(), app.style()


def contrast(a, b) -> float:
    """WCAG 2's contrast ratio of two opaque colours (computed here, not by the app)."""

    def luminance(c) -> float:
        def channel(v: float) -> float:
            return v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4

        return 0.2126 * channel(c.redF()) + 0.7152 * channel(c.greenF()) + 0.0722 * channel(
            c.blueF())

    hi, lo = sorted((luminance(a), luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


AA = 4.5  # WCAG AA, normal text


def over(colour, ground):
    """A colour as drawn on a ground (its alpha blended in)."""
    from PySide6.QtGui import QColor

    a = colour.alphaF()
    return QColor.fromRgbF(*(a * getattr(colour, f)() + (1 - a) * getattr(ground, f)()
                             for f in ("redF", "greenF", "blueF")))


@pytest.mark.parametrize("scheme", ["Light", "Dark"])
def test_helper_text_has_aa_contrast_in_both_looks(qtbot, scheme, monkeypatch):
    import re

    from PySide6.QtGui import QColor, QPalette

    from designer.ui.panels.inside import text

    palette, _style = look(getattr(Qt.ColorScheme, scheme))
    grounds = {"window": palette.color(QPalette.Active, QPalette.Window),
               "base": palette.color(QPalette.Active, QPalette.Base)}
    # the muted headings, hints and "No problems." are disabled labels; fields' hints are
    # placeholder text
    muted = palette.color(QPalette.Disabled, QPalette.WindowText)
    placeholder = palette.color(QPalette.Active, QPalette.PlaceholderText)
    for name, ground in grounds.items():
        assert contrast(over(muted, ground), ground) >= AA, (name, muted.name())
        assert contrast(over(placeholder, ground), ground) >= AA, (name, placeholder.name())
    # the Inside dock's faint captions (hover values)
    from designer.ui import theme

    monkeypatch.setattr(theme, "is_dark", lambda *a: scheme == "Dark")
    label = text.faint_label()
    qtbot.addWidget(label)
    found = re.search(r"color:\s*(#[0-9a-fA-F]{6})", label.styleSheet())
    colour = QColor(found.group(1)) if found else palette.color(QPalette.Mid)
    assert contrast(colour, grounds["window"]) >= AA, colour.name()


def test_the_dark_look_dims_what_is_disabled(qtbot):
    """Disabled Undo, Pause and Stop looked enabled in the dark look."""
    from PySide6.QtGui import QColor, QIcon, QPalette, QPixmap
    from PySide6.QtWidgets import QPushButton, QStyle

    palette, style = look(Qt.ColorScheme.Dark)
    for role, ground in ((QPalette.ButtonText, QPalette.Button), (QPalette.Text, QPalette.Base),
                         (QPalette.WindowText, QPalette.Window)):
        active = contrast(palette.color(QPalette.Active, role),
                                palette.color(QPalette.Active, ground))
        disabled = contrast(palette.color(QPalette.Disabled, role),
                                  palette.color(QPalette.Disabled, ground))
        assert disabled < active / 1.5, (role, active, disabled)
    assert contrast(palette.color(QPalette.Disabled, QPalette.ButtonText),
                          palette.color(QPalette.Disabled, QPalette.Button)) < 3.5

    def brightest_text(button) -> int:
        image = button.grab().toImage()
        return max(QColor(image.pixel(x, y)).lightness()
                   for x in range(4, image.width() - 4) for y in range(4, image.height() - 4))

    buttons = []
    for enabled in (True, False):
        b = QPushButton("Stop")
        b.setStyle(style)
        b.setPalette(palette)
        b.setEnabled(enabled)
        b.resize(90, 28)
        qtbot.addWidget(b)
        buttons.append(brightest_text(b))
    assert buttons[1] < buttons[0] - 60, buttons

    # the toolbar's icons are light on dark: a disabled one is drawn faded
    light = QPixmap(16, 16)
    light.fill(QColor("#d1d5db"))
    faded = style.generatedIconPixmap(QIcon.Mode.Disabled, light, None).toImage()
    assert QColor.fromRgba(faded.pixel(8, 8)).alpha() < 128
    assert style.standardIcon(QStyle.SP_MediaStop) is not None


# ------------------------------------------------------------------------------------ one batch


def _batch_panels(qtbot, doc):
    from designer.ui.panels.readouts import TotalsPanel
    from designer.ui.panels.training import TrainingPanel

    totals = show(qtbot, TotalsPanel(doc), 360, 600)
    training = show(qtbot, TrainingPanel(doc), 900, 400)
    return totals, training


def _type_spin(qtbot, spin, value: int) -> None:
    spin.setFocus()
    spin.selectAll()
    qtbot.keyClicks(spin, str(value))
    qtbot.keyClick(spin, Qt.Key_Return)


def test_one_batch_size_for_the_readouts_and_training(qtbot, doc, tmp_path):
    from PySide6.QtWidgets import QInputDialog

    from designer.model.design_file import load

    totals, training = _batch_panels(qtbot, doc)
    assert totals.batch.value() == training.batch.value() == doc.settings["batch"]

    _type_spin(qtbot, training.batch, 48)  # the training panel's field...
    assert totals.batch.value() == 48 and doc.settings["batch"] == 48  # ...is the design's
    assert training.config.batch_size == 48 and doc.modified
    assert doc.report.textbook.batch == 48  # the memory readouts follow it

    _type_spin(qtbot, totals.batch, 96)  # the readouts' box moves the training field
    assert training.batch.value() == 96 and training.config.batch_size == 96

    # "Use batch N" sets the one batch, for training too
    from unittest import mock

    with mock.patch.object(QInputDialog, "getText", return_value=("1 MiB", True)):
        custom = totals.budget.findText("Custom…")
        totals.budget.setCurrentIndex(custom)
        totals.budget.activated.emit(custom)
    best = doc.report.textbook.max_batch
    assert totals.use_batch.isVisible() and totals.use_batch.text() == f"Use batch {best:,}"
    qtbot.mouseClick(totals.use_batch, Qt.LeftButton)
    assert training.batch.value() == best == totals.batch.value()
    assert training.config.batch_size == best

    # saved once, read back the same: the training settings follow the design's batch
    training._edited()
    path = tmp_path / "one.convnet.json"
    doc.save(str(path))
    saved = load(str(path))
    assert saved.analysis["batch"] == best
    assert saved.training["config"]["batch_size"] == best


def test_an_older_file_with_two_batches_takes_the_training_one(qtbot, tmp_path):
    from designer.model.design_file import dumps, load

    older = load(str(CIFAR))
    older.analysis = {"batch": 32, "dtype": "fp32"}
    older.training = {"config": {"batch_size": 64, "epochs": 3}}
    path = tmp_path / "older.convnet.json"
    path.write_text(dumps(older), encoding="utf-8")

    d = Document()
    d.open(str(path))
    totals, training = _batch_panels(qtbot, d)
    assert totals.batch.value() == training.batch.value() == 64
    assert training.config.batch_size == 64 and training.config.epochs == 3
    assert d.report.textbook.batch == 64
    assert not d.modified  # opening is not an edit

    # the panels made in the other order do the same
    d2 = Document()
    d2.open(str(path))
    from designer.ui.panels.readouts import TotalsPanel
    from designer.ui.panels.training import TrainingPanel

    training2 = show(qtbot, TrainingPanel(d2), 900, 400)
    totals2 = show(qtbot, TotalsPanel(d2), 360, 600)
    assert totals2.batch.value() == training2.batch.value() == 64 and not d2.modified


# ------------------------------------------------------------------------------------ memory


MIB = 1024**2


def _expected_fit(network, batch, budget, optimizer) -> int:
    from designer.model.analysis import analyze

    return analyze(network, batch=batch, dtype="fp32", optimizer=optimizer, budget=budget,
                   device="cpu").pytorch.max_batch


def test_cpu_out_of_memory_names_the_largest_batch_that_fits_the_free_ram(window, qtbot,
                                                                          monkeypatch):
    """The CPU allocator's error read 'check the layer the details name, or change its
    parameters'; it is out of memory, with the largest batch estimated to fit the RAM free."""
    from designer.training import runtime
    from designer.training.trainer import Trainer

    def cpu_oom(self, *args, **kwargs):
        raise RuntimeError("[enforce fail at alloc_cpu.cpp:117] data. DefaultCPUAllocator: not "
                           "enough memory: you tried to allocate 1073741824 bytes.")

    monkeypatch.setattr(Trainer, "_train_step", cpu_oom)
    monkeypatch.setattr(runtime, "available_ram", lambda: 4 * MIB, raising=False)
    window.open_example(CIFAR)
    panel = window.training
    config = small_config()
    config.optimizer = "momentum"
    panel.set_config(config)
    assert panel.start()
    qtbot.waitUntil(lambda: not panel.running, timeout=60_000)
    text = panel.fault_text
    fit = _expected_fit(window.doc.network, 32, 4 * MIB, "momentum")
    assert 1 <= fit < 32
    assert "out of memory" in text and "batch size 32" in text and "4 MiB of RAM free" in text
    assert f"a batch of at most {fit} fits in the 4 MiB of RAM free" in text
    assert f"set the batch size to {fit - fit % 8 if fit >= 16 else fit}" in text
    assert "check the layer" not in text


def test_start_asks_when_the_estimate_exceeds_the_free_memory(window, qtbot, monkeypatch):
    from PySide6.QtWidgets import QMessageBox

    from designer.ui.panels import memory_check

    window.open_example(CIFAR)
    panel = window.training
    config = small_config()
    config.optimizer = "momentum"
    panel.set_config(config)
    asked: list[str] = []
    answer = [QMessageBox.No]

    def question(_parent, _title, text, *args, **kwargs):
        asked.append(text)
        return answer[0]

    monkeypatch.setattr(QMessageBox, "question", question)
    monkeypatch.setattr(memory_check, "free_memory", lambda device: ("cpu", 2 * MIB))
    fit = _expected_fit(window.doc.network, 32, 2 * MIB, "momentum")
    assert not panel.start()  # "No": not started, nothing changed
    assert not panel.running and window.doc.settings["batch"] == 32
    (text,) = asked
    assert "batch 32" in text and "2 MiB of RAM is free" in text
    assert f"The largest batch estimated to fit is {fit}" in text

    answer[0] = QMessageBox.Yes  # the user knows better: it starts
    assert panel.start() and panel.running
    panel.stop()
    qtbot.waitUntil(lambda: not panel.running, timeout=60_000)

    # enough memory: no question
    asked.clear()
    monkeypatch.setattr(memory_check, "free_memory", lambda device: ("cpu", 64 * 1024 * MIB))
    assert panel.start()
    panel.stop()
    qtbot.waitUntil(lambda: not panel.running, timeout=60_000)
    assert asked == []


def test_the_confusion_header_stays_inside_its_table(window, qtbot):
    """The matrix's header was seen painted outside its table, over the Inspector, and staying
    there after switching tabs: the header lies within the table, shows only with a matrix
    and only on its tab, and the Inspector looks the same before and after."""
    from PySide6.QtCore import QRect

    window.open_example(CIFAR)
    window.training.set_config(small_config())
    inspector = window.docks["inspector"]
    panel = window.inside.show_panel()
    qtbot.waitUntil(lambda: panel.report is not None and not panel.busy, timeout=60_000)
    view = panel.confusion_view
    header = view.table.horizontalHeader()
    panel.show_tab("confusion")
    assert header.isHidden()  # no matrix yet: no header row
    settle()  # the docks laid out at their final widths (the Inside dock was just made)
    before = inspector.grab().toImage()

    qtbot.mouseClick(view.evaluate_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: panel.evaluated is not None and not panel.busy, timeout=60_000)
    settle()
    assert header.isVisible() and not header.isWindow()
    table = QRect(view.table.mapToGlobal(view.table.rect().topLeft()), view.table.size())
    shown = QRect(header.mapToGlobal(header.rect().topLeft()), header.size())
    assert table.contains(shown), (table, shown)
    names = [view.table.horizontalHeaderItem(c).text() for c in range(view.table.columnCount())]
    assert names[0].startswith("→ ") and names[-1] == "accuracy"
    assert all(view.table.columnWidth(c) >= header.sectionSizeHint(c) - 1
               for c in range(view.table.columnCount()))  # each title fits its column
    assert inspector.grab().toImage() == before

    panel.show_tab("maps")
    settle()
    assert not header.isVisible()
    assert inspector.grab().toImage() == before


@pytest.mark.parametrize("width, epochs", [(520, None), (520, 60), (900, 3), (1400, 200)])
def test_the_epoch_labels_never_run_into_one_another(qtbot, width, epochs):
    """A narrow empty plot labelled 0.2 0.4 0.6 0.8 in one run of text ('0.20.40.60.8'):
    epochs are whole numbers, as many as have room."""
    from designer.ui.panels.plots import TrainingPlots

    plots = TrainingPlots()
    show(qtbot, plots, width, 200)
    if epochs:
        plots.begin_run(10, epochs)
        plots.add_points([(s, 1.0, 0.5, 0.01) for s in range(1, epochs * 10 + 1)])
    settle()
    for plot in (plots.loss_plot, plots.accuracy_plot, plots.lr_plot):
        labels = sorted(drawn_labels(plot, "bottom"), key=lambda tr: tr[1].left())
        assert all(float(text).is_integer() for text, _ in labels), labels
        assert len(labels) >= 2 or not epochs, labels  # an empty plot may show none
        for (_, a), (_, b) in zip(labels, labels[1:]):
            assert a.right() < b.left(), labels  # a gap between neighbours
