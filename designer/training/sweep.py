"""Design searches on Optuna: which variant of a design, trained how, does best. TORCH + optuna,
no Qt.

    sweep = Sweep(network, TrainConfig(epochs=3), SweepConfig(trials=20, budget=8 << 30),
                  design_path="net.convnet.json")
    result = sweep.run()             # blocks; sweep.stop() from any thread ends it early
    result.best, result.records, result.best_path

The search space: the design's knobs (designer/model/knobs.py: width multiplier, kernel size,
dropout, blocks per stage; those that do not apply are listed in `space().left_out`) and the
training knobs (lr on a log scale, batch, weight decay on a log scale, optimizer), less those
held fixed (SweepConfig.fixed: the command line's --lr, --batch, ... hold theirs).

A trial: Optuna suggests the values; the variant is analysed first (the analysis is instant):
a variant the analysis refuses, over the memory budget (the PyTorch estimate of one training
step at the trial's batch) or over the MACs cap is pruned before it trains, the reason in
trial.user_attrs["sweep"]["reason"] (pruned_by "analysis"). Otherwise the Trainer trains it
on the data loaded once for the whole sweep; at every epoch's end the validation accuracy is
reported to the trial and the pruner (median, successive halving) may stop it
(pruned_by "pruner"). The trial's value is the best validation accuracy (maximised). A run that
fails (NaN loss, out of memory) is a failed trial with the fault's message; the sweep goes on.

Storage: any SQLAlchemy URL (sqlite:///..., postgresql://..., mysql://...); the default is
sqlite:///<design stem>.sweep.db beside the design. The study is loaded if it exists, so several
processes (on one machine or many, sharing a database server) running the same command share
one study: Optuna is the distributed engine. `trials` is the study's total: each process runs
trials until the study holds that many (finished, pruned, failed by a fault, or running).
"""

from __future__ import annotations

import math
import os
import socket
import threading
import time
import warnings
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ..model import design_file
from ..model.analysis import analyze
from ..model.knobs import Knob, KnobError, Knobs, apply_knobs, design_knobs
from ..model.network import Network
from ..model.units import format_bytes, format_count
from ..model.versions import structure_key
from .events import OPTIMIZERS, TrainConfig
from .tensorboard import INSTALL as TENSORBOARD_INSTALL
from .tensorboard import Tee, TensorBoardCallbacks, TensorBoardError, TensorBoardMissing

PRUNERS = ("median", "halving", "none")
INSTALL = ("design searches need Optuna: pip install optuna "
           "(from a checkout: pip install -e '.[sweep]')")
TRAINING_KNOBS = (
    Knob("lr", "float", "learning rate", low=1e-4, high=0.1, log=True),
    Knob("batch_size", "choice", "batch size", choices=(16, 32, 64, 128, 256)),
    Knob("weight_decay", "float", "weight decay (L2)", low=1e-6, high=1e-2, log=True),
    Knob("optimizer", "choice", "optimizer",
         choices=tuple(o for o in ("momentum", "nesterov", "adam", "adamw") if o in OPTIMIZERS)),
)
# the states a study's total counts (a waiting trial, enqueued, is one the next trials run)
SEARCHED = ("complete", "pruned", "running")
_ATTEMPTS = 4  # opening a shared study
_DTYPES = {"fp32": "fp32", "bf16": "bf16", "fp16": "fp16"}


class SweepError(ValueError):
    """A sweep that cannot start; the message names the setting or file that is wrong."""


class OptunaMissing(SweepError):
    """Optuna is not installed; the message says what to install."""


def import_optuna():
    try:
        import optuna
    except ImportError:
        raise OptunaMissing(INSTALL) from None
    return optuna


