"""Import an ONNX file as an editable design: the ONNX front end of designer.bridge.importer.

The graph is parsed as a protobuf (no code runs; external weight files are not read), each node
mapped to a layer of the catalogue through the parameter helpers the torch front end uses too,
and the network built, checked against ONNX's shape inference and laid out by the importer's
common back end. Needs the onnx package (the optional extra `onnx`).

TORCH-free, no Qt: only onnx (and numpy, which onnx brings).
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..model.design_file import Design
from .import_build import _build, _design, _stem
from .import_graph import ModelImportError, _first_line, _Graph, _NoLayer, _Op, parse_input_shape
from .import_layers import _adaptive, _avg_pool, _bn, _conv, _lrn, _max_pool

__all__ = ["import_onnx"]

def import_onnx(path: str | os.PathLike[str], input_shape: Sequence[int] | str | None = None,
                name: str | None = None) -> Design:
    """A design with the structure of an ONNX graph (Dropout nodes, where the exporter kept
    them, become Dropout layers; Identity and Constant are no layers)."""
    try:
        import onnx
        from onnx import numpy_helper
    except ImportError:
        raise ModelImportError("importing ONNX needs the onnx package: pip install "
                               "'convnet-designer[onnx]'") from None
    path = Path(path)
    if not path.is_file():
        raise ModelImportError(f"{path}: no such file")
    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as e:  # noqa: BLE001 - protobuf's DecodeError and friends
        raise ModelImportError(f"{path}: not an ONNX model ({type(e).__name__}: "
                               f"{_first_line(e)})") from None
    if not model.graph.node:
        raise ModelImportError(f"{path}: not an ONNX model (no graph nodes)")
    label = path.name
    graph = _OnnxReader(model, onnx, numpy_helper, parse_input_shape(input_shape), label).read()
    graph_name = model.graph.name
    if graph_name in ("main_graph", "torch_jit", "torch-jit-export", "main", "graph", ""):
        graph_name = _stem(path)  # an exporter's default, not the model's name
    return _design(_build(graph, name or graph_name), label)


class _OnnxReader:
    def __init__(self, model, onnx, numpy_helper, input_shape, source: str):
        self.model = model
        self.onnx = onnx
        self.nh = numpy_helper
        self.source = source
        self.inits = {t.name: t for t in model.graph.initializer}
        self.consts: dict[str, Any] = {}  # value name -> numpy array (small constants)
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
        expected = self._shapes(shape)
        data = {inputs[0].name}
        ops: list[_Op] = []
        for node in g.node:
            if node.op_type == "Constant":
                self._constant(node)
                continue
            ins = [v for v in node.input if v in data]
            if not ins:
                if node.op_type == "Identity" and node.input[0] in self._known():
                    self.consts[node.output[0]] = self._value(node.input[0])
                continue
            data.update(o for o in node.output if o)
            hint, what = _onnx_where(node)
            try:
                steps, absorbable, tensor_ins = self._steps(node, expected)
            except _NoLayer as e:
                ops.append(_Op(node.output[0], [], ins, hint, what=what, problem=str(e)))
                continue
            if absorbable and what.startswith("/") and what.count("/") >= 2:
                absorbable = False  # the TorchScript exporter's name: an nn.Flatten module
            ops.append(_Op(node.output[0], steps, tensor_ins or ins, hint, what=what,
                           absorbable=absorbable))
        outputs = [o.name for o in g.output]
        return _Graph(ops, inputs[0].name, shape, outputs, expected, self.source)

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
        return set(self.inits) | set(self.consts)

    def _value(self, name: str):
        if name in self.consts:
            return self.consts[name]
        t = self.inits.get(name)
        if t is None:
            return None
        if t.data_location == self.onnx.TensorProto.EXTERNAL:
            return None
        return self.nh.to_array(t)

    def _dims(self, name: str) -> tuple[int, ...] | None:
        if name in self.inits:
            return tuple(self.inits[name].dims)
        v = self.consts.get(name)
        return None if v is None else tuple(v.shape)

    def _constant(self, node) -> None:
        for a in node.attribute:
            if a.name == "value":
                self.consts[node.output[0]] = self.nh.to_array(a.t)

    def _steps(self, node, expected) -> tuple[list, bool, list]:
        op = node.op_type
        at = {a.name: self.onnx.helper.get_attribute_value(a) for a in node.attribute}
        at = {k: (v.decode() if isinstance(v, bytes) else _f32(v) if isinstance(v, float) else v)
              for k, v in at.items()}
        if op == "Conv":
            w = self._dims(node.input[1]) if len(node.input) > 1 else None
            if w is None or len(w) != 4:
                raise _NoLayer("Conv whose weight is not a 4-D initializer (only 2-D "
                               "convolutions of fixed weights)")
            kernel = tuple(at.get("kernel_shape", w[2:]))
            pad = self._pads(at, "Conv", kernel, at.get("dilations", [1, 1]),
                             at.get("strides", [1, 1]))
            bias = len(node.input) > 2 and bool(node.input[2])
            return [_conv(w[0], kernel, at.get("strides", 1), pad, at.get("dilations", 1),
                          at.get("group", 1), bias)], False, [node.input[0]]
        if op == "MaxPool":
            if len([o for o in node.output if o]) > 1:
                raise _NoLayer("MaxPool with its Indices output")
            if at.get("storage_order", 0):
                raise _NoLayer("MaxPool with storage_order 1")
            kernel = at["kernel_shape"]
            pad = self._pads(at, "MaxPool", kernel, at.get("dilations", [1, 1]),
                             at.get("strides", [1, 1]))
            return [_max_pool(kernel, at.get("strides", 1), pad, at.get("dilations", 1),
                              at.get("ceil_mode", 0))], False, [node.input[0]]
        if op == "AveragePool":
            kernel = at["kernel_shape"]
            pad = self._pads(at, "AveragePool", kernel, [1, 1], at.get("strides", [1, 1]))
            return [_avg_pool(kernel, at.get("strides", 1), pad, at.get("ceil_mode", 0),
                              at.get("count_include_pad", 0), None)], False, [node.input[0]]
        if op == "GlobalAveragePool":
            return [_adaptive(1)], False, [node.input[0]]
        if op in ("Relu", "Sigmoid", "Tanh"):
            return [({"Relu": "ReLU"}.get(op, op), {})], False, [node.input[0]]
        if op == "LeakyRelu":
            return [("LeakyReLU", {"negative_slope": float(at.get("alpha", 0.01))})], False, \
                [node.input[0]]
        if op == "Elu":
            return [("ELU", {"alpha": float(at.get("alpha", 1.0))})], False, [node.input[0]]
        if op == "Gelu":
            return [("GELU", {"approximate": at.get("approximate", "none")})], False, \
                [node.input[0]]
        if op == "BatchNormalization":
            if at.get("training_mode", 0):
                raise _NoLayer("BatchNormalization in training mode")
            return [_bn(at.get("epsilon", 1e-5), _f32(1.0 - at.get("momentum", 0.9)), True,
                        True)], False, [node.input[0]]
        if op == "LRN":
            return [_lrn(at["size"], at.get("alpha", 1e-4), at.get("beta", 0.75),
                         at.get("bias", 1.0))], False, [node.input[0]]
        if op == "Dropout":
            ratio = at.get("ratio", 0.5)
            if len(node.input) > 1 and node.input[1]:
                v = self._value(node.input[1])
                if v is None:
                    raise _NoLayer("Dropout whose ratio is not a constant")
                ratio = _f32(float(v))
            return [("Dropout", {"p": float(ratio)})], False, [node.input[0]]
        if op == "Flatten":
            if at.get("axis", 1) != 1:
                raise _NoLayer(f"Flatten with axis {at.get('axis')}")
            return [("Flatten", {})], True, [node.input[0]]
        if op == "Reshape":
            out = expected.get(node.output[0])
            src = expected.get(node.input[0])
            target = self._value(node.input[1])
            if out is None and target is not None and src is not None:
                t = [int(v) for v in target]
                if len(t) == 2 and t[0] in (0, -1, 1) and t[1] in (-1, math.prod(src)):
                    out = (math.prod(src),)
            if src is not None and out is not None and len(src) > 1 and len(out) == 1:
                return [("Flatten", {})], True, [node.input[0]]
            raise _NoLayer(f"Reshape to {target.tolist() if target is not None else '?'}")
        if op == "Gemm":
            if at.get("transA", 0) or at.get("alpha", 1.0) != 1.0 or at.get("beta", 1.0) != 1.0:
                raise _NoLayer("Gemm with transA, alpha or beta")
            b = self._dims(node.input[1])
            if b is None or len(b) != 2:
                raise _NoLayer("Gemm whose B is not a 2-D initializer")
            out_features = b[0] if at.get("transB", 0) else b[1]
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
            axis = at.get("axis", 1)
            if rank is None or axis % rank != 1:
                raise _NoLayer(f"Concat along axis {axis} (a Concat joins along the depth, "
                               "axis 1)")
            return [("Concat", {})], False, list(node.input)
        if op == "Identity":
            return [(None, {})], False, [node.input[0]]
        raise _NoLayer(op)

    def _pads(self, at: dict, op: str, kernel, dilations, strides):
        auto = at.get("auto_pad", "NOTSET")
        if auto in ("SAME_UPPER", "SAME_LOWER"):
            eff = [d * (k - 1) + 1 for k, d in zip(kernel, dilations)]
            if op == "Conv" and all(s == 1 for s in strides) and all(e % 2 == 1 for e in eff):
                return "same"
            raise _NoLayer(f"{op} with auto_pad {auto}")
        if auto == "VALID":
            return 0
        pads = list(at.get("pads", [0, 0, 0, 0]))
        if len(pads) != 4 or len(set(pads)) != 1:
            raise _NoLayer(f"{op} with uneven padding {pads}")
        return pads[0]


def _f32(value: float) -> float:
    """An ONNX float attribute (stored in single precision) as the decimal it was written
    from: 9.999999747378752e-06 -> 1e-05."""
    return float(f"{float(value):.7g}")


def _onnx_where(node) -> tuple[str, str]:
    """('layers.conv1', '/layers/conv1/Conv') from a node named the TorchScript exporter's way;
    the node's name (or its output's) otherwise."""
    name = node.name or node.output[0]
    parts = [p for p in name.split("/") if p]
    if name.startswith("/") and len(parts) >= 2:
        return ".".join(parts[:-1]), name
    if name.startswith("/") and parts:
        return parts[0].split("_")[0].lower(), name
    return name, name


