"""One batch size for the design, shared by the memory readouts and training.

The batch is the analysis settings' (`design.analysis["batch"]`, the Totals panel's Batch box,
changed with `Document.set_settings` as before: saved with the design, not undoable). The
training panel's Batch field shows and edits that same value, a run trains with it, and the
training settings' `batch_size` (`design.training["config"]`) follows it, so the file, the
command line's `train` and an exported project all read the same number.

A file written while the two were separate may hold both: the training settings' batch_size is
taken (the batch the design was trained with), quietly — opening a file does not make it
modified.
"""

from __future__ import annotations

from typing import Any

BATCH_LIMIT = 65536  # the largest batch the boxes offer


def design_batch(doc: Any) -> int:
    """The design's batch size."""
    return int(doc.settings["batch"])


def _file_batch(design: Any) -> int | None:
    config = design.training.get("config") if isinstance(design.training, dict) else None
    value = config.get("batch_size") if isinstance(config, dict) else None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        return None
    return min(value, BATCH_LIMIT)


def adopt_file_batch(doc: Any) -> bool:
    """For a design just opened: take its training settings' batch_size when it differs from
    the analysis batch (the file's older, separate training batch). True when the analysis
    was refreshed with it."""
    batch = _file_batch(doc.design)
    if batch is None or batch == design_batch(doc):
        return False
    doc.design.analysis = {**doc.design.analysis, "batch": batch}
    doc.refresh()
    return True


def follow_in_training(doc: Any) -> None:
    """Write the design's batch into its training settings when they hold another one. No
    mark of its own: the change of the batch marked the design modified already."""
    training = doc.design.training
    config = training.get("config") if isinstance(training, dict) else None
    batch = design_batch(doc)
    if isinstance(config, dict) and config.get("batch_size") != batch:
        doc.design.training = {**training, "config": {**config, "batch_size": batch}}
