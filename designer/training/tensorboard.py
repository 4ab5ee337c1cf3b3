"""TensorBoard logs of a run, and Tee: Trainer callbacks forwarded to several objects. TORCH, no Qt.

    tb = TensorBoardCallbacks("runs/exp1")           # TensorBoardMissing: what to install
    trainer = Trainer(network, config, Tee(progress_bar, tb))
    tb.attach(trainer)                               # the model, for the graph and the filters
    trainer.run()                                    # on_end flushes and closes the log

    TrainWorker(..., trainer_factory=logged(factory, folder))   # the same, for the window;
    tensorboard_missing()                            # '' or what to install (no import)
    folder_problem(folder)                           # '' or why no log can be written there
    run_log_dir(root, design_name, run_id)           # root/<design name>/<run id>

What it writes (torch.utils.tensorboard.SummaryWriter, so `tensorboard --logdir runs` shows it):
- scalars: train/loss_batch and train/lr (every batch, by global step); train/loss,
  train/accuracy, val/loss, val/accuracy and lr (every epoch);
- the model graph (add_graph of the built module on one zero input, traced in eval mode, the
  layers' modes put back): where tracing fails, a text note says why and the run goes on;
- the first CONV's filters as images (filters/<layer>) at the start (step 0) and at every
  epoch's end: each filter scaled to 0..1 on its own, RGB where it sees 3 channels, else its
  first channel in grey, enlarged to at least 32 pixels.
A log that cannot be written (disk full, folder gone) is given up with a note, never a fault.
"""

from __future__ import annotations

import math
import os
import warnings
from pathlib import Path
from typing import Any

INSTALL = ("TensorBoard logs need the tensorboard package: pip install tensorboard "
           "(from a checkout: pip install -e '.[tensorboard]')")
MAX_FILTERS = 64
MIN_PIXELS = 32


def tensorboard_missing() -> str:
    """'' where the tensorboard package is installed, else what to install (asked without
    importing it, or torch: the window asks in its own thread)."""
    import importlib.util

    return "" if importlib.util.find_spec("tensorboard") is not None else INSTALL


def folder_problem(folder: str | os.PathLike[str]) -> str:
    """'' where a log can be written into `folder` (made if missing; a file is written and
    removed to be sure), else a sentence naming the folder and what stands in the way."""
    import tempfile

    try:
        Path(folder).mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as e:
        return f"TensorBoard logs cannot be written into {folder}: {e.strerror or e}"
    return ""


def run_log_dir(root: str | os.PathLike[str], design_name: str, run_id: str) -> Path:
    """Where one run's log goes: root/<design name>/<run id>, so `tensorboard --logdir root`
    lists each design's runs under its name (characters a file name cannot hold become _)."""
    name = "".join(c if c.isalnum() or c in " -_.+()" else "_" for c in design_name)
    name = name.strip(" .") or "design"
    return Path(root) / name / run_id


def logged(trainer_factory, log_dir: str | os.PathLike[str]):
    """A Trainer factory (the window's TrainWorker takes one: factory(network, config,
    callbacks, datasets, **weights) -> Trainer) whose Trainers also write a TensorBoard log
    into `log_dir`: their callbacks are Tee(callbacks, TensorBoardCallbacks(log_dir)).
    TensorBoardMissing / TensorBoardError when the Trainer is made."""
    def make(network, config, callbacks, datasets=None, **weights):
        tb = TensorBoardCallbacks(log_dir)
        trainer = trainer_factory(network, config, Tee(callbacks, tb), datasets, **weights)
        tb.attach(trainer)
        return trainer
    return make


class TensorBoardMissing(RuntimeError):
    """The tensorboard package is not installed; the message says what to install."""


class TensorBoardError(RuntimeError):
    """The log folder cannot be used; the message names it."""


