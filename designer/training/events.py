"""What a training run is told and what it reports: plain records shared by the Trainer (no Qt),
the command line and the window's TrainWorker. No torch here, so the window can build a config
and read results without importing torch.
"""

from __future__ import annotations

import math
from dataclasses import InitVar, asdict, dataclass, field
from typing import Any, Protocol

OPTIMIZERS = ("sgd", "momentum", "nesterov", "adam", "adamw", "rmsprop", "adagrad")
SCHEDULES = ("none", "step", "cosine", "onecycle")
DEVICES = ("auto", "cuda", "mps", "cpu")
# bf16 / fp16: mixed precision (autocast) on CUDA; auto: bf16 on a GPU that has it, else fp32
PRECISIONS = ("auto", "fp32", "bf16", "fp16")
MEMORY_FORMATS = ("auto", "channels_last", "contiguous")  # auto: channels_last on CUDA for CONV
DATASETS = ("synthetic", "mnist", "fashion-mnist", "cifar10", "cifar100", "folder", "npz")
# settings that reach the disk or the machine without being shown in the Training panel: a design
# file does not choose them (its copy is ignored); the command line's options and the app do
MACHINE_SETTINGS = ("checkpoint_dir", "num_workers")


@dataclass
class DataConfig:
    """Which data set, how it is shaped to the design's input, and how its training split is
    augmented: ``crop_padding`` and ``hflip``, each None for the data set's standard recipe
    (training/data/recipe.py: CIFAR-10/100 a pad-4 crop and a flip, the synthetic set the crop,
    MNIST, Fashion-MNIST and one's own folder or .npz none).

    ``augment`` is the former switch, kept as a deprecated alias: ``augment=False`` (an argument,
    a saved file's "augment": false, or ``config.augment = False``) sets crop_padding 0 and hflip
    False; as an argument True changes nothing (the standard recipe, or what the fields choose),
    ``config.augment = True`` sets both to None. Reading it says whether augmentation is left on
    at all (False only where both are off)."""

    name: str = "synthetic"  # synthetic | mnist | fashion-mnist | cifar10 | cifar100 | folder | npz
    path: str | None = None  # a folder of the standard files, an image folder, or a .npz file
    download: bool = False  # fetch the standard files into the cache when they are missing
    train_size: int | None = None  # synthetic: samples; others: use at most this many
    val_size: int | None = None
    crop_padding: int | None = None  # px of zero padding around a random crop; 0 none; None std
    hflip: bool | None = None  # a random horizontal flip; None: the standard recipe's
    seed: int = 0
    augment: InitVar[bool | None] = None  # deprecated: see above; not saved

    def __post_init__(self, augment: bool | None) -> None:
        if augment is False:
            _set_augment(self, False)


def _get_augment(self: DataConfig) -> bool:
    return not (self.crop_padding == 0 and self.hflip is False)


def _set_augment(self: DataConfig, on: bool) -> None:
    self.crop_padding, self.hflip = (None, None) if on else (0, False)


# after the dataclass is made: its __init__ keeps `augment` as an argument (InitVar), and the
# attribute reads and writes crop_padding / hflip
DataConfig.augment = property(_get_augment, _set_augment,  # type: ignore[assignment]
                              doc="deprecated: False = crop_padding 0 and hflip False")


@dataclass
class TrainConfig:
    data: DataConfig = field(default_factory=DataConfig)
    epochs: int = 10
    # batch 32 (the window's analysis batch too), Adam at 0.003, one-cycle: measured on small
    # real data across the case studies (the figures and the former defaults: training/defaults.py)
    batch_size: int = 32
    optimizer: str = "adam"
    lr: float = 3e-3
    momentum: float = 0.9  # momentum / nesterov / rmsprop
    weight_decay: float = 0.0
    schedule: str = "onecycle"
    step_size: int = 10  # step schedule: epochs between decays
    gamma: float = 0.1
    device: str = "auto"
    # the fast settings (training/speed.py resolves "auto" / None per device; the run's notes
    # show what runs): auto = bf16 autocast on a GPU with bf16, fp32 elsewhere
    precision: str = "auto"
    channels_last: bool = False  # on: channels_last on CUDA whatever memory_format says
    memory_format: str = "auto"  # auto | channels_last | contiguous (auto: CONV nets on CUDA)
    cudnn_benchmark: bool | None = None  # None: on for CUDA
    compile: bool = False  # torch.compile the model (falls back to eager, saying why)
    # None: the data set is kept on the GPU where it takes ≤ 25 % of the free memory
    data_on_device: bool | None = None
    seed: int = 0
    num_workers: int = 0
    # last.safetensors and best.safetensors go here: resumable checkpoints (training/runs.py)
    checkpoint_dir: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Any, from_file: bool = False) -> TrainConfig:
        """Settings as saved by to_dict(), each checked: a ConfigError names the first one that
        is wrong (`epochs: expected a whole number ≥ 1, got "3"`). `from_file`: the settings
        come from a design file, so those that reach the disk or the machine unseen
        (MACHINE_SETTINGS) are ignored."""
        values = _checked(data, _TRAIN_RULES, "")
        if from_file:
            for key in MACHINE_SETTINGS:
                values.pop(key, None)
        values["data"] = DataConfig(**_checked(values.get("data", {}), _DATA_RULES, "data."))
        return cls(**values)


