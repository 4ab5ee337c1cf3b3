"""Read the data in a pickle without unpickling it.

The CIFAR "python version" batches are pickles: dicts of byte strings, lists of ints and one numpy
array. ``pickle.load`` would run whatever a crafted file asks for, so this reader walks the opcodes
with ``pickletools.genops`` and builds only plain values (dicts, lists, tuples, str, bytes, int,
float, bool, None). The only globals it accepts are the few that numpy and Python 2 use to write
an array or a byte string, and it never imports or calls them: it recognises the pattern and
copies the raw bytes into ``numpy.frombuffer``. Anything else is refused with ``UnsafePickle``.

A small pickle can still describe a huge value: a list that holds the same memoized list many
times, nested a few levels, is a few hundred bytes and, written out, gigabytes. So the reader is
bounded in every way, and every failure is an ``UnsafePickle`` that says why:

- the input: at most ``MAX_INPUT_BYTES``, read into memory first;
- the walk: at most ``len(data) // 2 + VALUE_BASE`` values pushed or memo entries made, and
  never more than ``MAX_VALUES`` (real CIFAR batches: about 3 per image);
- the result: shared values stay shared (never copied), but its weight *as if written out* (8
  bytes a reference plus the bytes of each string, number and array, a shared value counted
  each time it is referred to) is at most ``WEIGHT_PER_BYTE × len(data) + WEIGHT_BASE`` and never
  more than ``MAX_WEIGHT``: whatever a caller does with the value (``str()``, ``numpy.asarray``)
  stays in proportion to the file;
- nesting: at most ``MAX_DEPTH`` levels; a value that contains itself is refused;
- ``check``, where given, is called every ``CHECK_EVERY`` steps; what it raises goes through to
  the caller unchanged (that is how the Trainer's Stop ends a long read).
"""

from __future__ import annotations

import io
import math
import pickletools
import struct
from collections.abc import Callable
from typing import IO, Any

import numpy as np

_RECONSTRUCT = {"numpy.core.multiarray _reconstruct", "numpy._core.multiarray _reconstruct"}
_ALLOWED = _RECONSTRUCT | {"numpy ndarray", "numpy dtype", "_codecs encode"}
_DTYPES = {"u1", "i1", "b1", "u2", "i2", "u4", "i4", "u8", "i8", "f4", "f8"}

MAX_INPUT_BYTES = 1 << 30  # the largest pickle read (CIFAR-100's training batch: 155 MB)
MAX_ARRAY_BYTES = 1 << 31
MAX_DIMENSION = 1 << 31  # the largest size of one axis of an array
VALUE_BASE = 1 << 16
MAX_VALUES = 2_000_000  # values the walk may push (CIFAR-100's training batch: about 150,000)
WEIGHT_PER_BYTE = 4
WEIGHT_BASE = 1 << 20
MAX_WEIGHT = 2 << 30
MAX_DEPTH = 100  # CIFAR batches: 3 (a dict of lists of values)
CHECK_EVERY = 4096
_REF = 8  # the weight of one reference

# what the walker turns into its own error: every way a malformed pickle makes Python fail
_FAILURES = (ValueError, IndexError, KeyError, TypeError, EOFError, OverflowError,
             RecursionError, MemoryError, AttributeError, LookupError, ArithmeticError,
             BufferError, struct.error)


class UnsafePickle(ValueError):
    """The pickle holds something other than plain data, is malformed, or is too large."""


class _Passed(Exception):
    """What ``check`` raised, carried past the walker's own error handling."""

    def __init__(self, error: BaseException):
        super().__init__()
        self.error = error


class _Global:
    def __init__(self, name: str):
        self.name = name


class _Array:
    def __init__(self) -> None:
        self.shape: tuple[int, ...] | None = None
        self.dtype: _Dtype | None = None
        self.fortran = False
        self.data: bytes | None = None

    def to_numpy(self) -> np.ndarray:
        if self.shape is None or self.dtype is None or self.data is None:
            raise UnsafePickle("an array without its shape, type or data")
        dtype = self.dtype.numpy()
        count = math.prod(self.shape)  # Python ints: no overflow
        if count * dtype.itemsize != len(self.data):
            raise UnsafePickle(f"an array of shape {self.shape} with {len(self.data)} bytes")
        array = np.frombuffer(self.data, dtype=dtype, count=count)
        return array.reshape(self.shape, order="F" if self.fortran else "C")


