"""qt_start.quick_enums(): PySide6's enums made the quick way are the classes Python's enum module
makes, attribute for attribute, member for member, in the same order."""

from __future__ import annotations

import enum
import json
import subprocess
import sys

import pytest

from designer.ui import qt_start

pytestmark = pytest.mark.skipif(sys.version_info[:2] != (3, 11),
                                reason="the quick path follows Python 3.11's enum module")

# Run in a fresh process: every call PySide6 makes to EnumType._create_ while every class of
# QtCore, QtGui and QtWidgets is made, as (base, name, members, keywords).
_RECORD = r"""
import enum, json, sys
calls = []
stdlib = enum.EnumType._create_
def record(cls, class_name, names, **kw):
    calls.append([cls.__name__, class_name, [list(n) for n in names],
                  {k: (v.name if isinstance(v, enum.Enum) else v) for k, v in kw.items()}])
    return stdlib(cls, class_name, names, **kw)
enum.EnumType._create_ = record
from PySide6 import QtCore, QtGui, QtWidgets
for module in (QtCore, QtGui, QtWidgets):
    for name in dir(module):
        getattr(module, name)
print(json.dumps(calls))
"""


@pytest.fixture(scope="module")
def pyside_calls():
    done = subprocess.run([sys.executable, "-c", _RECORD], capture_output=True, text=True,
                          check=True, timeout=300)
    calls = []
    for base, name, names, kw in json.loads(done.stdout.splitlines()[-1]):
        kw = {k: (enum.FlagBoundary[v] if k == "boundary" and v else v) for k, v in kw.items()}
        calls.append((getattr(enum, base), name, [tuple(n) for n in names], kw))
    return calls


def _same_enum(a, b) -> None:
    """a (the enum module's) and b (the quick one) are the same class but for identity."""
    assert type(a) is type(b) and a.__bases__ == b.__bases__
    for attr in ("__name__", "__qualname__", "__module__"):
        assert getattr(a, attr) == getattr(b, attr), attr
    da, db = vars(a), vars(b)
    assert list(da) == list(db)  # the same names, in the same order
    for key, va in da.items():
        vb = db[key]
        if type(va) is a:  # a member (or an alias of one)
            assert type(vb) is b and va._name_ == vb._name_, key
        elif key == "_member_map_":
            assert [(k, m._name_) for k, m in va.items()] == [(k, m._name_) for k, m in vb.items()]
        elif key == "_value2member_map_":
            assert [(v, type(v), m._name_) for v, m in va.items()] == \
                [(v, type(v), m._name_) for v, m in vb.items()]
        elif getattr(va, "__self__", None) is a:  # a method bound to the class
            assert vb.__self__ is b and va.__func__ is vb.__func__, key
        elif key in ("__dict__", "__weakref__"):  # descriptors of the class itself
            continue
        elif key == "__reduce_ex__" and va.__qualname__.endswith("_break_on_call_reduce"):
            assert vb.__qualname__ == va.__qualname__
        else:
            assert va == vb and type(va) is type(vb), (key, va, vb)
    for name, ma in a._member_map_.items():
        mb = b._member_map_[name]
        assert list(vars(ma)) == list(vars(mb)), name
        for key, value in vars(ma).items():
            if key == "__objclass__":
                assert value is a and vars(mb)[key] is b
            else:
                assert value == vars(mb)[key] and type(value) is type(vars(mb)[key]), (name, key)
        assert (repr(ma), str(ma), format(ma)) == (repr(mb), str(mb), format(mb))
    assert [m._name_ for m in a] == [m._name_ for m in b]
    assert [(m._name_, m._value_) for m in reversed(a)] == \
        [(m._name_, m._value_) for m in reversed(b)]
    for member in a:  # by value, and for flags combined and inverted
        assert b(member._value_)._name_ == member._name_
    if issubclass(a, enum.Flag) and len(a) > 1:
        first, second = list(a)[:2]
        both = b(first._value_) | b(second._value_)
        assert (both._value_, both._name_) == ((first | second)._value_, (first | second)._name_)
        assert (~b(first._value_))._value_ == (~first)._value_


def test_every_pyside_enum_is_made_the_same_way(pyside_calls):
    quick = 0
    for base, name, names, kw in pyside_calls:
        assert kw.get("module") is None and kw.get("qualname") is None
        kw = {**kw, "module": "PySide6.QtTest"}
        made = enum.EnumType.__dict__["_create_"](base, name, list(names), **kw)
        made_quick = qt_start._quick_create(base, name, list(names), **kw)
        _same_enum(made, made_quick)
        quick += qt_start._plain_members(base, names)
    assert len(pyside_calls) > 600
    assert quick == len(pyside_calls)  # every one of them took the quick path


