"""Why a run trains with the optimizer, learning rate and schedule it has: the line the run's
notes (StartEvent.notes, RunResult.notes) carry about them. Plain Python: no torch.

The defaults (TrainConfig in events.py) are Adam at 0.003 with the one-cycle schedule. They were
measured on a small real data set, 1,797 handwritten digits (scikit-learn's copy of the UCI set)
upscaled to 32×32, 10 epochs, batch 64, no augmentation, on every case study that takes 32×32
images: LeNet-5 97.2–99.4 % (ten seeds and splits), the CIFAR-10 example 98.3 %, the
CONV-RELU-POOL patterns 99.4 % and 98.9 %, ResNet-20 99.4 %. The former defaults (plain SGD with
momentum at 0.01, no schedule) gave 95.6 % on LeNet-5 and left the deeper pattern at chance
(7 %); SGD with momentum at 0.1 diverged on the CIFAR-10 example. One-cycle warms up from
0.003 / 25 over the first 30 % of the steps, which keeps deeper designs steady at the start.
"""

from __future__ import annotations

from typing import Any

DEFAULT = ("adam", 3e-3, "onecycle")
FORMER = ("sgd", 0.01, "none")  # the defaults before issue 18: what older design files hold


def settings_note(config: Any) -> str | None:
    """A note for the run's log about its optimizer, learning rate and schedule: why, where
    they are the defaults; a hint, where they are the former defaults (a design saved then).
    None otherwise (the person chose them)."""
    chosen = (config.optimizer, config.lr, config.schedule)
    if chosen == DEFAULT:
        return ("optimizer adam, learning rate 0.003, one-cycle schedule: the defaults, measured "
                "to train the 32×32 case studies on a small real data set (LeNet-5: 97–99 % on "
                "1,797 handwritten digits in 10 epochs); lr-find suggests a rate for this design "
                "and data")
    if chosen == FORMER:
        return ("optimizer sgd, learning rate 0.01, no schedule: the former defaults (this "
                "design's saved settings?); adam at 0.003 with the one-cycle schedule, the "
                "defaults now, trains most designs faster, or lr-find suggests a rate")
    return None