def summary_writer(log_dir: str | os.PathLike[str]):
    """A SummaryWriter on `log_dir` (made if missing)."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        raise TensorBoardMissing(INSTALL) from None
    try:
        Path(log_dir).mkdir(parents=True, exist_ok=True)
        return SummaryWriter(log_dir=str(log_dir))
    except OSError as e:
        raise TensorBoardError(f"cannot write TensorBoard logs into {log_dir}: "
                               f"{e.strerror or e}") from None


class TensorBoardCallbacks:
    """Trainer callbacks that write a run's TensorBoard log (see the module)."""

    def __init__(self, log_dir: str | os.PathLike[str], trainer: Any = None,
                 graph: bool = True, filters: bool = True):
        self.log_dir = Path(log_dir)
        self.writer = summary_writer(log_dir)
        self.trainer = trainer
        self.graph, self.filters = graph, filters
        self.notes: list[str] = []  # what was left out, and why
        self._broken = False

    def attach(self, trainer: Any) -> TensorBoardCallbacks:
        """The Trainer whose model the graph and the filters come from."""
        self.trainer = trainer
        return self

    # -- callbacks ---------------------------------------------------------------------------

    def on_start(self, event: Any) -> None:
        model = getattr(self.trainer, "model", None)
        if model is None:
            if self.graph or self.filters:
                self._note("no model to draw: attach(trainer) before the run")
            return
        if self.graph:
            self._add_graph(model)
        if self.filters:
            self._add_filters(model, 0)

    def on_batch(self, event: Any) -> None:
        if math.isfinite(event.loss):
            self._scalar("train/loss_batch", event.loss, event.global_step)
        self._scalar("train/lr", event.lr, event.global_step)

    def on_epoch(self, event: Any) -> None:
        for tag, value in (("train/loss", event.train_loss),
                           ("train/accuracy", event.train_accuracy),
                           ("val/loss", event.val_loss), ("val/accuracy", event.val_accuracy),
                           ("lr", event.lr)):
            if value is not None and math.isfinite(value):
                self._scalar(tag, value, event.epoch)
        model = getattr(self.trainer, "model", None)
        if self.filters and model is not None:
            self._add_filters(model, event.epoch)
        self._write(self.writer.flush)

    def on_end(self, result: Any) -> None:
        text = f"{result.status} after {result.epochs_done} epoch(s)"
        if result.best_val_accuracy is not None:
            text += f", best validation accuracy {result.best_val_accuracy:.2%}"
        if result.fault is not None:
            text += f": {result.fault.message}"
        self._write(lambda: self.writer.add_text("run/result", text, result.epochs_done))
        for note in self.notes:
            self._write(lambda note=note: self.writer.add_text("run/notes", note))
        self.close()

    def close(self) -> None:
        try:
            self.writer.close()
        except OSError:
            pass

    # -- what it draws -----------------------------------------------------------------------

    def _add_graph(self, model: Any) -> None:
        import torch

        network = getattr(self.trainer, "network", None)
        inputs = [n for n in (network.nodes.values() if network is not None else ())
                  if n.type == "Input"]
        if not inputs:
            self._note("graph: the design's input is not known")
            return
        p = inputs[0].params
        device = next((q.device for q in model.parameters()), torch.device("cpu"))
        x = torch.zeros((1, p["channels"], p["height"], p["width"]), device=device)
        modes = {m: m.training for m in model.modules()}
        try:
            model.eval()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                self.writer.add_graph(model, x)
        except OSError as e:
            self._give_up(e)
        except Exception as e:  # noqa: BLE001 - a graph that cannot be traced is only a note
            self._note(f"graph: tracing the model failed ({type(e).__name__}: {e}); the "
                       "scalars and filters are written as usual")
        finally:
            for m, mode in modes.items():
                m.training = mode

    def _add_filters(self, model: Any, step: int) -> None:
        first = first_conv(model)
        if first is None:
            return
        name, conv = first
        self._write(lambda: self.writer.add_images(f"filters/{name}", filter_images(conv.weight),
                                                   step, dataformats="NCHW"))

    # -- writing ---------------------------------------------------------------------------------

    def _scalar(self, tag: str, value: float, step: int) -> None:
        self._write(lambda: self.writer.add_scalar(tag, float(value), step))

    def _write(self, fn) -> None:
        if self._broken:
            return
        try:
            fn()
        except OSError as e:
            self._give_up(e)

    def _give_up(self, error: OSError) -> None:
        self._broken = True
        self._note(f"the log in {self.log_dir} could not be written ({error.strerror or error}):"
                   " TensorBoard logging stopped, the run goes on")

    def _note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)


def first_conv(model: Any) -> tuple[str, Any] | None:
    """(layer id, module) of the model's first Conv2d in the design's order, or None."""
    from torch import nn

    for name, module in model.named_modules():
        if isinstance(module, nn.Conv2d):
            return name.rsplit(".", 1)[-1], module
    return None


def filter_images(weight: Any, max_filters: int = MAX_FILTERS, min_pixels: int = MIN_PIXELS):
    """A CONV's weights (F, C, k, k) as F images (N, 1 or 3, H, W) in 0..1, each on its own
    scale; RGB for 3 input channels, the first channel otherwise; enlarged (nearest) to at
    least `min_pixels`."""
    w = weight.detach()[:max_filters].float().cpu()
    w = w[:, :3] if w.shape[1] == 3 else w[:, :1]
    flat = w.reshape(w.shape[0], -1)
    low = flat.min(1).values.view(-1, 1, 1, 1)
    high = flat.max(1).values.view(-1, 1, 1, 1)
    w = (w - low) / (high - low).clamp_min(1e-12)
    scale = max(1, math.ceil(min_pixels / max(w.shape[-1], w.shape[-2], 1)))
    if scale > 1:
        w = w.repeat_interleave(scale, -1).repeat_interleave(scale, -2)
    return w


class Tee:
    """Trainer callbacks forwarded to several objects, in order: each callback goes to every
    object that has it (an object without it is skipped). probe_request answers the first
    request of an object that has both probe_request and on_probe."""

    def __init__(self, *targets: Any):
        self.targets = tuple(t for t in targets if t is not None)

    def __getattr__(self, name: str):
        if name.startswith("_"):
            raise AttributeError(name)
        targets = self.__dict__.get("targets", ())
        if name == "probe_request":
            owners = [t for t in targets if callable(getattr(t, "probe_request", None))
                      and callable(getattr(t, "on_probe", None))]
            if not owners:
                raise AttributeError(name)

            def ask():
                for t in owners:
                    request = t.probe_request()
                    if request is not None:
                        return request
                return None
            return ask
        methods = [getattr(t, name) for t in targets if callable(getattr(t, name, None))]
        if not methods:
            raise AttributeError(name)

        def call(*args, **kwargs):
            for method in methods:
                method(*args, **kwargs)
        return call
