"""Network -> readable PyTorch source that needs nothing of the designer (only torch).

The exported class is built from the same plan as the designer's own module (plan.make_plan), so
its module tree and state_dict keys are exactly those of build_module(network): plain runs are
nn.Sequential attributes named as the plan names them, with children named by layer id; every
other layer is an attribute named by its id; merges (Add, Concat) are plain expressions in
forward(). Weights trained in the designer therefore load into the exported model with
load_state_dict(strict=True), and the two compute the same numbers.

A Linear layer that reads a W×H×D volume flattens it first. The export does this with
`torch.flatten(x, 1)` in forward(), not with an nn.Flatten child: an extra child would have no
weights (the state_dict keys would stay the same) but it would change the module tree and shift
the indices of the Sequential's children, so `model.layers[5]` would no longer be the layer it is
in the designer. Where such a Linear sits inside a run, forward() calls the run in pieces, sliced
around the flatten (`x = self.layers[:3](x)`, `x = torch.flatten(x, 1)`, `x = self.layers.fc(x)`).

forward() keeps the branches visible. The main path is `x`; a branch that ends in a Concat is
`branch1`, `branch2`, ... by its place in the Concat; where the main path forks towards an Add,
the fork is kept as `identity` (as torchvision writes residual blocks). Names are reused as soon
as their value is no longer needed, so the exported forward() holds about as many volumes as the
designer's module does (a name per layer would keep every shortcut alive until the end).
In-place ReLUs are those of the plan. Arguments equal to PyTorch's defaults are left out, except
the ones a reader looks for (kernel sizes, pooling strides, dropout probabilities); channel and
feature counts are written positionally, as people write them.

Using what was trained: the class has `from_checkpoint(path)`, which reads a checkpoint the
Trainer wrote (a run's .safetensors with safetensors, the layout of training/runs.py; a .pt of
training/basics.save_checkpoint with torch.load(weights_only=True)) and sets the run's input
normalisation from its meta ("normalization": mean and std per channel, of images scaled to
0..1), and `preprocess(images)`, which turns raw images (uint8 0..255, channels last
or first; float 0..1) into the normalised batch the network was trained on, with the very
arithmetic of the training data (ImageDataset), so a run's validation images score what the run
scored. mean and std are buffers outside the state_dict (persistent=False), so the state_dict
keys stay those of build_module. The module docstring holds that recipe, written to run as
it reads (tests/bridge/test_codegen_use.py runs it); without a checkpoint the model has mean
0 and std 1, and says that the export knows no run. `raw_input=True` makes forward() call
preprocess() itself.

The same design always gives the same text.
"""

from __future__ import annotations

import keyword
import re
import textwrap
import unicodedata
from collections.abc import Sequence
from typing import Any

from ..model.analysis import Report
from ..model.layers import fmt_shape
from ..model.network import Network
from .plan import BuildError, Layer, Plan, Run, make_plan

__all__ = ["BuildError", "class_name_for", "export_code"]

# How each torch.nn class is written: positional arguments (in this order), keyword arguments
# shown whatever their value, and PyTorch's defaults (a keyword equal to its default is left
# out). A class missing here gets all of its arguments as keywords.
_SIGNATURES: dict[str, tuple[tuple[str, ...], tuple[str, ...], dict[str, Any]]] = {
    "Conv2d": (("in_channels", "out_channels"), ("kernel_size",),
               {"stride": 1, "padding": 0, "dilation": 1, "groups": 1, "bias": True,
                "padding_mode": "zeros"}),
    "Linear": (("in_features", "out_features"), (), {"bias": True}),
    "BatchNorm2d": (("num_features",), (),
                    {"eps": 1e-5, "momentum": 0.1, "affine": True,
                     "track_running_stats": True}),
    "MaxPool2d": ((), ("kernel_size", "stride"),
                  {"stride": None, "padding": 0, "dilation": 1, "return_indices": False,
                   "ceil_mode": False}),
    "AvgPool2d": ((), ("kernel_size", "stride"),
                  {"stride": None, "padding": 0, "ceil_mode": False, "count_include_pad": True,
                   "divisor_override": None}),
    "AdaptiveAvgPool2d": ((), ("output_size",), {}),
    "ReLU": ((), (), {"inplace": False}),
    "LeakyReLU": ((), (), {"negative_slope": 0.01, "inplace": False}),
    "ELU": ((), (), {"alpha": 1.0, "inplace": False}),
    "GELU": ((), (), {"approximate": "none"}),
    "Sigmoid": ((), (), {}),
    "Tanh": ((), (), {}),
    "LocalResponseNorm": ((), ("size",), {"alpha": 1e-4, "beta": 0.75, "k": 1.0}),
    "Dropout": ((), ("p",), {"p": 0.5, "inplace": False}),
    "Dropout2d": ((), ("p",), {"p": 0.5, "inplace": False}),
    "Flatten": ((), (), {"start_dim": 1, "end_dim": -1}),
}

