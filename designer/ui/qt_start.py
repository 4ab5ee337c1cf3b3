"""Start-up work-arounds for PySide6 itself (no code of this program's own logic).

`quick_feature_scan()`: PySide6 (shibokensupport/feature.py, PYSIDE-2029) runs
`inspect.getsource()` on every module the first time an import statement names it after PySide6
has loaded, only to look for the word "PySide6" in it (such a module may select a `__feature__`
such as snake_case). Through inspect, linecache and tokenize that is about 0.25 ms a module: 71
modules and 17 ms of this program's start. Reading the file's bytes answers the same question in
a fraction of that, and a module of Python's standard library (outside site-packages) never
names PySide6, so it is not read at all. Anything that is not a plain `.py` file goes to PySide6's
own check, so the answers are PySide6's; if PySide6 changes its internals, nothing is replaced.

`quick_enums()`: PySide6's enums made without the per-member overhead of Python 3.11's enum
module, the same classes (see the section below).

`quick_compiles()`: the source that Python's dataclasses (and typing's NamedTuple) write for each
class's methods, compiled once and kept beside the bytecode, as Python keeps a module's (see the
section "Generated code").

`pyside_import()`: PySide6's own support modules (shiboken6 compiles them from source at every
start) compiled once and kept in the same cache, and so are the regular expressions they (and
the rest of the start) compile (`quick_regexes()`).
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


# ---------------------------------------------------------------------------------------------
# PySide6's enums, made faster while the window starts.
#
# PySide6 makes a class's Python enums the first time the class is touched, each through the
# enum module's functional API: `IntEnum("Name", [(member, value), ...], boundary=KEEP)`. On
# Python 3.11 that costs about 25 µs a member (`_EnumDict.__setitem__`, `_proto_member.
# __set_name__`, a delete and a set on the class for every member); the window touches some 4,000
# members in 260 enums, and a bare QMainWindow about 1,000. `quick_enums()` puts a `_create_` on
# EnumType that makes such an enum (one of the four bases, plain (name, int) members, no
# qualname or mixin type) the way Python 3.11's `EnumType.__new__` and `_proto_member.__set_name__`
# do it, step by step, without their per-member overhead: the same class dictionary in the same
# order, the same members with the same attributes, aliases, flag masks and iteration order
# (tests/ui/test_qt_start.py compares every enum of QtCore, QtGui and QtWidgets made both ways).
# Anything else goes to the enum module's own `_create_`. Only on Python 3.11, whose enum module
# this follows; `stdlib_enums()` puts the module's own back (app.py does once the window is
# filled).

_ENUM_CREATE = "_create_"
_enum_bases: dict = {}  # base -> what EnumType.__new__ finds for a class with only that base


def quick_enums() -> bool:
    """Make PySide6's enums through the quick path. True when in place (or already), False
    where it is not used (a Python other than 3.11)."""
    import enum

    if sys.version_info[:2] != (3, 11):
        return False
    current = enum.EnumType.__dict__.get(_ENUM_CREATE)
    if current is _quick_create:
        return True
    global _enum_create
    _enum_create = current
    enum.EnumType._create_ = _quick_create
    return True


def stdlib_enums() -> None:
    """Put the enum module's own `_create_` back."""
    import enum

    if enum.EnumType.__dict__.get(_ENUM_CREATE) is _quick_create:
        enum.EnumType._create_ = _enum_create


_enum_create = None  # the enum module's own _create_, while quick_enums() replaces it


def _quick_create(cls, class_name, names, *, module=None, qualname=None, type=None, start=1,
                  boundary=None):
    if module is None:  # as EnumType._create_ finds it: the caller of EnumType.__call__
        try:
            module = sys._getframe(2).f_globals["__name__"]
        except (AttributeError, ValueError, KeyError):
            pass
    base = _enum_base(cls) if type is None and qualname is None else None
    if base is None or not _plain_members(cls, names):
        # (with no caller frame at all the module's own would make the class unpicklable; this
        # hands it the enum module's name: no enum of this program is made that way)
        return _enum_create(cls, class_name, names, module=module, qualname=qualname,
                            type=type, start=start, boundary=boundary)
    return _quick_enum(base, class_name, names, module, boundary)


