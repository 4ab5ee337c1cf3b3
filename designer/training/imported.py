"""An imported model's weights kept as a run of its design (issue 17), so that everything that
uses a design's trained weights (the Inside tab, the exports, "start the next run from the
trained weights", the run list) finds them as it finds a trained run's:

    record = keep_imported(imported, source, folder, run_id)   # writes folder/best.safetensors
    design.training = {**design.training, "runs": [record]}

The weights file is written as a trained run's best checkpoint is (runs.write_checkpoint: a
safetensors file, the state_dict under "model/", its "meta" with the design's text), so
runs.read_weights, the exports and Document.open_version read it unchanged. The record is a run
record of kind and status "imported": its id (the folder's name, training/store.py), the design's
version (model/versions.py), weights ["best"], where the weights came from ("source") and the
importer's note. The command line writes into the design's weights folder, the window into the
session's working folder (copied beside the design when it is saved).

Nothing is unpickled: the weights come from bridge/importer.py, which never unpickles a file.
TORCH when writing (keep_imported); the names and imported_from() need no torch.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..model.design_file import Design, dumps
from ..model.versions import structure_key

if TYPE_CHECKING:
    from ..bridge.importer import Imported

KIND = "imported"  # the record's "kind" and "status"


def keep_imported(imported: Imported, source: str, folder: str | Path,
                  run_id: str) -> dict[str, Any] | None:
    """Write the imported weights to `folder`/best.safetensors and return the run record that
    names them; None (nothing written) where there are no weights to keep (imported.weights is
    None, or {}: no layer of the design has weights). Raises OSError (or CheckpointError, a
    ValueError) where the file cannot be written."""
    from . import runs

    if not imported.weights:
        return None
    design = imported.design
    network = design.network
    inputs = [n for n in network.nodes.values() if n.type == "Input"]
    shape = ([inputs[0].params.get(k) for k in ("channels", "height", "width")]
             if len(inputs) == 1 else None)
    meta = {"design": network.name, "input_shape": shape, "classes": None, "config": None,
            "normalization": None, "kind": KIND, "source": source, "note": imported.note,
            "design_file": dumps(Design(network)),
            "file": "best.safetensors"}
    runs.write_checkpoint(Path(folder) / "best.safetensors",
                          {"model": dict(imported.weights), "meta": meta})
    return {"id": run_id, "kind": KIND, "status": KIND, "version": structure_key(network),
            "weights": ["best"], "source": source, "note": imported.note,
            "finished_at": time.strftime("%Y-%m-%dT%H:%M:%S")}


def is_imported(record: Any) -> bool:
    return isinstance(record, dict) and record.get("kind") == KIND


def imported_from(record: dict[str, Any]) -> str:
    """'lenet.onnx': the file (or module) an imported run's weights came from, as a name."""
    source = str(record.get("source") or "?")
    head, colon, attr = source.rpartition(":")
    if colon and head and not head.endswith(("\\", "/")) and len(head) > 1:
        return f"{Path(head).name}:{attr}"  # model.py:Net (a Windows drive 'C:' stays)
    return Path(source).name or source
