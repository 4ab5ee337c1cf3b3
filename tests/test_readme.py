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
