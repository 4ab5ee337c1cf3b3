"""The weights of an ONNX file, for the importer's weights back end (import_weights.py): which
initializers each layer's parameters are (_onnx_params), and those initializers read as arrays
(_weight_arrays, with onnx.numpy_helper.to_array) before the ONNX front end drops the data of
the large ones (onnx_import.py).

- Conv: W -> weight, B -> bias.
- Gemm (transA 0, alpha and beta 1: the front end maps no other): B -> weight, as it is where
  transB is 1, transposed where it is 0; C -> bias (out elements in any shape, or one number
  for all).
- MatMul with a constant B: B transposed -> weight.
- BatchNormalization: scale, B, input_mean, input_var -> weight, bias, running_mean,
  running_var (num_batches_tracked is 0: ONNX has none).
A parameter may be an initializer, a Constant's value or an Identity of either; a value the
graph computes has no tensor to take (the note says so). Only floating-point tensors are read
(float32, float16, bfloat16, float64), each only where its declared size fits in the file (its
data must be in it: external data is refused before), so no tensor is made larger than what
the file holds; what cannot be read is a reason, never an exception.

TORCH-free, no Qt: onnx and numpy.
"""

from __future__ import annotations

import math
from typing import Any

from .import_graph import _first_line, _Ref
from .import_weights import _NoWeights

_WEIGHT_OPS = ("Conv", "Gemm", "MatMul", "BatchNormalization")
# TensorProto data types read as weights: bytes per element
_FLOATS = {1: 4, 10: 2, 11: 8, 16: 2}  # FLOAT, FLOAT16, DOUBLE, BFLOAT16


def _onnx_params(node, at) -> tuple[dict | None, str | None]:
    """(the layer's parameters: name -> _Ref of a value's name, or None; why they cannot come
    in, or None) for a node the front end mapped (`at`: its attributes)."""
    op = node.op_type
    ins = list(node.input)

    def given(i: int) -> bool:
        return len(ins) > i and bool(ins[i])

    try:
        if op == "Conv":
            params = {"weight": _Ref(ins[1])}
            if given(2):
                params["bias"] = _Ref(ins[2])
            return params, None
        if op == "Gemm":
            params = {"weight": _Ref(ins[1], "" if at.int("transB", 0) else "T")}
            if given(2):
                params["bias"] = _Ref(ins[2], "bias")
            return params, None
        if op == "MatMul":
            return {"weight": _Ref(ins[1], "T")}, None
        if op == "BatchNormalization":
            if not all(given(i) for i in range(1, 5)):
                return {}, "BatchNormalization without its scale, B, mean and var"
            return {"weight": _Ref(ins[1]), "bias": _Ref(ins[2]),
                    "running_mean": _Ref(ins[3]), "running_var": _Ref(ins[4])}, None
    except Exception as e:  # noqa: BLE001 - a malformed node: its weights only
        return {}, f"its tensors cannot be found ({type(e).__name__}: {_first_line(e)})"
    return None, None


def _weight_arrays(model, onnx, numpy_helper, file_size: int) -> dict[str, Any]:
    """The tensors the weighted nodes read, by value name (an Identity's output too): an
    array, or the reason it cannot be read. Only those are read."""
    g = model.graph
    standard = ("", "ai.onnx")
    alias: dict[str, str] = {}
    tensors: dict[str, Any] = {t.name: t for t in g.initializer}
    for node in g.node:
        if node.domain not in standard or not node.output:
            continue
        if node.op_type == "Identity" and len(node.input) == 1:
            alias[node.output[0]] = node.input[0]
        elif node.op_type == "Constant":
            for a in node.attribute:
                if a.name == "value" and a.type == onnx.AttributeProto.TENSOR:
                    tensors.setdefault(node.output[0], a.t)
    out: dict[str, Any] = {}
    for node in g.node:
        if node.domain not in standard or node.op_type not in _WEIGHT_OPS:
            continue
        for name in list(node.input)[1:]:
            if not name or name in out:
                continue
            source = name
            for _ in range(len(alias)):  # an Identity chain, never a loop
                if source not in alias or source in tensors:
                    break
                source = alias[source]
            if source not in out:
                t = tensors.get(source)
                if t is None:
                    continue
                out[source] = _array(t, onnx, numpy_helper, file_size)
            out[name] = out[source]
    return out


def _array(t, onnx, numpy_helper, file_size: int) -> Any:
    """The tensor as a float array, or why not (a string)."""
    import numpy as np

    size = _FLOATS.get(t.data_type)
    if size is None:
        try:
            kind = onnx.TensorProto.DataType.Name(t.data_type)
        except ValueError:
            kind = f"type {t.data_type}"
        return f"the tensor {_short(t.name)} is {kind}, not floating point"
    if math.prod(t.dims) * size > file_size:
        return f"the tensor {_short(t.name)} declares more data than the file holds"
    if t.HasField("segment"):
        return f"the tensor {_short(t.name)} is a segment of another"
    try:
        array = numpy_helper.to_array(t)
        if array.dtype not in (np.float16, np.float32, np.float64):
            array = array.astype(np.float32)  # bfloat16 (ml_dtypes)
    except Exception as e:  # noqa: BLE001 - data that does not fit its type or size
        return f"the tensor {_short(t.name)} cannot be read ({type(e).__name__}: " \
               f"{_first_line(e)})"
    return array


def _onnx_fetch(arrays: dict[str, Any]):
    """fetch(ref, expected) over _weight_arrays' result."""

    def fetch(ref: _Ref, expected) -> Any:
        value = arrays.get(ref.handle)
        if value is None:
            raise _NoWeights(f"{_short(ref.handle)} is no tensor of the file (the graph "
                             "computes it)")
        if isinstance(value, str):
            raise _NoWeights(value)
        return value

    return fetch


def _short(text: Any) -> str:
    text = repr(text)
    return text if len(text) <= 80 else text[:77] + "..."