def _enum_base(cls):
    found = _enum_bases.get(cls)
    if found is None:
        import enum

        if cls not in (enum.Enum, enum.IntEnum, enum.Flag, enum.IntFlag):
            return None
        metacls, bases = type(cls), (cls,)
        member_type, first_enum = metacls._get_mixins_(cls.__name__, bases)
        new, save_new, use_args = metacls._find_new_({}, member_type, first_enum)
        is_flag = issubclass(cls, enum.Flag)
        taken = set().union(*(vars(c) for c in cls.__mro__))
        taken.add("mro")
        # what EnumType.__new__'s last steps set on a class with only this base: its members
        # never hide these names, so the class finds what the base finds
        dunders = [(name, getattr(first_enum, name))
                   for name in ("__repr__", "__str__", "__format__", "__reduce_ex__")
                   if getattr(cls, name) in (getattr(member_type, name), getattr(object, name))]
        if is_flag:
            dunders += [(name, getattr(enum.Flag, name))
                        for name in ("__or__", "__and__", "__xor__", "__ror__", "__rand__",
                                     "__rxor__", "__invert__")]
        found = _enum_bases[cls] = (
            metacls, bases, member_type, new, save_new, use_args,
            metacls._find_data_repr_(cls.__name__, bases), is_flag,
            getattr(first_enum, "_boundary_", None) if is_flag else None,
            getattr(first_enum, "_generate_next_value_", None),
            cls.__init__ is enum.Enum.__init__,  # (which does nothing)
            frozenset(taken), tuple(dunders), enum)
    return found


def _plain_members(cls, names) -> bool:
    """A list of (name, int) pairs whose names are ordinary, distinct member names: no
    _sunder_, __dunder__ or private name, nothing the bases define (a descriptor to redirect)."""
    if type(names) is not list:
        return False
    taken = _enum_bases[cls][11]
    seen = set()
    for item in names:
        if type(item) is not tuple or len(item) != 2:
            return False
        name, value = item
        if (type(name) is not str or type(value) is not int or not name or name[0] == "_"
                or name in taken or name in seen):
            return False
        seen.add(name)
    return True


def _quick_enum(base, class_name: str, names: list, module, boundary):
    """EnumType.__new__ (Python 3.11) for `bases` = one of the four, `names` plain."""
    (metacls, bases, member_type, new, save_new, use_args, value_repr, is_flag,
     default_boundary, next_value, init_does_nothing, _taken, dunders, enum) = base
    member_names: list = []
    member_map: dict = {}
    value2member: dict = {}
    # the class dictionary as EnumType.__new__ hands it to type.__new__, less the members
    # (their _proto_members are deleted and the members set again, after it, in order)
    body = {"_generate_next_value_": next_value}
    if module is None:
        enum._make_class_unpicklable(body)
    else:
        body["__module__"] = module
    body.update(_new_member_=new, _use_args_=use_args, _member_names_=member_names,
                _member_map_=member_map, _value2member_map_=value2member,
                _unhashable_values_=[], _member_type_=member_type, _value_repr_=value_repr)
    if is_flag:  # (a class that is not a Flag has these deleted again)
        body.update(_boundary_=boundary or default_boundary, _flag_mask_=0, _singles_mask_=0,
                    _all_bits_=0, _inverted_=None)
    enum_class = type.__new__(metacls, class_name, bases, body)
    single_bit = enum._is_single_bit
    init = None if init_does_nothing else enum_class.__init__
    as_value = None if member_type is object else member_type
    flag_mask = singles = 0
    # _proto_member.__set_name__ for each member, in order; the class itself is changed only
    # afterwards (each change of a class empties Python's attribute cache for it)
    for name, value in names:
        member = new(enum_class, value) if use_args else new(enum_class)
        if as_value is not None:
            value = as_value(value)
        member._value_ = value
        member._name_ = name
        member.__objclass__ = enum_class
        if init is not None:
            init(member, value)
        member._sort_order_ = len(member_names)
        if is_flag:
            flag_mask |= value
            if single_bit(value):
                singles |= value
        canonical = value2member.get(value)
        if canonical is None:
            if not is_flag or single_bit(value):
                member_names.append(name)
            value2member[value] = member
        else:  # an alias
            member = canonical
        member_map[name] = member
    set_attr = type.__setattr__  # (EnumType.__setattr__ refuses only members' names)
    for name, member in member_map.items():
        set_attr(enum_class, name, member)
    if is_flag and names:
        set_attr(enum_class, "_flag_mask_", flag_mask)
        set_attr(enum_class, "_singles_mask_", singles)
        set_attr(enum_class, "_all_bits_", 2 ** (flag_mask.bit_length()) - 1)
    # the rest of EnumType.__new__: __repr__ and friends, a Flag's operators, __new__
    for name, method in dunders:
        set_attr(enum_class, name, method)
    if save_new:
        set_attr(enum_class, "__new_member__", new)
    set_attr(enum_class, "__new__", enum.Enum.__new__)
    if is_flag:
        member_list = [member_map[name]._value_ for name in member_names]
        if member_list != sorted(member_list):
            set_attr(enum_class, "_iter_member_", enum_class._iter_member_by_def_)
    return enum_class


