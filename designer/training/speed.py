"""How fast a run goes and how close to the hardware: the fast settings resolved per device, where
the data set lives, and the utilisation readout. The decisions are pure functions of plain
values (no torch here), so they are tested on any machine with a made-up GPU.

- resolve_speed(config, device kind, capability, conv): the settings whose value is "auto"
  (precision, memory_format, cudnn_benchmark) made concrete: on CUDA bf16 autocast where the GPU
  has bf16 (compute capability 8.0 or later), channels_last for a network with CONV layers,
  cudnn.benchmark on; on the CPU and MPS fp32, contiguous, no cuDNN. ``Speed.line()`` is the
  run's settings line ("bf16 (auto) · channels_last (auto: CONV network) · ...").
- place_data(data bytes, free device memory, device kind): whether a data set is copied to the
  device whole and batched there (indexing, normalisation, crop and flip on the device), or
  kept on the host and fed through pinned memory, workers and a prefetching thread.
- peak_flops(device name, precision) and utilisation(...): model FLOPs per second achieved
  (6 · MACs per image · images/s: forward 2·MACs, backward twice that) over the device's dense
  peak for the precision in use, from a table of known GPUs (unknown GPU: no peak, no figure).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

__all__ = ["DATA_SHARE", "GPU_PEAKS", "Capability", "Placement", "Speed", "peak_flops",
           "place_data", "resolve_speed", "train_flops_per_image", "utilisation"]

DATA_SHARE = 0.25  # a data set up to this share of the device's free memory is kept there


# ---------------------------------------------------------------------------------------------
# The fast settings


@dataclass(frozen=True)
class Capability:
    """What the device can do, as far as the fast settings care (CUDA: torch.cuda's answers)."""

    bf16: bool = False  # bf16 autocast runs on tensor cores (compute capability ≥ 8.0)
    cudnn: bool = False  # cuDNN is there (CUDA)


@dataclass
class Speed:
    """The fast settings a run uses, each with whether it was chosen ("auto") or set."""

    precision: str  # fp32 | bf16 | fp16: what the Precision is asked for
    channels_last: bool
    cudnn_benchmark: bool
    compile: bool
    why: dict[str, str] = field(default_factory=dict)  # setting -> "auto: ..." or "set"

    def record(self, **more: Any) -> dict[str, Any]:
        """The settings as they run, and why, as plain values (for a run's record)."""
        return {"precision": self.precision, "channels_last": self.channels_last,
                "cudnn_benchmark": self.cudnn_benchmark, "compile": self.compile,
                **more, "why": dict(self.why)}

    def line(self) -> str:
        """The run's settings line: each fast setting as it runs, and why."""
        def said(key: str, text: str) -> str:
            reason = self.why.get(key, "")
            return f"{text} ({reason})" if reason else text
        parts = [said("precision", self.precision),
                 said("memory_format", "channels_last" if self.channels_last else "contiguous"),
                 said("cudnn_benchmark", "cudnn.benchmark " + ("on" if self.cudnn_benchmark
                                                                else "off")),
                 said("compile", "torch.compile " + ("on" if self.compile else "off"))]
        return "speed: " + " · ".join(parts)


def resolve_speed(config: Any, device: str, capability: Capability, conv: bool) -> Speed:
    """config.precision / memory_format / channels_last / cudnn_benchmark / compile made
    concrete for a ``device`` ("cuda" | "mps" | "cpu") with ``capability``, for a network with
    CONV layers (``conv``) or without. "auto": what trains fastest there without changing what
    is learnt beyond mixed precision's rounding (CUDA: bf16 where the GPU has it, channels_last
    for CONV networks, cudnn.benchmark on; elsewhere fp32, contiguous). A value that is set is
    kept (precision: basics.resolve_precision says what runs where it cannot)."""
    cuda = device == "cuda"
    why: dict[str, str] = {}
    precision = getattr(config, "precision", "fp32")
    if precision == "auto":
        if cuda and capability.bf16:
            precision, why["precision"] = "bf16", "auto: bf16 autocast on this GPU"
        else:
            precision = "fp32"
            why["precision"] = ("auto: this GPU has no bf16" if cuda else
                                f"auto: fp32 on {device.upper()}")
    fmt = getattr(config, "memory_format", "auto")
    if getattr(config, "channels_last", False):  # the switch of earlier versions: on
        fmt = "channels_last"
    if fmt == "auto":
        channels_last = cuda and conv
        why["memory_format"] = ("auto: CONV network on CUDA" if channels_last else
                                "auto: no CONV layers" if cuda else f"auto: {device.upper()}")
    else:
        channels_last = fmt == "channels_last" and cuda
        if fmt == "channels_last" and not cuda:
            why["memory_format"] = f"channels_last is CUDA only: ignored on {device.upper()}"
    bench = getattr(config, "cudnn_benchmark", None)
    if bench is None:
        bench = cuda and capability.cudnn
        why["cudnn_benchmark"] = "auto" if cuda else f"auto: no cuDNN on {device.upper()}"
    else:
        bench = bool(bench) and cuda
        if getattr(config, "cudnn_benchmark", None) and not cuda:
            why["cudnn_benchmark"] = f"cuDNN is CUDA only: ignored on {device.upper()}"
    return Speed(precision, channels_last, bool(bench), bool(getattr(config, "compile", False)),
                 why)


# ---------------------------------------------------------------------------------------------
# Where the data set lives


@dataclass(frozen=True)
class Placement:
    on_device: bool  # the data set is copied to the device whole and batched there
    why: str  # for the run's notes


def place_data(data_bytes: int, free_bytes: int | None, device: str,
               share: float = DATA_SHARE, want: bool | None = None) -> Placement:
    """Whether a data set of ``data_bytes`` (as it would be held on the device) is kept on a
    ``device`` with ``free_bytes`` free: where it takes at most ``share`` of the free memory
    (the rest is the model's), or where ``want`` (the setting data_on_device) says so. The CPU
    holds its data where it is; an accelerator whose free memory is unknown gets it from the
    host."""
    size = _bytes(data_bytes)
    if device == "cpu":
        return Placement(False, "")
    if want is False:
        return Placement(False, f"data set ({size}) fed from the host (data_on_device off)")
    if want is True:
        return Placement(True, f"data set ({size}) kept on the {device.upper()} "
                               "(data_on_device on)")
    if free_bytes is None:
        return Placement(False, f"data set ({size}) fed from the host: the {device.upper()}'s "
                                "free memory is unknown")
    limit = int(free_bytes * share)
    if data_bytes <= limit:
        return Placement(True, f"data set ({size}) kept on the {device.upper()}: batched, "
                               f"normalised and augmented there (≤ {share:.0%} of the "
                               f"{_bytes(free_bytes)} free)")
    return Placement(False, f"data set ({size}) fed from the host through pinned memory: "
                            f"more than {share:.0%} of the {_bytes(free_bytes)} free on the "
                            f"{device.upper()}")


def _bytes(n: int) -> str:
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n} B"


