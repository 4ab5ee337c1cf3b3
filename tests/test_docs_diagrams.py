"""The volumes figures committed in docs/ (shown in README) are what the exporter writes today:
re-made with the same command they were made with, they must be the same bytes, so a change of
the figure or of a preset that is not followed by the pictures fails here. They carry the
notes' W×H×D labels and nothing of the window (no fix badge, hint bulb or selection)."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from designer.cli import main
from designer.ui.canvas.items import HintMarker

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
SVG = "{http://www.w3.org/2000/svg}"
DIMS = re.compile(r"^\d+×\d+×\d+$")

# docs/NAME_volumes.svg is `python -m designer export presets/NAME.convnet.json --to diagram
# docs/NAME_volumes.svg`
FIGURES = ["alexnet", "resnet50"]


def labels(path: Path) -> list[str]:
    return [(t.text or "").strip() for t in ET.parse(path).getroot().iter(f"{SVG}text")]


@pytest.mark.parametrize("name", FIGURES)
def test_the_committed_figure_is_what_the_exporter_writes_today(name, tmp_path, capsys):
    out = tmp_path / f"{name}_volumes.svg"
    assert main(["export", str(ROOT / "presets" / f"{name}.convnet.json"), "--to", "diagram",
                 str(out)]) == 0
    committed = DOCS / f"{name}_volumes.svg"
    assert committed.read_bytes() == out.read_bytes(), (
        f"docs/{name}_volumes.svg is stale: run python -m designer export "
        f"presets/{name}.convnet.json --to diagram docs/{name}_volumes.svg --force")


def test_alexnet_figure_has_the_notes_volumes_in_order():
    dims = [w for w in labels(DOCS / "alexnet_volumes.svg") if DIMS.match(w)]
    assert dims == ["227×227×3", "55×55×96", "27×27×96", "27×27×256", "13×13×256", "13×13×384",
                    "13×13×384", "13×13×256", "6×6×256", "1×1×4096", "1×1×4096", "1×1×1000"]


def test_resnet50_figure_draws_each_stage_s_repeated_blocks_once():
    words = labels(DOCS / "resnet50_volumes.svg")
    dims = [w for w in words if DIMS.match(w)]
    assert dims[0] == "224×224×3" and dims[-1] == "1×1×1000"
    assert "7×7×2048" in dims
    # ResNet-50's 3, 4, 6, 3 bottlenecks: each stage's first block drawn, the rest once, ×N
    assert [w for w in words if re.fullmatch(r"×\d+", w)] == ["×2", "×3", "×5", "×2"]


@pytest.mark.parametrize("name", FIGURES)
def test_the_committed_figure_has_nothing_of_the_window(name):
    text = (DOCS / f"{name}_volumes.svg").read_text(encoding="utf-8")
    words = labels(DOCS / f"{name}_volumes.svg")
    assert "fix" not in words and HintMarker.COLOUR not in text.lower()
    fonts = set(re.findall(r'font-family="([^"]*)"', text))
    assert fonts == {"sans-serif"}
    assert "/work/" not in text and "/home/" not in text and "/tmp/" not in text
