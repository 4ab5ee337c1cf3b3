"""A regular install (pip install ., a wheel, pipx) carries the presets and the icons.

The wheel is built from a copy of the checkout (setuptools would otherwise reuse the checkout's
build/ folder, stale files and all) and installed into a folder of its own. A Python that sees
only that folder (run with -S, from outside the checkout: neither the checkout nor the editable
install's finder can answer) then finds every preset and icon through designer.assets, and the
Examples menu's list and the icons through the ui modules.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import textwrap
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PRESETS = sorted((ROOT / "presets").glob("*.convnet.json"))
ICONS = sorted((ROOT / "resources" / "icons").glob("*.svg"))


def _not_source(folder: str, names: list[str]) -> set[str]:
    """What the copy for the build leaves out: hidden folders (.git, .venv, caches), byte code,
    and the checkout's own build outputs."""
    skip = {n for n in names if n.startswith(".") or n == "__pycache__" or n.endswith(".egg-info")}
    if Path(folder) == ROOT:
        skip |= {"build", "dist"} & set(names)
    return skip


def _run(args: list[str], **kwargs) -> subprocess.CompletedProcess:
    done = subprocess.run(args, capture_output=True, text=True, timeout=120, **kwargs)
    assert done.returncode == 0, f"{args}\n{done.stdout}\n{done.stderr}"
    return done


def _clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env.update(PIP_DISABLE_PIP_VERSION_CHECK="1", PIP_NO_INPUT="1", **extra)
    return env


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> tuple[Path, Path]:
    """(the wheel, the folder it was installed into)."""
    tmp = tmp_path_factory.mktemp("install")
    source = tmp / "source"
    shutil.copytree(ROOT, source, ignore=_not_source)
    pip = [sys.executable, "-m", "pip"]
    # no build isolation and no index: nothing is downloaded (setuptools is the venv's own)
    _run([*pip, "wheel", str(source), "--no-deps", "--no-build-isolation", "--no-index", "-q",
          "-w", str(tmp / "dist")], env=_clean_env())
    (wheel,) = (tmp / "dist").glob("convnet_designer-*.whl")
    site = tmp / "site"
    _run([*pip, "install", "--no-deps", "--no-index", "-q", "--target", str(site), str(wheel)],
         env=_clean_env())
    return wheel, site


def _python(site: Path, code: str, cwd: Path, with_venv: bool = False) -> dict:
    """Run `code` in a Python whose sys.path is the installed folder (then the standard
    library, and with_venv: this venv's site-packages, added as a plain folder: its .pth files,
    among them the editable install's, are not run). It prints one JSON object."""
    prelude = textwrap.dedent(f"""
        import json, sys
        sys.path[:] = [{str(site)!r}] + [p for p in sys.path if p and p != {str(site)!r}]
        if {with_venv!r}:
            sys.path.append({sysconfig.get_paths()["purelib"]!r})
        import designer
        assert not any("editable" in repr(f).lower() for f in sys.meta_path), sys.meta_path
        assert not any(p.startswith({str(ROOT)!r} + "/") and "site-packages" not in p
                       for p in sys.path), sys.path
        """)
    done = _run([sys.executable, "-S", "-c", prelude + textwrap.dedent(code)], cwd=cwd,
                env=_clean_env(QT_QPA_PLATFORM="offscreen"))
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_the_wheel_holds_every_module_preset_and_icon(built):
    wheel, _ = built
    names = set(zipfile.ZipFile(wheel).namelist())
    modules = {p.relative_to(ROOT).as_posix() for p in (ROOT / "designer").rglob("*.py")
               if "__pycache__" not in p.parts}
    missing = sorted(modules - names)
    assert not missing, f"modules the wheel leaves out: {missing}"
    assert {f"designer/presets/{p.name}" for p in PRESETS} <= names
    assert not [n for n in names if n.startswith("designer/presets/") and n.endswith(".py")]
    assert {f"designer/resources/icons/{p.name}" for p in ICONS} <= names
    assert len(PRESETS) >= 16 and len(ICONS) >= 11


def test_an_installed_wheel_finds_every_preset_and_icon(built, tmp_path):
    _, site = built
    found = _python(site, """
        from designer import assets
        print(json.dumps({"designer": designer.__file__,
                          "presets": [str(p) for p in assets.preset_files()],
                          "icons": [str(p) for p in assets.icon_files()],
                          "app": str(assets.icon_file("app"))}))
        """, cwd=tmp_path)
    assert Path(found["designer"]).is_relative_to(site)
    presets = [Path(p) for p in found["presets"]]
    icons = [Path(p) for p in found["icons"]]
    assert [p.name for p in presets] == [p.name for p in PRESETS]
    assert [p.name for p in icons] == [p.name for p in ICONS]
    for path, original in zip(presets + icons, PRESETS + ICONS):
        assert path.is_relative_to(site)
        assert path.read_bytes() == original.read_bytes(), path.name
    assert Path(found["app"]) == site / "designer" / "resources" / "icons" / "app.svg"


def test_the_examples_menu_and_the_icons_work_from_the_wheel(built, tmp_path):
    _, site = built
    found = _python(site, """
        from PySide6.QtWidgets import QApplication
        app = QApplication([])
        from designer.ui.icons import icon
        from designer.ui.main_window import list_examples
        examples = list_examples()
        print(json.dumps({"designer": designer.__file__,
                          "examples": [str(path) for path, _, _ in examples],
                          "names": [name for _, name, _ in examples],
                          "icons": [not icon(p).isNull() for p in ("app", "open", "play")],
                          "missing": icon("no-such-icon").isNull()}))
        """, cwd=tmp_path, with_venv=True)
    assert Path(found["designer"]).is_relative_to(site)
    examples = [Path(p) for p in found["examples"]]
    assert sorted(p.name for p in examples) == [p.name for p in PRESETS]
    assert all(p.is_relative_to(site / "designer" / "presets") for p in examples)
    assert all(found["names"])
    assert found["icons"] == [True, True, True] and found["missing"]


def _pyproject() -> dict:
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def test_the_licence_pyproject_names_is_in_the_checkout():
    """pyproject said MIT but there was no LICENSE file (issue 16)."""
    assert _pyproject()["project"]["license"] == {"text": "MIT"}
    licence = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert licence.startswith("MIT License\n")
    assert "Permission is hereby granted, free of charge" in licence


def test_pillow_is_installed_with_the_app_and_no_test_skips_without_it():
    """The Pillow-only tests skipped in CI because Pillow was in no extra (issue 16): it is a
    dependency, and no test asks whether it is there."""
    import re

    dependencies = _pyproject()["project"]["dependencies"]
    assert any(re.match(r"(?i)pillow\b", d) for d in dependencies), dependencies
    skipping = [p.relative_to(ROOT).as_posix() for p in (ROOT / "tests").rglob("*.py")
                if re.search(r"importorskip\(\s*[\"']PIL", p.read_text(encoding="utf-8"))]
    assert skipping == []
