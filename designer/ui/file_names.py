"""The names the window gives files, and how it writes a text export. No Qt here.

file_stem: a design's file name as its name is written; module_stem: a file name Python can
import, for exported code; name_on_disk: a file's name as its folder spells it (the title);
write_text_file: an export written atomically.
"""

from __future__ import annotations

import keyword
import os
import re
import sys
import unicodedata
from pathlib import Path

from ..atomic import write_text


def file_stem(name: str) -> str:
    """A file name for the design: its name as written ('CIFAR-10 example' ->
    'CIFAR-10_example'), so that the saved file, and the title, keep its capitals."""
    stem = "".join(c if c.isalnum() or c in "-_" else "_" for c in name.strip())
    return stem.strip("_") or "design"


def module_stem(name: str) -> str:
    """A file name for exported code that Python can import: lower case, a-z 0-9 _, not
    starting with a digit, not a keyword nor a module the code itself imports or the standard
    library has ('CIFAR-10 example' -> 'cifar_10_example', 'torch' -> 'torch_model')."""
    plain = "".join(c for c in unicodedata.normalize("NFKD", name)
                    if not unicodedata.combining(c)).lower()  # 'Café' -> 'cafe'
    stem = re.sub(r"[^a-z0-9]+", "_", plain).strip("_") or "design"
    if stem[0].isdigit():
        stem = "net_" + stem
    if (keyword.iskeyword(stem) or stem in sys.stdlib_module_names
            or stem in ("torch", "torchvision", "numpy")):
        stem += "_model"
    return stem


def name_on_disk(path: str) -> str:
    """The file's name as its folder lists it: on a disk that ignores case, a path typed or
    passed as 'mynet.convnet.json' opens 'MyNet.convnet.json', and the title says the latter."""
    p = Path(path)
    try:
        with os.scandir(p.parent) as entries:
            names = [e.name for e in entries if e.name.casefold() == p.name.casefold()]
    except OSError:
        return p.name
    return p.name if p.name in names or not names else names[0]


def write_text_file(path: str, text: str) -> None:
    """Atomically (designer.atomic: a temporary file of our own beside it, renamed over it)."""
    try:
        write_text(path, text)
    except OSError as e:
        raise OSError(f"cannot write {path}: {e.strerror or e}") from None