@dataclass
class SweepConfig:
    trials: int = 20  # the study's total (see the module)
    budget: int | None = None  # bytes of one training step, at most (the PyTorch estimate)
    max_macs: int | None = None  # multiply-accumulates of one forward pass per image, at most
    pruner: str = "median"  # median | halving | none
    storage: str | None = None  # an RDB URL; None: sqlite beside the design
    study: str | None = None  # None: the design file's stem (or the design's name)
    sampler_seed: int | None = None  # a repeatable search (in one process)
    startup_trials: int = 3  # trials finished before the median pruner prunes
    fixed: tuple[str, ...] = ()  # training knobs held at the TrainConfig's value
    tensorboard: str | None = None  # a folder: one log per trial (trial_0007/)


@dataclass
class TrialRecord:
    """One trial as the sweep reports it (from Optuna's FrozenTrial)."""

    number: int
    state: str  # complete | pruned | failed | running
    params: dict[str, Any]
    value: float | None = None  # the best validation accuracy
    pruned_by: str | None = None  # analysis | pruner
    reason: str = ""  # why it was pruned or failed
    epochs: int = 0  # epochs reported
    seconds: float | None = None
    macs: int | None = None
    memory: int | None = None  # the analysis's estimate of a training step, bytes
    param_count: int | None = None
    config: dict[str, Any] | None = None  # the TrainConfig it trained with (to_dict)
    worker: str = ""  # host:pid of the process that ran it

    def settings_text(self) -> str:
        """'lr 0.0031, batch 64, optimizer adam, weight decay 1e-05, 3 epochs' ('' unknown)."""
        c = self.config
        if not c:
            return ""
        return (f"lr {c['lr']:.3g}, batch {c['batch_size']}, optimizer {c['optimizer']}, "
                f"weight decay {c['weight_decay']:.3g}, {c['epochs']} epochs")

    def line(self) -> str:
        """'trial 3: 61.2% (width 2, lr 0.0031, ...)' / 'trial 4: pruned by the analysis: ...'."""
        head = f"trial {self.number}: "
        if self.state == "complete":
            head += f"{_pct(self.value)}"
        elif self.state == "pruned":
            head += f"pruned by the {self.pruned_by or 'pruner'}: {self.reason}"
        elif self.state == "failed":
            head += f"failed: {self.reason}"
        else:
            head += self.state
        return f"{head} ({format_params(self.params)})"


@dataclass
class Space:
    design: Knobs
    training: list[Knob]
    fixed: list[str] = field(default_factory=list)  # "lr: 0.01 (fixed)"

    @property
    def knobs(self) -> list[Knob]:
        return self.design.knobs + self.training

    def lines(self) -> list[str]:
        out = [k.describe() for k in self.knobs]
        out += [f"{f} (held)" for f in self.fixed]
        out += [f"left out: {w}" for w in self.design.left_out]
        return out


@dataclass
class SweepResult:
    study: str
    storage: str
    records: list[TrialRecord]  # every trial of the study, this process's and the others'
    best: TrialRecord | None
    best_path: Path | None  # where the best trial's design was written
    stopped: bool = False


