"""The Training tab's speed settings: precision, memory format, cudnn.benchmark, torch.compile
and whether the data set is kept on the device. Each is a field of the training settings
(TrainConfig) saved with the design; a choice is one undo step: the box emits
`settings_requested(text, {path: value})` and the training panel pushes it (settings_undo.py).

"auto" says what it becomes on this machine: training/speed.py's resolve_speed (pure, no torch)
asked for the device the run would get. What the machine has is asked of nvidia-smi in a
QProcess once the box is first shown (name and compute capability; no nvidia-smi or no GPU
listed: the CPU, or Apple's GPU on an Apple silicon Mac; a query that fails: plain "auto"),
never by importing torch in the window.
"""

from __future__ import annotations

import platform
import shutil
import sys
from dataclasses import dataclass

from PySide6.QtCore import QProcess, Signal
from PySide6.QtWidgets import QCheckBox, QComboBox, QGridLayout, QLabel, QVBoxLayout, QWidget

from ...training.events import MEMORY_FORMATS, PRECISIONS, TrainConfig
from ...training.speed import DATA_SHARE, Capability, Speed, resolve_speed
from ..widgets.decor import choose, section
from .run_info import has_conv

COMPILE_TIP = ("torch.compile the model: its first training and validation steps take longer "
               "(the compile time, shown as a phase of the run), the steps after them run "
               "faster. Where compiling fails the run goes on in eager mode and says why.")
QUERY = ["--query-gpu=name,compute_cap", "--format=csv,noheader"]


@dataclass(frozen=True)
class Machine:
    """What a run would get here: the device kind for "auto", the GPU's name, its capability."""

    kind: str = "cpu"  # cuda | mps | cpu
    name: str = ""
    capability: Capability = Capability()

    def device(self, setting: str) -> str:
        """The device kind a run gets with the Device setting `setting`."""
        return self.kind if setting == "auto" else setting


def parse_machine(text: str) -> Machine:
    """nvidia-smi's `name, compute_cap` lines -> the first GPU (none: the CPU or MPS)."""
    for line in text.splitlines():
        name, _, cap = line.rpartition(",")
        try:
            major = int(float(cap.strip()))
        except ValueError:
            continue
        if name.strip():
            return Machine("cuda", name.strip(), Capability(bf16=major >= 8, cudnn=True))
    return no_gpu()


def no_gpu() -> Machine:
    apple = sys.platform == "darwin" and platform.machine() == "arm64"
    return Machine("mps" if apple else "cpu")


def resolved(machine: Machine, device_setting: str, conv: bool) -> tuple[str, Speed]:
    """(device kind, what every "auto" speed setting becomes there) for a network with or
    without CONV layers."""
    kind = machine.device(device_setting)
    cap = machine.capability if kind == "cuda" else Capability()
    return kind, resolve_speed(TrainConfig(), kind, cap, conv)


def _tri(combo: QComboBox, auto: str) -> None:
    combo.clear()
    combo.addItem(auto, None)
    combo.addItem("on", True)
    combo.addItem("off", False)


