"""The layer catalogue: one LayerType record per kind of layer.

Each record holds everything the rest of the program needs to know about a kind: its parameters
(type, default, range), its shape rule, parameter count, MACs, receptive-field step and what
PyTorch keeps for backward. Adding a kind means adding one record here (and its torch mapping in
designer/bridge/module.py). Shapes are (C, H, W) for volumes and (F,) for flat vectors; the UI
writes them the notes' way, W×H×D. The sliding-window size rule CONV and POOL share is in
windows.py, the Issue and Fix records in issues.py (both re-exported here).

Pure Python: no Qt, no torch.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .issues import Fix, Issue
from .windows import AXES as _AXES
from .windows import adaptive_windows
from .windows import volume as _volume
from .windows import window as _window

Shape = tuple[int, ...]


class ParamError(ValueError):
    """A parameter value outside what its layer accepts."""


@dataclass(frozen=True, slots=True)
class ParamSpec:
    name: str
    kind: str  # "int" | "float" | "bool" | "choice" | "padding"
    default: Any
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] = ()
    doc: str = ""

    def validate(self, value: Any) -> Any:
        """Return the value in canonical form or raise ParamError saying what is wrong."""
        kind = self.kind
        if kind == "padding" and isinstance(value, str):
            if value in ("same", "valid"):
                return value
            raise ParamError(f'expected an integer ≥ 0, "same" or "valid", got {value!r}')
        if kind in ("int", "padding"):
            if isinstance(value, bool) or not isinstance(value, int):
                if isinstance(value, float) and value.is_integer():
                    value = int(value)
                else:
                    raise ParamError(f"expected an integer, got {value!r}")
        elif kind == "float":
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ParamError(f"expected a number, got {value!r}")
            value = float(value)
            if not math.isfinite(value):
                raise ParamError(f"expected a finite number, got {value!r}")
        elif kind == "bool":
            if not isinstance(value, bool):
                raise ParamError(f"expected true or false, got {value!r}")
            return value
        elif kind == "choice":
            if value not in self.choices:
                raise ParamError(f"expected one of {', '.join(self.choices)}, got {value!r}")
            return value
        if self.minimum is not None and value < self.minimum:
            raise ParamError(f"must be ≥ {_num(self.minimum)}, got {_num(value)}")
        if self.maximum is not None and value > self.maximum:
            raise ParamError(f"must be ≤ {_num(self.maximum)}, got {_num(value)}")
        return value


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else repr(x)


# What one layer keeps for backward, per sample, in PyTorch (see pytorch_saved below):
# ("input", i) the i-th input tensor, ("output",) the output tensor, or
# ("extra", numel, bytes_per_value | None) a new tensor (None: the training dtype).
Saved = tuple


@dataclass(frozen=True, slots=True)
class Step:
    """A layer's effect on the receptive field, per axis (height, width)."""

    kernel: tuple[int, int]
    stride: tuple[int, int]
    pad: tuple[float, float]