# Names the generated module itself uses at module level.
_RESERVED = {"OrderedDict", "json", "torch", "nn", "warnings"}
# Attributes the exported class defines besides its layers (a layer of such a name is refused).
_CLASS_ATTRIBUTES = {"input_shape", "mean", "std", "raw_input", "classes", "preprocess",
                     "from_checkpoint"}
_WIDTH = 100
_MAX_CLASS_NAME = 32


def export_code(network: Network, class_name: str | None = None,
                report: Report | None = None, module: str = "model") -> str:
    """The design as a Python module defining one nn.Module class; BuildError if the design has
    errors. `class_name` defaults to the design's name in CamelCase ("Net" when it has none).
    `module`: the name the file will be imported by (the docstring's recipe imports the class
    from it)."""
    if class_name is None:
        class_name = class_name_for(network.name)
    elif (not class_name.isidentifier() or keyword.iskeyword(class_name)
          or class_name in _RESERVED):
        raise ValueError(f"{class_name!r} cannot be a class name (it must be a Python "
                         f"identifier other than {', '.join(sorted(_RESERVED))})")
    if not all(part.isidentifier() and not keyword.iskeyword(part)
               for part in module.split(".")):
        raise ValueError(f"{module!r} cannot be a module name (dotted Python identifiers)")
    plan = make_plan(network, report)
    _check_attribute_names(plan)
    runs = any(isinstance(step, Run) for step in plan.steps)
    lines = _header(network, plan, class_name, module)
    lines += ["", "import json", "import warnings"]
    lines += ["from collections import OrderedDict", ""] if runs else [""]
    lines += ["import torch", "from torch import nn", "", ""]
    lines += _class(network, plan, class_name)
    lines += ["", "", 'if __name__ == "__main__":',
              f"    model = {class_name}().eval()",
              f"    print(model(torch.randn(1, *{class_name}.input_shape)).shape)", ""]
    return "\n".join(lines)


def class_name_for(name: str) -> str:
    """'ResNet-18' -> 'ResNet18', 'CIFAR-10 example' -> 'CIFAR10Example'; 'Net' if nothing is
    left. Words keep their inner capitals; accents are dropped, other characters split words;
    a long name is cut after the words that fit in 32 characters."""
    plain = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    out = ""
    for word in re.findall(r"[A-Za-z0-9]+", plain):
        if out and len(out) + len(word) > _MAX_CLASS_NAME:
            break  # a long name becomes its first words
        out += word[0].upper() + word[1:]
    if not out:
        return "Net"
    if out[0].isdigit():
        out = "Net" + out
    if keyword.iskeyword(out) or out in _RESERVED:
        out += "Net"
    return out


# ------------------------------------------------------------------------------------- header


def _header(network: Network, plan: Plan, class_name: str, module: str) -> list[str]:
    report = plan.report
    title = " ".join(network.name.split()) or "Net"
    c, h, w = report.layers[plan.input].shape
    totals = report.totals
    params = f"Parameters: {totals.params:,} trainable"
    if totals.buffers:
        params += f", plus {totals.buffers:,} values in buffers (BatchNorm running statistics)"
    body = _docstring_lines(f"{title}: a PyTorch model exported from ConvNet Designer.", 0)
    for para in network.description.split("\n\n"):
        if para.strip():
            body += [""] + _docstring_lines(para, 0)
    body += [""]
    body += _docstring_lines(
        f"Input: {fmt_shape((c, h, w))} (W×H×D), a tensor of shape (N, {c}, {h}, {w}).", 0)
    body += _docstring_lines(params + ".", 0)
    body += [f"Layers: {len(report.order)}.", ""]
    body += _recipe(class_name, module, (c, h, w))
    body += [""]
    body += _docstring_lines(
        "The attributes are named by the designer's layer ids, so the state_dict keys are those "
        "of the model ConvNet Designer builds. Needs only PyTorch (and safetensors to read "
        ".safetensors checkpoints).", 0)
    body += ["", "Generated by ConvNet Designer."]
    return ['"""' + body[0], *body[1:], '"""']