class Sweep:
    """A design search (see the module). callbacks: an object with some of on_trial_start(number,
    params), on_trial_end(record), and any Trainer callbacks (on_start, on_batch, on_epoch,
    on_end), which hear each trial's run."""

    def __init__(self, network: Network, base: TrainConfig, config: SweepConfig,
                 design_path: str | Path | None = None, callbacks: Any = None,
                 datasets: tuple | None = None, design: design_file.Design | None = None):
        self.network = network
        self.base = base
        self.config = config
        self.design_path = Path(design_path) if design_path is not None else None
        self.design = design
        self.callbacks = callbacks
        self._datasets = datasets
        self._stop = threading.Event()
        self._trainer = None
        self._check()
        self._space = Space(design_knobs(network), [], [])
        for knob in TRAINING_KNOBS:
            if knob.name in config.fixed:
                self._space.fixed.append(f"{knob.name}: {getattr(base, knob.name)}")
            else:
                self._space.training.append(replace(knob, default=getattr(base, knob.name)))

    # -- what it searches ----------------------------------------------------------------------

    def space(self) -> Space:
        return self._space

    @property
    def study_name(self) -> str:
        if self.config.study:
            return self.config.study
        if self.design_path is not None:
            return _stem(self.design_path)
        return self.network.name or "design"

    @property
    def storage_url(self) -> str:
        if self.config.storage:
            return self.config.storage
        if self.design_path is None:
            raise SweepError("--storage: the design has no file to keep the study beside: "
                             "give a storage URL (sqlite:///study.db)")
        db = self.design_path.resolve().with_name(_stem(self.design_path) + ".sweep.db")
        return f"sqlite:///{db}"

    # -- control -------------------------------------------------------------------------------

    def stop(self) -> None:
        """End the sweep after the trial in progress stops (at its next batch). Any thread."""
        self._stop.set()
        trainer = self._trainer
        if trainer is not None:
            trainer.stop()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    # -- the run -------------------------------------------------------------------------------

    def run(self) -> SweepResult:
        optuna = import_optuna()
        level = optuna.logging.get_verbosity()
        optuna.logging.set_verbosity(optuna.logging.ERROR)  # the records say what happened
        try:
            study = self.open_study(optuna)
            if self._datasets is None:
                self._datasets = self._load_data()
            left = self.config.trials - _counted(study)
            if left > 0 and not self._stop.is_set():
                study.optimize(self._objective, n_trials=left, catch=(_TrialFailed,),
                               callbacks=[self._after_trial])
        finally:
            optuna.logging.set_verbosity(level)
        records = [record_of(t) for t in study.get_trials(deepcopy=False)]
        done = [r for r in records if r.state == "complete" and r.value is not None]
        best = max(done, key=lambda r: (r.value, -r.number)) if done else None
        path = self.write_best(best) if best is not None else None
        return SweepResult(self.study_name, self.storage_url, records, best, path,
                           self._stop.is_set())

    def open_study(self, optuna=None):
        """The study (made, or loaded where it exists), checked to be this design's."""
        optuna = optuna or import_optuna()
        url = self.storage_url
        storage = _storage(optuna, url)
        c = self.config
        if c.pruner == "median":
            pruner = optuna.pruners.MedianPruner(n_startup_trials=c.startup_trials)
        elif c.pruner == "halving":
            pruner = optuna.pruners.SuccessiveHalvingPruner(min_resource=1, reduction_factor=3)
        else:
            pruner = optuna.pruners.NopPruner()
        sampler = optuna.samplers.TPESampler(seed=c.sampler_seed)
        for attempt in range(_ATTEMPTS):
            try:
                study = optuna.create_study(storage=storage, study_name=self.study_name,
                                            direction="maximize", load_if_exists=True,
                                            sampler=sampler, pruner=pruner)
                break
            except Exception as e:  # noqa: BLE001 - another direction, a broken database
                if attempt + 1 == _ATTEMPTS:  # (a process starting at the same moment may
                    raise SweepError(f"--study {self.study_name}: cannot open it in {url}: "
                                     f"{e}") from None  # be making it: try again)
                time.sleep(0.5 * (attempt + 1))
        key = structure_key(self.network)
        theirs = study.user_attrs.get("design_version")
        if theirs is None:
            study.set_user_attr("design_version", key)
            study.set_user_attr("design", self.network.name)
        elif theirs != key:
            raise SweepError(f"--study {self.study_name}: the study in {url} searches another "
                             f"design ({study.user_attrs.get('design', '?')}, version {theirs}; "
                             f"this one is {key}): name another study with --study")
        return study

    def _check(self) -> None:
        c = self.config
        if c.pruner not in PRUNERS:
            raise SweepError(f"--pruner: {c.pruner!r} is not one of {', '.join(PRUNERS)}")
        if isinstance(c.trials, bool) or not isinstance(c.trials, int) or c.trials < 1:
            raise SweepError(f"--trials: expected a whole number ≥ 1, got {c.trials!r}")
        for name, value in (("--budget", c.budget), ("--max-macs", c.max_macs)):
            if value is not None and value < 1:
                raise SweepError(f"{name}: expected a positive amount, got {value!r}")
        unknown = [f for f in c.fixed if f not in {k.name for k in TRAINING_KNOBS}]
        if unknown:
            raise SweepError(f"fixed: {unknown[0]!r} is not a training knob")
        report = analyze(self.network, fix_effects=False)
        if not report.ok:
            raise SweepError(f"the design cannot be trained ({report.first_error()})")
        if c.tensorboard:  # the package's absence is said before the first trial
            try:
                from torch.utils.tensorboard import SummaryWriter  # noqa: F401
            except ImportError:
                raise TensorBoardMissing(TENSORBOARD_INSTALL) from None

    def _load_data(self) -> tuple:
        """The data set, loaded once for every trial (the design's input never changes)."""
        from .checks import design_io
        from .datasets import load_datasets
        from .runtime import FaultError

        try:
            in_shape = design_io(analyze(self.network, fix_effects=False))[0]
            return load_datasets(self.base.data, in_shape)
        except FaultError as e:
            raise SweepError(f"the design cannot be trained: {e.fault.message}") from None
        except Exception as e:  # noqa: BLE001 - DatasetError and what is under it
            raise SweepError(f"the data set {self.base.data.name!r} could not be loaded: "
                             f"{e}") from None

    # -- one trial -----------------------------------------------------------------------------

    def suggest(self, trial) -> dict[str, Any]:
        values = {}
        for knob in self._space.knobs:
            if knob.kind == "choice":
                values[knob.name] = trial.suggest_categorical(knob.name, list(knob.choices))
            elif knob.kind == "int":
                values[knob.name] = trial.suggest_int(knob.name, int(knob.low), int(knob.high))
            else:
                values[knob.name] = trial.suggest_float(knob.name, knob.low, knob.high,
                                                        step=knob.step, log=knob.log)
        return values

    def variant(self, values: dict[str, Any]) -> tuple[Network, TrainConfig]:
        """The design and the settings of one point of the space."""
        names = set(self._space.design.names())
        net = apply_knobs(self.network, {k: v for k, v in values.items() if k in names},
                          self._space.design)
        train = {k: v for k, v in values.items() if k not in names}
        return net, replace(self.base, **train)

    def screen(self, net: Network, cfg: TrainConfig) -> tuple[str | None, Any]:
        """(why the analysis prunes this variant or None, the report): refused, over the
        budget, over the MACs cap."""
        device = "cpu" if cfg.device == "cpu" else "cuda"
        report = analyze(net, batch=cfg.batch_size, dtype=_DTYPES.get(cfg.precision, "fp32"),
                         optimizer=cfg.optimizer, budget=self.config.budget, device=device,
                         fix_effects=False)
        if not report.ok:
            return f"the analysis refuses the variant ({report.first_error()})", report
        need = report.pytorch.total
        if self.config.budget is not None and need > self.config.budget:
            return (f"a training step needs {format_bytes(need)} at batch {cfg.batch_size}, "
                    f"over the budget of {format_bytes(self.config.budget)}"), report
        macs = report.totals.macs
        if self.config.max_macs is not None and macs > self.config.max_macs:
            return (f"{format_count(macs)} MACs per image, over the cap of "
                    f"{format_count(self.config.max_macs)}"), report
        return None, report

    def _objective(self, trial) -> float:
        """One trial. What it learns goes into one user attribute, "sweep" (one write to the
        storage per trial): worker, macs, params, memory, config, seconds, epochs, and where
        it ends without a value pruned_by, reason, fault."""
        attrs: dict[str, Any] = {"worker": f"{socket.gethostname()}:{os.getpid()}"}
        try:
            return self._trial(trial, attrs)
        finally:
            trial.set_user_attr("sweep", attrs)

    def _trial(self, trial, attrs: dict[str, Any]) -> float:
        optuna = import_optuna()
        if self._stop.is_set():
            attrs["reason"] = "the sweep was stopped"
            raise _TrialFailed("stopped")
        values = self.suggest(trial)
        self._hear("on_trial_start", trial.number, dict(values))
        try:
            net, cfg = self.variant(values)
        except KnobError as e:
            attrs.update(pruned_by="analysis", reason=str(e))
            raise optuna.TrialPruned(str(e)) from None
        why, report = self.screen(net, cfg)
        attrs.update(macs=report.totals.macs, params=report.totals.params,
                     memory=report.pytorch.total)
        if why is not None:
            attrs.update(pruned_by="analysis", reason=why)
            raise optuna.TrialPruned(why)
        if cfg.checkpoint_dir:
            cfg = replace(cfg, checkpoint_dir=str(Path(cfg.checkpoint_dir) /
                                                  f"trial_{trial.number:04d}"))
        attrs["config"] = cfg.to_dict()
        return self._train(trial, net, cfg, attrs)

    def _train(self, trial, net: Network, cfg: TrainConfig, attrs: dict[str, Any]) -> float:
        from .trainer import Trainer

        optuna = import_optuna()
        reporter = _Reporter(trial, self.config.pruner)
        tb = None
        if self.config.tensorboard:
            try:
                tb = TensorBoardCallbacks(Path(self.config.tensorboard) /
                                          f"trial_{trial.number:04d}")
            except (TensorBoardMissing, TensorBoardError) as e:
                raise SweepError(str(e)) from None
        trainer = Trainer(net, cfg, Tee(reporter, self.callbacks, tb), datasets=self._datasets)
        reporter.trainer = trainer
        if tb is not None:
            tb.attach(trainer)
        self._trainer = trainer
        if self._stop.is_set():
            trainer.stop()
        try:
            result = trainer.run()
        finally:
            self._trainer = None
        attrs.update(seconds=result.seconds, epochs=result.epochs_done)
        if reporter.pruned:
            attrs.update(pruned_by="pruner", reason=reporter.pruned)
            raise optuna.TrialPruned(reporter.pruned)
        if result.status == "failed":
            f = result.fault
            attrs.update(fault=f"{f.message} ({f.advice})", reason=f.message)
            raise _TrialFailed(f.message)
        if result.status == "stopped":
            attrs["reason"] = "stopped with the sweep"
            raise _TrialFailed("stopped")
        if result.best_val_accuracy is None:
            attrs.update(fault="no validation accuracy (is the validation split empty?)",
                         reason="no validation accuracy")
            raise _TrialFailed("no validation accuracy")
        return float(result.best_val_accuracy)

    def _after_trial(self, study, frozen) -> None:
        self._hear("on_trial_end", record_of(frozen))
        if self._stop.is_set() or _counted(study) >= self.config.trials:
            study.stop()

    def _hear(self, name: str, *args) -> None:
        fn = getattr(self.callbacks, name, None)
        if fn is not None:
            fn(*args)

    # -- the best ------------------------------------------------------------------------------

    def best_path(self) -> Path | None:
        if self.design_path is None:
            return None
        return self.design_path.resolve().with_name(_stem(self.design_path) +
                                                    ".best.convnet.json")

    def write_best(self, best: TrialRecord, path: str | Path | None = None) -> Path | None:
        """The best trial's design, with its training settings, as a design file: `path`, or
        <stem>.best.convnet.json beside the design (None: no file to put it beside)."""
        target = Path(path) if path is not None else self.best_path()
        if target is None:
            return None
        net, cfg = self.variant(best.params)
        net.name = f"{self.network.name} (sweep best)"
        net.description = (f"Trial {best.number} of the sweep {self.study_name}: validation "
                           f"accuracy {_pct(best.value)}; {format_params(best.params)}")
        old = self.design or design_file.Design(self.network)
        saved = {k: v for k, v in cfg.to_dict().items() if k not in ("checkpoint_dir",
                                                                     "num_workers")}
        training = {"config": saved}  # (the design's runs trained the design, not this)
        design = design_file.Design(net, source=old.source, analysis=dict(old.analysis),
                                    training=training)
        try:
            design_file.save(design, target)
        except OSError as e:
            raise SweepError(f"cannot write the best design to {target}: "
                             f"{e.strerror or e}") from None
        return target


