"""torch.compile for a run, and the way back to eager when it fails. TORCH, no Qt.

Compiling happens in two places: torch.compile(model) itself (fails at once where torch.compile
cannot run here: an unsupported Python, no compiler), and the first call of each kind of step
(training, validation), where Dynamo traces and Inductor builds the kernels: that is where the
seconds go and where most failures show. The Trainer times those first calls as the run's
"compiling" phase (a PhaseEvent) and, where one fails, goes on in eager mode with the reason in
the run's notes: a compile failure never ends a run (a step that fails in eager mode too is the
model's own fault, reported as such).
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable
from typing import Any

import torch

__all__ = ["Compiled", "compile_model", "compile_unavailable", "reason", "speed_record"]


def _compiler(names: tuple[str, ...], env: str) -> str | None:
    chosen = os.environ.get(env)
    for name in ((chosen,) if chosen else ()) + names:
        if name and shutil.which(name.split()[0]):
            return name
    return None


def compile_unavailable(device: torch.device) -> str | None:
    """Why torch.compile cannot run for ``device`` here, or None where it can be tried."""
    if not callable(getattr(torch, "compile", None)):
        return f"this PyTorch ({torch.__version__}) has no torch.compile"
    if device.type == "cpu" and _compiler(("g++", "clang++", "c++"), "CXX") is None:
        return "torch.compile needs a C++ compiler on the CPU and none was found (install g++ " \
               "or clang)"
    if device.type == "cuda" and _compiler(("gcc", "clang", "cc"), "CC") is None:
        return "torch.compile needs a C compiler for its GPU kernels and none was found " \
               "(install gcc)"
    return None


def reason(error: BaseException) -> str:
    """An exception as one short line for the run's notes."""
    text = str(error).strip().splitlines()
    first = text[0] if text else ""
    for line in text:  # Dynamo / Inductor put the cause after their own header lines
        if line.strip() and not line.startswith(("  ", "\t", "Set TORCH", "You can suppress")):
            first = line.strip()
            break
    if len(first) > 200:
        first = first[:197] + "…"
    return f"{type(error).__name__}: {first}" if first else type(error).__name__


def compile_model(model: torch.nn.Module, device: torch.device,
                  compile_fn: Callable[..., Any] | None = None) -> tuple[Any, str | None]:
    """(model compiled, None), or (model as it is, why not): a failure here is no fault."""
    why = compile_unavailable(device)
    if why is not None:
        return model, why
    try:
        return (compile_fn or torch.compile)(model), None
    except Exception as e:  # noqa: BLE001 - any failure means: train eagerly
        return model, "torch.compile failed: " + reason(e)


class Compiled:
    """The module each kind of step calls (``nets["training"]``, ``nets["validation"]``): the
    model, or its compiled form (the same parameters), and the first call of each, where it
    compiles (``first``). ``seconds``: the compiling's total so far (None: none yet);
    ``failed``: the notes of the failures (each kind of step goes on eagerly after its own)."""

    def __init__(self, model: torch.nn.Module, device: torch.device, on: bool,
                 on_phase: Callable[[Any], None] | None = None,
                 notes: list[str] | None = None):
        from .events import PhaseEvent  # plain records

        self._event = PhaseEvent
        self.model, self.device, self.on_phase = model, device, on_phase
        self.nets: dict[str, Any] = {"training": model, "validation": model}
        self.pending = {"training": False, "validation": False}  # its first call is next
        self.seconds: float | None = None
        self.failed: list[str] = []
        self.notes = notes  # the run's: a failure's note goes there too
        self.why: str | None = None  # why the model was not compiled at all
        if on:
            net, self.why = compile_model(model, device)
            if self.why is None:
                self.nets = {"training": net, "validation": net}
                self.pending = {"training": True, "validation": True}
            elif notes is not None:
                notes.append(f"{self.why}: training in eager mode")

    @property
    def active(self) -> bool:
        """Whether any kind of step still calls the compiled module."""
        return any(net is not self.model for net in self.nets.values())

    def first(self, what: str, fn: Callable[..., Any], *args: Any) -> Any:
        """fn(*args), the first call of the compiled `what` step (training | validation),
        timed as the "compiling" phase (on_phase hears its start and end). Where it fails,
        the `what` steps go on in eager mode, the RNG as it was before the call, and
        ``failed`` says why; a failure in eager mode too is the model's (raised). An
        out-of-memory error is raised as it is."""
        self.pending[what] = False
        if self.on_phase is not None:
            self.on_phase(self._event("compiling", what, 0.0, False))
        cuda = self.device.type == "cuda"
        rng = torch.get_rng_state(), (torch.cuda.get_rng_state(self.device) if cuda else None)
        t0 = time.perf_counter()
        error = None
        try:
            result = fn(*args)
            if cuda:
                torch.cuda.synchronize(self.device)
        except Exception as e:  # noqa: BLE001 - a compile that fails: eager mode
            text = str(e).lower()
            if isinstance(e, (torch.cuda.OutOfMemoryError, MemoryError)) \
                    or "out of memory" in text:
                raise
            error = e
        seconds = time.perf_counter() - t0
        self.seconds = (self.seconds or 0.0) + seconds
        note = "compiled"
        if error is not None:
            self.nets[what] = self.model
            if what == "training":
                self.model.zero_grad(set_to_none=True)
            torch.set_rng_state(rng[0])
            if rng[1] is not None:
                torch.cuda.set_rng_state(rng[1], self.device)
            note = (f"torch.compile failed at the first {what} step ({reason(error)}): the "
                    f"{what} steps run in eager mode")
            self.failed.append(note)
            if self.notes is not None:
                self.notes.append(note)
        if self.on_phase is not None:
            self.on_phase(self._event("compiling", what, seconds, True, note))
        return fn(*args) if error is not None else result


def speed_record(speed: dict[str, Any], compiled: Compiled | None) -> dict[str, Any]:
    """What the fast settings ran as, for the RunResult: a compile that failed is off."""
    record = dict(speed)
    if record and compiled is not None:
        record["compile"] = compiled.active
        record["compile_failed"] = list(compiled.failed)
    return record