def _recipe(class_name: str, module: str, shape: tuple[int, int, int]) -> list[str]:
    """How to use a run's checkpoint: a code block that runs as written (given `images`), and
    what it needs."""
    c, h, w = shape
    load = f'model = {class_name}.from_checkpoint("{_best_checkpoint()}")'
    code = ["    import torch",
            _commented(f"    from {module} import {class_name}",
                       f"this file, saved as {module}.py"),
            "",
            _commented(f"    {load}", "weights and normalisation"),
            "    with torch.no_grad():",
            "        predicted = model(model.preprocess(images)).argmax(1)"]
    about = (
        f"images: raw images of {fmt_shape((c, h, w))}, as a tensor or NumPy array: uint8 0..255 "
        f"as read from image files, ({h}, {w}, {c}) or ({c}, {h}, {w}) each, or float 0..1, "
        f"({c}, {h}, {w}) each; one image or a batch (N, ...). The network was trained on "
        f"normalised inputs, (x - mean) / std per channel with the mean and std of the run's "
        f"training images: preprocess() computes that, and from_checkpoint(path, "
        f"raw_input=True) gives a model whose forward() does it itself. model.classes holds "
        f"the run's class names. Without a checkpoint, {class_name}() has random weights and "
        f"mean 0, std 1 (no normalisation): this export knows no training run.")
    return [*_docstring_lines("Using what a training run saved (a checkpoint in its "
                              "checkpoint folder):", 0), "", *code, "",
            *_docstring_lines(about, 0)]


def _best_checkpoint() -> str:
    """The file the Trainer keeps a run's best weights in."""
    try:
        from ..training.runs import FILES  # resumable checkpoints: best.safetensors
    except ImportError:  # a version that writes torch.save checkpoints only
        return "best.pt"
    return FILES[1]


def _commented(code: str, comment: str) -> str:
    """A line of code with a trailing comment where that fits in the width."""
    line = f"{code}  # {comment}"
    return line if len(line) <= _WIDTH else code


def _docstring_lines(text: str, indent: int) -> list[str]:
    """One paragraph of docstring text, made safe and wrapped (the first line leaves room for
    the opening quotes)."""
    safe = _docstring_safe(" ".join(text.split()))
    return textwrap.wrap(safe, _WIDTH - indent - 3, break_on_hyphens=False,
                         break_long_words=False) or [""]


def _docstring_safe(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"""', '\\"\\"\\"')


# ------------------------------------------------------------------------------------- class


def _class(network: Network, plan: Plan, class_name: str) -> list[str]:
    c, h, w = plan.report.layers[plan.input].shape
    title = " ".join(network.name.split()) or "Net"
    out_shape = fmt_shape(plan.report.layers[plan.output].shape)
    shapes = f"{fmt_shape((c, h, w))} in, {out_shape} out (W×H×D)."
    doc = [f'    """{_docstring_safe(title)}: {shapes}"""']
    if len(doc[0]) > _WIDTH:
        doc = [f'    """{line}' if i == 0 else f"    {line}" if line else ""
               for i, line in enumerate(_docstring_lines(title, 4))]
        doc += ["", f"    {shapes}", '    """']
    lines = [f"class {class_name}(nn.Module):", *doc, "",
             f"    input_shape = ({c}, {h}, {w})  # (C, H, W) of one sample", "",
             *_init_head(c)]
    for step in plan.steps:
        if isinstance(step, Run):
            lines.append(f"        self.{step.name} = nn.Sequential(OrderedDict([")
            for layer in step.layers:
                lines += _fit(f'            ("{layer.id}", ', f"{_constructor(layer)}),")
            lines.append("        ]))")
        elif step.cls is not None:
            lines += _fit(f"        self.{step.id} = ", _constructor(step))
    lines += ["", "    def forward(self, x: torch.Tensor) -> torch.Tensor:",
              "        if self.raw_input:",
              "            x = self.preprocess(x)"]
    lines += ["        " + line for line in _Forward(network, plan).lines()]
    lines += _use_methods(class_name)
    return lines