class _Dtype:
    def __init__(self, code: str):
        if code not in _DTYPES:
            raise UnsafePickle(f"an array of type {_short(code)} (only plain numbers are read)")
        self.code = code
        self.order = "<"

    def numpy(self) -> np.dtype:
        order = self.order if self.order in ("<", ">", "=", "|") else "="
        return np.dtype(order + self.code)


_MARK = object()
_END = object()


def _short(text: str, limit: int = 80) -> str:
    text = repr(text)
    return text if len(text) <= limit else text[:limit] + "…"


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("latin-1")
    if isinstance(value, str):
        return value
    raise UnsafePickle(f"a {type(value).__name__} where a string belongs")


def load(source: IO[bytes] | bytes, check: Callable[[], object] | None = None, *,
         max_bytes: int | None = None) -> Any:
    """The value a pickle (a stream or its bytes) holds, numpy arrays read as plain arrays;
    ``UnsafePickle`` when it asks for anything else, is malformed or is too large (see the
    module's docstring). ``check()`` is called now and then; what it raises goes through."""
    limit = MAX_INPUT_BYTES if max_bytes is None else max_bytes
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
    else:
        try:
            data = source.read(limit + 1)
        except _FAILURES as error:
            raise UnsafePickle(f"it cannot be read ({_reason(error)})") from None
    if len(data) > limit:
        raise UnsafePickle(f"it is larger than {limit} bytes, the most this reader takes")
    tick = _ticker(check)
    try:
        value = _walk(data, tick)
        return _finish(value, min(WEIGHT_PER_BYTE * len(data) + WEIGHT_BASE, MAX_WEIGHT), tick)
    except _Passed as passed:
        raise passed.error from None
    except UnsafePickle:
        raise
    except _FAILURES as error:
        raise UnsafePickle(f"it is malformed ({_reason(error)})") from None


def _reason(error: BaseException) -> str:
    text = f"{type(error).__name__}: {error}" if not isinstance(error, ValueError) else str(error)
    text = text or type(error).__name__
    return text if len(text) <= 200 else text[:200] + "…"


def _ticker(check: Callable[[], object] | None) -> Callable[[], None]:
    count = 0

    def tick() -> None:
        nonlocal count
        count += 1
        if check is not None and count % CHECK_EVERY == 0:
            try:
                check()
            except BaseException as error:  # noqa: BLE001 - the caller's, passed on unchanged
                raise _Passed(error) from None

    return tick