@dataclass(frozen=True)
class LayerType:
    name: str
    category: str
    alias: str
    doc: str
    params: tuple[ParamSpec, ...]
    shape: Callable[[Mapping[str, Any], Sequence[Shape]], tuple[Shape | None, list[Issue]]]
    min_inputs: int = 1
    max_inputs: int | None = 1
    count: Callable[[Mapping[str, Any], Sequence[Shape], Shape], tuple[int, int]] = (
        lambda p, ins, out: (0, 0)
    )
    macs: Callable[[Mapping[str, Any], Sequence[Shape], Shape], int] = lambda p, ins, out: 0
    step: Callable[[Mapping[str, Any], Sequence[Shape]], Step | None] = lambda p, ins: None
    saved: Callable[[Mapping[str, Any], Sequence[Shape], Shape], tuple[Saved, ...]] = (
        lambda p, ins, out: ()
    )
    elementwise: bool = False  # applied in place in the notes' memory count (e.g. RELU)
    spec_by_name: dict[str, ParamSpec] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "spec_by_name", {s.name: s for s in self.params})

    def defaults(self) -> dict[str, Any]:
        return {s.name: s.default for s in self.params}

    def validate(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """Complete params with defaults and check each; raise ParamError('name: problem')."""
        out = self.defaults()
        for key, value in params.items():
            spec = self.spec_by_name.get(key)
            if spec is None:
                known = ", ".join(self.spec_by_name) or "none"
                raise ParamError(f"{key}: {self.name} has no parameter {key!r} (it has: {known})")
            try:
                out[key] = spec.validate(value)
            except ParamError as e:
                raise ParamError(f"{key}: {e}") from None
        return out


# ---------------------------------------------------------------------------------------------
# Shape helpers


def fmt_shape(shape: Shape | None) -> str:
    """(C, H, W) -> 'W×H×C' as the notes write volumes; (F,) -> '1×1×F'."""
    if shape is None:
        return "?"
    if len(shape) == 1:
        return f"1×1×{shape[0]}"
    c, h, w = shape
    return f"{w}×{h}×{c}"


def numel(shape: Shape) -> int:
    n = 1
    for s in shape:
        n *= s
    return n


# ---------------------------------------------------------------------------------------------
# Input


def _input_shape(p, ins):
    return (p["channels"], p["height"], p["width"]), []


# ---------------------------------------------------------------------------------------------
# Conv2d


def _conv_pad(p) -> tuple[int, int, int]:
    """(left pad, total pad, eff kernel) for one axis under the padding parameter."""
    eff = p["dilation"] * (p["kernel_size"] - 1) + 1
    pad = p["padding"]
    if pad == "valid":
        return 0, 0, eff
    if pad == "same":
        total = eff - 1
        return total // 2, total, eff
    return pad, 2 * pad, eff


def _conv_shape(p, ins):
    vol, issues = _volume("CONV", ins)
    if vol is None:
        return None, issues
    c = vol[0]
    g = p["groups"]
    filters = p["out_channels"]
    if c % g or filters % g:
        fixes = tuple(
            Fix(f"groups {g} → {g2}", {"groups": g2})
            for g2 in sorted({x for x in range(1, g + 1) if c % x == 0 and filters % x == 0})[-1:]
        )
        return None, [
            Issue(
                "error",
                f"groups={g} must divide both the input depth ({c}) and the number of filters "
                f"({filters})",
                fixes,
            )
        ]
    if p["padding"] == "same":
        if p["stride"] != 1:
            half = p["dilation"] * (p["kernel_size"] - 1) // 2
            return None, [
                Issue(
                    "error",
                    'padding "same" needs stride 1 (PyTorch refuses strided "same" convolutions)',
                    (Fix(f"padding same → {half}", {"padding": half}),),
                )
            ]
        return (filters, vol[1], vol[2]), []
    pad = 0 if p["padding"] == "valid" else p["padding"]
    out, more = _window(
        "CONV", ins, p["kernel_size"], p["stride"], pad, p["dilation"], False, "filter",
        out_c=filters, max_pad=p["dilation"] * (p["kernel_size"] - 1),
    )
    return out, issues + more


def _conv_count(p, ins, out):
    c = ins[0][0]
    k = p["kernel_size"]
    w = p["out_channels"] * (c // p["groups"]) * k * k
    return w + (p["out_channels"] if p["bias"] else 0), 0


def _conv_macs(p, ins, out):
    k = p["kernel_size"]
    return out[1] * out[2] * out[0] * (ins[0][0] // p["groups"]) * k * k


def _conv_step(p, ins):
    left, _, eff = _conv_pad(p)
    s = p["stride"]
    return Step((eff, eff), (s, s), (left, left))


# ---------------------------------------------------------------------------------------------
# Pooling


def _pool_pad_check(p) -> list[Issue]:
    k, pad = p["kernel_size"], p["padding"]
    if pad > k // 2:
        return [
            Issue(
                "error",
                f"padding {pad} is more than half the window ({k}); PyTorch refuses it",
                (Fix(f"padding {pad} → {k // 2}", {"padding": k // 2}),),
            )
        ]
    return []


def _maxpool_shape(p, ins):
    bad = _pool_pad_check(p)
    if bad:
        return None, bad
    return _window(
        "POOL", ins, p["kernel_size"], p["stride"], p["padding"], p["dilation"], p["ceil_mode"],
        "pooling window", pool=True,
    )


def _avgpool_shape(p, ins):
    bad = _pool_pad_check(p)
    if bad:
        return None, bad
    return _window(
        "POOL", ins, p["kernel_size"], p["stride"], p["padding"], 1, p["ceil_mode"],
        "pooling window", pool=True,
    )


def _pool_step(p, ins):
    eff = p.get("dilation", 1) * (p["kernel_size"] - 1) + 1
    s = p["stride"]
    return Step((eff, eff), (s, s), (p["padding"], p["padding"]))


def _adaptive_shape(p, ins):
    vol, issues = _volume("global/adaptive POOL", ins)
    if vol is None:
        return None, issues
    o = p["output_size"]
    uneven = [(axis, n) for axis, n in zip(_AXES, vol[1:]) if o > 1 and n % o]
    if uneven:
        axis, n = uneven[0]
        wins = adaptive_windows(n, o)
        starts = ", ".join(str(a) for a, _ in wins[:8]) + (", …" if o > 8 else "")
        widths = sorted({b - a for a, b in wins})
        where = "width and height" if len(uneven) == 2 and vol[1] == vol[2] else axis
        issues = [Issue(
            "info",
            f"{n} → {o} along the {where} is not a whole number of pixels per window: PyTorch's "
            f"windows start at {starts} (widths {', '.join(map(str, widths))}), not evenly "
            f"spaced, so the receptive fields from here on are approximate (counted as the "
            f"widest window, {widths[-1]}, with jump {max(n // o, 1)})",
        )]
    return (vol[0], o, o), issues


def _adaptive_step(p, ins):
    _, h, w = ins[0]
    o = p["output_size"]
    # PyTorch's window i spans [floor(i·n/o), ceil((i+1)·n/o)): the widest one bounds the field,
    # the first one places it (start = the first window's centre); exact where o divides n
    kh = max(b - a for a, b in adaptive_windows(h, o))
    kw = max(b - a for a, b in adaptive_windows(w, o))
    fh, fw = -(-h // o), -(-w // o)
    return Step((kh, kw), (max(h // o, 1), max(w // o, 1)), ((kh - fh) / 2, (kw - fw) / 2))


def _pool_saved_max(p, ins, out):
    return (("input", 0), ("extra", numel(out), 8))  # the int64 argmax indices


# ---------------------------------------------------------------------------------------------
# Elementwise, normalisation, regularisation


def _same_shape(p, ins):
    return ins[0], []


def _volume_same(name):
    def shape(p, ins):
        return _volume(name, ins)

    return shape


def _bn_count(p, ins, out):
    c = ins[0][0]
    return (2 * c if p["affine"] else 0), (2 * c + 1 if p["track_running_stats"] else 0)


def _dropout2d_shape(p, ins):
    if len(ins[0]) != 3:
        return ins[0], [
            Issue(
                "warning",
                "Dropout2d zeroes whole depth slices of a W×H×D volume; "
                "on a flat vector use Dropout",
            )
        ]
    return ins[0], []


def _dropout2d_saved(p, ins, out):
    if not 0 < p["p"] < 1:
        return ()
    return (("extra", out[0] if len(out) == 3 else numel(out), None),)  # one value per slice


def _lrn_saved(p, ins, out):
    """PyTorch composes LRN of elementwise ops: backward keeps the input, x² padded across depth,
    the power's base and the denominator."""
    n = numel(out)
    c = out[0]
    padded = n * (c + p["size"] - 1) // c
    return (("input", 0), ("extra", padded, None), ("extra", n, None), ("extra", n, None))


def _flatten_shape(p, ins):
    return (numel(ins[0]),), []


def _global_step(p, ins):
    shape = ins[0]
    if len(shape) != 3:
        return None
    return Step((shape[1], shape[2]), (1, 1), (0, 0))


def _linear_shape(p, ins):
    return (p["out_features"],), []


def _linear_count(p, ins, out):
    n = numel(ins[0])
    return n * p["out_features"] + (p["out_features"] if p["bias"] else 0), 0


def _linear_macs(p, ins, out):
    return numel(ins[0]) * p["out_features"]


# ---------------------------------------------------------------------------------------------
# Merges


def _add_shape(p, ins):
    first = ins[0]
    for i, s in enumerate(ins[1:], 1):
        if s != first:
            return None, [
                Issue(
                    "error",
                    f"Add needs inputs of equal shape: input 1 is {fmt_shape(first)}, "
                    f"input {i + 1} is {fmt_shape(s)} (a 1×1 CONV with the right stride and "
                    "depth on the shortcut makes them match)",
                )
            ]
    return first, []


def _concat_shape(p, ins):
    flat = [len(s) == 1 for s in ins]
    if all(flat):
        return (sum(s[0] for s in ins),), []
    if any(flat):
        return None, [Issue("error", "Concat cannot join flat vectors with W×H×D volumes")]
    h, w = ins[0][1], ins[0][2]
    for i, s in enumerate(ins[1:], 1):
        if (s[1], s[2]) != (h, w):
            return None, [
                Issue(
                    "error",
                    f"Concat joins along depth, so widths and heights must match: input 1 is "
                    f"{fmt_shape(ins[0])}, input {i + 1} is {fmt_shape(s)}",
                )
            ]
    return (sum(s[0] for s in ins), h, w), []


def _merge_step(p, ins):
    return None


# ---------------------------------------------------------------------------------------------
# The catalogue


def _int(name, default, lo=None, hi=None, doc=""):
    return ParamSpec(name, "int", default, lo, hi, doc=doc)


def _float(name, default, lo=None, hi=None, doc=""):
    return ParamSpec(name, "float", default, lo, hi, doc=doc)


def _bool(name, default, doc=""):
    return ParamSpec(name, "bool", default, doc=doc)


_SAVE_IN = lambda p, ins, out: (("input", 0),)  # noqa: E731
_SAVE_OUT = lambda p, ins, out: (("output",),)  # noqa: E731

_ACT = "Activation"

CATALOGUE: dict[str, LayerType] = {
    t.name: t
    for t in (
        LayerType(
            "Input", "Input", "INPUT", "The image: width × height × depth (colour channels).",
            (
                _int("channels", 3, 1, 4096, "depth: 3 for RGB, 1 for grey"),
                _int("height", 32, 1, 8192),
                _int("width", 32, 1, 8192),
            ),
            _input_shape, min_inputs=0, max_inputs=0,
        ),
        LayerType(
            "Conv2d", "Convolution", "CONV",
            "Filters slid over the input; each sees a small region and the full input depth.",
            (
                _int("out_channels", 16, 1, 65536, "number of filters = output depth"),
                _int("kernel_size", 3, 1, 1024, "filter size F"),
                _int("stride", 1, 1, 1024, "stride S"),
                ParamSpec("padding", "padding", 0, 0, 1024, doc='zero-padding P, or "same"'),
                _int("dilation", 1, 1, 1024),
                _int("groups", 1, 1, 65536),
                _bool("bias", True),
            ),
            _conv_shape, count=_conv_count, macs=_conv_macs, step=_conv_step, saved=_SAVE_IN,
        ),
        LayerType(
            "MaxPool2d", "Pooling", "POOL",
            "Takes the maximum over each window of every depth slice.",
            (
                _int("kernel_size", 2, 1, 1024),
                _int("stride", 2, 1, 1024),
                _int("padding", 0, 0, 512),
                _int("dilation", 1, 1, 1024),
                _bool("ceil_mode", False),
            ),
            _maxpool_shape, step=_pool_step, saved=_pool_saved_max,
        ),
        LayerType(
            "AvgPool2d", "Pooling", "POOL", "Averages each window of every depth slice.",
            (
                _int("kernel_size", 2, 1, 1024),
                _int("stride", 2, 1, 1024),
                _int("padding", 0, 0, 512),
                _bool("ceil_mode", False),
                _bool("count_include_pad", True),
            ),
            _avgpool_shape, step=_pool_step, saved=_SAVE_IN,
        ),
        LayerType(
            "AdaptiveAvgPool2d", "Pooling", "POOL",
            "Averages to a fixed output size; 1 is global average pooling.",
            (_int("output_size", 1, 1, 1024),),
            _adaptive_shape, step=_adaptive_step,
            # output 1×1 runs as a mean, which keeps nothing; larger outputs keep the input
            saved=lambda p, ins, out: (("input", 0),) if p["output_size"] > 1 else (),
        ),
        LayerType("ReLU", _ACT, "RELU", "max(0, x), elementwise.", (), _same_shape,
                  saved=_SAVE_OUT, elementwise=True),
        LayerType("LeakyReLU", _ACT, "RELU", "x for x > 0, slope·x otherwise.",
                  (_float("negative_slope", 0.01, 0.0, 1.0),), _same_shape,
                  saved=_SAVE_IN, elementwise=True),
        LayerType("ELU", _ACT, "", "x for x > 0, α(eˣ − 1) otherwise.",
                  (_float("alpha", 1.0, 0.0, 100.0),), _same_shape,
                  saved=_SAVE_IN, elementwise=True),
        LayerType("GELU", _ACT, "", "x·Φ(x), Gaussian error linear unit.",
                  (ParamSpec("approximate", "choice", "none", choices=("none", "tanh")),),
                  _same_shape, saved=_SAVE_IN, elementwise=True),
        LayerType("Sigmoid", _ACT, "", "1 / (1 + e⁻ˣ).", (), _same_shape,
                  saved=_SAVE_OUT, elementwise=True),
        LayerType("Tanh", _ACT, "", "tanh(x).", (), _same_shape,
                  saved=_SAVE_OUT, elementwise=True),
        LayerType(
            "BatchNorm2d", "Normalization", "NORM",
            "Normalises each depth slice over the batch; learns a scale and shift.",
            (
                _float("eps", 1e-5, 0.0, 1.0),
                _float("momentum", 0.1, 0.0, 1.0),
                _bool("affine", True),
                _bool("track_running_stats", True),
            ),
            _volume_same("BatchNorm2d"), count=_bn_count, saved=_SAVE_IN,
        ),
        LayerType(
            "LocalResponseNorm", "Normalization", "NORM",
            "Normalises each activation by its neighbours across depth (AlexNet).",
            (
                _int("size", 5, 1, 1024),
                _float("alpha", 1e-4, 0.0, 10.0),
                _float("beta", 0.75, 0.0, 10.0),
                _float("k", 1.0, 0.0, 100.0),
            ),
            _volume_same("LocalResponseNorm"),
            saved=_lrn_saved,
        ),
        LayerType("Dropout", "Regularization", "", "Zeroes random activations while training.",
                  (_float("p", 0.5, 0.0, 1.0),), _same_shape,
                  # the mask: a float tensor on the CPU (a bool one under CUDA); none at p = 0 or 1
                  saved=lambda p, ins, out: (("extra", numel(out), None),) if 0 < p["p"] < 1
                  else (), elementwise=True),
        LayerType("Dropout2d", "Regularization", "",
                  "Zeroes random whole depth slices while training.",
                  (_float("p", 0.5, 0.0, 1.0),), _dropout2d_shape,
                  saved=_dropout2d_saved, elementwise=True),
        LayerType("Flatten", "Reshape", "", "Lays a W×H×D volume out as one vector.", (),
                  _flatten_shape, step=_global_step),
        LayerType(
            "Linear", "Fully connected", "FC",
            "Every output neuron is connected to every number in the input volume.",
            (_int("out_features", 10, 1, 1 << 20, "number of neurons"), _bool("bias", True)),
            _linear_shape, count=_linear_count, macs=_linear_macs, step=_global_step,
            saved=_SAVE_IN,
        ),
        LayerType("Add", "Merge", "", "Sums its inputs elementwise (residual connections).", (),
                  _add_shape, min_inputs=2, max_inputs=None, step=_merge_step),
        LayerType("Concat", "Merge", "", "Stacks its inputs along depth (Inception modules).", (),
                  _concat_shape, min_inputs=2, max_inputs=None, step=_merge_step),
    )
}

ALIASES: dict[str, str] = {"CONV": "Conv2d", "POOL": "MaxPool2d", "RELU": "ReLU",
                           "NORM": "BatchNorm2d", "FC": "Linear", "INPUT": "Input"}


def layer_type(name: str) -> LayerType:
    try:
        return CATALOGUE[name]
    except KeyError:
        known = ", ".join(CATALOGUE)
        raise ParamError(f"unknown layer type {name!r} (known: {known})") from None
