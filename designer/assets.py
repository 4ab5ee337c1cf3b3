"""Where the case-study presets and the icons are, from any install. No Qt here.

The checkout keeps them at the top level (presets/, resources/icons/); a wheel carries them as
package data, designer/presets and designer/resources/icons (the build step in _package_data.py
puts them there), and importlib.resources finds them there. A checkout, or an editable install
(pip install -e .), has no such folders inside designer/: there the top-level ones beside the
package are read.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

PRESET_SUFFIX = ".convnet.json"  # design_file.SUFFIX, not imported: that pulls in the model
_CHECKOUT = Path(__file__).resolve().parent.parent


def _data_dir(*parts: str) -> Path:
    """designer/<parts> where the package was installed from a wheel, else <checkout>/<parts>."""
    installed = files("designer")
    for part in parts:
        installed = installed / part
    if isinstance(installed, Path) and installed.is_dir():  # pip install ., a wheel, pipx
        return installed
    return _CHECKOUT.joinpath(*parts)  # a checkout, an editable install


def presets_dir() -> Path:
    """The folder of the *.convnet.json case-study presets (the Examples menu)."""
    return _data_dir("presets")


def preset_files() -> list[Path]:
    """Every preset, sorted by file name."""
    return sorted(presets_dir().glob("*" + PRESET_SUFFIX))


def icons_dir() -> Path:
    """The folder of the toolbar and window icons (SVG)."""
    return _data_dir("resources", "icons")


def icon_file(name: str) -> Path:
    """The SVG of the icon called `name` (it may not exist: the caller checks)."""
    return icons_dir() / f"{name}.svg"


def icon_files() -> list[Path]:
    """Every icon, sorted by file name."""
    return sorted(icons_dir().glob("*.svg"))
