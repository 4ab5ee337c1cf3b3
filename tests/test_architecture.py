"""The layers of the code (docs/ARCHITECTURE.md): the arrows that must never exist, checked on
every import statement of the package, at the top of a module or inside a function."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "designer"

# room -> what it may never import (a room is designer/<name>; a package of the outside world
# is named as it is imported)
FORBIDDEN = {
    "model": {"designer.bridge", "designer.training", "designer.ui", "designer.cli",
              "designer.app", "torch", "PySide6", "numpy", "pyqtgraph"},
    "bridge": {"designer.ui", "designer.cli", "designer.app", "PySide6", "pyqtgraph"},
    "training": {"designer.ui", "designer.cli", "designer.app", "PySide6", "pyqtgraph"},
    "cli": {"designer.ui", "PySide6", "pyqtgraph"},
}
# the one door from the command line to the window: `python -m designer gui`
ALLOWED = {("designer/cli/gui.py", "designer.app")}
LIMIT_LINES = 700


def _modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts)


def _name(path: Path) -> str:
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports(path: Path) -> set[str]:
    """Every module an import statement in `path` names, made absolute."""
    name = _name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            found.add(module)
            found.update(f"{module}.{a.name}" for a in node.names)  # `from . import x`
    return found


def _room(path: Path) -> str:
    parts = path.relative_to(PACKAGE).parts
    return parts[0] if len(parts) > 1 else ""


@pytest.mark.parametrize("room", sorted(FORBIDDEN))
def test_no_arrow_that_must_never_exist(room):
    wrong = []
    for path in _modules():
        if _room(path) != room:
            continue
        rel = path.relative_to(PACKAGE.parent).as_posix()
        for module in imports(path):
            for bad in FORBIDDEN[room]:
                if (module == bad or module.startswith(bad + ".")) and (rel, bad) not in ALLOWED:
                    wrong.append(f"{rel} imports {module}")
    assert not wrong, "\n".join(sorted(set(wrong)))


def test_the_checker_sees_relative_and_late_imports(tmp_path):
    """A check that cannot fail is no check: the walk finds a relative import inside a
    function."""
    names = imports(PACKAGE / "cli" / "gui.py")
    assert "designer.app" in names


def test_the_undo_commands_do_not_import_the_document():
    assert not any(m.startswith("designer.ui.document")
                   for m in imports(PACKAGE / "ui" / "commands.py"))


def test_files_hold_one_idea_each():
    """No module over ~700 lines: past that a file holds several ideas (issue 14)."""
    long = [f"{p.relative_to(PACKAGE.parent)}: {n} lines" for p in _modules()
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > LIMIT_LINES]
    assert not long, "\n".join(long)


def test_pytest_collects_every_test_folder_without_overrides():
    """The pyproject no longer overrides norecursedirs (a folder named build was skipped)."""
    pyproject = (PACKAGE.parent / "pyproject.toml").read_text()
    assert "norecursedirs" not in pyproject
    assert not (PACKAGE / "build").exists() and not (PACKAGE.parent / "tests" / "build").exists()
