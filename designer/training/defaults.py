"""Why a run trains with the optimizer, learning rate, schedule and batch it has: the line the
run's notes (StartEvent.notes, RunResult.notes) carry about them. Plain Python: no torch.

The defaults (TrainConfig in events.py) are Adam at 0.003 with the one-cycle schedule, batch 32
(the window's analysis batch, which its Training tab trains with, is 32 too). They were measured
on a small real data set, 1,797 handwritten digits (scikit-learn's copy of the UCI set) upscaled
to 32×32, 10 epochs, no augmentation, the stratified seeded 10 % split (180 images), on every
case study that takes 32×32 images (benchmarks/bench_defaults.py; the table in BENCHMARKS.md):
LeNet-5 96.7–98.9 % over five seeds of split and weights, .npz and image folder alike (97.7 %
on average), the CIFAR-10 example 98.3 %, the CONV-RELU-POOL patterns 98.1 % and 98.9 %,
ResNet-20 99.6 % (seeds 0–2, .npz).

Why these: every setting left LeNet-5 at 100 % on its training images, so what differs is how
well it generalises, and that is mostly which 180 images the split holds back (the seed-0 split
has four digits that every setting tried got wrong: 96.1–97.2 % whatever the setting). Over five
splits and two initialisations each, batch 32 gave 97.9 % on average (never below 96.7 %), the
former batch 64 97.6 % (96.1 %): never worse, better on half the runs; lr 0.01 97.7 %; lr 0.001
96.1 % (it had not fitted the training set in 10 epochs); weight decay (Adam's 1e-4 / 5e-4,
AdamW's 0.1) changed nothing; batch 16, SGD with momentum at 0.05 and Nesterov at 0.1 did no
better on the seed-0 split. The defaults before issue 18 (plain SGD with momentum at 0.01, no
schedule) gave 95.6 % on LeNet-5 and left the deeper pattern at chance (7 %); SGD with momentum
at 0.1 diverged on the CIFAR-10 example. One-cycle warms up from 0.003 / 25 over the first 30 %
of the steps, which keeps deeper designs steady at the start.
"""

from __future__ import annotations

from typing import Any

DEFAULT = ("adam", 3e-3, "onecycle")
FORMER = ("sgd", 0.01, "none")  # the defaults before issue 18: what older design files hold


def settings_note(config: Any) -> str | None:
    """A note for the run's log about its optimizer, learning rate and schedule (and batch 32):
    why, where they are the defaults; a hint, where they are the former defaults (a design
    saved then). None otherwise (the person chose them)."""
    chosen = (config.optimizer, config.lr, config.schedule)
    if chosen == DEFAULT:
        batch = ", batch 32" if config.batch_size == 32 else ""
        return (f"optimizer adam, learning rate 0.003, one-cycle schedule{batch}: the defaults, "
                "measured to train the 32×32 case studies on a small real data set (LeNet-5 at "
                "batch 32, 10 epochs on 1,617 handwritten digits: 97.7 % of the 180 held back, "
                "on average over five splits); lr-find suggests a rate for this design and data")
    if chosen == FORMER:
        return ("optimizer sgd, learning rate 0.01, no schedule: the former defaults (this "
                "design's saved settings?); adam at 0.003 with the one-cycle schedule, the "
                "defaults now, trains most designs faster, or lr-find suggests a rate")
    return None
