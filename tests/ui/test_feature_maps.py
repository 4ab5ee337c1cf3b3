"""The "Inside the network" dock as a user sees it: the feature maps of VGG-16 for one sample, the
maps of a network while it trains (refreshed by the run's own probes), one tile per depth slice,
the caption's W×H×D, hover values, the filters, the confusion matrix whose cells list their
samples, the misclassified gallery, an image file as the sample, PNG export, and a window that
still starts without numpy, pyqtgraph or torch."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QPointF, QSettings, Qt
from PySide6.QtGui import QColor, QImage
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QMessageBox

from designer.training.events import DataConfig, ProbeRequest, TrainConfig
from designer.training.probes import ProbeReport
from designer.ui import train_worker
from designer.ui.main_window import MainWindow
from designer.ui.panels.inside import dock as feature_maps
from designer.ui.panels.inside import panel as inside_panel

ROOT = Path(__file__).resolve().parents[2]
PRESETS = ROOT / "presets"
CIFAR = PRESETS / "cifar10_example.convnet.json"
VGG16 = PRESETS / "vgg16.convnet.json"


def small(epochs: int = 3, train: int = 256, val: int = 64) -> TrainConfig:
    return TrainConfig(DataConfig("synthetic", train_size=train, val_size=val, augment=False),
                       epochs=epochs, batch_size=32, optimizer="momentum", lr=0.02, device="cpu")


@pytest.fixture
def window(qtbot, tmp_path, monkeypatch):
    def question(_parent, _title, text, *args, **kwargs):
        return QMessageBox.Yes if "Training is running" in text else QMessageBox.Discard

    monkeypatch.setattr(QMessageBox, "question", question)
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.IniFormat)
    w = MainWindow(settings=settings, recovery_dir=tmp_path / "rec")
    if getattr(w, "inside", None) is None:  # the window installs the dock itself
        feature_maps.install(w)
    qtbot.addWidget(w)
    w.resize(1400, 900)
    w.show()
    qtbot.waitExposed(w)
    yield w
    w.training.shutdown()


def open_panel(window, qtbot, design: Path, config: TrainConfig | None = None):
    window.open_example(design)
    window.training.set_config(config or small())
    panel = window.inside.show_panel()
    qtbot.waitUntil(lambda: panel.report is not None and not panel.busy, timeout=60_000)
    return panel


def list_ids(panel) -> list[str]:
    return [panel.layer_list.item(i).data(Qt.UserRole) for i in range(panel.layer_list.count())]


def choose_layer(panel, layer_id: str) -> None:
    """Click the layer in the list, as a user does."""
    i = list_ids(panel).index(layer_id)
    item = panel.layer_list.item(i)
    panel.layer_list.scrollToItem(item)
    rect = panel.layer_list.visualItemRect(item)
    QTest.mouseClick(panel.layer_list.viewport(), Qt.LeftButton, pos=rect.center())


# ---------------------------------------------------------------------------------------------


def test_vgg16_feature_maps_of_one_sample(window, qtbot, tmp_path):
    panel = open_panel(window, qtbot, VGG16, small(train=16, val=8))
    report = window.doc.report
    assert panel.report.weights.startswith("initial weights (seed 0)")
    assert "validation sample 0" in panel.status.text()
    # every layer is listed; the first CONV is shown first
    assert list_ids(panel) == [nid for nid in report.order if report.layers[nid].shape]
    assert panel.layer_id == "conv1_1"
    view = panel.maps_view
    assert view.tile_count == 64
    caption = view.caption_text
    assert "conv1_1 (CONV)" in caption and "64 slices" in caption and "224×224×64" in caption
    assert "mean of a 4×4 block" in caption  # 3.2 M values, shrunk for the window
    # a deep layer, chosen on the canvas
    window.doc.select(["conv5_3"])
    assert panel.layer_list.currentItem().data(Qt.UserRole) == "conv5_3"
    assert view.tile_count == 512 and "14×14×512" in view.caption_text
    assert "block" not in view.caption_text  # small enough to show every value
    choose_layer(panel, "fc8")
    assert window.doc.selection == ["fc8"]  # the canvas follows the list
    assert view.tile_count == 1000 and "1×1×1000" in view.caption_text
    # hovering a tile says which slice, where and the value
    choose_layer(panel, "pool5")
    fm = panel.report.maps["pool5"]
    x0, y0 = view.mosaic.mosaic.origin(7)
    assert view.mosaic.text_at(x0 + 3, y0 + 2) == \
        f"slice 7 · x 3, y 2: {fm.maps[7, 2, 3]:.4g}"
    path = tmp_path / "vgg_maps.png"
    assert panel.export_png(str(path))
    picture = QImage(str(path))
    assert not picture.isNull() and picture.width() > 300


def test_feature_maps_refresh_while_a_network_trains(window, qtbot):
    panel = open_panel(window, qtbot, CIFAR)
    assert panel.maps_view.tile_count == 12
    assert panel.report.weights.startswith("initial weights")
    qtbot.mouseClick(window.training.start_button, Qt.LeftButton)
    assert panel.worker is window.training.worker
    # the run's own probes: after the first batch, then at epoch ends
    qtbot.waitUntil(lambda: panel.report.epoch is not None, timeout=30_000)
    assert panel.report.weights.startswith(("epoch 1, batch", "after epoch"))
    assert panel.maps_view.tile_count == 12 and "32×32×12" in panel.maps_view.caption_text
    qtbot.waitUntil(lambda: panel.evaluated is not None, timeout=30_000)
    qtbot.waitUntil(lambda: not window.training.running and not panel.busy, timeout=60_000)
    qtbot.waitUntil(lambda: panel.report.weights == "after epoch 3, the end of training",
                    timeout=30_000)
    assert panel.evaluated.evaluation.size == 64
    # the confusion matrix of the validation set: every sample counted once
    panel.show_tab("confusion")
    counts = panel.confusion_view.counts()
    assert len(counts) == 10 and sum(map(sum, counts)) == 64
    assert "64 samples" in panel.confusion_view.caption_text
    # click a cell: its samples are listed
    r, c = max(((r, c) for r in range(10) for c in range(10)), key=lambda rc: counts[rc[0]][rc[1]])
    table = panel.confusion_view.table
    rect = table.visualItemRect(table.item(r, c))
    qtbot.mouseClick(table.viewport(), Qt.LeftButton, pos=rect.center())
    assert panel.confusion_view.gallery.count() == counts[r][c]
    assert panel.confusion_view.cell_text.startswith(f"{counts[r][c]} sample(s) of")
    # the misclassified gallery: the most confident mistakes, each one wrong
    panel.show_tab("wrong")
    e = panel.evaluated.evaluation
    mistakes = e.size - int(np.trace(e.confusion))
    gallery = panel.wrong_view.gallery
    assert gallery.count() == min(inside_panel.WRONG, mistakes)
    if mistakes:
        true, predicted = gallery.texts()[0].split("\n")
        assert predicted.startswith("→ ") and predicted.endswith("%")
        assert not predicted[2:].startswith(true + " ")  # each one wrong
        # a click shows that sample's feature maps
        index = gallery.item(0).data(Qt.UserRole)
        rect = gallery.visualItemRect(gallery.item(0))
        qtbot.mouseClick(gallery.viewport(), Qt.LeftButton, pos=rect.center())
        assert panel.current_tab == "maps"
        qtbot.waitUntil(lambda: panel.report.sample.index == index and not panel.busy,
                        timeout=30_000)
        assert panel.sample.value() == index


def test_one_tile_per_depth_slice_in_every_layer(window, qtbot):
    panel = open_panel(window, qtbot, CIFAR)
    layers = window.doc.report.layers
    for nid in list_ids(panel):
        choose_layer(panel, nid)
        shape = layers[nid].shape
        assert panel.maps_view.tile_count == shape[0], nid
        w, h = (shape[2], shape[1]) if len(shape) == 3 else (1, 1)
        assert f"{w}×{h}×{shape[0]}" in panel.maps_view.caption_text
    choose_layer(panel, "conv")
    assert "scale" in panel.maps_view.caption_text
    panel.maps_view.set_per_slice(True)
    assert "each slice on its own scale" in panel.maps_view.caption_text
    assert panel.maps_view.tile_count == 12


def test_hovering_a_tile_shows_its_value(window, qtbot):
    panel = open_panel(window, qtbot, CIFAR)
    view = panel.maps_view
    fm = panel.report.maps["conv"]
    mosaic = view.mosaic
    want = f"slice 5 · x 10, y 4: {fm.maps[5, 4, 10]:.4g}"

    def hover_pixel() -> bool:
        """The mouse on the middle of slice 5's pixel (10, 4), mapped again each time (a busy
        machine may lay the dock out after the first move)."""
        x0, y0 = mosaic.mosaic.origin(5)
        scene_point = mosaic.box.mapViewToScene(QPointF(x0 + 10.5, y0 + 4.5))
        widget_point = mosaic.graphics.mapFromScene(scene_point)
        qtbot.mouseMove(mosaic.graphics.viewport(), QPoint(round(widget_point.x()),
                                                           round(widget_point.y())))
        return view.hover.text() == want

    qtbot.waitUntil(hover_pixel, timeout=5_000)
    assert view.hover.text() == want


def test_the_filters_of_the_first_conv(window, qtbot):
    panel = open_panel(window, qtbot, CIFAR)
    panel.show_tab("filters")
    view = panel.filters_view
    assert view.tile_count == 12
    assert "12 filters of 3×3×3, in colour" in view.caption_text
    weights = panel.report.filters.weights
    assert view.mosaic.text_at(0, 0).startswith("filter 0 · x 0, y 0: R G B weights "
                                                f"{weights[0, 0, 0, 0]:.4g}")


def test_an_image_file_as_the_sample(window, qtbot, tmp_path):
    panel = open_panel(window, qtbot, CIFAR)
    image = QImage(64, 48, QImage.Format_RGB32)
    image.fill(QColor(255, 0, 0))
    path = tmp_path / "red.png"
    assert image.save(str(path))
    assert panel.use_image_file(str(path))
    qtbot.waitUntil(lambda: panel.report.sample.name == "red.png" and not panel.busy,
                    timeout=30_000)
    picture = panel.input_view.picture
    assert picture.shape == (32, 32, 3)  # resized to the design's input
    np.testing.assert_allclose(picture[..., 0], 1.0, atol=1e-5)  # red, normalisation undone
    np.testing.assert_allclose(picture[..., 1:], 0.0, atol=1e-5)
    assert panel.maps_view.tile_count == 12
    # a file that is not a picture: said so, and the maps stay
    bad = tmp_path / "notes.png"
    bad.write_text("not a picture")
    assert not panel.use_image_file(str(bad))
    assert "Could not read the image" in panel.status.text()
    assert panel.report.sample.name == "red.png"


def test_a_design_with_errors_or_data_that_cannot_be_read_is_explained(window, qtbot,
                                                                       tmp_path):
    panel = open_panel(window, qtbot, CIFAR)
    shown = panel.report
    window.doc.edit("Kernel", lambda net: net.set_params("conv", kernel_size=40, padding=0))
    assert "the design has changed since" in panel.status.text()
    panel.refresh()
    qtbot.waitUntil(lambda: not panel.busy, timeout=30_000)
    assert "the design has errors" in panel.status.text() and "conv" in panel.status.text()
    assert panel.report is shown  # what was shown stays
    window.doc.undo_stack.undo()
    # a data set that is not there: said so; an image file still works
    window.training.set_config(TrainConfig(DataConfig("cifar10", path=str(tmp_path / "none"))))
    panel.refresh()
    qtbot.waitUntil(lambda: not panel.busy, timeout=30_000)
    assert "The data set could not be read" in panel.status.text()
    image = QImage(32, 32, QImage.Format_RGB32)
    image.fill(QColor(0, 0, 255))
    image.save(str(tmp_path / "blue.png"))
    panel.use_image_file(str(tmp_path / "blue.png"))
    qtbot.waitUntil(lambda: panel.report.sample.name == "blue.png" and not panel.busy,
                    timeout=30_000)
    assert panel.maps_view.tile_count == 12


def test_every_view_exports_as_png(window, qtbot, tmp_path):
    panel = open_panel(window, qtbot, CIFAR)
    panel.evaluate()
    qtbot.waitUntil(lambda: panel.evaluated is not None and not panel.busy, timeout=30_000)
    for tab in inside_panel.TABS:
        path = tmp_path / f"{tab}.png"
        assert panel.export_png(str(path), tab=tab)
        picture = QImage(str(path))
        assert not picture.isNull() and picture.width() > 100, tab
    assert sum(map(sum, panel.confusion_view.counts())) == 64


def test_the_dock_is_in_the_menus_and_tabbed_behind_the_training_dock(window):
    dock = window.inside
    menus = {a.text(): a.menu() for a in window.menuBar().actions() if a.menu()}
    assert dock.toggleViewAction() in menus["&View"].actions()
    assert dock.show_action in menus["&Train"].actions()
    assert dock in window.tabifiedDockWidgets(window.docks["training"])
    assert dock.panel is None and dock.visibleRegion().isEmpty()  # built when first shown
    dock.show_action.trigger()
    assert dock.panel is not None and not dock.visibleRegion().isEmpty()


def test_the_worker_skips_epoch_end_probes_that_would_slow_training(qtbot, monkeypatch):
    from designer.model.design_file import load

    clock = [100.0]
    monkeypatch.setattr(train_worker.time, "monotonic", lambda: clock[0])
    worker = train_worker.TrainWorker(load(CIFAR).network, small())
    assert worker.probe_request() is None  # nobody is looking
    request = ProbeRequest(sample=4)
    worker.set_probe(request)
    assert worker.probe_request() is request
    with qtbot.waitSignal(worker.probed) as got:
        worker.on_probe(ProbeReport(None, epoch=1, seconds=0.3))
    assert got.args[0].epoch == 1
    clock[0] += 5.0  # 0.3 s of probing in 5 s of training: more than 3 %
    assert worker.probe_request() is None
    worker.request_probe()  # asked for: always
    assert worker.probe_request() is request
    clock[0] += 5.0  # 0.3 s in 10 s: 3 %
    assert worker.probe_request() is request
    worker.set_probe(None)
    assert worker.probe_request() is None


def test_the_window_starts_without_numpy_pyqtgraph_or_torch(tmp_path):
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from PySide6.QtCore import QSettings\n"
        "from PySide6.QtWidgets import QApplication\n"
        "app = QApplication([])\n"
        "from designer.ui.panels.inside import dock as feature_maps\n"
        "from designer.ui.main_window import MainWindow\n"
        f"w = MainWindow(settings=QSettings({str(tmp_path / 's.ini')!r}, QSettings.IniFormat), "
        f"recovery_dir=Path({str(tmp_path / 'rec')!r}))\n"
        "if getattr(w, 'inside', None) is None: feature_maps.install(w)\n"
        "w.show()\n"
        "for _ in range(20): app.processEvents()\n"
        "print([m in sys.modules for m in ('numpy', 'pyqtgraph', 'torch')])\n"
        "w.inside.show_panel()\n"
        "print('pyqtgraph' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
    lines = out.stdout.split("\n")
    assert lines[0] == "[False, False, False]", out.stderr
    assert lines[1] == "True"
