"""The line under the training controls: speed (images/s, and the model FLOP/s the Trainer
reports with its share of the device's peak: training/speed.py's figures, formatted here), loss,
validation accuracy, the device, and the measured peak memory beside the analysis's estimate for
the same step (HTML for a QLabel)."""

from __future__ import annotations

import html
from typing import Any

from ...model.analysis import analyze
from ...model.network import Network
from ...model.units import format_bytes
from ...training.events import EpochEvent, RunResult, StartEvent, TrainConfig, analysis_dtype

SEPARATOR = " &nbsp;·&nbsp; "


def during(batch: Any, history: list[EpochEvent], start: StartEvent | None,
           estimate: int | None) -> str:
    """While a run trains: the latest batch's figures (None before the first)."""
    parts = []
    if batch is not None:
        parts.append(f"<b>{batch.images_per_s:,.0f}</b> images/s")
        flops = utilisation_text(getattr(batch, "model_flops_per_s", None),
                                 getattr(batch, "utilisation", None))
        if flops:
            parts.append(flops)
        parts.append(f"loss <b>{batch.loss:.3g}</b>")
    if history:
        parts.append(f"validation accuracy <b>{100 * history[-1].val_accuracy:.1f}%</b>")
    if start is not None:
        parts.append(html.escape(start.device))
    parts.append(memory(batch.peak_bytes if batch is not None else None, estimate))
    return SEPARATOR.join(parts)


def after(result: RunResult, start: StartEvent | None, estimate: int | None) -> str:
    """When a run has ended."""
    parts = []
    if result.best_val_accuracy is not None:
        parts.append(f"best validation accuracy <b>{100 * result.best_val_accuracy:.1f}%</b>")
    flops = utilisation_text(result.model_flops_per_s, result.utilisation)
    if flops:
        parts.append(flops)
    device = result.device or (start.device if start else "")
    if device:
        parts.append(html.escape(device))
    parts.append(memory(result.peak_bytes, estimate))
    return SEPARATOR.join(parts)


def flops_text(flops: float) -> str:
    """Model FLOP/s as the readouts write them: '1.2 TFLOP/s', '85.3 GFLOP/s'."""
    for unit, size in (("PFLOP/s", 1e15), ("TFLOP/s", 1e12), ("GFLOP/s", 1e9),
                       ("MFLOP/s", 1e6)):
        if flops >= size:
            return f"{flops / size:.3g} {unit}"
    return f"{flops:.3g} FLOP/s"


def utilisation_text(flops: float | None, share: float | None) -> str:
    """'1.2 TFLOP/s (38% of peak)' for the Trainer's model FLOP/s and their share of the
    device's peak (None: a device whose peak is not known); '' before there is a rate."""
    if flops is None or not flops > 0:
        return ""
    text = flops_text(flops).replace(" ", "&nbsp;")
    if share is not None:
        shown = f"{share:.0%}" if share >= 0.1 else f"{share:.1%}" if share >= 0.001 else \
            "< 0.1%"
        text += f" ({shown} of peak)".replace(" ", "&nbsp;")
    return text


def has_conv(network: Network) -> bool:
    """Whether a design has CONV layers (the memory format's "auto" depends on it)."""
    return any(node.type == "Conv2d" for node in network.nodes.values())


def memory(measured: int | None, estimate: int | None) -> str:
    """Measured peak beside the analysis's estimate for the same step."""
    text = ("peak memory <b>" + format_bytes(measured).replace(" ", "&nbsp;") + "</b>"
            if measured is not None else "peak memory – (measured on CUDA)")
    if estimate is not None:
        text += " / estimated " + format_bytes(estimate).replace(" ", "&nbsp;")
    return text


def analysis(network: Network):
    """The analysis of a network other than the document's (a hint's variant)."""
    return analyze(network)


def estimate(network: Network, config: TrainConfig) -> int | None:
    """The analysis's PyTorch peak of one training step with these settings (None: the design
    cannot be analysed)."""
    try:
        report = analyze(network, batch=config.batch_size,
                         dtype=analysis_dtype(config.precision, "cuda"),  # peaks: CUDA
                         optimizer=config.optimizer)
    except ValueError:
        return None
    return report.pytorch.total
