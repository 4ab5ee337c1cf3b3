"""qt_start.pyside_import(): PySide6's support modules (compiled by shiboken's importer from
their source at every start) and the regular expressions they compile come from the start-up
cache, and are the same: every function's code and annotations as PySide6's own import makes
them, every pattern's code, flags and groups as re makes it."""

from __future__ import annotations

import json
import os
import subprocess
import sys

# Run in a fresh process: PySide6 imported (plainly, or through pyside_import with the cache in
# the folder given), then a digest of each support module: its functions' code and
# annotations, module-level and in classes.
_CHILD = r"""
import hashlib, json, sys
how = sys.argv[1]
real_compiles = []
if how == "cached":
    from designer.ui import qt_start
    real = qt_start._compile
    def counting(*args, **kwargs):
        real_compiles.append(args[1])
        return real(*args, **kwargs)
    qt_start._compile = counting
    qt_start.quick_compiles(generated=False)
    qt_start.pyside_import()
    new = qt_start._compiled_new
    kept = sorted(k[1] for k in qt_start._compiles if k[0] == "pyside-support")
    # every pattern kept, made from the cache, is the pattern re makes (code, flags, groups)
    import re
    from re import _compiler
    regexes = [[k[2] if type(k[2]) is str else k[2].hex(), k[3]]
               for k in qt_start._compiles if k[0] == "re"]
    for key in [k for k in qt_start._compiles if k[0] == "re"]:
        quick = qt_start._quick_regex(key[2], key[3])
        own = _compiler.compile(key[2], key[3])
        assert quick == own and quick.groupindex == own.groupindex, key
        assert quick.groups == own.groups and quick.flags == own.flags, key
    qt_start.stdlib_compiles()
else:
    import PySide6.QtCore
    new, kept, regexes = None, [], []
importer = sys.modules["shibokensupport"].__loader__

def shape(code):  # what decides a code object, in plain values (marshal's bytes vary with refs)
    return (code.co_name, code.co_qualname, code.co_filename, code.co_flags, code.co_argcount,
            code.co_posonlyargcount, code.co_kwonlyargcount, code.co_firstlineno,
            code.co_code.hex(), code.co_names, code.co_varnames, code.co_freevars,
            code.co_cellvars, code.co_linetable.hex(), code.co_exceptiontable.hex(),
            tuple(shape(c) if hasattr(c, "co_code") else repr(c) for c in code.co_consts))

def functions(namespace, seen):
    for value in list(vars(namespace).values()):
        if isinstance(value, type) and id(value) not in seen:
            seen.add(id(value))
            yield from functions(value, seen)
        elif hasattr(value, "__code__"):
            yield value

digests = {}
for name, module in sorted(sys.modules.items()):
    if ((getattr(module, "__loader__", None) is importer and hasattr(module, "__file__"))
            or name == "signature_bootstrap"):
        found = sorted((f.__qualname__, shape(f.__code__),
                        repr(sorted(getattr(f, "__annotations__", {}).items(), key=str)))
                       for f in functions(module, set())
                       if getattr(f, "__module__", None) == module.__name__)
        digests[module.__file__] = [len(found), hashlib.sha256(repr(found).encode()).hexdigest()]
print(json.dumps({"digests": digests, "new": new, "kept": kept,
                  "real_compiles": real_compiles, "regexes": regexes}))
"""


def _run(how: str, cache_dir) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(cache_dir)
    done = subprocess.run([sys.executable, "-c", _CHILD, how], capture_output=True, text=True,
                          env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])


def test_pyside_s_support_modules_from_the_cache_are_pyside_s_own(tmp_path):
    plain = _run("plain", tmp_path)
    first = _run("cached", tmp_path)  # nothing cached yet: compiled and kept
    second = _run("cached", tmp_path)  # all from the cache
    support = set(plain["digests"])
    assert len(support) >= 10  # (PySide6 6.11: its bootstrap and 13 modules from its zip)
    assert "signature_bootstrap.py" in support
    assert sum(n for n, _ in plain["digests"].values()) > 100  # functions compared (153)
    assert first["new"] is True and sorted(first["kept"]) == sorted(support)
    assert sorted(first["real_compiles"]) == sorted(support)
    assert second["new"] is False and second["real_compiles"] == []
    # the regular expressions the import compiles are kept too (PySide6 6.11: 16)
    assert len(first["regexes"]) >= 10 and second["regexes"] == first["regexes"]
    # the same functions, code and annotations (the importer's `from __future__ import
    # annotations` is inherited by its compile(): strings, not evaluated types)
    assert first["digests"] == plain["digests"] and second["digests"] == plain["digests"]


def test_pyside_import_without_the_cache_is_a_plain_import(tmp_path):
    code = ("import sys; from designer.ui import qt_start; qt_start.pyside_import(); "
            "import builtins; print(builtins.compile is qt_start._compile, "
            "'PySide6.QtCore' in sys.modules, qt_start._compiles)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, check=True)
    assert done.stdout.split() == ["True", "True", "None"]


_STALE = r"""
import json, marshal, sys
from designer.ui import qt_start
qt_start.quick_compiles(generated=False)
support = sorted(k for k in qt_start._compiles if k[0] == "pyside-support")
del qt_start._compiles[support[0]]  # (one to compile again: the cache is written)
old = ("pyside-support", "shibokensupport/old.py", 0, 0, b"x = 1")  # another PySide6's
qt_start._compiles[old] = compile("x = 1", "shibokensupport/old.py", "exec")
old_pattern = ("re", 0, "a pattern no start asks for", 0)
qt_start._compiles[old_pattern] = (0, (), 0, {}, ())
qt_start._compiles[("exec", "x = 2")] = compile("x = 2", "<string>", "exec")  # (kept)
qt_start.pyside_import()
qt_start.stdlib_compiles()
data = open(qt_start._cache_path(), "rb").read()
kept = marshal.loads(data[4:])
print(json.dumps({"support_before": len(support),
                  "support_after": sorted(k[1] for k in kept if k[0] == "pyside-support"),
                  "old": old in kept, "old_pattern": old_pattern in kept,
                  "patterns": sum(1 for k in kept if k[0] == "re"),
                  "other": ("exec", "x = 2") in kept}))
"""


def test_the_cache_drops_what_this_start_did_not_ask_for_when_it_is_written(tmp_path):
    """Another PySide6's support code and patterns no start compiled again are left out;
    the generated code is kept."""
    _run("cached", tmp_path)  # the cache as a start leaves it
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(tmp_path)
    done = subprocess.run([sys.executable, "-c", _STALE], capture_output=True, text=True,
                          env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout.splitlines()[-1])
    assert found["old"] is False and found["other"] is True
    assert found["old_pattern"] is False and found["patterns"] >= 10
    assert len(found["support_after"]) == found["support_before"] >= 10
