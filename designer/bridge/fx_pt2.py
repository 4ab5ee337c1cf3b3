"""A torch.export program (.pt2) read as data, never as code: the torch.fx graph that the
importer's torch reader (fx_reader.py) walks, rebuilt from the program's JSON.

Why not torch.export.load: it unpickles parts of the archive (opaque constants with
pickle.loads, custom objects with torch's own unpickler, the sample inputs with torch.load),
so opening a crafted file runs any code it carries; torch's documentation says not to load a
.pt2 from an untrusted source. Its graph deserializer is no safer (operator names resolve to any
attribute of torch, size expressions go through sympy's parser). The importer needs none of
that: only the program's graph, which the archive (a zip) keeps as JSON, `models/<name>.json`
(`serialized_exported_program.json` in the older layout). So this module

- reads that one member of the zip and nothing else (the weights, the constants, the sample
  inputs, every pickle in the archive stay unread here; the weights, where asked, are read as
  raw bytes by pt2_weights.py, never unpickled), within limits: the zip's directory
  (MAX_ENTRIES entries, MAX_DIRECTORY_BYTES), the JSON (MAX_GRAPH_BYTES), the graph
  (MAX_NODES nodes, MAX_RANK dimensions a tensor);
- refuses a program whose graph needs what only unpickling makes (a custom object as input);
- builds a torch.fx Graph by hand: the one image input a placeholder, every weight, buffer and
  constant an empty tensor of its stated size on the `meta` device (no memory, no data), each
  node an ATen operator looked up by name among the few the designer's layers come from
  (_ATEN_OPS; an operator object, never an arbitrary attribute of torch), any other operation
  a stand-in that only gives a meta tensor of the size the file states (so the walk goes on
  and lists it as an operation with no layer). Nothing is compiled or generated as code: the
  graph is held by a plain module and run node by node by torch.fx's interpreter (ShapeProp)
  on the meta device.

read_pt2 gives the module, the input's (C, H, W) and the batch to run it with (the program's
own where it is fixed, else 1); torch_sources.import_pt2 hands them to the fx reader. The module
names, for each stand-in weight, the tensor of the program it stands for (`sources`) and where
the program's JSON is (`member`): what pt2_weights.py reads the weights by, where asked.

TORCH (imported where first used), no Qt.
"""

from __future__ import annotations

import json
import math
import operator
import re
import zipfile
from pathlib import Path
from typing import Any

from .import_graph import ModelImportError, _check_input_size, _first_line

__all__ = ["MAX_DIRECTORY_BYTES", "MAX_ENTRIES", "MAX_GRAPH_BYTES", "MAX_NODES", "read_pt2"]

MAX_ENTRIES = 100_000  # files in the zip
MAX_DIRECTORY_BYTES = 64 << 20  # the zip's central directory
MAX_GRAPH_BYTES = 32 << 20  # the program's JSON (ResNet-152's is 1.3 MB)
MAX_NODES = 100_000  # operations in the graph
MAX_RANK = 16  # dimensions of one tensor
_MAX_NAME = 200  # characters of a node name kept

# The ATen operators (by packet name, any overload) that are run on meta tensors: those the
# designer's layers come from, the ones a LocalResponseNorm is decomposed into, and the size
# and view operations around them. None of them makes a tensor from nothing (no factories).
_ATEN_OPS = frozenset((
    "conv2d", "convolution", "linear", "relu", "relu_", "leaky_relu", "leaky_relu_", "elu",
    "elu_", "gelu", "gelu_", "sigmoid", "sigmoid_", "tanh", "tanh_", "max_pool2d",
    "max_pool2d_with_indices", "avg_pool2d", "adaptive_avg_pool2d", "_adaptive_avg_pool2d",
    "mean", "batch_norm", "_native_batch_norm_legit_no_training", "dropout", "dropout_",
    "feature_dropout", "feature_dropout_", "flatten", "view", "reshape", "_unsafe_view",
    "contiguous", "clone", "detach", "detach_", "alias", "lift_fresh_copy", "add", "add_",
    "cat", "concat", "concatenate", "mul", "mul_", "div", "div_", "pow", "pad",
    "constant_pad_nd", "avg_pool3d", "squeeze", "unsqueeze", "sym_size",
))
_TARGET = re.compile(r"torch\.ops\.aten\.([A-Za-z_][A-Za-z0-9_]*)\.([A-Za-z_][A-Za-z0-9_]*)")