def _init_head(c: int) -> list[str]:
    """__init__'s signature and the normalisation it keeps (before the layers)."""
    return textwrap.indent(textwrap.dedent(f'''\
        def __init__(self, mean: tuple[float, ...] | None = None,
                     std: tuple[float, ...] | None = None, raw_input: bool = False) -> None:
            """mean, std: per channel, the normalisation of the inputs the weights were trained
            on, (x - mean) / std with x in 0..1; from_checkpoint() passes the run's. raw_input:
            forward() takes raw images and calls preprocess() on them itself."""
            super().__init__()
            # This export knows no training run: by default mean 0 and std 1 (no normalisation).
            # Buffers, so they follow .to(device), but not in the state_dict (persistent=False).
            mean = ({", ".join(["0.0"] * c)}{"," if c == 1 else ""}) if mean is None else mean
            std = ({", ".join(["1.0"] * c)}{"," if c == 1 else ""}) if std is None else std
            self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32), persistent=False)
            self.register_buffer("std", torch.tensor(std, dtype=torch.float32), persistent=False)
            self.raw_input = raw_input
            self.classes: list[str] | None = None  # the class names, from a checkpoint
        '''), "    ").splitlines()


def _use_methods(class_name: str) -> list[str]:
    """preprocess() and from_checkpoint(): using a run's weights on raw images."""
    return textwrap.indent(textwrap.dedent(f'''\

        def preprocess(self, images) -> torch.Tensor:
            """Raw images -> the normalised float batch (N, C, H, W) the network takes.

            images: a tensor or NumPy array at the input's size, one image or a batch: uint8
            0..255 (as read from image files), channels last (H, W, C) or first (C, H, W); or
            float 0..1, channels first. Each channel becomes (x - mean) / std, x in 0..1.
            """
            x = torch.as_tensor(images)
            if x.dim() == 3:
                x = x.unsqueeze(0)  # one image: a batch of one
            c, h, w = self.input_shape
            if x.shape[1:] != (c, h, w) and x.shape[1:] == (h, w, c):
                x = x.permute(0, 3, 1, 2)  # channels last -> channels first
            x = x.to(self.mean.device)
            mean, std = self.mean[:, None, None], self.std[:, None, None]
            scale = 1 / 255 / std if x.dtype == torch.uint8 else 1 / std  # uint8: to 0..1 too
            # (x - mean) / std, computed as training computed it (the same float32 values)
            return x.float() * scale - mean / std

        @classmethod
        def from_checkpoint(cls, path, raw_input: bool = False) -> "{class_name}":
            """The model with the weights of a checkpoint ConvNet Designer's training wrote and
            the run's input normalisation, in eval mode, on the CPU (move it with .to(device)).

            A run's best.safetensors or last.safetensors is read with safetensors (pip install
            safetensors): its metadata "state" is the checkpoint's structure as JSON, "model"
            the weights (each named as a tensor of the file), "meta" what the run recorded.
            best.pt and last.pt (older versions, exported projects) hold a dict, "state_dict"
            and "meta", read with torch.load(weights_only=True), which runs no code from the
            file. Of the meta, "normalization" (mean and std per channel) and "classes" are
            used. Plain state_dicts (.safetensors, .pt) load too, without a normalisation.
            """
            if str(path).endswith(".safetensors"):
                from safetensors import safe_open

                with safe_open(str(path), framework="pt") as f:
                    state = json.loads((f.metadata() or {{}}).get("state", "{{}}"))
                    names = {{k: v["$tensor"] for k, v in state.get("model", {{}}).items()}}
                    if not names:  # a plain state_dict
                        names = {{name: name for name in f.keys()}}
                    weights = {{k: f.get_tensor(name) for k, name in names.items()}}
                meta = state.get("meta") or {{}}
            else:
                checkpoint = torch.load(path, map_location="cpu", weights_only=True)
                weights = checkpoint.get("state_dict", checkpoint)
                meta = checkpoint.get("meta") or {{}}
            norm = meta.get("normalization") or {{}}
            if not norm:
                warnings.warn(f"{{path}} does not say how the run normalised its inputs: "
                              "preprocess() leaves them as they are (mean 0, std 1)",
                              stacklevel=2)
            model = cls(norm.get("mean"), norm.get("std"), raw_input=raw_input)
            model.load_state_dict(weights)
            model.classes = meta.get("classes")
            return model.eval()'''), "    ").splitlines()


