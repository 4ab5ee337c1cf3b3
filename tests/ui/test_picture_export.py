"""Pictures for others (issue 19): the canvas's own PNG/SVG without the window's marks (fix
badges, hint bulbs, selection), ids in full and generic fonts; and File → Export → Diagram
(volumes figure)… in the window."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QMessageBox

from designer.ui import commands, export_actions
from designer.ui.canvas import CanvasScene, arrange, render_png, render_svg
from designer.ui.canvas.items import HintMarker
from designer.ui.document import Document
from designer.ui.main_window import MainWindow

ROOT = Path(__file__).resolve().parents[2]
PRESETS = ROOT / "presets"
SVG = "{http://www.w3.org/2000/svg}"


def scene_of(qtbot, name: str):
    doc = Document()
    doc.open(str(PRESETS / f"{name}.convnet.json"))
    return doc, CanvasScene(doc)


def view_of(scene):
    """Enough of a CanvasView for arrange.show_all: its scene and document."""
    class View:
        canvas, document = scene, scene.document
    return View


def svg_texts(path: Path) -> list[str]:
    return [(t.text or "").strip() for t in ET.parse(path).getroot().iter(f"{SVG}text")]


def test_the_canvas_picture_has_no_badges_bulbs_or_selection(qtbot, tmp_path):
    doc, scene = scene_of(qtbot, "cifar10_example")
    commands.set_params(doc, "pool", kernel_size=3, stride=2)  # a warning with a fix
    card = scene.card("pool")
    assert card.badge is not None and card.badge.isVisible()
    scene.card("conv").set_hints(("Use a smaller filter",))
    assert scene.card("conv").hint_marker.isVisible()
    doc.select(["conv"])
    svg = tmp_path / "net.svg"
    render_svg(scene, svg)
    words = svg_texts(svg)
    assert "fix" not in words and "CONV · Conv2d" in words
    assert HintMarker.COLOUR not in svg.read_text(encoding="utf-8").lower()
    # and the window is as it was
    assert card.badge.isVisible() and scene.card("conv").hint_marker.isVisible()
    assert doc.selection == ["conv"] and scene.card("conv").isSelected()
    assert card.name == "pool" and card.title == "POOL · MaxPool2d"


def test_the_png_has_no_bulb_either(qtbot, tmp_path):
    doc, scene = scene_of(qtbot, "cifar10_example")
    card = scene.card("conv")
    card.set_hints(("Use a smaller filter",))
    marker = card.hint_marker.scenePos()
    png = tmp_path / "net.png"
    render_png(scene, png, scale=2)
    image = QImage(str(png))
    origin = scene.itemsBoundingRect().topLeft()
    x, y = (marker.x() - origin.x() + 24) * 2, (marker.y() - origin.y() + 24) * 2
    yellow = [image.pixelColor(round(x + dx), round(y + dy)) for dx in range(-8, 9)
              for dy in range(-8, 9)]
    assert not any(c.red() > 200 and c.green() > 150 and c.blue() < 80 for c in yellow)


@pytest.mark.parametrize("expand", [False, True])
def test_every_id_is_written_in_full_in_the_svg(qtbot, tmp_path, expand):
    # ResNet-50 opens as its stem, four stages and head (cards for blocks); expanded, as
    # 176 layer cards, with ids as long as "layer3.5.downsample"
    doc, scene = scene_of(qtbot, "resnet50")
    if expand:
        arrange.show_all(view_of(scene), collapsed=False)
    svg = tmp_path / "resnet50.svg"
    render_svg(scene, svg)
    words = set(svg_texts(svg))
    shown = [nid for nid, c in scene.cards.items() if c.isVisible()]
    hidden = [nid for nid, c in scene.cards.items() if not c.isVisible()]
    assert len(shown) == (len(doc.network.nodes) if expand else 1)
    missing = [nid for nid in shown if nid not in words]
    assert not missing, missing[:5]
    assert not [nid for nid in hidden if nid in words]  # nothing written for an unseen card
    assert not [w for w in words if "…" in w]  # the block cards' lines fit too
    assert all(card.name for card in scene.cards.values())  # put back


def test_the_svg_names_the_generic_font_family_only(qtbot, tmp_path):
    doc, scene = scene_of(qtbot, "alexnet")
    svg = tmp_path / "alexnet.svg"
    render_svg(scene, svg)
    text = svg.read_text(encoding="utf-8")
    families = set(re.findall(r'font-family="([^"]*)"', text))
    assert families == {"sans-serif"}
    ET.fromstring(text)  # still well-formed


def test_an_unwritable_picture_is_an_oserror(qtbot, tmp_path):
    doc, scene = scene_of(qtbot, "lenet5")
    with pytest.raises(OSError, match="cannot write"):
        render_svg(scene, tmp_path / "missing" / "x.svg")


# ------------------------------------------------------------------------------ the window

@pytest.fixture
def window(qtbot, tmp_path, monkeypatch):
    said: list[str] = []
    monkeypatch.setattr(QMessageBox, "warning", lambda *a, **k: said.append(a[2]))
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.Discard)  # closing
    w = MainWindow(settings=QSettings(str(tmp_path / "settings.ini"), QSettings.IniFormat),
                   recovery_dir=tmp_path / "rec")
    qtbot.addWidget(w)
    w.show()
    qtbot.waitExposed(w)
    export_actions.install(w)
    w.open_example(PRESETS / "alexnet.convnet.json")
    w.said = said
    return w


def export_menu(window) -> list:
    file = next(a for a in window.menuBar().actions() if a.text().replace("&", "") == "File")
    export = next(a for a in file.menu().actions() if a.text().replace("&", "") == "Export")
    return [a for a in export.menu().actions() if not a.isSeparator()]


def test_the_export_menu_has_the_volumes_figure_after_the_canvas_pictures(window):
    texts = [a.text() for a in export_menu(window)]
    k = texts.index("Diagram (volumes figure)…")
    assert texts[k - 1] == "Diagram as SVG…"


@pytest.mark.parametrize("suffix", [".svg", ".pdf", ".png"])
def test_the_window_writes_the_volumes_figure(window, tmp_path, suffix):
    out = tmp_path / f"alexnet{suffix}"
    assert window._export_actions.export_diagram(str(out))
    data = out.read_bytes()
    assert len(data) > 5000 and not window.said
    if suffix == ".svg":
        assert "55×55×96" in svg_texts(out)
    assert window.statusBar().currentMessage() == f"Exported {out} (the volumes figure)"


def test_the_window_says_what_is_wrong(window, tmp_path):
    assert not window._export_actions.export_diagram(str(tmp_path / "alexnet.gif"))
    assert window.said and ".gif" in window.said[-1]
    commands.set_params(window.doc, "conv1", kernel_size=300)
    assert not window._export_actions.export_diagram(str(tmp_path / "alexnet.svg"))
    assert "error" in window.said[-1] and not (tmp_path / "alexnet.svg").exists()
