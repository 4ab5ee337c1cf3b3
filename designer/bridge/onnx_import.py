"""Import an ONNX file as an editable design: the ONNX front end of designer.bridge.importer.

The graph is parsed as a protobuf (no code runs), each node mapped to a layer of the catalogue
through the parameter helpers the torch front end uses too, and the network built, checked
against ONNX's shape inference and laid out by the importer's common back end. Needs the onnx
package (the optional extra `onnx`).

A file is data from anywhere, so before anything else is worked out (_check_model):
- a file over MAX_BYTES is refused before it is parsed, and a graph over MAX_NODES nodes
  (subgraphs and functions counted) after;
- no external data is ever read: a tensor whose data lies in another file (an initializer, a
  Constant's value, in a subgraph or a function) is refused, naming the tensor and the file
  (an import reads the one file it is given, and its weights only from it);
- a tensor declaring more than MAX_ELEMENTS elements, a negative size or more than MAX_RANK
  dimensions, and a value declaring a size past MAX_DIM, are refused;
- the input must fit a design's Input (channels, height and width within its limits).
Every other fault of a malformed file (a missing input, an attribute of the wrong type, a
tensor that cannot be read, ...) is a ModelImportError naming the node and its operation;
nothing else escapes. The weights of large initializers are dropped from the parsed model
(their sizes kept) so shape inference works on a small copy; where the weights are asked for
(read_onnx), the initializers the layers read are taken as arrays before that
(onnx_weights.py), and a fault of theirs is a reason in the note, never an error.

The structure needs no torch, only onnx (and numpy, which onnx brings); the weights (a
state_dict) need torch. No Qt.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..model.design_file import Design
from .import_build import _build_made, _design, _stem
from .import_graph import (
    ModelImportError,
    _check_input_size,
    _first_line,
    _Graph,
    _NoLayer,
    _Op,
    parse_input_shape,
)
from .import_layers import _adaptive, _avg_pool, _bn, _conv, _lrn, _max_pool
from .import_weights import _collect
from .onnx_weights import _onnx_fetch, _onnx_params, _weight_arrays

__all__ = ["MAX_BYTES", "MAX_DIM", "MAX_ELEMENTS", "MAX_NODES", "import_onnx", "read_onnx"]

MAX_BYTES = 1 << 30  # the file (VGG-19 with its weights: 550 MB)
MAX_NODES = 100_000  # nodes, subgraphs and functions counted
MAX_ELEMENTS = 1 << 31  # elements one tensor declares
MAX_RANK = 16  # dimensions of a tensor or value
MAX_DIM = 1 << 31  # one declared dimension of a value (graph input, output, value_info)
_SMALL = 4096  # tensors this small are read as values (a Reshape's target, a Dropout ratio)

def import_onnx(path: str | os.PathLike[str], input_shape: Sequence[int] | str | None = None,
                name: str | None = None) -> Design:
    """A design with the structure of an ONNX graph (Dropout nodes, where the exporter kept
    them, become Dropout layers; Identity and Constant are no layers). Never reads another
    file (external data is refused); any fault of the file is a ModelImportError."""
    return read_onnx(path, input_shape, name, weights=False)[0]


def read_onnx(path: str | os.PathLike[str], input_shape: Sequence[int] | str | None = None,
              name: str | None = None, weights: bool = True) -> tuple[Design, dict | None, str]:
    """(import_onnx's design, the file's weights as the state_dict of the design's module or
    None, a note saying what came in or why nothing did): the initializers of Conv (W, B),
    Gemm (B, transposed where transB is 0; C) and MatMul (B, transposed), BatchNormalization
    (scale, B, mean, var), read with numpy_helper.to_array (onnx_weights.py). A fault of the
    weights alone is a reason in the note, never an error: the structure still comes in."""
    try:
        import onnx
        from onnx import numpy_helper
    except ImportError:
        from .onnx import INSTALL_HINT

        raise ModelImportError(f"importing ONNX needs the onnx package, which is not "
                               f"installed: {INSTALL_HINT}") from None
    path = Path(path)
    if not path.is_file():
        raise ModelImportError(f"{path}: no such file")
    try:
        size = path.stat().st_size
    except OSError as e:
        raise ModelImportError(f"{path}: cannot be read ({e.strerror or e})") from None
    if size > MAX_BYTES:
        raise ModelImportError(f"{path}: {size:,} bytes; ONNX files over {MAX_BYTES:,} bytes "
                               "(1 GiB) are refused")
    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as e:  # noqa: BLE001 - protobuf's DecodeError and friends
        raise ModelImportError(f"{path}: not an ONNX model ({type(e).__name__}: "
                               f"{_first_line(e)})") from None
    if not model.graph.node:
        raise ModelImportError(f"{path}: not an ONNX model (no graph nodes)")
    _check_model(model, onnx, str(path))
    arrays = _weight_arrays(model, onnx, numpy_helper, size) if weights else {}
    _drop_large_data(model, onnx)
    label = path.name
    shape = parse_input_shape(input_shape)
    if shape is not None:
        _check_input_size(shape, label)
    try:
        graph = _OnnxReader(model, onnx, numpy_helper, shape, label).read()
        graph_name = model.graph.name
        if graph_name in ("main_graph", "torch_jit", "torch-jit-export", "main", "graph", ""):
            graph_name = _stem(path)  # an exporter's default, not the model's name
        net, made = _build_made(graph, name or graph_name[:100])
    except ModelImportError:
        raise
    except Exception as e:  # noqa: BLE001 - the last guard: a malformed file never crashes
        raise ModelImportError(f"{path}: the model cannot be imported ({type(e).__name__}: "
                               f"{_first_line(e)})") from None
    if not weights:
        return _design(net, label), None, ""
    state, note = _collect(net, made, _onnx_fetch(arrays), label)
    return _design(net, label), state, note


# ---------------------------------------------------------------------------------------------
# What is checked before the graph is read


def _check_model(model, onnx, source: str) -> None:
    """ModelImportError for what no import reads: external data, tensors or sizes past the
    limits, more than MAX_NODES nodes. Walks the main graph, every subgraph and function."""
    tp = onnx.TensorProto
    at = onnx.AttributeProto
    nodes = 0
    graphs: list = [(model.graph, "the graph")]
    for f in model.functions:
        nodes += len(f.node)
        graphs.append((f, f"function {_short(f.name)}"))
    while graphs:
        g, where = graphs.pop()
        if hasattr(g, "initializer"):
            for t in g.initializer:
                _check_tensor(t, tp, source, f"initializer {_short(t.name)}")
            for sp in g.sparse_initializer:
                _check_tensor(sp.values, tp, source, f"sparse initializer "
                              f"{_short(sp.values.name)}")
                _check_tensor(sp.indices, tp, source, f"sparse initializer "
                              f"{_short(sp.values.name)} (indices)")
            for vi in (*g.input, *g.output, *g.value_info):
                _check_text(source, f"a value of {where}", vi.name)
                _check_value(vi, source)
            _check_text(source, f"an initializer of {where}", *(t.name for t in g.initializer))
            nodes += len(g.node)
        if nodes > MAX_NODES:
            raise ModelImportError(f"{source}: more than {MAX_NODES:,} nodes (subgraphs and "
                                   "functions counted), which is refused")
        for i, node in enumerate(g.node):
            _check_text(source, f"node {i} of {where}", node.name, node.op_type, node.domain,
                        *node.input, *node.output, *(a.name for a in node.attribute))
            for a in node.attribute:
                here = f"node {_short(node.name or node.op_type)} ({_plain(node.op_type)}) " \
                       f"attribute {_short(a.name)}"
                if a.type == at.TENSOR or a.HasField("t"):
                    _check_tensor(a.t, tp, source, here)
                for t in a.tensors:
                    _check_tensor(t, tp, source, here)
                sparse = list(a.sparse_tensors)
                if a.HasField("sparse_tensor"):
                    sparse.append(a.sparse_tensor)
                for sp in sparse:
                    _check_tensor(sp.values, tp, source, here)
                    _check_tensor(sp.indices, tp, source, here)
                if a.HasField("g"):
                    graphs.append((a.g, here))
                graphs.extend((sub, here) for sub in a.graphs)


def _check_text(source: str, what: str, *texts) -> None:
    """Names and types must be text (protobuf hands invalid UTF-8 back as bytes)."""
    for text in texts:
        if not isinstance(text, str):
            raise ModelImportError(f"{source}: {what} has a name or type that is not UTF-8 text "
                                   f"({_short(text)})")


def _check_tensor(t, tp, source: str, where: str) -> None:
    if t.data_location == tp.EXTERNAL or len(t.external_data):
        entries = {e.key: e.value for e in t.external_data}
        location = entries.get("location", "?")
        raise ModelImportError(
            f"{source}: {where} keeps its data in another file ({_short(location)}); external "
            "data is never read on import (an import reads the one file it is given). "
            "Save the model with its data inside the .onnx file, or import the model's Python "
            "code")
    dims = list(t.dims)
    if len(dims) > MAX_RANK:
        raise ModelImportError(f"{source}: {where} has {len(dims)} dimensions; more than "
                               f"{MAX_RANK} is refused")
    if any(d < 0 for d in dims):
        raise ModelImportError(f"{source}: {where} declares a size {dims} with a dimension "
                               "< 0")
    if math.prod(dims) > MAX_ELEMENTS:
        raise ModelImportError(f"{source}: {where} declares {math.prod(dims):,} elements (size "
                               f"{dims}); more than {MAX_ELEMENTS:,} is refused")


def _check_value(vi, source: str) -> None:
    dims = vi.type.tensor_type.shape.dim
    if len(dims) > MAX_RANK:
        raise ModelImportError(f"{source}: value {_short(vi.name)} has {len(dims)} "
                               f"dimensions; more than {MAX_RANK} is refused")
    for d in dims:
        if d.HasField("dim_value") and not 0 <= d.dim_value <= MAX_DIM:
            raise ModelImportError(f"{source}: value {_short(vi.name)} declares a dimension "
                                   f"of {d.dim_value:,}; only 0 to {MAX_DIM:,} are taken")


def _drop_large_data(model, onnx) -> None:
    """Drop the data of the initializers over _SMALL elements (their sizes stay): the structure
    needs none of it (the weights, where asked, are read before: onnx_weights.py), and shape
    inference then copies a small model."""
    for t in model.graph.initializer:
        if math.prod(t.dims) > _SMALL:
            for f in ("raw_data", "float_data", "int32_data", "string_data", "int64_data",
                      "double_data", "uint64_data"):
                t.ClearField(f)


def _short(text: Any) -> str:
    """A name from the file for a message: quoted, at most 80 characters."""
    text = repr(text)
    return text if len(text) <= 80 else text[:77] + "..."


def _plain(text: Any) -> str:
    """An operation's type for a message: as it is, at most 40 characters."""
    if isinstance(text, str) and len(text) <= 40 and text.isprintable():
        return text
    return repr(text[:37]) + "..."


