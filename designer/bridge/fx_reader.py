"""The torch.fx reader of the importer: an nn.Module traced into a torch.fx graph (torch.fx's
symbolic trace, else torch.export where the forward() has Python control flow fx cannot follow),
the graph run on a zero input for every value's shape, and walked in execution order into the
operation records (import_graph.py) that the common back end (import_build.py) builds into a
design. A torch.export program (.pt2) is read by the same walk (torch_sources.py).

The walk keeps to the data path (values that come from the input, not weights, constants or
sizes), names each operation by where it is in the model, and takes the ATen operations a
LocalResponseNorm module was decomposed into as one layer. What each node becomes is
fx_steps.py.

TORCH (imported where first used), no Qt.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Sequence

from ..model.design_file import Design
from ..model.layers import CATALOGUE
from .fx_steps import _aten_name, _meta_shape, _node_steps, _python_functions
from .fx_weights import _fx_params, _module_fetch
from .import_build import _build_made, _design
from .import_graph import ModelImportError, _first_line, _Graph, _NoLayer, _Op, parse_input_shape
from .import_layers import _lrn
from .import_weights import _collect

__all__ = ["import_module", "read_module"]


class _FxReader:
    """Turns a torch.fx GraphModule (a symbolic trace, or an ExportedProgram's module) into
    operation records, with every value's shape from running the graph on a zero input."""

    def __init__(self, gm, input_shape: tuple[int, int, int], source: str, batch: int = 1):
        self.gm = gm
        self.source = source
        self.input_shape = input_shape
        self.batch = batch  # a torch.export program made for a fixed batch runs with that one
        self.functions = _python_functions()

    def read(self) -> _Graph:
        import torch
        from torch.fx.passes.shape_prop import ShapeProp

        gm = self.gm
        first = next(iter(gm.parameters()), None)  # a model on the meta device runs there
        device = first.device if first is not None else torch.device("cpu")
        try:
            with contextlib.redirect_stderr(io.StringIO()):  # ShapeProp prints the traceback
                ShapeProp(gm).propagate(torch.zeros(self.batch, *self.input_shape,
                                                    device=device))
        except Exception as e:  # noqa: BLE001 - the model's own error, reported with the shape
            raise ModelImportError(
                f"{self.source}: running the model on a "
                f"{'×'.join(map(str, (self.batch, *self.input_shape)))}"
                f" (N×C×H×W) input failed: {type(e).__name__}: {_first_line(e)}; is the input "
                f"shape right?") from None
        nodes = list(gm.graph.nodes)
        placeholders = [n for n in nodes if n.op == "placeholder"]
        if len(placeholders) != 1:
            raise ModelImportError(f"{self.source}: the model's forward() takes "
                                   f"{len(placeholders)} inputs; a design takes one image batch")
        data = {placeholders[0]}  # values that come from the input (not weights or constants)
        ops: list[_Op] = []
        expected: dict = {}
        groups = self._groups(nodes)
        done: set = set()
        outputs: list = []
        for n in nodes:
            if n.op == "output":
                outputs = [a for a in _flat(n.args[0]) if hasattr(a, "op")]
                continue
            if n.op in ("placeholder", "get_attr") or n in done \
                    or n.meta.get("tensor_meta") is None:
                continue  # weights, constants, sizes, guards: no tensor of the data path
            ins = [a for a in _flat((n.args, n.kwargs)) if hasattr(a, "op") and a in data]
            if not ins:
                continue
            data.add(n)
            shape = _meta_shape(n)
            if shape is not None:
                expected[n] = shape[1:]
            group = groups.get(n)
            if group is not None:
                op = self._group_op(group, data)
                for g in group:
                    data.add(g)
                    done.add(g)
                expected.pop(n, None)
                if _meta_shape(group[-1]) is not None:
                    expected[group[-1]] = _meta_shape(group[-1])[1:]
                ops.append(op)
                continue
            ops.append(self._op(n, ins))
        return _Graph(ops, placeholders[0], self.input_shape, outputs, expected, self.source)

    def _groups(self, nodes) -> dict:
        """ATen graphs: the operations a LocalResponseNorm module was decomposed into, keyed by
        its first one (the whole group becomes one layer)."""
        by_module: dict[str, list] = {}
        for n in nodes:
            stack = n.meta.get("nn_module_stack") if n.op == "call_function" else None
            if not stack:
                continue
            path, cls = list(stack.values())[-1]
            if str(cls).endswith("LocalResponseNorm") and n.op == "call_function":
                by_module.setdefault(path, []).append(n)
        return {g[0]: g for g in by_module.values()}

    def _group_op(self, group: list, data: set) -> _Op:
        path = list(group[0].meta["nn_module_stack"].values())[-1][0]
        inside = set(group)
        ins = list(dict.fromkeys(a for a in _flat(group[0].args) if hasattr(a, "op")
                                 and a in data and a not in inside))
        size = alpha = beta = k = None
        for n in group:
            name = _aten_name(n.target)
            scalars = [a for a in n.args[1:] if isinstance(a, (int, float))
                       and not isinstance(a, bool)]
            if name == "avg_pool3d":
                size = n.args[1][0]
            elif name == "mul" and scalars:
                alpha = scalars[0]
            elif name == "add" and scalars:
                k = scalars[0]
            elif name == "pow" and scalars:
                beta = scalars[0]
        if None in (size, alpha, beta, k):
            return _Op(group[-1], [], ins, path, what=path,
                       problem="LocalResponseNorm in a form the importer does not recognise")
        return _Op(group[-1], [_lrn(size, alpha, beta, k)], ins, path, what=path)

    def _op(self, n, ins) -> _Op:
        hint, what = self._where(n)
        try:
            steps, absorbable = _node_steps(self.gm, self.functions, n)
        except _NoLayer as e:
            return _Op(n, [], ins, hint, what=what, problem=str(e))
        stack = n.meta.get("nn_module_stack")
        if absorbable and stack and str(list(stack.values())[-1][1]).endswith(".Flatten"):
            absorbable = False  # an nn.Flatten of the model (in an ATen graph): a layer
        tensor_ins = ins
        if steps and steps[0][0] == "Concat":
            tensors = n.args[0] if n.args else n.kwargs.get("tensors")
            tensor_ins = list(tensors)
        try:
            params, problem = _fx_params(self.gm, self.functions, n, steps)
        except Exception as e:  # noqa: BLE001 - the weights only: the structure comes in
            params, problem = {}, f"its tensors cannot be found ({type(e).__name__})"
        return _Op(n, steps, tensor_ins, hint, what=what, absorbable=absorbable,
                   params=params, params_problem=problem)

    def _where(self, n) -> tuple[str, str]:
        if n.op == "call_module":
            return str(n.target), str(n.target)
        stack = n.meta.get("nn_module_stack")
        if stack:
            path, cls = list(stack.values())[-1]
            if path and not str(cls).endswith(("Sequential", "ModuleList", "ModuleDict")):
                leaf = str(cls).rsplit(".", 1)[-1]
                if leaf in CATALOGUE or leaf in ("Identity", "Flatten"):
                    return str(path), str(path)
        return n.name, n.name


def _flat(value) -> list:
    out = []
    if isinstance(value, (list, tuple)):
        for v in value:
            out += _flat(v)
    elif isinstance(value, dict):
        for v in value.values():
            out += _flat(v)
    else:
        out.append(value)
    return out


def _tracer_class():
    from torch import fx

    class Tracer(fx.Tracer):
        """symbolic_trace's tracer, but a module made on the fly from the model's own layers
        (a slice of a Sequential: `self.layers[:3](x)`, as the code export writes) is traced
        through instead of refused."""

        def call_module(self, m, forward, args, kwargs):
            try:
                self.path_of_module(m)
            except NameError:
                return forward(*args, **kwargs)
            return super().call_module(m, forward, args, kwargs)

    return Tracer


def _Tracer():  # noqa: N802 - made when first used: fx is imported with torch
    return _tracer_class()()


def import_module(model, input_shape: Sequence[int] | str | None = None,
                  name: str | None = None, source: str | None = None) -> Design:
    """A design with the structure of an nn.Module, traced with torch.fx (torch.export where
    the forward() has Python control flow fx cannot follow). The input shape (C, H, W) comes
    from the argument, else the class's `input_shape` (the designer's code export has one)."""
    return read_module(model, input_shape, name, source, weights=False)[0]


def read_module(model, input_shape: Sequence[int] | str | None = None,
                name: str | None = None, source: str | None = None,
                weights: bool = True) -> tuple[Design, dict | None, str]:
    """(import_module's design, the model's weights as the state_dict of the design's module
    or None, a note saying what came in or why nothing did: import_weights.py). The weights
    are copies of the model's own tensors (its modules' parameters and buffers, the tensors
    its functions read)."""
    import torch
    from torch import fx

    if not isinstance(model, torch.nn.Module):
        raise ModelImportError(f"{source or model!r} is not a torch.nn.Module "
                               f"(it is a {type(model).__name__})")
    cls = type(model).__name__
    source = source or cls
    shape = parse_input_shape(input_shape)
    if shape is None:
        shape = getattr(model, "input_shape", None)
        if shape is None:
            raise ModelImportError(f"{source}: give the input shape (C,H,W), e.g. "
                                   f"--input-shape 3,32,32 (the model has no input_shape "
                                   f"attribute)")
        shape = parse_input_shape(tuple(shape))
    model = model.eval()
    try:
        gm = fx.GraphModule(model, _Tracer().trace(model), cls)
    except Exception as trace_error:  # noqa: BLE001 - fx cannot follow this forward()
        batch = torch.export.Dim("batch", min=1, max=1 << 20)
        try:
            program = torch.export.export(model, (torch.zeros(2, *shape),),
                                          dynamic_shapes=({0: batch},))
        except Exception:  # noqa: BLE001
            raise ModelImportError(f"{source}: torch.fx could not trace the model "
                                   f"({type(trace_error).__name__}: {_first_line(trace_error)})"
                                   f" and neither could torch.export") from None
        gm = program.module()
    graph = _FxReader(gm, shape, source).read()
    net, made = _build_made(graph, name or cls)
    if not weights:
        return _design(net, source), None, ""
    state, note = _collect(net, made, _module_fetch(gm), source, bounded=False)
    return _design(net, source), state, note
