"""torch.export of a design: an ExportedProgram saved as a .pt2 file.

The program is the design's module in eval mode (fresh weights, or a state_dict you pass) traced
by torch.export with a dynamic batch axis; it runs without the designer or any Python class of
it: `torch.export.load(path).module()(x)`. The file can be read back as a design
(designer.bridge.importer), since torch.export keeps each operation's module path, and the module
paths are the design's layer ids. The file is written atomically (designer.atomic): a kill or a
failure leaves the previous file as it was.

TORCH, no Qt.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from ..atomic import replacing
from ..model.analysis import analyze
from ..model.network import Network
from .module import BuildError, build_module

__all__ = ["BuildError", "Pt2ExportError", "Pt2Result", "export_pt2"]

MAX_BATCH = 1 << 20


class Pt2ExportError(RuntimeError):
    """torch.export failed, or the weights do not fit; the message says why."""


@dataclass(frozen=True)
class Pt2Result:
    model: nn.Module  # what was exported (eval mode)
    path: Path
    program: torch.export.ExportedProgram


def export_pt2(network: Network, path: str | os.PathLike[str], *,
               weights: Mapping[str, torch.Tensor] | None = None) -> Pt2Result:
    """Export the design with torch.export and save it (BuildError where the design has
    errors, Pt2ExportError where the export fails)."""
    report = analyze(network)
    model = build_module(network, report)
    if weights is not None:
        try:
            model.load_state_dict(dict(weights), strict=True)
        except RuntimeError as e:
            raise Pt2ExportError(f"the weights do not fit the design: {e}") from None
    model.eval()
    shape = report.layers[model.input_id].shape
    x = torch.zeros(2, *shape)  # not 1: torch.export would take a batch of 1 as a constant
    batch = torch.export.Dim("batch", min=1, max=MAX_BATCH)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            program = torch.export.export(model, (x,), dynamic_shapes={"x": {0: batch}})
    except Exception as e:  # noqa: BLE001 - torch.export's many error types
        first = str(e).strip().splitlines()[0] if str(e).strip() else ""
        raise Pt2ExportError(f"torch.export failed: {type(e).__name__}: {first[:300]}") from None
    path = Path(path)
    with replacing(path) as tmp:  # a kill or a failure never leaves half a file at `path`
        torch.export.save(program, str(tmp))
    return Pt2Result(model, path, program)