# ---------------------------------------------------------------------------------------------
# Generated code, compiled once.
#
# A dataclass's methods (__init__, __repr__, __eq__, __hash__, a frozen class's __setattr__ ...)
# are written as source text and compiled by `exec` in dataclasses._create_fn, and typing's
# NamedTuple compiles each field's annotation (ForwardRef) and collections.namedtuple its
# __new__: about 60 M instructions of the window's start (the model's classes), two thirds of it
# the compiler, for text that is the same at every start. `quick_compiles()` hands those modules
# an `exec`, `compile` and `eval` that take the code object compiled from the same text (same
# file name "<string>", no inherited __future__ flags, as the modules' own calls compile it) from
# a cache kept beside the bytecode: `sys.pycache_prefix` when set, else this package's
# __pycache__; written (atomically) by `stdlib_compiles()` when new text was compiled, never
# where bytecode is not written (`sys.dont_write_bytecode`), and read only when written by this
# Python (its magic number). Anything but plain source text goes to the builtins.

_PATCHED = (("dataclasses", "exec"), ("typing", "compile"), ("collections", "eval"))
_compiles: dict | None = None  # (mode, source) -> code, while quick_compiles() is in place
_used: dict[str, set] = {}  # a kind of entry (PySide6's support code, patterns) -> the keys
# of it this start asked for: what stdlib_compiles() keeps of that kind
_compiled_new = False


def _cache_path() -> str:
    name = f"generated-code.{sys.implementation.cache_tag}.marshal"
    here = os.path.dirname(os.path.abspath(__file__))
    if sys.pycache_prefix:
        return os.path.join(sys.pycache_prefix, here.lstrip(os.sep), name)
    return os.path.join(here, "__pycache__", name)


def _compiled(source: str, mode: str):
    global _compiled_new
    key = (mode, source)
    code = _compiles.get(key)
    if code is None:
        code = compile(source, "<string>", mode, dont_inherit=True)
        _compiles[key] = code
        _compiled_new = True
    return code


def _quick_exec(source, globals=None, locals=None, /):  # noqa: A002 (exec's own names)
    if globals is None:  # (the caller's, as the builtin takes them)
        caller = sys._getframe(1)
        globals, locals = caller.f_globals, caller.f_locals if locals is None else locals
    if type(source) is str and _compiles is not None:
        source = _compiled(source, "exec")
    return exec(source, globals, locals)


def _quick_eval(source, globals=None, locals=None, /):  # noqa: A002
    if globals is None:
        caller = sys._getframe(1)
        globals, locals = caller.f_globals, caller.f_locals if locals is None else locals
    if type(source) is str and _compiles is not None:
        source = _compiled(source, "eval")
    return eval(source, globals, locals)


def _quick_compile(source, filename, mode, *args, **kwargs):
    if (not args and not kwargs and type(source) is str and filename == "<string>"
            and mode in ("exec", "eval") and _compiles is not None):
        return _compiled(source, mode)
    return compile(source, filename, mode, *args, **kwargs)


_QUICK = {"exec": _quick_exec, "eval": _quick_eval, "compile": _quick_compile}