class _TrialFailed(Exception):
    """A trial that ended without a value (a fault, a stop): Optuna records it as failed."""


class _Reporter:
    """Trainer callbacks that report each epoch's validation accuracy to the trial and stop the
    run when the pruner says so."""

    def __init__(self, trial, pruner: str):
        self.trial, self.pruner = trial, pruner
        self.trainer = None
        self.pruned = ""

    def on_epoch(self, event) -> None:
        acc = event.val_accuracy
        if acc is None or math.isnan(acc):
            return
        self.trial.report(acc, event.epoch)
        last = self.trainer is not None and event.epoch >= self.trainer.config.epochs
        if not last and self.trial.should_prune():  # after the last epoch: nothing to save
            bar = {"median": "the median of the trials before it",
                   "halving": "the best of its rung (successive halving)"}.get(self.pruner,
                                                                                "the pruner's bar")
            self.pruned = (f"validation accuracy {_pct(acc)} after epoch {event.epoch}, below "
                           f"{bar}")
            if self.trainer is not None:
                self.trainer.stop()


def record_of(t) -> TrialRecord:
    """A TrialRecord from Optuna's FrozenTrial."""
    state = t.state.name.lower()
    state = {"fail": "failed"}.get(state, state)
    a = t.user_attrs.get("sweep") or {}
    seconds = a.get("seconds")
    if seconds is None and t.datetime_start is not None and t.datetime_complete is not None:
        seconds = (t.datetime_complete - t.datetime_start).total_seconds()
    return TrialRecord(
        number=t.number, state=state, params=dict(t.params),
        value=t.value if state == "complete" else None,
        pruned_by=a.get("pruned_by") if state == "pruned" else None,
        reason=a.get("reason", ""), epochs=len(t.intermediate_values) or a.get("epochs", 0),
        seconds=seconds, macs=a.get("macs"), memory=a.get("memory"),
        param_count=a.get("params"), config=a.get("config"), worker=a.get("worker", ""))


