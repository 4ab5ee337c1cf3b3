"""TrainWorker: the Trainer in a QThread, its callbacks turned into throttled Qt signals.

The worker never touches a widget (napari's thread_worker pattern): it reports, the GUI decides.
Batches can come thousands of times a second, so they are coalesced: the latest BatchEvent plus
every loss point since the last report go out at most `1 / interval_s` times a second (a check of
the clock per batch; the end flushes what is left). Starts, epochs and the end are sent as they
happen, and so are the phases outside the batches (PhaseEvent: torch.compile's "compiling",
its start and its end: a few a run).

torch and the Trainer are imported inside the thread, when training starts: the window itself
never imports torch.

Probes (what the "Inside the network" view shows): after `set_probe(request)` the Trainer probes
the model at epoch ends (and between batches after `request_probe()`) and `probed` carries each
ProbeReport. Probing is skipped at an epoch end when the last probe cost more than PROBE_SHARE of
the time since it, so a view never slows training by more than that, however short the epochs.
After a run with probes, `prober` holds the trained model and its validation split.
"""

from __future__ import annotations

import atexit
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from PySide6.QtCore import QCoreApplication, QObject, QThread, Signal

from ..model.network import Network
from ..training.events import (
    BatchEvent,
    EpochEvent,
    Fault,
    PhaseEvent,
    ProbeRequest,
    RunResult,
    StartEvent,
    TrainConfig,
)

UPDATES_PER_S = 20
PROBE_SHARE = 0.03  # at most this share of the training time goes to epoch-end probes
_LIVE: set[TrainWorker] = set()  # started and not yet waited for: never garbage while running


@atexit.register
def _shutdown_all() -> None:
    """Last line of defence (a window closed without its closeEvent): a QThread destroyed
    while running aborts the process."""
    for worker in list(_LIVE):
        worker.shutdown(10_000)


@dataclass
class Progress:
    """What the GUI gets per update: the latest batch and every batch point since the last
    update, as (global_step, loss, accuracy, lr)."""

    batch: BatchEvent
    points: list[tuple[int, float, float, float]] = field(default_factory=list)


def _default_factory(network: Network, config: TrainConfig, callbacks: Any, datasets: Any,
                     **weights: Any):
    import torch  # only ever in the worker's thread

    from ..training.trainer import Trainer

    _leave_a_core_for_the_gui(torch)
    return Trainer(network, config, callbacks=callbacks, datasets=datasets, **weights)


def _leave_a_core_for_the_gui(torch: Any) -> None:
    """CPU training with one intra-op thread per core starves the event loop (and, when a core
    is taken, the op threads wait on each other: 2 threads on a busy 2-core machine trained
    the CIFAR-10 example 6× slower than 1). The window keeps a core for itself."""
    cores = os.cpu_count() or 1
    if cores > 1 and torch.get_num_threads() >= cores:
        torch.set_num_threads(cores - 1)