class _BadNode(Exception):
    """A node the file gets wrong (the message says what; the reader adds which node)."""


class _OnnxReader:
    def __init__(self, model, onnx, numpy_helper, input_shape, source: str):
        self.model = model
        self.onnx = onnx
        self.nh = numpy_helper
        self.source = source
        self.inits = {t.name: t for t in model.graph.initializer}
        self.consts: dict[str, Any] = {}  # value name -> numpy array (small constants), or None
        self.const_dims: dict[str, tuple[int, ...]] = {}  # value name -> a constant's size
        self.input_shape = input_shape

    def read(self) -> _Graph:
        g = self.model.graph
        inputs = [i for i in g.input if i.name not in self.inits]
        if len(inputs) != 1:
            raise ModelImportError(f"{self.source}: the graph has {len(inputs)} inputs; a "
                                   "design takes one image batch")
        dims = [d.dim_value if d.HasField("dim_value") else None
                for d in inputs[0].type.tensor_type.shape.dim]
        shape = self.input_shape
        if shape is None:
            if len(dims) != 4 or None in dims[1:] or min(dims[1:]) < 1:
                raise ModelImportError(f"{self.source}: the input's size {dims} is not fixed: "
                                       "give the input shape (C,H,W), e.g. --input-shape 3,32,32")
            shape = (dims[1], dims[2], dims[3])
            _check_input_size(shape, self.source)
        expected = self._shapes(shape)
        data = {inputs[0].name}
        ops: list[_Op] = []
        for node in g.node:
            try:
                op = self._node(node, data, expected)
            except _BadNode as e:
                raise ModelImportError(f"{self.source}: {_node_text(node)}: {e}") from None
            except (ModelImportError, RecursionError, MemoryError):
                raise
            except Exception as e:  # noqa: BLE001 - a fault no check above foresaw
                raise ModelImportError(f"{self.source}: {_node_text(node)} cannot be read "
                                       f"({type(e).__name__}: {_first_line(e)})") from None
            if op is not None:
                ops.append(op)
        outputs = [o.name for o in g.output]
        return _Graph(ops, inputs[0].name, shape, outputs, expected, self.source)

    def _node(self, node, data: set, expected: dict) -> _Op | None:
        """The record of one node on the data path (None for a constant or a node off it)."""
        standard = node.domain in ("", "ai.onnx")
        if node.op_type == "Constant" and standard:
            self._constant(node)
            return None
        ins = [v for v in node.input if v in data]
        if not ins:
            if node.op_type == "Identity" and standard and node.input and node.output \
                    and node.input[0] in self._known():
                self.const_dims[node.output[0]] = self._dims(node.input[0]) or ()
                self.consts[node.output[0]] = self._value(node.input[0])
            return None
        if not node.output or not node.output[0]:
            raise _BadNode("it has no output")
        data.update(o for o in node.output if o)
        hint, what = _onnx_where(node)
        try:
            if not standard:
                raise _NoLayer(f"{node.domain}.{node.op_type}")
            steps, absorbable, tensor_ins = self._steps(node, expected)
        except _NoLayer as e:
            return _Op(node.output[0], [], ins, hint, what=what, problem=str(e))
        if absorbable and what.startswith("/") and what.count("/") >= 2:
            absorbable = False  # the TorchScript exporter's name: an nn.Flatten module
        params, problem = _onnx_params(node, _Attributes(node, self.onnx))
        return _Op(node.output[0], steps, tensor_ins or ins, hint, what=what,
                   absorbable=absorbable, params=params, params_problem=problem)

    def _shapes(self, shape) -> dict:
        """The model's own shapes (batch dropped) by ONNX shape inference, where known."""
        model = self.onnx.ModelProto()
        model.CopyFrom(self.model)
        inp = [i for i in model.graph.input if i.name not in self.inits][0]
        dims = inp.type.tensor_type.shape.dim
        if len(dims) == 4:
            for d, v in zip(dims, (1, *shape)):
                d.ClearField("dim_param")
                d.dim_value = v
        try:
            inferred = self.onnx.shape_inference.infer_shapes(model)
        except Exception:  # noqa: BLE001 - then no shape check
            return {}
        out = {}
        for vi in [*inferred.graph.value_info, *inferred.graph.output]:
            ds = vi.type.tensor_type.shape.dim
            if ds and all(d.HasField("dim_value") for d in ds):
                out[vi.name] = tuple(d.dim_value for d in ds)[1:]
        return out

    def _known(self) -> set:
        return set(self.inits) | set(self.const_dims)

    def _value(self, name: str):
        """A constant's or small initializer's value as an array; None where it is not one,
        or too large to be a parameter (its data is never read then)."""
        if name in self.consts:
            return self.consts[name]
        t = self.inits.get(name)
        return None if t is None else self._array(t)

    def _array(self, t):
        if math.prod(t.dims) > _SMALL or t.data_location == self.onnx.TensorProto.EXTERNAL \
                or len(t.external_data):
            return None
        try:
            return self.nh.to_array(t)
        except Exception as e:  # noqa: BLE001 - data that does not fit its type or size
            raise _BadNode(f"tensor {_short(t.name)} cannot be read ({type(e).__name__}: "
                           f"{_first_line(e)})") from None

    def _dims(self, name: str) -> tuple[int, ...] | None:
        if name in self.inits:
            return tuple(self.inits[name].dims)
        return self.const_dims.get(name)

    def _constant(self, node) -> None:
        if not node.output or not node.output[0]:
            raise _BadNode("it has no output")
        for a in node.attribute:
            if a.name == "value" and a.type == self.onnx.AttributeProto.TENSOR:
                self.const_dims[node.output[0]] = tuple(a.t.dims)
                self.consts[node.output[0]] = self._array(a.t)

    def _steps(self, node, expected) -> tuple[list, bool, list]:
        op = node.op_type
        at = _Attributes(node, self.onnx)
        _need_inputs(node, {"Conv": 2, "Gemm": 2, "MatMul": 2, "Reshape": 2,
                            "Add": 1, "Sum": 1, "Concat": 1}.get(op, 1))
        if op == "Conv":
            w = self._dims(node.input[1])
            if w is None or len(w) != 4:
                raise _NoLayer("Conv whose weight is not a 4-D initializer (only 2-D "
                               "convolutions of fixed weights)")
            kernel = at.ints("kernel_shape", list(w[2:]))
            dilations = at.ints("dilations", [1, 1])
            strides = at.ints("strides", [1, 1])
            pad = self._pads(at, "Conv", kernel, dilations, strides)
            bias = len(node.input) > 2 and bool(node.input[2])
            return [_conv(w[0], kernel, strides, pad, dilations, at.int("group", 1), bias)], \
                False, [node.input[0]]
        if op == "MaxPool":
            if len([o for o in node.output if o]) > 1:
                raise _NoLayer("MaxPool with its Indices output")
            if at.int("storage_order", 0):
                raise _NoLayer("MaxPool with storage_order 1")
            kernel = at.ints("kernel_shape")
            dilations = at.ints("dilations", [1, 1])
            strides = at.ints("strides", [1, 1])
            pad = self._pads(at, "MaxPool", kernel, dilations, strides)
            return [_max_pool(kernel, strides, pad, dilations, at.int("ceil_mode", 0))], \
                False, [node.input[0]]
        if op == "AveragePool":
            kernel = at.ints("kernel_shape")
            strides = at.ints("strides", [1, 1])
            pad = self._pads(at, "AveragePool", kernel, [1, 1], strides)
            return [_avg_pool(kernel, strides, pad, at.int("ceil_mode", 0),
                              at.int("count_include_pad", 0), None)], False, [node.input[0]]
        if op == "GlobalAveragePool":
            return [_adaptive(1)], False, [node.input[0]]
        if op in ("Relu", "Sigmoid", "Tanh"):
            return [({"Relu": "ReLU"}.get(op, op), {})], False, [node.input[0]]
        if op == "LeakyRelu":
            return [("LeakyReLU", {"negative_slope": at.float("alpha", 0.01)})], False, \
                [node.input[0]]
        if op == "Elu":
            return [("ELU", {"alpha": at.float("alpha", 1.0)})], False, [node.input[0]]
        if op == "Gelu":
            return [("GELU", {"approximate": at.str("approximate", "none")})], False, \
                [node.input[0]]
        if op == "BatchNormalization":
            if at.int("training_mode", 0):
                raise _NoLayer("BatchNormalization in training mode")
            return [_bn(at.float("epsilon", 1e-5), _f32(1.0 - at.float("momentum", 0.9)), True,
                        True)], False, [node.input[0]]
        if op == "LRN":
            return [_lrn(at.int("size"), at.float("alpha", 1e-4), at.float("beta", 0.75),
                         at.float("bias", 1.0))], False, [node.input[0]]
        if op == "Dropout":
            ratio = at.float("ratio", 0.5)
            if len(node.input) > 1 and node.input[1]:
                v = self._value(node.input[1])
                if v is None:
                    raise _NoLayer("Dropout whose ratio is not a constant")
                if v.size != 1 or v.dtype.kind not in "iuf":
                    raise _BadNode(f"its ratio is not one number (a {v.dtype} of size "
                                   f"{list(v.shape)})")
                ratio = _f32(float(v.reshape(())))
            return [("Dropout", {"p": float(ratio)})], False, [node.input[0]]
        if op == "Flatten":
            if at.int("axis", 1) != 1:
                raise _NoLayer(f"Flatten with axis {at.int('axis', 1)}")
            return [("Flatten", {})], True, [node.input[0]]
        if op == "Reshape":
            out = expected.get(node.output[0])
            src = expected.get(node.input[0])
            target = self._value(node.input[1])
            if target is not None and (target.dtype.kind not in "iu" or target.ndim > 1):
                raise _BadNode(f"its shape is not a list of whole numbers (a {target.dtype} of "
                               f"size {list(target.shape)})")
            if out is None and target is not None and src is not None:
                t = [int(v) for v in target]
                if len(t) == 2 and t[0] in (0, -1, 1) and t[1] in (-1, math.prod(src)):
                    out = (math.prod(src),)
            if src is not None and out is not None and len(src) > 1 and len(out) == 1:
                return [("Flatten", {})], True, [node.input[0]]
            raise _NoLayer(f"Reshape to {target.tolist() if target is not None else '?'}")
        if op == "Gemm":
            if at.int("transA", 0) or at.float("alpha", 1.0) != 1.0 \
                    or at.float("beta", 1.0) != 1.0:
                raise _NoLayer("Gemm with transA, alpha or beta")
            b = self._dims(node.input[1])
            if b is None or len(b) != 2:
                raise _NoLayer("Gemm whose B is not a 2-D initializer")
            out_features = b[0] if at.int("transB", 0) else b[1]
            bias = len(node.input) > 2 and bool(node.input[2])
            return [("Linear", {"out_features": int(out_features), "bias": bias})], False, \
                [node.input[0]]
        if op == "MatMul":
            b = self._dims(node.input[1])
            if b is None or len(b) != 2 or node.input[1] not in self._known():
                raise _NoLayer("MatMul of two activations")
            return [("Linear", {"out_features": int(b[1]), "bias": False})], False, \
                [node.input[0]]
        if op in ("Add", "Sum"):
            known = self._known()
            if any(i in known for i in node.input):
                raise _NoLayer(f"{op} of a constant")
            return [("Add", {})], False, list(node.input)
        if op == "Concat":
            rank = len(expected.get(node.output[0], ())) + 1 if node.output[0] in expected \
                else None
            axis = at.int("axis", 1)
            if rank is None or axis % rank != 1:
                raise _NoLayer(f"Concat along axis {axis} (a Concat joins along the depth, "
                               "axis 1)")
            return [("Concat", {})], False, list(node.input)
        if op == "Identity":
            return [(None, {})], False, [node.input[0]]
        raise _NoLayer(op[:100] or "a node without an operation type")

    def _pads(self, at: _Attributes, op: str, kernel, dilations, strides):
        auto = at.str("auto_pad", "NOTSET")
        if auto in ("SAME_UPPER", "SAME_LOWER"):
            eff = [d * (k - 1) + 1 for k, d in zip(kernel, dilations)]
            if op == "Conv" and all(s == 1 for s in strides) and all(e % 2 == 1 for e in eff):
                return "same"
            raise _NoLayer(f"{op} with auto_pad {auto}")
        if auto == "VALID":
            return 0
        if auto != "NOTSET":
            raise _BadNode(f"auto_pad {_short(auto)} is none of NOTSET, SAME_UPPER, SAME_LOWER, "
                           "VALID")
        pads = at.ints("pads", [0, 0, 0, 0])
        if len(pads) != 4 or len(set(pads)) != 1:
            raise _NoLayer(f"{op} with uneven padding {pads}")
        return pads[0]