def format_params(params: dict[str, Any]) -> str:
    """'width 2, kernel 5, lr 0.0031, batch_size 64, optimizer adam'."""
    parts = []
    for k, v in params.items():
        parts.append(f"{k} {v:.3g}" if isinstance(v, float) else f"{k} {v}")
    return ", ".join(parts)


def _counted(study) -> int:
    """The trials that count towards the study's total (see the module)."""
    n = 0
    for t in study.get_trials(deepcopy=False):
        state = t.state.name.lower()
        if state in SEARCHED or state == "fail" and "fault" in t.user_attrs.get("sweep", {}):
            n += 1
    return n


def _storage(optuna, url: str):
    """An RDB storage on `url`, with heartbeats (a trial of a killed process is marked failed
    and not counted) and patience for SQLite's lock when several processes share a file."""
    kwargs: dict[str, Any] = {}
    if url.startswith("sqlite"):
        kwargs["engine_kwargs"] = {"connect_args": {"timeout": 60}}
    for attempt in range(_ATTEMPTS):  # two processes making one database's tables at once
        try:
            with warnings.catch_warnings():  # heartbeats are "experimental" (since Optuna 2.9)
                warnings.simplefilter("ignore")
                return optuna.storages.RDBStorage(url, heartbeat_interval=60, grace_period=180,
                                                  **kwargs)
        except Exception as e:  # noqa: BLE001 - a bad URL, a missing driver, a server down
            if attempt + 1 == _ATTEMPTS or not url.startswith("sqlite"):
                raise SweepError(f"--storage: cannot open {url}: {type(e).__name__}: "
                                 f"{e}") from None
            time.sleep(0.5 * (attempt + 1))
    raise AssertionError


def _stem(path: Path) -> str:
    name = path.name
    for suffix in (".convnet.json", ".json"):
        if name.endswith(suffix):
            return name[:-len(suffix)]
    return path.stem


def _pct(v: float | None) -> str:
    return "n/a" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.1%}"