# torch/_export/serde/schema.py's ScalarType codes -> torch dtype names; floating and complex
# types are read as float32 (a shape does not depend on them, and mixed precisions would only
# stop the run on the meta device)
_INT_DTYPES = {1: "uint8", 2: "int8", 3: "int16", 4: "int32", 5: "int64", 12: "bool"}
_MEMORY_FORMATS = {1: "contiguous_format", 2: "channels_last", 3: "channels_last_3d",
                   4: "preserve_format"}


class _Bad(Exception):
    """The JSON is not the program the schema describes (the message says where)."""


def read_pt2(path: Path) -> tuple[Any, tuple[int, int, int], int]:
    """(a module holding the program's graph and meta-device stand-ins of its weights, the
    input's C, H, W, the batch size to run it with) for a .pt2 archive, read without unpickling
    anything. ModelImportError where the file is not one, is past a limit or needs what only
    unpickling makes."""
    doc, member = _graph_json(path)
    try:
        holder, shape, batch = _ProgramReader(doc, str(path)).read()
        holder.member = member  # where the program is in the zip (pt2_weights.py)
        return holder, shape, batch
    except _Bad as e:
        raise ModelImportError(f"{path}: its torch.export graph ({member}) cannot be read: "
                               f"{e}") from None


def _graph_json(path: Path) -> tuple[Any, str]:
    """The program's JSON from the zip, within the limits; nothing else is read."""
    try:
        is_zip = zipfile.is_zipfile(path)
    except OSError as e:
        raise ModelImportError(f"{path}: cannot be read ({e.strerror or e})") from None
    if not is_zip:
        raise ModelImportError(f"{path}: not a torch.export (.pt2) archive (not a zip file)")
    _check_directory(path)
    try:
        with zipfile.ZipFile(path) as z:
            info = _program_member(path, z.infolist())
            if info.file_size > MAX_GRAPH_BYTES:
                raise ModelImportError(
                    f"{path}: its graph ({info.filename}) is {info.file_size:,} bytes; more "
                    f"than {MAX_GRAPH_BYTES:,} is refused")
            with z.open(info) as f:
                raw = f.read(MAX_GRAPH_BYTES + 1)
    except ModelImportError:
        raise
    except Exception as e:  # noqa: BLE001 - BadZipFile, zlib.error, encryption, ...
        raise ModelImportError(f"{path}: the archive cannot be read ({type(e).__name__}: "
                               f"{_first_line(e)})") from None
    if len(raw) > MAX_GRAPH_BYTES:
        raise ModelImportError(f"{path}: its graph ({info.filename}) is more than "
                               f"{MAX_GRAPH_BYTES:,} bytes, which is refused")
    try:
        doc = json.loads(raw)
    except (ValueError, RecursionError) as e:  # UnicodeDecodeError is a ValueError
        raise ModelImportError(f"{path}: its graph ({info.filename}) is not JSON "
                               f"({type(e).__name__}: {_first_line(e)})") from None
    return doc, info.filename


def _check_directory(path: Path) -> None:
    """Refuse a zip whose directory is past the limits before zipfile reads it all."""
    end_record = getattr(zipfile, "_EndRecData", None)  # private, but in every Python 3
    if end_record is None:
        return
    try:
        with open(path, "rb") as f:
            end = end_record(f)
    except Exception:  # noqa: BLE001 - then zipfile itself says what is wrong
        return
    if not end:
        return
    entries = end[getattr(zipfile, "_ECD_ENTRIES_TOTAL", 4)]
    size = end[getattr(zipfile, "_ECD_SIZE", 5)]
    if isinstance(entries, int) and entries > MAX_ENTRIES:
        raise ModelImportError(f"{path}: the archive lists {entries:,} files; more than "
                               f"{MAX_ENTRIES:,} is refused")
    if isinstance(size, int) and size > MAX_DIRECTORY_BYTES:
        raise ModelImportError(f"{path}: the archive's directory is {size:,} bytes; more than "
                               f"{MAX_DIRECTORY_BYTES:,} is refused")


