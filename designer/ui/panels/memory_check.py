"""Before a run starts: does one training step fit the memory that is free on the device?

The analysis's PyTorch-peak estimate for the chosen batch is compared with the free memory of
the device the run would use: the available RAM for the CPU (/proc/meminfo, else sysconf), the
free memory nvidia-smi reports for CUDA (or torch's, when torch is already loaded). When the
estimate exceeds it the user is asked, with the largest batch estimated to fit; the answer is
theirs (the estimate can be wrong either way), and a run is never refused here. MPS, or a device
whose free memory cannot be read: no question.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from typing import Any

from PySide6.QtWidgets import QMessageBox, QWidget

from ...machine import available_ram
from ...model.analysis import analyze
from ...model.units import format_bytes
from ...training.events import analysis_dtype

NVIDIA_SMI_TIMEOUT_S = 2.0


def free_gpu_memory() -> int | None:
    """Free bytes on the first CUDA GPU, or None (no GPU, no nvidia-smi, no answer)."""
    torch = sys.modules.get("torch")  # already loaded by an earlier run: ask it
    if torch is not None:
        try:
            if torch.cuda.is_available():
                return int(torch.cuda.mem_get_info()[0])
        except Exception:  # noqa: BLE001 - a question about memory must not fail a Start
            return None
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return None
    try:
        out = subprocess.run([smi, "--query-gpu=memory.free", "--format=csv,noheader,nounits"],
                             capture_output=True, text=True, timeout=NVIDIA_SMI_TIMEOUT_S,
                             check=False).stdout
        return int(float(out.splitlines()[0].strip()) * 1024**2)
    except (OSError, subprocess.SubprocessError, ValueError, IndexError):
        return None


def free_memory(device: str) -> tuple[str, int | None]:
    """(the device a run with this setting uses: "cuda", "mps" or "cpu"; its free bytes or
    None). "auto" means CUDA when a GPU answers, else the CPU (MPS on Apple silicon)."""
    if device in ("cuda", "auto"):
        free = free_gpu_memory()
        if free is not None or device == "cuda":
            return "cuda", free
        device = "mps" if sys.platform == "darwin" and os.uname().machine == "arm64" else "cpu"
    if device == "mps":
        return "mps", None
    return "cpu", available_ram()


def ask_before_start(parent: QWidget, network: Any, config: Any, batch: int) -> bool:
    """True to start: the estimate fits, cannot be made, or the user says start anyway."""
    device, free = free_memory(config.device)
    if free is None:
        return True
    dtype = analysis_dtype(config.precision, device)  # mixed precision: CUDA only
    try:
        report = analyze(network, batch=batch, dtype=dtype, optimizer=config.optimizer,
                         budget=free, device="cuda" if device == "cuda" else "cpu",
                         fix_effects=False)
    except ValueError:
        return True
    need = report.pytorch.total
    if need <= free:
        return True
    fit = report.pytorch.max_batch
    where = "GPU memory" if device == "cuda" else "RAM"
    advice = ("The largest batch estimated to fit is "
              f"{fit:,}: set it in the Batch field (or the Totals panel)." if fit else
              "Not even a batch of 1 is estimated to fit: make the layers smaller (fewer "
              "filters, more stride or pooling early).")
    answer = QMessageBox.question(
        parent, "Not enough memory?",
        f"One training step at batch {batch:,} needs about {format_bytes(need)} by the "
        f"analysis's estimate of PyTorch's peak, but only {format_bytes(free)} of {where} is "
        f"free now.\n\n{advice}\n\nStart anyway?",
        QMessageBox.Yes | QMessageBox.No, QMessageBox.No)
    return answer != QMessageBox.No