def quick_compiles(generated: bool = True) -> bool:
    """Load the start-up cache and hand dataclasses, typing and collections the cached compiler
    (see above; `generated` False: the cache only, for pyside_import()). True when in place (or
    already)."""
    if _compiles is None:
        _load_cache()
    for module_name, name in _PATCHED if generated else ():
        module = sys.modules.get(module_name) or __import__(module_name)
        if name not in vars(module):
            setattr(module, name, _QUICK[name])
    if generated:
        quick_regexes()
    return True


def _load_cache() -> None:
    global _compiles, _compiled_new
    import importlib.util
    import marshal

    _compiles = {}
    _compiled_new = False
    try:
        with open(_cache_path(), "rb") as cache:
            data = cache.read()
        magic = importlib.util.MAGIC_NUMBER
        if data.startswith(magic):
            found = marshal.loads(data[len(magic):])
            if type(found) is dict:
                _compiles.update(found)
    except (OSError, ValueError, EOFError, TypeError):
        pass


def stdlib_compiles() -> None:
    """Give dataclasses, typing, collections and re their own compilers back; keep what was
    compiled."""
    global _compiles
    if _compiles is None:
        return
    for module_name, name in _PATCHED:
        module = sys.modules.get(module_name)
        if module is not None and vars(module).get(name) is _QUICK[name]:
            delattr(module, name)
    stdlib_regexes()
    compiles, _compiles = _compiles, None
    # of the kinds this start went through (PySide6's support code, regular expressions), only
    # what it asked for stays: another PySide6's code, a pattern made from a name, say, go
    used = {kind: keys for kind, keys in _used.items() if keys}
    if used:
        compiles = {k: v for k, v in compiles.items() if k[0] not in used or k in used[k[0]]}
    _used.clear()
    if _compiled_new and not sys.dont_write_bytecode:
        _write_cache(compiles)


# ---------------------------------------------------------------------------------------------
# PySide6's support modules, compiled once.
#
# Importing PySide6 (shiboken6) loads its support package (shibokensupport: the signature
# parser, the .pyi generator, the feature switch ...) from a zip embedded in the library: its
# bootstrap and importer (signature_bootstrap.py) call `compile()` on the source text of the
# bootstrap and of each of 13 modules at every start, some 30 ms that every PySide6 program pays
# (a bare window too). `pyside_import()` imports PySide6 with a `compile` that takes those code
# objects from the cache above, compiling and keeping any it has not seen. A code object is
# kept under everything that decides it: the file name, the source text, the compiler flags
# (with the __future__ flags the builtin would inherit from its caller: the importer's
# `from __future__ import annotations`) and the optimisation level (python -O). When the cache
# is written after such an import, the support code it did not ask for (another PySide6's) is
# left out.

_SUPPORT_KEY = "pyside-support"
_compile = compile  # the builtin (the name is PySide6's import's own while pyside_import runs)
_FUTURE_FLAGS = 0  # every __future__ compiler flag: what compile() inherits from its caller


def _support_compile(source, filename, mode, flags=0, dont_inherit=False, optimize=-1, **kwargs):
    if not dont_inherit:  # (as the builtin does: the caller's __future__ flags join the given)
        flags |= sys._getframe(1).f_code.co_flags & _FUTURE_FLAGS
    if (_compiles is not None and not kwargs and optimize == -1 and type(source) is bytes
            and type(filename) is str and mode == "exec" and not dont_inherit
            and not os.path.isabs(filename)):  # (not importlib compiling a module's file)
        global _compiled_new
        key = (_SUPPORT_KEY, filename, flags, sys.flags.optimize, source)
        _used.setdefault(_SUPPORT_KEY, set()).add(key)
        code = _compiles.get(key)
        if code is None:
            code = _compiles[key] = _compile(source, filename, mode, flags, True)
            _compiled_new = True
        return code
    return _compile(source, filename, mode, flags, True, optimize, **kwargs)