class _Attributes:
    """A node's attributes, each read as the type the operation takes (else _BadNode naming
    the attribute and what it is)."""

    _KINDS = {1: "a float", 2: "an int", 3: "a string", 4: "a tensor", 5: "a graph",
              6: "floats", 7: "ints", 8: "strings", 9: "tensors", 10: "graphs",
              11: "a sparse tensor", 12: "sparse tensors", 13: "a type", 14: "types"}

    def __init__(self, node, onnx):
        self.kind = {a.name: a.type for a in node.attribute}
        self.attr = {a.name: a for a in node.attribute}
        self.types = onnx.AttributeProto

    def _get(self, name: str, want: int, default: Any, what: str) -> Any:
        if name not in self.attr:
            if default is _REQUIRED:
                raise _BadNode(f"it has no {name} attribute")
            return _MISSING
        kind = self.kind[name]
        if kind != want:
            raise _BadNode(f"attribute {name} is {self._KINDS.get(kind, f'of type {kind}')}, "
                           f"not {what}")
        return self.attr[name]

    def int(self, name: str, default: Any = None) -> int:
        a = self._get(name, self.types.INT, _REQUIRED if default is None else default,
                      "an int")
        return default if a is _MISSING else int(a.i)

    def ints(self, name: str, default: Any = None) -> list[int]:
        a = self._get(name, self.types.INTS, _REQUIRED if default is None else default, "ints")
        return list(default) if a is _MISSING else list(a.ints)

    def float(self, name: str, default: Any = None) -> float:
        a = self._get(name, self.types.FLOAT, _REQUIRED if default is None else default,
                      "a float")
        return float(default) if a is _MISSING else _f32(a.f)

    def str(self, name: str, default: Any = None) -> str:
        a = self._get(name, self.types.STRING, _REQUIRED if default is None else default,
                      "a string")
        return default if a is _MISSING else a.s.decode("utf-8", "replace")


_REQUIRED = object()
_MISSING = object()


def _need_inputs(node, count: int) -> None:
    if len(node.input) < count or not all(node.input[:count]):
        raise _BadNode(f"it has {len([i for i in node.input if i])} inputs; "
                       f"{node.op_type} takes {count}")


def _node_text(node) -> str:
    name = node.name or (node.output[0] if node.output else "")
    return f"node {_short(name)} ({_plain(node.op_type)})"


def _f32(value: float) -> float:
    """An ONNX float attribute (stored in single precision) as the decimal it was written
    from: 9.999999747378752e-06 -> 1e-05."""
    return float(f"{float(value):.7g}")


def _onnx_where(node) -> tuple[str, str]:
    """('layers.conv1', '/layers/conv1/Conv') from a node named the TorchScript exporter's way;
    the node's name (or its output's) otherwise."""
    name = (node.name or node.output[0])[:200]
    parts = [p for p in name.split("/") if p]
    if name.startswith("/") and len(parts) >= 2:
        return ".".join(parts[:-1]), name
    if name.startswith("/") and parts:
        return parts[0].split("_")[0].lower(), name
    return name, name


