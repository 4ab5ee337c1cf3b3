"""Where the case-study presets and the icons are, from any install. No Qt here.

The checkout keeps them at the top level (presets/, resources/icons/); a wheel carries them as
package data, designer/presets and designer/resources/icons (the build step in _package_data.py
puts them there), in the package beside this module. A checkout, or an editable install
(pip install -e .), has no such folders inside designer/: there the top-level ones beside the
package are read.
"""

from __future__ import annotations

import json
from pathlib import Path

PRESET_SUFFIX = ".convnet.json"  # design_file.SUFFIX, not imported: that pulls in the model
_PACKAGE = Path(__file__).resolve().parent
_CHECKOUT = _PACKAGE.parent


def _data_dir(*parts: str) -> Path:
    """designer/<parts> where the package was installed from a wheel, else <checkout>/<parts>."""
    # (the package's folder on disk, as importlib.resources.files("designer") finds it for a
    # package imported from files, without importing importlib.resources at start-up)
    installed = _PACKAGE.joinpath(*parts)
    if installed.is_dir():  # pip install ., a wheel, pipx
        return installed
    return _CHECKOUT.joinpath(*parts)  # a checkout, an editable install


def presets_dir() -> Path:
    """The folder of the *.convnet.json case-study presets (the Examples menu)."""
    return _data_dir("presets")


def preset_files() -> list[Path]:
    """Every preset, sorted by file name."""
    return sorted(presets_dir().glob("*" + PRESET_SUFFIX))


# the Examples menu's teaching order; a preset not named here comes after, by file name
EXAMPLE_ORDER = ("cifar10_example", "pattern_conv_relu_pool_x2",
                 "pattern_conv_relu_conv_relu_pool_x3", "lenet5", "alexnet",
                 "alexnet_single_tower", "zfnet", "googlenet", "vgg16", "vgg19", "resnet18",
                 "resnet34", "resnet50", "resnet152", "resnet20_cifar", "allconv_cifar10")


def list_examples() -> list[tuple[Path, str, str]]:
    """(path, name, description) of every preset, in the teaching order (a preset that can't
    be read is left out: the menu shows what opens)."""
    def rank(path: Path) -> tuple[int, str]:
        stem = path.name[: -len(PRESET_SUFFIX)]
        order = EXAMPLE_ORDER.index(stem) if stem in EXAMPLE_ORDER else len(EXAMPLE_ORDER)
        return order, path.name

    out = []
    for path in sorted(preset_files(), key=rank):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(data, dict):
                continue
            out.append((path, str(data.get("name", path.stem)), str(data.get("description", ""))))
        except (OSError, ValueError):
            continue
    return out


def icons_dir() -> Path:
    """The folder of the toolbar and window icons (SVG)."""
    return _data_dir("resources", "icons")


def icon_file(name: str) -> Path:
    """The SVG of the icon called `name` (it may not exist: the caller checks)."""
    return icons_dir() / f"{name}.svg"


def icon_files() -> list[Path]:
    """Every icon, sorted by file name."""
    return sorted(icons_dir().glob("*.svg"))