def pyside_import() -> None:
    """Import PySide6.QtCore (shiboken6 and its support modules) with the support modules'
    code from the start-up cache (quick_compiles() in place; else a plain import)."""
    if "shiboken6" in sys.modules or _compiles is None:
        import PySide6.QtCore  # noqa: F401
        return
    import __future__

    import builtins

    global _FUTURE_FLAGS
    for name in __future__.all_feature_names:
        _FUTURE_FLAGS |= getattr(__future__, name).compiler_flag
    regexes_here = quick_regexes()
    builtins.compile = _support_compile
    try:
        import PySide6.QtCore  # noqa: F401
    finally:
        builtins.compile = _compile
        if regexes_here:
            stdlib_regexes()


# ---------------------------------------------------------------------------------------------
# Regular expressions, compiled once.
#
# `re.compile` parses a pattern and writes its matcher's code in Python (re._parser and
# re._compiler) before `_sre.compile` makes the Pattern from that code. PySide6's support modules
# compile 16 patterns as they are imported (20-30 ms, every PySide6 program pays them), the
# standard library's modules and ours a few more. `quick_regexes()` keeps what `_sre.compile`
# is given (the code, the flags, the groups) in the cache above, under the pattern, its flags
# and `_sre.MAGIC` (the code's format), so a pattern seen before is made by `_sre.compile`
# alone: the same Pattern (patterns compare by their code; tests/ui/test_pyside_import.py
# compares every cached one with re's own). Used while the window starts, as the generated
# code's cache is.

_REGEX_KEY = "re"
_regex_compile = None  # re._compiler.compile, while quick_regexes() replaces it


def _quick_regex(p, flags=0):
    import _sre
    from re import _compiler, _parser

    if (_compiles is None or type(p) not in (str, bytes) or type(flags) is not int
            or flags & _compiler.SRE_FLAG_DEBUG):
        return _regex_compile(p, flags)
    key = (_REGEX_KEY, _sre.MAGIC, p, flags)
    _used.setdefault(_REGEX_KEY, set()).add(key)
    found = _compiles.get(key)
    if found is None:  # (re._compiler.compile's steps, its result kept)
        global _compiled_new
        parsed = _parser.parse(p, flags)
        code = tuple(map(int, _compiler._code(parsed, flags)))  # (plain ints: marshal's)
        groupindex = dict(parsed.state.groupdict)
        indexgroup = [None] * parsed.state.groups
        for name, i in groupindex.items():
            indexgroup[i] = name
        found = _compiles[key] = (flags | parsed.state.flags, code, parsed.state.groups - 1,
                                  groupindex, tuple(indexgroup))
        _compiled_new = True
    all_flags, code, groups, groupindex, indexgroup = found
    return _sre.compile(p, all_flags, list(code), groups, dict(groupindex), indexgroup)


def quick_regexes() -> bool:
    """re compiles through the cache (quick_compiles() loads it). True when this call put it in
    place; False when it was already, or where re is not as this follows (re._compiler with
    _code, re._parser with parse: Python 3.11 to 3.13)."""
    global _regex_compile
    try:
        from re import _compiler, _parser
    except ImportError:
        return False
    current = vars(_compiler).get("compile")
    if (current is _quick_regex or not callable(current) or not hasattr(_compiler, "_code")
            or not hasattr(_parser, "parse")):
        return False
    _regex_compile = current
    _compiler.compile = _quick_regex
    return True


def stdlib_regexes() -> None:
    """re's own compile back."""
    from re import _compiler

    if vars(_compiler).get("compile") is _quick_regex:
        _compiler.compile = _regex_compile


def cached(key: tuple):
    """What the start-up cache (the generated code's, above) keeps under `key`, a tuple whose
    first item is not "exec" or "eval"; None when absent or when quick_compiles() is not in
    place."""
    return None if _compiles is None else _compiles.get(key)


def keep(key: tuple, value) -> None:
    """Keep `value` (what marshal writes: numbers, strings, tuples) for the next start."""
    global _compiled_new
    if _compiles is not None:
        _compiles[key] = value
        _compiled_new = True


def _write_cache(compiles: dict) -> None:
    import importlib.util
    import marshal

    path = _cache_path()
    temp = f"{path}.{os.getpid()}.tmp"
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(temp, "wb") as cache:
            cache.write(importlib.util.MAGIC_NUMBER + marshal.dumps(compiles))
        os.replace(temp, path)
    except (OSError, ValueError):
        try:
            os.remove(temp)
        except OSError:
            pass