def _check_attribute_names(plan: Plan) -> None:
    """Attribute names must be unique and must not hide what nn.Module (or the exported class)
    already defines: `self.forward = nn.Conv2d(...)` would register a module that
    `self.forward` never returns."""
    from torch import nn  # only here: the rest of the export is plain text

    taken = set(dir(nn.Module())) | _CLASS_ATTRIBUTES
    seen: set[str] = set()
    for step in plan.steps:
        if isinstance(step, Run):
            name = step.name
        elif step.cls is not None:
            name = step.id
        else:
            continue
        if name in taken:
            raise BuildError(f"{name}: the exported nn.Module already has an attribute of this "
                             "name; rename the layer")
        if name in seen:
            raise BuildError(f"{name}: two parts of the model would get this attribute name; "
                             "rename the layer")
        seen.add(name)


def _fit(head: str, tail: str) -> list[str]:
    """head + tail on one line, or broken after head where that is too long."""
    if len(head) + len(tail) <= _WIDTH:
        return [head + tail]
    indent = len(head) - len(head.lstrip())
    if head.rstrip().endswith(","):  # a Sequential entry: align under its name
        return [head.rstrip(), " " * (indent + 1) + tail]
    return [head.rstrip() + " (", " " * (indent + 4) + tail, " " * indent + ")"]


def _constructor(layer: Layer) -> str:
    positional, always, defaults = _SIGNATURES.get(layer.cls, ((), (), {}))
    args = [_literal(layer.kwargs[name]) for name in positional if name in layer.kwargs]
    for name, value in layer.kwargs.items():
        if name in positional:
            continue
        if name in always or name not in defaults or not _same(value, defaults[name]):
            args.append(f"{name}={_literal(value)}")
    return f"nn.{layer.cls}({', '.join(args)})"


def _same(a: Any, b: Any) -> bool:
    return type(a) is type(b) and a == b or (
        isinstance(a, (int, float)) and not isinstance(a, bool)
        and isinstance(b, (int, float)) and not isinstance(b, bool) and a == b)


def _literal(value: Any) -> str:
    if isinstance(value, float):
        text = repr(value)
        return re.sub(r"e([+-])0*(\d)", r"e\1\2", text).replace("e+", "e")
    if isinstance(value, str):
        escaped = value.replace("\\", "\\\\").replace('"', '\\"')
        return f'"{escaped}"'
    if isinstance(value, (tuple, list)):
        items = [_literal(v) for v in value]
        return f"({items[0]},)" if len(items) == 1 else f"({', '.join(items)})"
    return repr(value)


# ------------------------------------------------------------------------------------- forward


