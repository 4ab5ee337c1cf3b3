"""Where a torch model for the importer comes from: the nn.Module that a Python file or module
names (load_python_model: imports, so runs, that code, which is what the person asks for), or a
torch.export program saved as .pt2 (import_pt2: only the program's JSON graph is read from the
archive, fx_pt2.py; nothing in it is unpickled and torch.export.load is never called, as that
runs pickle.loads on the archive's constants).

An nn.Module goes on to fx_reader.import_module; a .pt2 program is read by the same torch.fx
reader directly.

TORCH (imported where first used), no Qt.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import os
import sys
from pathlib import Path
from typing import Any

from ..model.design_file import Design
from .fx_reader import _FxReader
from .import_build import _build_made, _design, _stem
from .import_graph import ModelImportError, _first_line

__all__ = ["import_pt2", "load_python_model", "read_pt2_model"]


def load_python_model(spec: str):
    """The nn.Module that `spec` names: 'file.py', 'file.py:attr' or 'package.module:attr'.
    Imports (runs) that code. attr: a class made with no arguments, an instance, or a function
    returning one."""
    import torch

    target, _, attr = spec.rpartition(":") if ":" in spec.replace("\\", "/").split("/")[-1] \
        else (spec, "", "")
    if not target:
        target, attr = spec, ""
    if target.endswith(".py") or os.sep in target or "/" in target:
        path = Path(target).expanduser()
        if not path.is_file():
            raise ModelImportError(f"{path}: no such file")
        if path.suffix != ".py":
            raise ModelImportError(f"{path}: not a Python file (.py)")
        mod_name = f"_designer_import_{abs(hash(str(path.resolve())))}"
        spec_obj = importlib.util.spec_from_file_location(mod_name, path)
        if spec_obj is None or spec_obj.loader is None:
            raise ModelImportError(f"{path}: cannot be imported as Python")
        module = importlib.util.module_from_spec(spec_obj)
        sys.modules[mod_name] = module
        try:
            spec_obj.loader.exec_module(module)
        except Exception as e:  # noqa: BLE001 - the user's code failed: say where
            sys.modules.pop(mod_name, None)
            raise ModelImportError(f"{path}: importing it failed: {type(e).__name__}: "
                                   f"{_first_line(e)}") from None
        where = str(path)
    else:
        try:
            module = importlib.import_module(target)
        except Exception as e:  # noqa: BLE001
            raise ModelImportError(f"{target}: cannot import the module: {type(e).__name__}: "
                                   f"{_first_line(e)}") from None
        mod_name = module.__name__
        where = target
    if not attr:
        classes = [v for v in vars(module).values() if inspect.isclass(v)
                   and issubclass(v, torch.nn.Module) and v.__module__ == mod_name]
        if len(classes) != 1:
            found = ", ".join(c.__name__ for c in classes) or "none"
            raise ModelImportError(f"{where}: name the model as {where}:NAME (nn.Module classes "
                                   f"defined there: {found})")
        attr = classes[0].__name__
    obj: Any = module
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise ModelImportError(f"{where}: has no attribute {attr!r}")
        obj = getattr(obj, part)
    label = f"{Path(where).name}:{attr}"
    if isinstance(obj, torch.nn.Module):
        return obj, label
    if callable(obj):
        try:
            made = obj()
        except TypeError as e:
            raise ModelImportError(f"{label}: cannot be made without arguments ({e}); name a "
                                   "function that returns the model, or an instance") from None
        except Exception as e:  # noqa: BLE001
            raise ModelImportError(f"{label}: making the model failed: {type(e).__name__}: "
                                   f"{_first_line(e)}") from None
        if not isinstance(made, torch.nn.Module):
            raise ModelImportError(f"{label}: gives a {type(made).__name__}, not a "
                                   "torch.nn.Module")
        return made, label
    raise ModelImportError(f"{label}: is a {type(obj).__name__}, not a torch.nn.Module")


def import_pt2(path: str | os.PathLike[str], name: str | None = None) -> Design:
    """A design with the structure of a torch.export program saved as .pt2, read from the
    program's JSON graph in the archive (fx_pt2.py): nothing in the file is unpickled, and
    torch.export.load is never called (it would unpickle constants with pickle.loads)."""
    return read_pt2_model(path, name, weights=False)[0]


def read_pt2_model(path: str | os.PathLike[str], name: str | None = None,
                   weights: bool = True) -> tuple[Design, dict | None, str]:
    """(import_pt2's design, the program's weights as the state_dict of the design's module or
    None, a note saying what came in or why nothing did). The weights are read as raw bytes
    (pt2_weights.py), never unpickled; where the archive keeps them only pickled, the note says
    so."""
    from .fx_pt2 import read_pt2
    from .import_weights import _collect
    from .pt2_weights import _ArchiveWeights

    path = Path(path)
    if not path.is_file():
        raise ModelImportError(f"{path}: no such file")
    holder, shape, batch = read_pt2(path)
    label = path.name
    try:
        graph = _FxReader(holder, shape, label, batch).read()
    except ModelImportError:
        raise
    except Exception as e:  # noqa: BLE001 - a graph no exporter writes: say so, never crash
        raise ModelImportError(f"{path}: its torch.export graph cannot be read "
                               f"({type(e).__name__}: {_first_line(e)})") from None
    net, made = _build_made(graph, name or _stem(path))
    if not weights:
        return _design(net, label), None, ""
    with _ArchiveWeights(path, getattr(holder, "member", ""),
                         getattr(holder, "sources", {})) as archive:
        state, note = _collect(net, made, archive.fetch, label)
    return _design(net, label), state, note