class TrainWorker(QObject):
    """Trains a snapshot of a network in its own QThread.

    `start()` once; `stop()`, `pause()`, `resume()` from the GUI thread at any time (they call
    the Trainer's thread-safe methods, or are remembered until the Trainer exists); `shutdown()`
    stops and waits for the thread so that nothing outlives the window.
    """

    started = Signal(object)  # StartEvent
    progress = Signal(object)  # Progress, at most UPDATES_PER_S a second
    epoch = Signal(object)  # EpochEvent, every one
    finished = Signal(object)  # RunResult, always exactly once (also for a failed start)
    data_progress = Signal(int, object, str)  # done, total or None, what: loading / download
    probed = Signal(object)  # ProbeReport (training/probes.py), after set_probe()
    phase = Signal(object)  # PhaseEvent: a phase outside the batches begins or ends

    def __init__(self, network: Network, config: TrainConfig, datasets: Any = None,
                 trainer_factory: Callable[..., Any] | None = None,
                 interval_s: float = 1.0 / UPDATES_PER_S, resume: str | None = None,
                 start_from: str | None = None):
        super().__init__()
        self.network = network.copy()  # the user keeps editing while this one trains
        # the Trainer's resume= and start_from= (checkpoints), passed on where given
        self.weights = {k: v for k, v in (("resume", resume), ("start_from", start_from))
                        if v is not None}
        self.config = config
        self.datasets = datasets
        self.interval_s = interval_s
        self._factory = trainer_factory or _default_factory
        self._lock = threading.Lock()
        self._trainer: Any = None
        self._stop_requested = False
        self._paused = False
        self._pending: list[tuple[int, float, float, float]] = []
        self._latest: BatchEvent | None = None
        self._last_emit = 0.0
        self._last_data = 0.0
        self._thread: QThread | None = None
        self._done = False
        self.updates = 0  # progress signals emitted, for tests and benchmarks
        self._probe: ProbeRequest | None = None
        self._probe_asked = False
        self._probe_end = 0.0  # when the last probe ended, and what it cost
        self._probe_cost = 0.0
        self.prober: Any = None  # after a run with probes: the trained model, for more probes

    # ----------------------------------------------------------------------------- GUI side

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError("a TrainWorker runs once; make a new one to train again")
        thread = QThread()
        thread.setObjectName("TrainWorker")
        self._thread = thread
        self.moveToThread(thread)
        thread.started.connect(self._run)
        _LIVE.add(self)
        thread.start()

    @property
    def running(self) -> bool:
        return self._thread is not None and not self._done

    @property
    def paused(self) -> bool:
        return self._paused

    def stop(self) -> Any:
        """Ask the run to end; the Trainer's StoppingEvent (how long the step in progress
        takes still), or None before the Trainer exists."""
        with self._lock:
            self._stop_requested = True
            trainer = self._trainer
        stopping = None
        if trainer is not None:
            stopping = trainer.stop()
            trainer.resume()  # a paused loop wakes up to see the stop
        return stopping

    def pause(self) -> None:
        with self._lock:
            self._paused = True
            trainer = self._trainer
        if trainer is not None:
            trainer.pause()

    def resume(self) -> None:
        with self._lock:
            self._paused = False
            trainer = self._trainer
        if trainer is not None:
            trainer.resume()

    def set_probe(self, request: ProbeRequest | None) -> None:
        """Probe at every epoch end with this request from now on (None: stop probing)."""
        with self._lock:
            self._probe = request

    def request_probe(self) -> None:
        """A probe as soon as the current batch is done (or now, while paused)."""
        with self._lock:
            self._probe_asked = True
            trainer = self._trainer
        if trainer is not None and hasattr(trainer, "request_probe"):
            trainer.request_probe()

    def wait(self, timeout_ms: int = 60_000) -> bool:
        """Wait for the thread to end; True when it has (or never started)."""
        if self._thread is None:
            return True
        done = self._thread.wait(timeout_ms)
        if done:
            _LIVE.discard(self)
        return done

    def shutdown(self, timeout_ms: int = 60_000) -> bool:
        """Stop, then wait for the thread: after a True the QThread may be destroyed."""
        self.stop()
        if self._thread is not None:
            self._thread.quit()
        return self.wait(timeout_ms)

    # ----------------------------------------------------------------------------- worker side

    def _run(self) -> None:
        started = time.monotonic()
        result: RunResult
        try:
            with self._lock:
                stopped_early = self._stop_requested
            if stopped_early:
                result = RunResult("stopped", 0, [], config=self.config.to_dict())
            else:
                trainer = self._factory(self.network, self.config, self, self.datasets,
                                        **self.weights)
                with self._lock:
                    self._trainer = trainer
                    stop, paused = self._stop_requested, self._paused
                    asked = self._probe_asked
                if stop:
                    trainer.stop()
                elif paused:
                    trainer.pause()
                if asked and hasattr(trainer, "request_probe"):
                    trainer.request_probe()
                result = trainer.run()
                with self._lock:
                    if self._probe is not None:
                        self.prober = getattr(trainer, "prober", None)
        except Exception as e:  # noqa: BLE001 - a run that cannot even start is a fault too
            result = RunResult(
                "failed", 0, [], fault=_startup_fault(e), seconds=time.monotonic() - started,
                config=self.config.to_dict())
        self._flush()
        with self._lock:
            self._trainer = None  # drops the model and data with the thread
        self._done = True
        self.moveToThread(QCoreApplication.instance().thread())  # so the GUI can delete it
        self.finished.emit(result)
        QThread.currentThread().quit()

    # Callbacks, called by the Trainer from this thread

    def on_start(self, event: StartEvent) -> None:
        self._last_emit = time.monotonic()
        self.started.emit(event)

    def on_data(self, done: int, total: int | None, message: str) -> None:
        now = time.monotonic()
        if now - self._last_data >= self.interval_s or (total is not None and done >= total):
            self._last_data = now
            self.data_progress.emit(int(done), total, str(message))

    def on_batch(self, event: BatchEvent) -> None:
        self._pending.append((event.global_step, event.loss, event.accuracy, event.lr))
        self._latest = event
        self._maybe_flush()

    def on_epoch(self, event: EpochEvent) -> None:
        self._maybe_flush()  # validation took a while: show the epoch's last batches
        self.epoch.emit(event)

    def on_end(self, result: RunResult) -> None:
        self._flush()

    def on_phase(self, event: PhaseEvent) -> None:
        self._flush()  # the batches before it first (validation compiles after an epoch's)
        self.phase.emit(event)

    def probe_request(self) -> ProbeRequest | None:
        """The Trainer asks at every epoch end and for every probe between batches."""
        with self._lock:
            request, asked = self._probe, self._probe_asked
            self._probe_asked = False
        if request is None:
            return None
        if not asked and self._probe_cost > PROBE_SHARE * (time.monotonic() - self._probe_end):
            return None  # the epochs are short next to a probe: skip this one
        return request

    def on_probe(self, report: Any) -> None:
        self._probe_end = time.monotonic()
        self._probe_cost = float(getattr(report, "seconds", 0.0))
        self.probed.emit(report)

    def _maybe_flush(self) -> None:
        now = time.monotonic()
        if now - self._last_emit >= self.interval_s:
            self._last_emit = now
            self._flush()

    def _flush(self) -> None:
        if self._latest is None:
            return
        update = Progress(self._latest, self._pending)
        self._latest, self._pending = None, []
        self.updates += 1
        self.progress.emit(update)


def _startup_fault(e: Exception) -> Fault:
    if isinstance(e, ImportError):
        return Fault("model", f"Training needs PyTorch, which could not be imported: {e}",
                     "Install torch in the app's environment (see the README) and start again.")
    return Fault("model", f"The run could not start: {type(e).__name__}: {e}",
                 "Check the design and the training settings, then start again.")
