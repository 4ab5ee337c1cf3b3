"""Import a model made elsewhere as an editable design: a PyTorch nn.Module (traced with
torch.fx), a torch.export program (.pt2) or an ONNX file.

Every operation must map to a layer of the catalogue (Conv2d, MaxPool2d, AvgPool2d,
AdaptiveAvgPool2d, ReLU, LeakyReLU, ELU, GELU, Sigmoid, Tanh, BatchNorm2d, LocalResponseNorm,
Dropout, Dropout2d, Flatten, Linear) or to a merge (add -> Add, cat along the depth -> Concat), as
a module or in its functional form (F.relu, torch.flatten, x.view(x.size(0), -1), F.conv2d with a
weight tensor, ...). Where some do not, nothing is imported and ModelImportError lists every
operation that does not map, with where it is in the model.

The weights come in too where asked (import_model_weights -> Imported(design, weights, note)):
`weights` is the state_dict that `build_module(design.network).load_state_dict(weights,
strict=True)` takes, so the imported design shows the model's own filters and feature maps and
can be fine-tuned; `note` says in words what came in, or why nothing did. From an nn.Module:
its modules' parameters and buffers (Conv2d, Linear, BatchNorm2d with its running statistics)
and the tensors its functions read (F.conv2d(x, self.w)); from ONNX: the initializers of Conv,
Gemm (transposed where transB is 0), MatMul and BatchNormalization; from a .pt2: the raw bytes
torch.export.save keeps beside the graph (data/weights/, never unpickled; an archive that keeps
them only pickled gives none, and says so). A layer whose parameters the design has no place for
(a weight computed in forward(), a shape or type that is not the layer's) gives no weights at
all, never wrong ones: weights None and a note naming it. import_model keeps to the structure.

Layer ids come from the model's own names: a module's attribute name (`self.conv1` -> conv1; the
whole path, layer1_0_conv1, where the last part is not unique), the ONNX node's module path
(/layers/conv1/Conv -> conv1), a function's node name (add, cat). So the code the designer
exports, imported back, gives the same design. A functional flatten that only feeds a Linear is
left out: a design's Linear flattens the volume it reads. The imported design is checked against
the model: every layer's output volume must be what the model itself computes (torch: the traced
graph run on a zero input; ONNX: shape inference).

What runs what, on purpose:
- A Python file (`model.py:Net`, or `model.py` with one nn.Module class in it) or a module
  (`package.module:attr`) is imported, which runs its code: that is what the person asks for.
  `attr` may be an nn.Module class (made with no arguments), an instance, or a function that
  returns one.
- A .pt2 file is never loaded with torch.export.load (which unpickles the archive's constants
  with pickle.loads, so a crafted file runs code): only the program's JSON graph is read from
  the zip (fx_pt2.py), nothing in it is unpickled, and a program that needs an unpickled object
  (a custom object input) is refused. The graph is rebuilt with meta-device stand-ins of the
  weights and run through a fixed list of ATen operators, no code of the file's.
- An ONNX file is parsed as a protobuf (no code). Files over 1 GiB are refused unparsed; external
  data is refused (never read: an import reads the one file it is given), as are tensors and
  sizes past the limits; any other fault of a file is a ModelImportError naming the node.
- The weights of a file are read within limits (import_weights.MAX_WEIGHT_BYTES; each tensor's
  declared size checked against the layer's and against what the file holds before it is
  read); a fault of theirs is a reason in the note, never an error.
- Nothing else is opened: a pickled model (torch.save of a whole module) is refused.

Where each part lives (this module is the entry point, and keeps every name callers import):
- import_graph.py: ModelImportError, the operation records every front end produces, and
  parse_input_shape;
- torch_sources.py: a torch model from a Python file or module (load_python_model), a .pt2
  program (import_pt2, through fx_pt2.py: the archive's JSON graph as a torch.fx graph);
- fx_reader.py: an nn.Module traced with torch.fx and walked into records (import_module);
  fx_steps.py: what layers each module, function, method or ATen operator becomes;
- import_layers.py: layers from their parameters, shared with the ONNX front end
  (onnx_import.py);
- import_build.py: the records built into a checked, laid-out design; import_cleanup.py: the
  passes on the built network (unused values, add chains, flattens before a Linear);
- import_weights.py: the weights as the design module's state_dict, read through each front
  end's references: fx_weights.py (torch), onnx_weights.py (ONNX), pt2_weights.py (the raw
  tensors of a .pt2 archive).

TORCH, no Qt.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, NamedTuple

from ..model.design_file import Design
from .fx_reader import import_module, read_module
from .import_graph import SUPPORTED, ModelImportError, parse_input_shape
from .torch_sources import import_pt2, load_python_model, read_pt2_model

if TYPE_CHECKING:
    import torch

__all__ = ["Imported", "ModelImportError", "import_model", "import_model_weights",
           "import_module", "import_onnx", "import_pt2", "load_python_model",
           "parse_input_shape", "SUPPORTED"]


class Imported(NamedTuple):
    """An imported model: its design, its weights (the state_dict of
    build_module(design.network): contiguous CPU copies, float32, num_batches_tracked int64 as
    BatchNorm2d keeps it; {} where no layer has weights; None where they cannot come in) and a
    note saying in words what came in or why nothing did. Unpacks as (design, weights, note)."""

    design: Design
    weights: dict[str, torch.Tensor] | None
    note: str


# ---------------------------------------------------------------------------------------------
# ONNX (the front end lives in onnx_import.py)


def import_onnx(path: str | os.PathLike[str], input_shape: Sequence[int] | str | None = None,
                name: str | None = None) -> Design:
    """A design with the structure of an ONNX graph (onnx_import.py)."""
    from .onnx_import import import_onnx as read

    return read(path, input_shape, name)


# ---------------------------------------------------------------------------------------------
# One entry point for the command line and the window


def import_model(spec: str, input_shape: Sequence[int] | str | None = None,
                 name: str | None = None) -> Design:
    """Import what `spec` names: an .onnx file, a .pt2 file, a Python file ('model.py' or
    'model.py:Net') or a module ('package.module:attr'). The structure only: see
    import_model_weights for the weights too."""
    return _import(spec, input_shape, name, weights=False).design


def import_model_weights(spec: str, input_shape: Sequence[int] | str | None = None,
                         name: str | None = None) -> Imported:
    """Import what `spec` names (as import_model) with its weights: Imported(design, weights,
    note). ModelImportError where the structure cannot come in; where only the weights cannot,
    weights is None and the note says why."""
    return _import(spec, input_shape, name, weights=True)


def _import(spec: str, input_shape, name, weights: bool) -> Imported:
    lower = spec.lower()
    if lower.endswith(".onnx"):
        from .onnx_import import read_onnx

        return Imported(*read_onnx(spec, input_shape, name, weights))
    if lower.endswith(".pt2"):  # the program fixes its own input size
        return Imported(*read_pt2_model(spec, name, weights))
    if lower.endswith((".pt", ".pth", ".pkl", ".pickle", ".bin", ".ckpt")):
        raise ModelImportError(
            f"{spec}: a pickled model is not opened (unpickling can run any code). Import the "
            "Python code that defines it (model.py:ClassName), a torch.export program (.pt2) "
            "or an ONNX file")
    model, label = load_python_model(spec)
    return Imported(*read_module(model, input_shape, name, label, weights))