def analysis_dtype(precision: str, device: str) -> str:
    """The analysis's dtype for a precision setting on a device kind ("cuda" | "mps" | "cpu"):
    mixed precision counts on CUDA only; "auto" is bf16 there (speed.resolve_speed; a GPU
    without bf16 runs fp32), fp32 elsewhere."""
    if device != "cuda":
        return "fp32"
    return "bf16" if precision == "auto" else precision


class ConfigError(ValueError):
    """Training settings that cannot be used; the message names the setting."""


def _whole(low: int, high: int | None = None, none: bool = False):
    def check(v: Any) -> str | None:
        if v is None and none:
            return None
        if isinstance(v, bool) or not isinstance(v, int) or v < low or (
                high is not None and v > high):
            top = f" and ≤ {high:,}" if high is not None else ""
            return f"expected a whole number ≥ {low}{top}" + (" or null" if none else "")
        return None
    return check


def _real(low: float, above: bool = False, high: float = math.inf):
    def check(v: Any) -> str | None:
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or (
                v <= low if above else v < low) or v > high:
            top = f" and ≤ {high:g}" if math.isfinite(high) else ""
            return f"expected a finite number {'>' if above else '≥'} {low:g}{top}"
        return None
    return check


def _one_of(choices: tuple[str, ...]):
    def check(v: Any) -> str | None:
        return None if isinstance(v, str) and v in choices else f"expected one of " \
            f"{', '.join(choices)}"
    return check


def _flag(v: Any) -> str | None:
    return None if isinstance(v, bool) else "expected true or false"


def _flag_or_none(v: Any) -> str | None:
    return None if v is None or isinstance(v, bool) else "expected true, false or null"


def _text(v: Any) -> str | None:
    return None if v is None or (isinstance(v, str) and len(v) < 4096 and "\0" not in v) else \
        "expected a path (text) or null"


_SEED = _whole(0, 2**32 - 1)
_DATA_RULES = {"name": _one_of(DATASETS), "path": _text, "download": _flag,
               "train_size": _whole(1, 10**9, none=True), "val_size": _whole(0, 10**9, none=True),
               "crop_padding": _whole(0, 1024, none=True), "hflip": _flag_or_none,
               "augment": _flag, "seed": _SEED}  # augment: the former switch (files before it)
_TRAIN_RULES = {"data": None, "epochs": _whole(1, 100_000), "batch_size": _whole(1, 65_536),
                "optimizer": _one_of(OPTIMIZERS), "lr": _real(0, above=True),
                "momentum": _real(0, high=1), "weight_decay": _real(0),
                "schedule": _one_of(SCHEDULES), "step_size": _whole(1, 100_000),
                "gamma": _real(0, above=True), "device": _one_of(DEVICES),
                "precision": _one_of(PRECISIONS), "channels_last": _flag,
                "memory_format": _one_of(MEMORY_FORMATS), "cudnn_benchmark": _flag_or_none,
                "compile": _flag, "data_on_device": _flag_or_none, "seed": _SEED,
                "num_workers": _whole(0, 256), "checkpoint_dir": _text}


def _checked(data: Any, rules: dict[str, Any], prefix: str) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise ConfigError(f"{prefix.rstrip('.') or 'the training settings'}: expected an object")
    out = {}
    for key, value in data.items():
        if key not in rules:
            raise ConfigError(f"{prefix}{key}: unknown setting (known: {', '.join(rules)})")
        check = rules[key]
        problem = check(value) if check is not None else None
        if problem:
            shown = repr(value) if not isinstance(value, str) else '"' + value[:40] + '"'
            raise ConfigError(f"{prefix}{key}: {problem}, got {shown[:60]}")
        out[key] = value
    return out



@dataclass
class StartEvent:
    device: str  # e.g. "NVIDIA H100 80GB HBM3" or "CPU (8 threads)"
    train_samples: int
    val_samples: int
    steps_per_epoch: int
    classes: int
    estimated_bytes: int | None  # the analysis's estimate of what the step holds
    notes: list[str] = field(default_factory=list)  # e.g. "fp16 needs CUDA: training in fp32"