def _walk(data: bytes, tick: Callable[[], None]) -> Any:
    stack: list[Any] = []
    memo: dict[int, Any] = {}
    budget = min(len(data) // 2 + VALUE_BASE, MAX_VALUES)
    pushed = 0

    def spend() -> None:
        nonlocal pushed
        pushed += 1
        if pushed > budget:
            raise UnsafePickle(f"it holds more than {budget} values, more than a pickle of "
                               f"{len(data)} bytes of plain data can")

    def push(value: Any) -> None:
        spend()
        stack.append(value)

    def remember(key: int) -> None:  # a memo entry costs as much as a value
        spend()
        memo[key] = top()

    def pop_mark() -> list[Any]:
        for i in range(len(stack) - 1, -1, -1):
            if stack[i] is _MARK:
                items = stack[i + 1:]
                del stack[i:]
                return items
        raise UnsafePickle("a MARK is missing")

    def top() -> Any:
        value = stack[-1]
        if value is _MARK:
            raise UnsafePickle("it is malformed (a MARK where a value belongs)")
        return value

    for op, arg, _pos in pickletools.genops(io.BytesIO(data)):
        tick()
        name = op.name
        if name in ("PROTO", "FRAME"):
            pass
        elif name == "STOP":
            break
        elif name == "EMPTY_DICT":
            push({})
        elif name == "EMPTY_LIST":
            push([])
        elif name == "EMPTY_TUPLE":
            push(())
        elif name == "MARK":
            push(_MARK)
        elif name in ("TUPLE", "LIST", "DICT"):
            items = pop_mark()
            if name == "TUPLE":
                push(tuple(items))
            elif name == "LIST":
                push(list(items))
            else:
                push({_key(k): v for k, v in zip(items[::2], items[1::2])})
        elif name in ("TUPLE1", "TUPLE2", "TUPLE3"):
            n = int(name[-1])
            if len(stack) < n:
                raise UnsafePickle("it is malformed (a tuple of missing values)")
            items = stack[-n:]
            del stack[-n:]
            if any(v is _MARK for v in items):
                raise UnsafePickle("it is malformed (a MARK where a value belongs)")
            push(tuple(items))
        elif name in ("INT", "BININT", "BININT1", "BININT2", "LONG", "LONG1", "LONG4",
                      "FLOAT", "BINFLOAT", "UNICODE", "BINUNICODE", "SHORT_BINUNICODE",
                      "BINUNICODE8", "BINBYTES", "SHORT_BINBYTES", "BINBYTES8"):
            push(arg)
        elif name in ("STRING", "BINSTRING", "SHORT_BINSTRING"):
            # a Python 2 str: bytes, as pickle.load(..., encoding="bytes") gives
            push(arg.encode("latin-1") if isinstance(arg, str) else bytes(arg))
        elif name in ("NEWTRUE", "NEWFALSE", "NONE"):
            push({"NEWTRUE": True, "NEWFALSE": False, "NONE": None}[name])
        elif name in ("PUT", "BINPUT", "LONG_BINPUT"):
            remember(int(arg))
        elif name == "MEMOIZE":
            remember(len(memo))
        elif name in ("GET", "BINGET", "LONG_BINGET"):
            push(memo[int(arg)])  # the same value, shared: _finish counts every reference
        elif name == "POP":
            stack.pop()
        elif name == "POP_MARK":
            pop_mark()
        elif name == "DUP":
            push(top())
        elif name == "APPEND":
            value = stack.pop()
            if value is _MARK:
                raise UnsafePickle("it is malformed (a MARK where a value belongs)")
            _list(top()).append(value)
        elif name == "APPENDS":
            items = pop_mark()
            _list(top()).extend(items)
        elif name == "SETITEM":
            value = stack.pop()
            key = stack.pop()
            if value is _MARK:
                raise UnsafePickle("it is malformed (a MARK where a value belongs)")
            _dict(top())[_key(key)] = value
        elif name == "SETITEMS":
            items = pop_mark()
            target = _dict(top())
            for key, value in zip(items[::2], items[1::2]):
                target[_key(key)] = value
        elif name in ("GLOBAL", "STACK_GLOBAL"):
            if name == "GLOBAL":
                full = " ".join(str(arg).split(" ", 1))
            else:
                qual, module = stack.pop(), stack.pop()
                if not isinstance(qual, str) or not isinstance(module, str):
                    raise UnsafePickle("it asks for a global whose name is not a string")
                full = f"{module} {qual}"
            if full not in _ALLOWED:
                dotted = full.replace(" ", ".")
                raise UnsafePickle(f"it asks for {_short(dotted)}, which could run code")
            push(_Global(full))
        elif name == "REDUCE":
            args = stack.pop()
            func = stack.pop()
            push(_reduce(func, args))
        elif name == "BUILD":
            state = stack.pop()
            _build(top(), state)
        else:
            raise UnsafePickle(f"it uses the {name} instruction, which could run code")
    else:
        raise UnsafePickle("it is malformed (it ends without a STOP)")
    if len(stack) != 1:
        raise UnsafePickle("it is malformed (no single value at the end)")
    return stack[0]


def _list(value: Any) -> list:
    if not isinstance(value, list):
        raise UnsafePickle("it appends to something that is not a list")
    return value


def _dict(value: Any) -> dict:
    if not isinstance(value, dict):
        raise UnsafePickle("it sets an item of something that is not a dict")
    return value


def _key(key: Any) -> Any:
    if not isinstance(key, (str, bytes, int)):
        raise UnsafePickle(f"a dict key of type {type(key).__name__}")
    return key


def _reduce(func: Any, args: Any) -> Any:
    if not isinstance(func, _Global) or not isinstance(args, tuple):
        raise UnsafePickle("it calls something that is not a known numpy constructor")
    if func.name in _RECONSTRUCT:
        return _Array()
    if func.name == "numpy dtype":
        if not args:
            raise UnsafePickle("a dtype without a type code")
        return _Dtype(_text(args[0]))
    if func.name == "_codecs encode":  # how Python 3 writes bytes at protocol 2
        if len(args) != 2 or not isinstance(args[0], str) or _text(args[1]) != "latin1":
            raise UnsafePickle("an unexpected _codecs.encode call")
        return args[0].encode("latin-1")
    raise UnsafePickle(f"it calls {func.name.replace(' ', '.')}")


def _build(target: Any, state: Any) -> None:
    if isinstance(target, _Array) and isinstance(state, tuple) and len(state) == 5:
        _version, shape, dtype, fortran, data = state
        if not isinstance(dtype, _Dtype) or not isinstance(shape, tuple):
            raise UnsafePickle("an array with an unexpected type or shape")
        if not all(type(v) is int and 0 <= v < MAX_DIMENSION for v in shape) \
                or len(shape) > 32:
            raise UnsafePickle("an array whose shape is not a few sizes from 0 to "
                               f"{MAX_DIMENSION - 1}")
        if isinstance(data, str):
            data = data.encode("latin-1")
        if not isinstance(data, bytes) or len(data) > MAX_ARRAY_BYTES:
            raise UnsafePickle("an array whose data is not raw bytes")
        target.shape, target.dtype, target.fortran, target.data = shape, dtype, bool(
            fortran is True or fortran == 1), data
    elif isinstance(target, _Dtype) and isinstance(state, tuple) and len(state) >= 2:
        target.order = _text(state[1])
    else:
        raise UnsafePickle("it sets the state of an object (BUILD) the reader does not know")


def _leaf(value: Any) -> tuple[Any, int] | None:
    """(value as returned, its weight) for a value that holds no others; None for containers."""
    if value is None or isinstance(value, (bool, float)):
        return value, _REF
    if isinstance(value, int):
        return value, _REF + value.bit_length() // 8
    if isinstance(value, (str, bytes)):
        return value, _REF + len(value)
    if isinstance(value, (list, tuple, dict)):
        return None
    if isinstance(value, _Array):
        array = value.to_numpy()
        return array, _REF + array.nbytes
    if value is _MARK:
        raise UnsafePickle("it is malformed (a MARK left inside a value)")
    raise UnsafePickle("it holds a bare numpy object")


def _finish(root: Any, budget: int, tick: Callable[[], None]) -> Any:
    """``root`` with its arrays made numpy arrays: one pass over each distinct value (shared
    values stay shared), refused where the weight written out exceeds ``budget``, the nesting is
    deeper than ``MAX_DEPTH`` or a value contains itself. No recursion: any depth is safe."""
    done: dict[int, tuple[Any, int]] = {}  # id -> (value as returned, weight)
    leaf = _leaf(root)
    if leaf is not None:
        if leaf[1] > budget:
            raise _too_heavy(budget)
        return leaf[0]
    # a frame: [value, its children (iterator), the finished children, weight so far]
    frames: list[list[Any]] = [[root, _children(root), [], _own_weight(root)]]
    on_path = {id(root)}
    while True:
        tick()
        frame = frames[-1]
        child = next(frame[1], _END)
        if child is _END:
            value, _, parts, weight = frames.pop()
            on_path.discard(id(value))
            if isinstance(value, list):
                made: Any = parts
            elif isinstance(value, tuple):
                made = tuple(parts)
            else:
                made = dict(zip(value.keys(), parts))
            done[id(value)] = (made, weight)
            if not frames:
                return made
            result = (made, weight)
        else:
            result = done.get(id(child)) or _leaf(child)
            if result is None:
                if id(child) in on_path:
                    raise UnsafePickle("it holds a value that contains itself")
                if len(frames) >= MAX_DEPTH:
                    raise UnsafePickle(f"it is nested more than {MAX_DEPTH} levels deep")
                frames.append([child, _children(child), [], _own_weight(child)])
                on_path.add(id(child))
                continue
            if isinstance(child, _Array):
                done[id(child)] = result  # one numpy array per pickled array, shared
        parent = frames[-1]
        parent[2].append(result[0])
        parent[3] += result[1]
        if parent[3] > budget:
            raise _too_heavy(budget)


def _children(value: Any):
    return iter(value.values()) if isinstance(value, dict) else iter(value)


def _own_weight(value: Any) -> int:
    """A container's weight before its values: its reference, and a dict's keys."""
    if isinstance(value, dict):
        return _REF + sum(_leaf(key)[1] for key in value)
    return _REF


def _too_heavy(budget: int) -> UnsafePickle:
    return UnsafePickle(f"written out, it would be more than {budget} bytes: it refers to the "
                        f"same values over and over (a pickle bomb), or is not plain data")