class _Forward:
    """Writes forward(): one statement per step, with variables reused as values die."""

    def __init__(self, network: Network, plan: Plan):
        self.plan = plan
        self.types = {nid: network.nodes[nid].type for nid in plan.report.order}
        inputs = {nid for nid, t in self.types.items() if t == "Input"}
        self.canon = {nid: plan.input for nid in inputs}
        self.steps = [s for s in plan.steps
                      if not (isinstance(s, Layer) and s.id in inputs)]
        self.output = self.value(plan.output)
        self.uses: dict[str, int] = {}
        self.consumers: dict[str, list[Layer | Run]] = {}
        for step in self.steps:
            for v in self.inputs_of(step):
                self.uses[v] = self.uses.get(v, 0) + 1
                self.consumers.setdefault(v, []).append(step)
        self.var: dict[str, str] = {plan.input: "x"}  # live value -> its variable
        self.out: list[str] = []

    def value(self, nid: str) -> str:
        return self.canon.get(nid, nid)

    def inputs_of(self, step: Layer | Run) -> list[str]:
        first = step.layers[0] if isinstance(step, Run) else step
        return [self.value(s) for s in first.inputs]

    def lines(self) -> list[str]:
        for step in self.steps:
            self.emit(step)
        self.out.append(f"return {self.var[self.output]}")
        return self.out

    def emit(self, step: Layer | Run) -> None:
        ins = self.inputs_of(step)
        args = [self.var[v] for v in ins]
        for v in ins:
            self.uses[v] -= 1
        dying = [v for v in dict.fromkeys(ins) if self.uses[v] == 0 and v != self.output]
        for v in dying:
            del self.var[v]
        result = _result_id(step)
        if not self.consumers.get(result) and result != self.output:
            self.out.append(f"# {result} is not part of the output ({self.plan.output} is)")
            target = "_"
        else:
            target = self.target(result, ins, args, dying)
            self.var[result] = target
        if isinstance(step, Run):
            self.out += _run_calls(step, args[0], target)
            return
        kind = None if step.cls else self.types[step.id]
        if kind == "Add":
            self.out.append(f"{target} = {' + '.join(args)}  # {step.id}")
        elif kind == "Concat":
            self.out += _wrapped_cat(target, args, step.id)
        else:
            arg = f"torch.flatten({args[0]}, 1)" if step.flatten else args[0]
            self.out.append(f"{target} = self.{step.id}({arg})")

    def target(self, result: str, ins: Sequence[str], args: Sequence[str],
               dying: Sequence[str]) -> str:
        """The variable for the step's output (after the dying inputs have been let go)."""
        held = set(self.var.values())
        users = self.consumers.get(result, [])
        if len(users) == 1 and self.types.get(_result_id(users[0])) == "Concat":
            place = self.inputs_of(users[0]).index(result) + 1
            return _free(f"branch{place}", held, "branch")
        if "x" not in held:
            return "x"
        for v, a in zip(ins, args):
            if v in dying and a not in held and not a.startswith("branch"):
                return a  # the value dies here: its name carries on (a branch name would lie)
        if "x" in args:  # the main path forks: keep the fork, carry on in x
            kept = _free("identity", held, "identity")
            self.out.append(f"{kept} = x")
            for v, a in self.var.items():
                if a == "x":
                    self.var[v] = kept
            return "x"
        return _free("out", held, "out")


def _result_id(step: Layer | Run) -> str:
    return step.layers[-1].id if isinstance(step, Run) else step.id


def _free(name: str, held: set[str], stem: str) -> str:
    if name not in held:
        return name
    i = 2
    while f"{stem}{i}" in held:
        i += 1
    return f"{stem}{i}"


def _run_calls(run: Run, arg: str, target: str) -> list[str]:
    """The statements that apply a run to `arg`, split where a Linear flattens a volume."""
    cuts = [i for i, layer in enumerate(run.layers) if layer.flatten and i > 0]
    bounds = [0, *cuts, len(run.layers)]
    lines = []
    for k, (a, b) in enumerate(zip(bounds, bounds[1:])):
        if k == 0:
            src = f"torch.flatten({arg}, 1)" if run.layers[0].flatten else arg
        else:
            lines.append(f"{target} = torch.flatten({target}, 1)")
            src = target
        if a == 0 and b == len(run.layers):
            lines.append(f"{target} = self.{run.name}({src})")
        elif b - a == 1:
            lines.append(f"{target} = self.{run.name}.{run.layers[a].id}({src})")
        else:
            piece = f"{a or ''}:{b if b < len(run.layers) else ''}"
            lines.append(f"{target} = self.{run.name}[{piece}]({src})  "
                         f"# {run.layers[a].id} to {run.layers[b - 1].id}")
    return lines


def _wrapped_cat(target: str, args: Sequence[str], merge_id: str) -> list[str]:
    line = f"{target} = torch.cat([{', '.join(args)}], 1)  # {merge_id}"
    if len(line) + 8 <= _WIDTH:
        return [line]
    return [f"{target} = torch.cat([  # {merge_id}", *(f"    {a}," for a in args), "], 1)"]