def _program_member(path: Path, infos: list) -> Any:
    """The zip member holding the program's JSON: <archive>/models/<name>.json (torch 2.7 on),
    or serialized_exported_program.json (the older layout)."""
    models: dict[str, Any] = {}
    for info in infos:
        parts = info.filename.split("/")
        if len(parts) in (2, 3) and parts[-2] == "models" and parts[-1].endswith(".json") \
                and not info.is_dir():
            models.setdefault(parts[-1][:-5], info)
        elif len(parts) <= 2 and parts[-1] == "serialized_exported_program.json":
            models.setdefault("", info)
    if not models:
        raise ModelImportError(
            f"{path}: no torch.export graph in it (models/<name>.json); a .pt2 is imported from "
            "that JSON only, and nothing pickled in an archive is ever opened")
    if len(models) > 1:
        if "model" in models:
            return models["model"]
        raise ModelImportError(f"{path}: the archive holds {len(models)} programs "
                               f"({', '.join(sorted(models))}); import one at a time")
    return next(iter(models.values()))


# ---------------------------------------------------------------------------------------------
# The JSON, field by field


def _field(obj: Any, key: str, kind: type | tuple, where: str) -> Any:
    if not isinstance(obj, dict):
        raise _Bad(f"{where} is a {type(obj).__name__}, not an object")
    if key not in obj:
        raise _Bad(f"{where} has no {key!r}")
    value = obj[key]
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is int):
        raise _Bad(f"{where}.{key} is a {type(value).__name__}")
    return value


def _union(obj: Any, where: str) -> tuple[str, Any]:
    """A schema union ({"as_tensor": {...}}): its one (kind, value)."""
    if not isinstance(obj, dict) or len(obj) != 1:
        raise _Bad(f"{where} is not one value of a kind ({_short(obj)})")
    return next(iter(obj.items()))