def test_the_functional_api_gives_the_same_classes_with_or_without_it():
    cases = [
        (enum.IntEnum, [("A", 1), ("B", 2), ("C", 1)]),  # an alias
        (enum.Enum, [("X", 3), ("Y", -4), ("Z", 2**70)]),
        (enum.Flag, [("ONE", 1), ("FOUR", 4), ("BOTH", 5), ("TWO", 2), ("NONE", 0)]),
        (enum.IntFlag, [("B", 2), ("A", 1), ("ALIAS", 2)]),
        (enum.IntFlag, []),
        (enum.IntEnum, [("real", 1), ("imag", 2)]),  # int's descriptors: the enum module's way
        (enum.Enum, [("_private", 1), ("ok", 2)]),
        (enum.Enum, "RED GREEN BLUE"),
    ]
    assert enum.EnumType.__dict__["_create_"] is not qt_start._quick_create
    made = [base("Made", names, boundary=enum.KEEP) if issubclass(base, enum.Flag)
            else base("Made", names) for base, names in cases]
    assert qt_start.quick_enums()
    try:
        assert qt_start.quick_enums()  # once
        assert enum.EnumType.__dict__["_create_"] is qt_start._quick_create
        quick = [base("Made", names, boundary=enum.KEEP) if issubclass(base, enum.Flag)
                 else base("Made", names) for base, names in cases]
        mixed = enum.Enum("Mixed", [("A", 1)], type=int)
        named = enum.IntEnum("Named", [("A", 1)], qualname="Outer.Named")
    finally:
        qt_start.stdlib_enums()
    assert enum.EnumType.__dict__["_create_"] is not qt_start._quick_create
    for a, b in zip(made, quick):
        _same_enum(a, b)
        assert b.__module__ == __name__  # found from the caller's frame, as the module does
    _same_enum(enum.Enum("Mixed", [("A", 1)], type=int), mixed)
    _same_enum(enum.IntEnum("Named", [("A", 1)], qualname="Outer.Named"), named)


def test_a_repeated_member_name_is_refused_as_the_enum_module_refuses_it():
    with pytest.raises(TypeError) as stdlib:
        enum.IntEnum("Twice", [("A", 1), ("A", 2)])
    qt_start.quick_enums()
    try:
        with pytest.raises(TypeError) as quick:
            enum.IntEnum("Twice", [("A", 1), ("A", 2)])
    finally:
        qt_start.stdlib_enums()
    assert str(quick.value) == str(stdlib.value)


# ---------------------------------------------------------------------------------------------
# qt_start.quick_compiles(): the code dataclasses, typing and collections generate, compiled once


_DATACLASSES = r"""
import dataclasses, json, sys, typing
from designer.ui import qt_start
quick = sys.argv[1] == "quick"
if quick:
    qt_start.quick_compiles()

@dataclasses.dataclass(frozen=True, slots=True)
class Fix:
    label: str
    params: dict
    effect: tuple = ()

@dataclasses.dataclass(order=True)
class Node:
    id: str
    size: int = 3
    tags: list = dataclasses.field(default_factory=list)

class Row(typing.NamedTuple):
    name: "str"
    count: int = 0

if quick:
    qt_start.stdlib_compiles()
fix, node, row = Fix("a", {"x": 1}), Node("n"), Row("r")
out = {
    "repr": [repr(fix), repr(node), repr(row)],
    "eq": [fix == Fix("a", {"x": 1}), Node("a") < Node("b"), row == ("r", 0)],
    "frozen": type(fix).__setattr__ is not object.__setattr__,
    "annotations": {name: repr(getattr(cls, fn).__annotations__) for name, cls, fn in
                    (("Fix", Fix, "__init__"), ("Node", Node, "__init__"))},
    "hints": repr(typing.get_type_hints(Row)),
    "docs": [Fix.__doc__, Node.__doc__],
    "slots": Fix.__slots__,
    "codes": [getattr(cls, fn).__code__.co_code.hex() for cls, fn in
              ((Fix, "__init__"), (Fix, "__eq__"), (Node, "__lt__"), (Row, "__new__"))],
    "builtins_back": [name not in vars(sys.modules[m]) for m, name in
                      (("dataclasses", "exec"), ("typing", "compile"), ("collections", "eval"))],
}
print(json.dumps(out))
"""


def _classes(how: str, prefix) -> dict:
    import os

    env = {**os.environ, "PYTHONPYCACHEPREFIX": str(prefix)}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    done = subprocess.run([sys.executable, "-c", _DATACLASSES, how], capture_output=True,
                          text=True, check=True, timeout=120, env=env)
    return json.loads(done.stdout.splitlines()[-1])


def test_quick_compiles_make_the_same_classes_and_keep_the_code_for_the_next_start(tmp_path):
    plain = _classes("plain", tmp_path)
    assert not list(tmp_path.rglob("generated-code.*"))  # (nothing kept without it)
    first = _classes("quick", tmp_path)  # compiled, then kept
    kept = list(tmp_path.rglob("generated-code.*.marshal"))
    assert len(kept) == 1
    second = _classes("quick", tmp_path)  # read back
    assert first == plain and second == plain
    assert all(plain["builtins_back"])
    # (annotations evaluated as the module's own exec does: no __future__ flag inherited)
    assert "<class 'str'>" in plain["annotations"]["Fix"]


def test_a_damaged_code_cache_is_ignored(tmp_path):
    plain = _classes("plain", tmp_path)
    _classes("quick", tmp_path)
    kept = next(tmp_path.rglob("generated-code.*.marshal"))
    kept.write_bytes(kept.read_bytes()[:40])
    assert _classes("quick", tmp_path) == plain
    kept.write_bytes(b"not a cache")
    assert _classes("quick", tmp_path) == plain


def test_quick_compiles_pass_other_calls_to_the_builtins(monkeypatch):
    import dataclasses

    written = []
    monkeypatch.setattr(qt_start, "_write_cache", written.append)
    monkeypatch.setattr(sys, "dont_write_bytecode", False)
    qt_start.quick_compiles()
    try:
        namespace: dict = {}
        dataclasses.exec("y = 2", namespace)
        assert namespace["y"] == 2
        assert dataclasses.exec(compile("z = 3", "<x>", "exec"), namespace) is None
        assert namespace["z"] == 3
        import collections
        import typing

        assert collections.eval("1 + 1", {}) == 2
        assert typing.compile("x", "file.py", "eval").co_filename == "file.py"
    finally:
        qt_start.stdlib_compiles()
    assert "exec" not in vars(dataclasses)
    assert [("exec", "y = 2"), ("eval", "1 + 1")] <= list(written[0])  # kept for next time