class SpeedSettings(QWidget):
    settings_requested = Signal(str, dict)  # undo text, {field path: value}
    machine_known = Signal()

    def __init__(self, doc, parent: QWidget | None = None):
        super().__init__(parent)
        self.doc = doc
        self.machine: Machine | None = None  # until nvidia-smi answers
        self.process: QProcess | None = None
        self._config = TrainConfig()
        self._conv = has_conv(doc.network)
        self._loading = False

        self.precision = QComboBox()
        self.precision.setToolTip("bf16 / fp16: mixed precision (autocast) on CUDA; auto: "
                                  "bf16 on a GPU that has it, fp32 elsewhere")
        self.memory_format = QComboBox()
        self.memory_format.setToolTip("channels_last: NHWC layout on CUDA (faster with mixed "
                                      "precision); auto: channels_last for CONV networks on "
                                      "CUDA")
        self.cudnn = QComboBox()
        self.cudnn.setToolTip("cuDNN tries its algorithms on the first steps and keeps the "
                              "fastest (CUDA only); auto: on with CUDA")
        self.compile = QCheckBox("torch.compile")
        self.compile.setToolTip(COMPILE_TIP)
        self.data_on_device = QComboBox()
        self.data_on_device.setToolTip(
            f"Keep the whole data set on the GPU and batch it there (no copy per batch); "
            f"auto: where it takes at most {DATA_SHARE:.0%} of the GPU's free memory")
        self.precision.activated.connect(lambda _i: self._chosen(
            "Precision", {"precision": self.precision.currentData()}))
        self.memory_format.activated.connect(lambda _i: self._chosen(
            "Memory format", {"memory_format": self.memory_format.currentData(),
                              "channels_last": False}))
        self.cudnn.activated.connect(lambda _i: self._chosen(
            "cudnn.benchmark", {"cudnn_benchmark": self.cudnn.currentData()}))
        self.compile.toggled.connect(lambda on: self._chosen("torch.compile", {"compile": on}))
        self.data_on_device.activated.connect(lambda _i: self._chosen(
            "Data on the device", {"data_on_device": self.data_on_device.currentData()}))

        grid = QGridLayout()
        grid.setHorizontalSpacing(6)
        grid.setVerticalSpacing(4)
        for r, (text, w) in enumerate((("Precision", self.precision),
                                       ("Memory format", self.memory_format),
                                       ("cudnn.benchmark", self.cudnn),
                                       ("Data on the device", self.data_on_device))):
            grid.addWidget(QLabel(text), r, 0)
            grid.addWidget(w, r, 1)
        grid.addWidget(self.compile, 4, 0, 1, 2)
        grid.setColumnStretch(1, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        heading = section("Speed")
        heading.setContentsMargins(0, 8, 0, 2)
        layout.addWidget(heading)
        layout.addLayout(grid)
        doc.changed.connect(self._design_changed)
        self._fill()

    # ----------------------------------------------------------------------------- the machine

    def showEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        super().showEvent(event)
        self.probe()

    def probe(self) -> None:
        """Ask nvidia-smi once what GPU this machine has (returns at once)."""
        if self.machine is not None or self.process is not None:
            return
        program = shutil.which("nvidia-smi")
        if program is None:
            self.set_machine(no_gpu())
            return
        self.process = QProcess(self)
        self.process.finished.connect(self._read)
        self.process.start(program, QUERY)

    def _read(self, code: int, status) -> None:
        """nvidia-smi's answer (unless the machine was told already); one that failed (an
        older driver without compute_cap) leaves "auto" saying nothing it does not know."""
        if self.machine is None and status == QProcess.ExitStatus.NormalExit and code == 0:
            out = bytes(self.process.readAllStandardOutput()).decode("utf-8", "replace")
            self.set_machine(parse_machine(out))

    def set_machine(self, machine: Machine) -> None:
        """What this machine has (the probe's answer; tests set one)."""
        if self.machine is None or machine != self.machine:
            self.machine = machine
            self._fill()
            self.machine_known.emit()

    # ----------------------------------------------------------------------------- showing

    def show_config(self, config: TrainConfig) -> None:
        """The settings as they are now (the panel calls this whenever they change)."""
        self._config = config
        self._conv = has_conv(self.doc.network)
        self._fill()

    def _design_changed(self, _report=None) -> None:
        """The memory format's "auto" depends on whether the design has CONV layers."""
        if has_conv(self.doc.network) != self._conv:
            self._conv = not self._conv
            self._fill()

    def auto_texts(self) -> dict[str, str]:
        """What each "auto" item reads, for this machine and the Device setting."""
        if self.machine is None:
            return {k: "auto" for k in ("precision", "memory_format", "cudnn", "data")}
        kind, speed = resolved(self.machine, self._config.device, self._conv)
        where = f"{self.machine.name}" if kind == "cuda" and self.machine.name else kind.upper()
        fmt = "channels_last" if speed.channels_last else "contiguous"
        data = (f"on the GPU if ≤ {DATA_SHARE:.0%} of its free memory" if kind == "cuda" else
                "kept in memory" if kind == "cpu" else "on the device if it fits")
        return {"precision": f"auto: {speed.precision} here ({where})",
                "memory_format": f"auto: {fmt} here",
                "cudnn": f"auto: {'on' if speed.cudnn_benchmark else 'off'} here",
                "data": f"auto: {data}"}

    def _fill(self) -> None:
        c, auto = self._config, self.auto_texts()
        self._loading = True
        try:
            self.precision.clear()
            for name in PRECISIONS:
                self.precision.addItem(auto["precision"] if name == "auto" else name, name)
            choose(self.precision, c.precision)
            self.memory_format.clear()
            for name in MEMORY_FORMATS:
                self.memory_format.addItem(auto["memory_format"] if name == "auto" else name,
                                           name)
            # a design of the former switch: channels_last on whatever memory_format says
            choose(self.memory_format, "channels_last" if c.channels_last else c.memory_format)
            _tri(self.cudnn, auto["cudnn"])
            choose(self.cudnn, c.cudnn_benchmark)
            _tri(self.data_on_device, auto["data"])
            choose(self.data_on_device, c.data_on_device)
            self.compile.setChecked(c.compile)
        finally:
            self._loading = False

    def _chosen(self, text: str, values: dict) -> None:
        if not self._loading:
            self.settings_requested.emit(text, values)
