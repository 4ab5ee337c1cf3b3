"""Start-up work-arounds for PySide6 itself (no code of this program's own logic).

`quick_feature_scan()`: PySide6 (shibokensupport/feature.py, PYSIDE-2029) runs
`inspect.getsource()` on every module the first time an import statement names it after PySide6
has loaded, only to look for the word "PySide6" in it (such a module may select a `__feature__`
such as snake_case). Through inspect, linecache and tokenize that is about 0.25 ms a module: 71
modules and 17 ms of this program's start. Reading the file's bytes answers the same question in
a fraction of that, and a module of Python's standard library (outside site-packages) never
names PySide6, so it is not read at all. Anything that is not a plain `.py` file goes to PySide6's
own check, so the answers are PySide6's; if PySide6 changes its internals, nothing is replaced.
"""

from __future__ import annotations

import os
import sys

_FEATURE_MODULE = "PySide6.support.feature"


def quick_feature_scan() -> bool:
    """Replace PySide6's per-module source scan with one that reads the file's bytes. True when
    replaced (or already), False when this PySide6 has no such scan."""
    feature = sys.modules.get(_FEATURE_MODULE)
    original = getattr(feature, "_mod_uses_pyside", None)
    if original is None or not callable(getattr(feature, "feature_imported", None)):
        return False
    if getattr(original, "_quick", False):
        return True

    stdlib = os.path.dirname(os.__file__) + os.sep

    def uses_pyside(module) -> bool:
        path = getattr(module, "__file__", None)
        if not isinstance(path, str) or not path.endswith(".py"):
            return original(module)
        if path.startswith(stdlib) and "-packages" not in path:
            return False
        try:
            with open(path, "rb") as source:
                return b"PySide6" in source.read()
        except OSError:
            return original(module)

    uses_pyside._quick = True
    uses_pyside.__doc__ = original.__doc__
    feature._mod_uses_pyside = uses_pyside
    return True
