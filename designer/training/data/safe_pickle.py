"""Read the data in a pickle without unpickling it.

The CIFAR "python version" batches are pickles: dicts of byte strings, lists of ints and one numpy
array. ``pickle.load`` would run whatever a crafted file asks for, so this reader walks the opcodes
with ``pickletools.genops`` and builds only plain values (dicts, lists, tuples, str, bytes, int,
float, bool, None). The only globals it accepts are the few that numpy and Python 2 use to write
an array or a byte string, and it never imports or calls them: it recognises the pattern and
copies the raw bytes into ``numpy.frombuffer``. Anything else is refused with ``UnsafePickle``.
"""

from __future__ import annotations

import pickletools
from typing import IO, Any

import numpy as np

_RECONSTRUCT = {"numpy.core.multiarray _reconstruct", "numpy._core.multiarray _reconstruct"}
_ALLOWED = _RECONSTRUCT | {"numpy ndarray", "numpy dtype", "_codecs encode"}
_DTYPES = {"u1", "i1", "b1", "u2", "i2", "u4", "i4", "u8", "i8", "f4", "f8"}
_MAX_ARRAY_BYTES = 1 << 31


class UnsafePickle(ValueError):
    """The pickle holds something other than plain data (or is malformed)."""


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
        count = int(np.prod(self.shape, dtype=np.int64))
        if count * dtype.itemsize != len(self.data):
            raise UnsafePickle(f"an array of shape {self.shape} with {len(self.data)} bytes")
        array = np.frombuffer(self.data, dtype=dtype, count=count)
        return array.reshape(self.shape, order="F" if self.fortran else "C")


class _Dtype:
    def __init__(self, code: str):
        if code not in _DTYPES:
            raise UnsafePickle(f"an array of type {code!r} (only plain numbers are read)")
        self.code = code
        self.order = "<"

    def numpy(self) -> np.dtype:
        order = self.order if self.order in ("<", ">", "=", "|") else "="
        return np.dtype(order + self.code)


_MARK = object()


def _text(value: Any) -> str:
    return value.decode("latin-1") if isinstance(value, bytes) else str(value)


def load(stream: IO[bytes]) -> Any:
    """The value a pickle stream holds, numpy arrays read as plain arrays; ``UnsafePickle`` when
    the stream asks for anything else."""
    stack: list[Any] = []
    memo: dict[int, Any] = {}

    def pop_mark() -> list[Any]:
        for i in range(len(stack) - 1, -1, -1):
            if stack[i] is _MARK:
                items = stack[i + 1:]
                del stack[i:]
                return items
        raise UnsafePickle("a MARK is missing")

    try:
        for op, arg, _pos in pickletools.genops(stream):
            name = op.name
            if name in ("PROTO", "FRAME", "STOP"):
                if name == "STOP":
                    break
            elif name in ("EMPTY_DICT",):
                stack.append({})
            elif name in ("EMPTY_LIST",):
                stack.append([])
            elif name == "EMPTY_TUPLE":
                stack.append(())
            elif name == "MARK":
                stack.append(_MARK)
            elif name in ("TUPLE", "LIST", "DICT"):
                items = pop_mark()
                if name == "TUPLE":
                    stack.append(tuple(items))
                elif name == "LIST":
                    stack.append(list(items))
                else:
                    stack.append(dict(zip(items[::2], items[1::2])))
            elif name in ("TUPLE1", "TUPLE2", "TUPLE3"):
                n = int(name[-1])
                items = stack[-n:]
                del stack[-n:]
                stack.append(tuple(items))
            elif name in ("INT", "BININT", "BININT1", "BININT2", "LONG", "LONG1", "LONG4",
                          "FLOAT", "BINFLOAT", "UNICODE", "BINUNICODE", "SHORT_BINUNICODE",
                          "BINUNICODE8", "BINBYTES", "SHORT_BINBYTES", "BINBYTES8"):
                stack.append(arg)
            elif name in ("STRING", "BINSTRING", "SHORT_BINSTRING"):
                # a Python 2 str: bytes, as pickle.load(..., encoding="bytes") gives
                stack.append(arg.encode("latin-1") if isinstance(arg, str) else bytes(arg))
            elif name in ("NEWTRUE", "NEWFALSE", "NONE"):
                stack.append({"NEWTRUE": True, "NEWFALSE": False, "NONE": None}[name])
            elif name in ("PUT", "BINPUT", "LONG_BINPUT"):
                memo[int(arg)] = stack[-1]
            elif name == "MEMOIZE":
                memo[len(memo)] = stack[-1]
            elif name in ("GET", "BINGET", "LONG_BINGET"):
                stack.append(memo[int(arg)])
            elif name == "POP":
                stack.pop()
            elif name == "DUP":
                stack.append(stack[-1])
            elif name == "APPEND":
                value = stack.pop()
                _list(stack[-1]).append(value)
            elif name == "APPENDS":
                items = pop_mark()
                _list(stack[-1]).extend(items)
            elif name == "SETITEM":
                value = stack.pop()
                key = stack.pop()
                _dict(stack[-1])[_key(key)] = value
            elif name == "SETITEMS":
                items = pop_mark()
                target = _dict(stack[-1])
                for key, value in zip(items[::2], items[1::2]):
                    target[_key(key)] = value
            elif name in ("GLOBAL", "STACK_GLOBAL"):
                if name == "GLOBAL":
                    full = " ".join(str(arg).split(" ", 1))
                else:
                    qual, module = stack.pop(), stack.pop()
                    full = f"{module} {qual}"
                if full not in _ALLOWED:
                    dotted = full.replace(" ", ".")
                    raise UnsafePickle(f"it asks for {dotted}, which could run code")
                stack.append(_Global(full))
            elif name == "REDUCE":
                args = stack.pop()
                func = stack.pop()
                stack.append(_reduce(func, args))
            elif name == "BUILD":
                state = stack.pop()
                _build(stack[-1], state)
            else:
                raise UnsafePickle(f"it uses the {name} instruction, which could run code")
    except UnsafePickle:
        raise
    except (ValueError, IndexError, KeyError, TypeError, EOFError) as error:
        raise UnsafePickle(f"it is malformed ({error})") from None
    if len(stack) != 1:
        raise UnsafePickle("it is malformed (no single value at the end)")
    return _finish(stack[0])


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
        if not all(isinstance(v, int) and 0 <= v for v in shape):
            raise UnsafePickle(f"an array with shape {shape!r}")
        if isinstance(data, str):
            data = data.encode("latin-1")
        if not isinstance(data, bytes) or len(data) > _MAX_ARRAY_BYTES:
            raise UnsafePickle("an array whose data is not raw bytes")
        target.shape, target.dtype, target.fortran, target.data = shape, dtype, bool(fortran), data
    elif isinstance(target, _Dtype) and isinstance(state, tuple) and len(state) >= 2:
        target.order = _text(state[1])
    else:
        raise UnsafePickle("it sets the state of an object (BUILD) the reader does not know")


def _finish(value: Any) -> Any:
    if isinstance(value, _Array):
        return value.to_numpy()
    if isinstance(value, (_Global, _Dtype)):
        raise UnsafePickle("it holds a bare numpy object")
    if isinstance(value, dict):
        return {k: _finish(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finish(v) for v in value]
    if isinstance(value, tuple):
        return tuple(_finish(v) for v in value)
    return value