def _int(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _Bad(f"{where} is {_short(value)}, not a whole number")
    return value


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _module_stack(text: Any) -> dict | None:
    """torch's nn_module_stack metadata ('key,path,class;...') as {key: (path, class)};
    None where it is not that."""
    if not isinstance(text, str):
        return None
    out = {}
    for entry in text.split(";"):
        parts, start, depth = [], 0, 0
        for i, c in enumerate(entry):
            if c in "[(":
                depth += 1
            elif c in ")]":
                depth -= 1
            elif c == "," and depth == 0:
                parts.append(entry[start:i])
                start = i + 1
        parts.append(entry[start:])
        if len(parts) != 3:
            return None
        out[parts[0]] = (parts[1], parts[2])
    return out


class _Unread:
    """An operation the importer does not run (not among _ATEN_OPS, or with an argument it
    does not read): called, it gives meta tensors of the sizes the file states for its
    results, so the walk goes on and lists it (fx_steps._describe names it `module.name`)."""

    def __init__(self, module: str, name: str, shapes: list):
        self.__module__ = module
        self.__name__ = self.__qualname__ = name
        self.shapes = shapes  # per result: a size, or None (no tensor)

    def __call__(self, *args, **kwargs):
        import torch

        outs = [None if s is None else torch.empty(s, device="meta") for s in self.shapes]
        return outs[0] if len(outs) == 1 else tuple(outs)


class _Unreadable:
    """An argument of a kind the importer does not read (a subgraph, a custom object, ...)."""

    def __init__(self, kind: str):
        self.kind = kind


class _ProgramReader:
    def __init__(self, doc: Any, source: str):
        self.doc = doc
        self.source = source
        self.values: dict[str, Any] = {}  # a value's name in the JSON -> fx node or constant
        self.tensor_values: dict = {}

    def read(self) -> tuple[Any, tuple[int, int, int], int]:
        import torch
        from torch import fx

        gm = _field(self.doc, "graph_module", dict, "the program")
        g = _field(gm, "graph", dict, "graph_module")
        sig = _field(gm, "signature", dict, "graph_module")
        nodes = _field(g, "nodes", list, "graph")
        if len(nodes) > MAX_NODES:
            raise _Bad(f"{len(nodes):,} operations; more than {MAX_NODES:,} is refused")
        self.tensor_values = g.get("tensor_values", {})
        if not isinstance(self.tensor_values, dict):
            raise _Bad("graph.tensor_values is not an object")
        inputs = _field(g, "inputs", list, "graph")
        specs = _field(sig, "input_specs", list, "signature")
        if len(inputs) != len(specs):
            raise _Bad(f"the graph has {len(inputs)} inputs but the signature describes "
                       f"{len(specs)}")
        holder = _GraphHolder()
        holder.sources = {}  # a stand-in's attribute -> the tensor's name in the program
        graph = fx.Graph()
        user = []
        for k, spec in enumerate(specs):
            kind, body = _union(spec, f"signature.input_specs[{k}]")
            if kind == "user_input":
                user.append(_field(body, "arg", dict, f"input {k}"))
        if len(user) != 1:
            raise ModelImportError(f"{self.source}: the program takes {len(user)} inputs; a "
                                   "design takes one image batch")
        kind, value = _union(user[0], "the user input")
        if kind != "as_tensor":
            raise ModelImportError(f"{self.source}: the program's input is not a tensor "
                                   f"({kind}); a design takes one image batch")
        dims = self._sizes(_field(value, "name", str, "the user input"), fixed=False)
        if len(dims) != 4:
            raise ModelImportError(f"{self.source}: the program's input has "
                                   f"{len(dims)} dimensions, not N×C×H×W")
        if None in dims[1:]:
            raise ModelImportError(f"{self.source}: the program's input size "
                                   f"{['?' if d is None else d for d in dims]} is not fixed")
        shape = (dims[1], dims[2], dims[3])
        _check_input_size(shape, self.source)
        for k, spec in enumerate(specs):
            kind, body = _union(spec, f"signature.input_specs[{k}]")
            if kind == "user_input":
                self.values[value["name"]] = graph.placeholder("x")
            elif kind in ("parameter", "buffer", "tensor_constant"):
                name = _field(_field(body, "arg", dict, f"input {k}"), "name", str,
                              f"input {k}.arg")
                sizes = self._sizes(name, fixed=True)
                attr = f"w{len(holder._parameters)}"
                holder.register_parameter(attr, torch.nn.Parameter(
                    self._meta_tensor(sizes, name), requires_grad=False))
                self.values[name] = graph.get_attr(attr)
                fqn = body.get(f"{'tensor_constant' if kind[0] == 't' else kind}_name")
                if isinstance(fqn, str):  # its name in the state_dict (for pt2_weights.py)
                    holder.sources[attr] = fqn
            elif kind == "constant_input":
                name = _field(body, "name", str, f"input {k}")
                ck, cv = _union(_field(body, "value", dict, f"input {k}"), f"input {k}.value")
                if ck not in ("as_none", "as_int", "as_float", "as_string", "as_bool"):
                    raise _Bad(f"input {k} is a constant of kind {ck!r}")
                self.values[name] = None if ck == "as_none" else cv
            elif kind == "token":
                name = _field(_field(body, "arg", dict, f"input {k}"), "name", str,
                              f"input {k}.arg")
                self.values[name] = None
            elif kind == "custom_obj":
                raise ModelImportError(
                    f"{self.source}: the program uses a custom object as input "
                    f"({_short(body.get('custom_obj_name') if isinstance(body, dict) else '')})"
                    ", which only unpickling could make, and the importer never unpickles "
                    "anything; import the Python code of the model or an ONNX export of it")
            else:
                raise _Bad(f"input {k} is of a kind the importer does not read ({kind!r})")
        if not holder._parameters:  # the input goes where the first weight is: the meta device
            holder.register_parameter("anchor", torch.nn.Parameter(
                torch.empty(0, device="meta"), requires_grad=False))
        for k, node in enumerate(nodes):
            self._node(graph, node, k)
        outs = []
        for k, spec in enumerate(_field(sig, "output_specs", list, "signature")):
            kind, body = _union(spec, f"signature.output_specs[{k}]")
            if kind == "user_output":
                outs.append(self._arg(_field(body, "arg", dict, f"output {k}"), f"output {k}"))
        graph.output(outs[0] if len(outs) == 1 else tuple(outs))
        holder.graph = graph
        batch = dims[0] if dims[0] is not None and 1 <= dims[0] <= 4096 else 1
        return holder, shape, batch

    def _sizes(self, name: str, fixed: bool) -> list:
        meta = self.tensor_values.get(name)
        if meta is None:
            raise _Bad(f"tensor {_short(name)} has no size")
        sizes = _field(meta, "sizes", list, f"tensor {_short(name)}")
        if len(sizes) > MAX_RANK:
            raise _Bad(f"tensor {_short(name)} has {len(sizes)} dimensions; more than "
                       f"{MAX_RANK} is refused")
        out: list = []
        for i, s in enumerate(sizes):
            kind, v = _union(s, f"tensor {_short(name)} size {i}")
            if kind == "as_int":
                v = _int(v, f"tensor {_short(name)} size {i}")
                if v < 0:
                    raise _Bad(f"tensor {_short(name)} has a size {v} < 0")
                out.append(v)
            elif kind == "as_expr" and not fixed:
                out.append(None)
            else:
                raise _Bad(f"tensor {_short(name)} has a size that is not fixed ({kind})")
        return out

    def _meta_tensor(self, sizes: list, name: str):
        import torch

        if math.prod(sizes) >= 1 << 62:
            raise _Bad(f"tensor {_short(name)} of size {sizes} is too large")
        return torch.empty(sizes, device="meta")

    def _result_shape(self, arg: Any) -> list | None:
        """The size the file states for a tensor result (a free size counted as 1); None for
        other results."""
        if isinstance(arg, dict) and len(arg) == 1 and "as_tensor" in arg:
            name = arg["as_tensor"].get("name") if isinstance(arg["as_tensor"], dict) else None
            meta = self.tensor_values.get(name) if isinstance(name, str) else None
            sizes = meta.get("sizes") if isinstance(meta, dict) else None
            if isinstance(sizes, list) and len(sizes) <= MAX_RANK:
                out = []
                for s in sizes:
                    v = s.get("as_int") if isinstance(s, dict) else None
                    out.append(v if isinstance(v, int) and not isinstance(v, bool)
                               and 0 <= v < 1 << 31 else 1)
                return out
            return [1]
        return None

    def _node(self, graph, node: Any, k: int) -> None:
        import torch

        where = f"operation {k}"
        target = _field(node, "target", str, where)
        where = f"operation {k} ({_short(target)})"
        named = _field(node, "inputs", list, where)
        results = _field(node, "outputs", list, where)
        metadata = node.get("metadata") or {}
        name = node.get("name")
        if not isinstance(name, str) or not name:
            name = f"op{k}"
        args: list = []
        kwargs: dict = {}
        readable = True
        for i, named_arg in enumerate(named):
            arg_name = _field(named_arg, "name", str, f"{where} input {i}")
            value = self._arg(_field(named_arg, "arg", dict, f"{where} input {i}"),
                              f"{where} input {arg_name!r}")
            readable = readable and not _has_unreadable(value)
            if named_arg.get("kind") == 2:
                kwargs[arg_name] = value
            else:
                args.append(value)
        op: Any = None
        match = _TARGET.fullmatch(target)
        if target == "_operator.getitem":
            op = operator.getitem
        elif match and match[1] in _ATEN_OPS:
            try:
                op = getattr(getattr(torch.ops.aten, match[1]), match[2])
            except Exception:  # noqa: BLE001 - no such overload
                op = None
            if not isinstance(op, torch._ops.OpOverload):
                op = None
        shapes = [self._result_shape(r) for r in results]
        if op is None or not readable:
            if match:
                module, short = "aten", match[1]
            else:
                module, _, short = target.rpartition(".")
                module = module or "operation"
            op = _Unread(module, short[:_MAX_NAME], shapes)
            args = [None if _has_unreadable(a) else a for a in args]
            kwargs = {key: None if _has_unreadable(v) else v for key, v in kwargs.items()}
        fx_node = graph.create_node("call_function", op, tuple(args), kwargs,
                                    name=_fx_name(name))
        stack = _module_stack(metadata.get("nn_module_stack")
                              if isinstance(metadata, dict) else None)
        if stack:
            fx_node.meta["nn_module_stack"] = stack
        tensors = [r for r in results if not (isinstance(r, dict) and "as_none" in r)]
        if len(results) == 1 and len(tensors) == 1:
            self._result(results[0], fx_node, f"{where} result")
            return
        for i, r in enumerate(results):
            if isinstance(r, dict) and "as_none" in r:
                continue
            item = graph.create_node("call_function", operator.getitem, (fx_node, i), {},
                                     name=_fx_name(f"{name}_{i}"))
            self._result(r, item, f"{where} result {i}")

    def _result(self, arg: Any, fx_node, where: str) -> None:
        kind, value = _union(arg, where)
        if kind == "as_tensor":
            self.values[_field(value, "name", str, where)] = fx_node
        elif kind in ("as_sym_int", "as_sym_float", "as_sym_bool"):
            k2, v2 = _union(value, where)
            if k2 == "as_name":
                self.values[_field(value, "as_name", str, where)] = fx_node
        elif kind == "as_tensors":
            if not isinstance(value, list):
                raise _Bad(f"{where} is not a list")
            for i, t in enumerate(value):
                self.values[_field(t, "name", str, f"{where} {i}")] = \
                    fx_node.graph.create_node("call_function", operator.getitem, (fx_node, i),
                                              {}, name=_fx_name(f"{fx_node.name}_{i}"))

    def _arg(self, arg: Any, where: str) -> Any:
        """One argument of an operation as the Python value torch takes."""
        import torch

        kind, v = _union(arg, where)
        if kind == "as_none":
            return None
        if kind in ("as_tensor", "as_optional_tensor"):
            if kind == "as_optional_tensor":
                k2, v2 = _union(v, where)
                if k2 == "as_none":
                    return None
                v = v2
            return self._value(_field(v, "name", str, where), where)
        if kind in ("as_tensors", "as_optional_tensors"):
            if not isinstance(v, list):
                raise _Bad(f"{where} is not a list")
            if kind == "as_tensors":
                return [self._value(_field(t, "name", str, where), where) for t in v]
            return [self._arg(t, where) for t in v]
        if kind == "as_int":
            return _int(v, where)
        if kind == "as_float":
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                raise _Bad(f"{where} is {_short(v)}, not a number")
            return float(v)
        if kind == "as_bool":
            if not isinstance(v, bool):
                raise _Bad(f"{where} is {_short(v)}, not true or false")
            return v
        if kind == "as_string":
            if not isinstance(v, str):
                raise _Bad(f"{where} is {_short(v)}, not a string")
            return v
        if kind in ("as_ints", "as_floats", "as_bools", "as_strings", "as_sym_ints",
                    "as_sym_floats", "as_sym_bools", "as_int_lists", "as_float_lists"):
            if not isinstance(v, list):
                raise _Bad(f"{where} is {_short(v)}, not a list")
            item = {"as_ints": "as_int", "as_floats": "as_float", "as_bools": "as_bool",
                    "as_strings": "as_string", "as_int_lists": "as_ints",
                    "as_float_lists": "as_floats"}.get(kind)
            if item is not None:
                return [self._arg({item: x}, where) for x in v]
            return [self._sym(x, where) for x in v]
        if kind in ("as_sym_int", "as_sym_float", "as_sym_bool"):
            return self._sym(v, where)
        if kind == "as_scalar_type":
            return getattr(torch, _INT_DTYPES.get(_int(v, where), "float32"))
        if kind == "as_memory_format":
            return getattr(torch, _MEMORY_FORMATS.get(_int(v, where), "contiguous_format"))
        if kind == "as_layout":
            return torch.strided
        if kind == "as_device":
            return torch.device("meta")  # a file never chooses where a tensor is made
        return _Unreadable(kind)

    def _sym(self, v: Any, where: str) -> Any:
        kind, x = _union(v, where)
        if kind == "as_name":
            if not isinstance(x, str):
                raise _Bad(f"{where} names {_short(x)}")
            return self._value(x, where)
        if kind == "as_int":
            return _int(x, where)
        if kind in ("as_float", "as_bool") and isinstance(x, (int, float, bool)):
            return x
        raise _Bad(f"{where}: {_short(v)} is not a size")

    def _value(self, name: str, where: str) -> Any:
        if name not in self.values:
            raise _Bad(f"{where} uses {_short(name)} before any operation makes it")
        return self.values[name]


def _has_unreadable(value: Any) -> bool:
    if isinstance(value, _Unreadable):
        return True
    return isinstance(value, list) and any(_has_unreadable(v) for v in value)


def _fx_name(name: str) -> str:
    """A node name torch.fx takes (it makes it unique)."""
    text = re.sub(r"\W", "_", name[:_MAX_NAME]) or "op"
    return ("_" + text) if text[0].isdigit() else text


def _graph_holder_class():
    import torch

    class GraphHolder(torch.nn.Module):
        """The rebuilt graph (`graph`) and the meta-device weights its get_attr nodes read:
        what torch.fx's interpreter runs, without a GraphModule's generated code."""

        graph: Any
        sources: dict  # a stand-in weight's attribute -> its name in the program's state_dict
        member: str  # the program's JSON in the archive

    return GraphHolder


def _GraphHolder():  # noqa: N802 - the class is made when first used: torch is imported then
    return _graph_holder_class()()
