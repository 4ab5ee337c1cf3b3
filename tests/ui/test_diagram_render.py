"""The volumes figure written as SVG, PDF and PNG (designer/ui/diagram_render.py): files of the
figure's size and aspect, vector text in the PDF, and bad names refused with a message."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from PySide6.QtGui import QImage

from designer.model.design_file import load
from designer.model.diagram import to_svg, volumes_figure
from designer.ui.diagram_render import PNG_SCALE, PT_PER_PX, RenderError, write_diagram

ROOT = Path(__file__).resolve().parents[2]
ALEXNET = ROOT / "presets" / "alexnet.convnet.json"


@pytest.fixture
def figure():
    net = load(ALEXNET).network
    fig = volumes_figure(net)
    return fig, to_svg(fig, net.name)


def media_box(pdf: bytes) -> tuple[float, float]:
    found = re.search(rb"/MediaBox\s*\[\s*0\s+0\s+([\d.]+)\s+([\d.]+)\s*\]", pdf)
    assert found, "no page size in the PDF"
    return float(found[1]), float(found[2])


def test_png_has_the_figures_aspect_at_twice_its_size(qapp, tmp_path, figure):
    fig, svg = figure
    out = tmp_path / "alexnet.png"
    size = write_diagram(svg, out)
    image = QImage(str(out))
    assert not image.isNull() and out.stat().st_size > 10_000
    assert (image.width(), image.height()) == size
    assert image.width() == pytest.approx(fig.width * PNG_SCALE, abs=1)
    assert image.height() == pytest.approx(fig.height * PNG_SCALE, abs=1)
    # drawn, on white: the corner is white, the middle has ink
    assert image.pixelColor(1, 1).lightness() == 255
    dark = sum(image.pixelColor(x, y).lightness() < 128
               for x in range(0, image.width(), 4) for y in range(0, image.height(), 4))
    assert dark > 200


def test_pdf_is_one_page_of_the_figures_size_with_text_as_text(qapp, tmp_path, figure):
    fig, svg = figure
    out = tmp_path / "alexnet.pdf"
    w, h = write_diagram(svg, out)
    data = out.read_bytes()
    assert data.startswith(b"%PDF") and len(data) > 5_000
    assert media_box(data) == pytest.approx((fig.width * PT_PER_PX, fig.height * PT_PER_PX),
                                            abs=1)
    assert (w, h) == pytest.approx((fig.width * PT_PER_PX, fig.height * PT_PER_PX), abs=0.1)
    assert b"/Font" in data  # the labels are text, not pictures of text
    assert len(re.findall(rb"/Type\s*/Page\b", data)) == 1  # one page


def test_svg_is_written_as_it_is(tmp_path, figure):
    fig, svg = figure
    out = tmp_path / "alexnet.svg"
    assert write_diagram(svg, out) == (pytest.approx(fig.width, abs=0.1),
                                       pytest.approx(fig.height, abs=0.1))
    assert out.read_text(encoding="utf-8") == svg


@pytest.mark.parametrize("name", ["figure.txt", "figure", "figure.jpeg"])
def test_a_name_it_cannot_write_is_refused_naming_it(tmp_path, figure, name):
    with pytest.raises(RenderError, match="written as .svg, .pdf or .png"):
        write_diagram(figure[1], tmp_path / name)
    assert not (tmp_path / name).exists()


def test_an_unreadable_svg_is_an_error_not_a_crash(qapp, tmp_path):
    with pytest.raises(RenderError, match="could not be read"):
        write_diagram("<svg>not closed", tmp_path / "x.png")
    with pytest.raises(RenderError, match="cannot write"):
        write_diagram(volumes_svg_text(), tmp_path / "no such folder" / "x.pdf")


def volumes_svg_text() -> str:
    net = load(ALEXNET).network
    return to_svg(volumes_figure(net), net.name)


def test_as_a_program_without_a_display(tmp_path, figure):
    """The command line runs it in a child process: offscreen, exit 0, or 2 with a message."""
    source = tmp_path / "in.svg"
    source.write_text(figure[1], encoding="utf-8")
    env = {"QT_QPA_PLATFORM": "offscreen", "PATH": "/usr/bin:/bin"}
    run = [sys.executable, "-m", "designer.ui.diagram_render"]
    done = subprocess.run(run + [str(source), str(tmp_path / "out.png")], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert QImage(str(tmp_path / "out.png")).width() > 0
    done = subprocess.run(run + [str(source), str(tmp_path / "out.gif")], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "out.gif" in done.stderr and ".gif" in done.stderr
