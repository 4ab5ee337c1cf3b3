"""README's claims that code can check: every option of every command is in its synopses, every
room of the package is in its layout, the documents it points to exist."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from designer.cli import COMMANDS, parser

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _section(title: str) -> str:
    start = README.index(f"## {title}\n")
    end = README.find("\n## ", start + 1)
    return README[start:end if end > 0 else None]


@pytest.mark.parametrize("command", list(COMMANDS))
def test_the_synopsis_has_every_option(command):
    sub = next(a for a in parser()._actions if a.dest == "command").choices[command]
    synopsis = _section("Command line")
    assert f"python -m designer {command}" in synopsis or command == "gui" and \
        "python -m designer [gui]" in synopsis
    for action in sub._actions:
        for option in action.option_strings:
            if option.startswith("--") and option != "--help":
                assert option in synopsis, f"{command} {option}"


def test_the_layout_names_every_room():
    layout = _section("Development")
    rooms = sorted(p.name for p in (ROOT / "designer").iterdir()
                   if p.is_dir() and (p / "__init__.py").exists())
    for room in rooms:
        assert f"designer/{room}/" in layout, room
    for top in ("resources/", "presets/", "tests/", "benchmarks/", "docs/"):
        assert top in layout


def test_every_local_link_exists():
    for target in re.findall(r"\]\(([^)#:]+)\)", README):
        assert (ROOT / target).exists(), target


def test_the_installed_entry_points_are_named():
    """The synopses name both commands an install puts on the PATH (issue 16)."""
    tomllib = pytest.importorskip("tomllib")
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    synopsis = _section("Command line")
    for table in ("scripts", "gui-scripts"):
        for name in project[table]:
            assert re.search(rf"`{re.escape(name)}[` ]", synopsis), name


def test_the_architecture_page_is_the_one_pointed_at():
    """README pointed at 'DESIGN.md's picture', a file the project does not have; the project's
    own page is docs/ARCHITECTURE.md, which README and the package's docstring point at and
    which names every room of the package (issue 16)."""
    import designer

    assert "DESIGN.md's picture" not in README
    assert "](docs/ARCHITECTURE.md)" in _section("Development")
    assert "docs/ARCHITECTURE.md" in designer.__doc__
    page = (ROOT / "docs" / "ARCHITECTURE.md").read_text(encoding="utf-8")
    for title in ("## The rooms", "## Arrows that must never exist", "## The data flow",
                  "## Where each feature lives"):
        assert title in page
    rooms = sorted(p.name for p in (ROOT / "designer").iterdir()
                   if p.is_dir() and (p / "__init__.py").exists())
    for room in rooms:
        assert re.search(rf"^  {room}/ ", page, re.M), room


def test_vgg16s_forward_values_are_the_analysis_and_the_notes_24m_is_explained():
    """README's 'the notes' own numbers' gives VGG-16's forward values as the analysis counts
    them (the sum of the notes' per-layer table) and says the notes' ~24M total is their slip,
    not a figure this count reproduces (issue 16)."""
    from designer.model.analysis import analyze
    from designer.model.design_file import load

    report = analyze(load(ROOT / "presets" / "vgg16.convnet.json").network)
    start = README.index("The notes' own numbers are tests")
    claim = " ".join(README[start:README.index("\n\n", start)].split())
    values = report.totals.forward_values
    assert f"VGG-16 has {report.totals.params:,} parameters" in claim
    assert f"{values / 1e6:.1f} M values ({values * 4 / 2**20:.0f} MiB) per image forward" in claim
    assert "the notes' total says ~24M (93 MB), a slip in their addition" in claim


def test_the_summary_example_is_what_the_command_prints(capsys):
    """README's VGG-16 summary (the notes' '24M' remark, the totals, the budget's largest batch)
    is the command's output, line for line where it is not cut with '...' (issue 16)."""
    from designer.cli import main

    start = README.index("$ python -m designer summary presets/vgg16.convnet.json")
    block = README[start:README.index("```", start)].splitlines()
    command = block[0].removeprefix("$ python -m designer ").split()
    assert main(command) == 0
    out = " ".join(capsys.readouterr().out.split())
    shown = " ".join(" ".join(block[1:]).split())
    parts = [p.strip() for p in shown.split("...") if p.strip()]
    assert len(parts) >= 2
    for part in parts:  # each run of lines between the cuts, as printed
        assert part in out, part
    assert "~24M" in shown and "largest batch that fits" in shown
