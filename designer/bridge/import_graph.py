"""What every front end of the importer (torch.fx, torch.export, ONNX) hands to the common back
end: one record per operation of the model, in execution order (_Op), and the whole model as a
list of them with its input, outputs and own shapes (_Graph); with the error an import raises
(ModelImportError), the signal of an operation with no layer (_NoLayer) and the few helpers the
front ends' messages share.

Kept apart from the front ends and the back end (import_build.py) so that each of them can use
these records without importing another: the torch front end needs torch, the ONNX one onnx, and
neither needs the other.

TORCH-free, no Qt.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ..model.layers import CATALOGUE, fmt_shape

__all__ = ["SUPPORTED", "ModelImportError", "parse_input_shape"]

SUPPORTED = ("Conv2d, MaxPool2d, AvgPool2d, AdaptiveAvgPool2d, ReLU, LeakyReLU, ELU, GELU, "
             "Sigmoid, Tanh, BatchNorm2d, LocalResponseNorm, Dropout, Dropout2d, Flatten, Linear "
             "(as modules or functions), add and cat")


class ModelImportError(ValueError):
    """The model cannot become a design; the message says what and where. `unsupported` lists
    (operation, [places]) for the operations that do not map to the catalogue."""

    def __init__(self, message: str, unsupported: Sequence[tuple[str, list[str]]] = ()):
        super().__init__(message)
        self.unsupported = list(unsupported)


class _NoLayer(Exception):
    """An operation with no layer in the catalogue (the message names it)."""


# ---------------------------------------------------------------------------------------------
# One record per operation, in execution order


@dataclass
class _Op:
    key: Any  # the value it makes
    steps: list[tuple[str | None, dict]]  # (catalogue type or None: pass the input on, params)
    inputs: list[Any]  # keys of the values it reads, in order
    hint: str  # where it is in the model (becomes the layer id)
    what: str = ""  # how to name it in a message
    problem: str | None = None  # it does not map: what to list
    absorbable: bool = False  # a functional flatten: a Linear after it flattens by itself
    # where the layer's parameters come from, for the weights (import_weights.py): the
    # parameter's name in the layer's torch module -> a _Ref, or a number to fill it with (a
    # functional batch_norm without weight: 1.0); None where the layer has none
    params: dict[str, _Ref | float] | None = None
    params_problem: str | None = None  # why this layer's weights cannot come in


@dataclass(frozen=True)
class _Ref:
    """One tensor of the model, for the weights: `handle` is the front end's (a torch tensor,
    a get_attr target, an initializer's name), `layout` how it differs from the layer's (""
    as it is; "T" a transposed matrix; "bias" a Gemm's C: out elements in any shape, or one
    for all), `sibling` another tensor of the same module to take instead (a BatchNorm's
    num_batches_tracked beside its running_mean), `optional` that it may be missing (then 0)."""

    handle: Any
    layout: str = ""
    sibling: str | None = None
    optional: bool = False


@dataclass
class _Graph:
    ops: list[_Op]
    input_key: Any
    input_shape: tuple[int, int, int]
    outputs: list[Any]
    expected: dict = field(default_factory=dict)  # key -> the model's own shape (no batch)
    source: str = ""  # for messages: the file or class


def parse_input_shape(text: str | Sequence[int] | None) -> tuple[int, int, int] | None:
    """'3,32,32', '3x32x32', (3, 32, 32) -> (C, H, W); None stays None."""
    if text is None:
        return None
    if isinstance(text, str):
        parts = [p for p in re.split(r"[,x×\s]+", text.strip()) if p]
    else:
        parts = list(text)
    try:
        values = tuple(int(p) for p in parts)
    except (TypeError, ValueError):
        values = ()
    if len(values) != 3 or min(values) < 1:
        raise ModelImportError(f"the input shape {text!r} is not C,H,W (three whole numbers "
                               f"≥ 1, e.g. 3,32,32)")
    return values  # type: ignore[return-value]


def _check_input_size(shape: tuple[int, int, int], source: str) -> None:
    """ModelImportError where a model's input (C, H, W) is past what a design's Input takes
    (checked before any shape is worked out: a hostile file's sizes go no further)."""
    for spec, value in zip(CATALOGUE["Input"].params, shape):
        low, high = spec.minimum, spec.maximum
        if (low is not None and value < low) or (high is not None and value > high):
            limits = ", ".join(f"{s.name} {s.minimum:g}–{s.maximum:g}"
                               for s in CATALOGUE["Input"].params)
            raise ModelImportError(f"{source}: the input {'×'.join(map(str, shape))} (C×H×W) "
                                   f"is past what a design takes ({limits})")


def _first_line(e: BaseException) -> str:
    text = str(e).strip()
    return (text.splitlines()[0] if text else "")[:300]


def _shape_text(shape: tuple[int, ...]) -> str:
    return fmt_shape(shape) if len(shape) in (1, 3) else "×".join(map(str, shape))