@dataclass
class BatchEvent:
    epoch: int  # 1-based
    step: int  # 1-based within the epoch
    steps: int  # per epoch
    global_step: int
    loss: float
    accuracy: float  # of this batch, 0..1
    lr: float
    images_per_s: float  # recent average
    elapsed_s: float
    eta_s: float  # whole run
    peak_bytes: int | None  # device memory peak so far (CUDA), None where not measurable
    # model FLOP/s achieved (6 · the analysis's MACs per image · images/s), and that over the
    # device's peak for the precision in use (None: a device whose peak is not known)
    model_flops_per_s: float | None = None
    utilisation: float | None = None


@dataclass
class PhaseEvent:
    """A phase of the run outside the batches (callbacks.on_phase): "compiling" (torch.compile's
    first steps), sent when it begins (done False, seconds 0) and when it ends (done True)."""

    phase: str  # compiling
    what: str  # training | validation: the step being compiled
    seconds: float
    done: bool
    note: str = ""  # at the end: what came of it ("compiled", or why it runs eagerly)

    def text(self) -> str:
        """'compiling… ' while it runs, 'compiling… 12.3 s' at its end."""
        head = f"{self.phase} the {self.what} step…"
        return f"{head} {self.seconds:.1f} s" if self.done else head


@dataclass
class EpochEvent:
    epoch: int
    train_loss: float
    train_accuracy: float
    val_loss: float
    val_accuracy: float
    lr: float
    seconds: float


LONG_STEP_S = 1.0  # a step at least this long: Stop says "stopping after this step (≈ N s)"


@dataclass
class StoppingEvent:
    """What Trainer.stop() answers (in the caller's thread) while the run finishes the step in
    progress: the run ends, and writes its checkpoint, after that step."""

    epoch: int  # 0 while loading
    step: int  # the batch in progress, 1-based (0 while loading)
    steps: int  # batches of this phase
    phase: str  # training | validation | loading (the data set: reading, downloading)
    seconds: float  # about how long until the step (or the read in progress) ends, ≥ 0
    step_seconds: float  # how long the latest step took (loading: between two reports)

    @property
    def long(self) -> bool:
        """Whether the window should say how long: one step takes LONG_STEP_S or more."""
        return self.step_seconds >= LONG_STEP_S and self.seconds > 0

    def text(self) -> str:
        """'stopping after this step (≈ 4 s)' for a long step, else 'stopping'."""
        if not self.long:
            return "stopping"
        what = "read" if self.phase == "loading" else "step"
        return f"stopping after this {what} (≈ {max(math.ceil(self.seconds), 1)} s)"


@dataclass
class Fault:
    kind: str  # out_of_memory | nan_loss | data | model | shape | interrupted
    #            (also: device | config | checkpoint | resume | weights | internal)
    message: str  # what happened, in a sentence
    advice: str  # what to do about it
    detail: str = ""  # the Python traceback, where an exception caused it


@dataclass
class RunResult:
    status: str  # finished | stopped | failed
    epochs_done: int
    history: list[EpochEvent]
    fault: Fault | None = None
    best_val_accuracy: float | None = None
    seconds: float = 0.0
    device: str = ""
    peak_bytes: int | None = None
    config: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)  # as in StartEvent
    # the speed: what the fast settings ran as (training/speed.py's Speed, as a dict), the
    # seconds torch.compile took, the latest model FLOP/s and utilisation (see BatchEvent)
    speed: dict[str, Any] = field(default_factory=dict)
    compile_s: float | None = None
    model_flops_per_s: float | None = None
    utilisation: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class ProbeRequest:
    """What a window wants to see inside the network being trained (designer/training/probes.py
    answers with a ProbeReport): the feature maps of one sample at the end of every epoch, or
    between two batches when asked (Trainer.request_probe)."""

    sample: int = 0  # an index into the validation split ...
    # ... or this image: a picture's 8-bit pixels (H, W) or (H, W, C), shaped and normalised
    # like the data set by the prober, or a (C, H, W) float32 array taken as it is
    image: Any = None
    image_name: str = ""
    layers: tuple[str, ...] | None = None  # None: every layer
    max_values: int = 1 << 18  # per layer (larger maps are shrunk by block means)
    max_slices: int = 4096  # per layer
    evaluation: bool = True  # at epoch ends: confusion matrix and misclassified samples
    wrong: int = 24  # thumbnails of the most confidently wrong validation samples


class Callbacks(Protocol):
    """What a Trainer calls, from the thread it runs in. All optional."""

    def on_start(self, event: StartEvent) -> None: ...
    def on_batch(self, event: BatchEvent) -> None: ...
    def on_epoch(self, event: EpochEvent) -> None: ...
    def on_end(self, result: RunResult) -> None: ...
    def on_phase(self, event: PhaseEvent) -> None: ...  # compiling: its start and its end
    # Probes (designer/training/probes.py): when probe_request() returns a ProbeRequest, the
    # Trainer probes at every epoch end (and between batches after request_probe()) and hands
    # the ProbeReport to on_probe; None (or no such method): no probing, no cost.
    def probe_request(self) -> ProbeRequest | None: ...
    def on_probe(self, report: Any) -> None: ...