# ---------------------------------------------------------------------------------------------
# Utilisation


# Dense (no sparsity) tensor-core peaks in TFLOP/s, from NVIDIA's data sheets: bf16 (fp16 the
# same on these), and "fp32" as TF32 on tensor cores (what cuDNN's convolutions use in fp32 by
# default, torch.backends.cudnn.allow_tf32). First match wins: the specific names first.
GPU_PEAKS: tuple[tuple[str, str, dict[str, float]], ...] = (
    (r"GH200", "GH200", {"bf16": 989.4, "fp16": 989.4, "fp32": 494.7}),
    (r"H200 NVL", "H200 NVL", {"bf16": 835.5, "fp16": 835.5, "fp32": 417.8}),
    (r"H200", "H200 SXM", {"bf16": 989.4, "fp16": 989.4, "fp32": 494.7}),
    (r"H100 NVL", "H100 NVL", {"bf16": 835.5, "fp16": 835.5, "fp32": 417.8}),
    (r"H100 PCIe", "H100 PCIe", {"bf16": 756.5, "fp16": 756.5, "fp32": 378.0}),
    (r"H100", "H100 SXM", {"bf16": 989.4, "fp16": 989.4, "fp32": 494.7}),
    (r"A100", "A100", {"bf16": 312.0, "fp16": 312.0, "fp32": 156.0}),
    (r"L40S", "L40S", {"bf16": 362.1, "fp16": 362.1, "fp32": 183.0}),
    (r"\bL4\b", "L4", {"bf16": 121.0, "fp16": 121.0, "fp32": 60.0}),
    (r"\bA10\b", "A10", {"bf16": 125.0, "fp16": 125.0, "fp32": 62.5}),
    (r"RTX 4090", "RTX 4090", {"bf16": 165.2, "fp16": 165.2, "fp32": 82.6}),
    (r"RTX 3090", "RTX 3090", {"bf16": 71.0, "fp16": 71.0, "fp32": 35.6}),
    (r"V100", "V100", {"fp16": 125.0, "fp32": 15.7}),
)


def peak_flops(device_name: str, precision: str) -> float | None:
    """The device's dense peak in FLOP/s for ``precision`` (fp32 | bf16 | fp16), or None for a
    device not in GPU_PEAKS (or a precision it has no figure for)."""
    for pattern, _label, peaks in GPU_PEAKS:
        if re.search(pattern, device_name):
            tf = peaks.get(precision)
            return None if tf is None else tf * 1e12
    return None


def train_flops_per_image(macs: int) -> float:
    """Model FLOPs of one image's training step: 2·MACs forward, twice that backward."""
    return 6.0 * macs


def utilisation(macs: int, images_per_s: float,
                peak: float | None) -> tuple[float, float | None]:
    """(achieved model FLOP/s, that over ``peak`` or None where the peak is unknown)."""
    achieved = train_flops_per_image(macs) * max(images_per_s, 0.0)
    if not peak or peak <= 0:
        return achieved, None
    return achieved, achieved / peak
