"""Memory of one training step: the analysis's estimates against a measured step.

For each network and batch size (the ones tests/bridge/test_memory_estimate.py checks, fine-tunes
with frozen layers included) it prints,
part by part, the estimate of what PyTorch holds (Report.held), what a real step held
(designer.bridge.memory.measure_training_step) and the difference, then the notes' textbook
figure (Report.textbook) and the estimated peak of the step (Report.pytorch) beside the totals.
On a CUDA device it adds the caching allocator's peak during the step (over what stays allocated
between steps: cuBLAS's workspace), the figure the estimated peak is meant to match. A summary
table closes the output.

    python benchmarks/bench_memory.py [--optimizer adam] [--batches 2 8] [--device cpu|cuda]
"""

from __future__ import annotations

import argparse
import gc
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "bridge")]

from test_memory_estimate import (  # noqa: E402
    FREEZES,
    FROZEN_NETWORKS,
    HELD,
    NETWORKS,
    estimate_and_measure,
    frozen,
    held,
)

from designer.model.analysis import OPTIMIZER_STATE  # noqa: E402
from designer.model.units import format_bytes  # noqa: E402

PARTS = ("saved for backward", "backward working set", "data batch", "weights",
         "frozen weights", "weight gradients", "optimizer state", "buffers")


def pct(estimate: int, measured: int) -> str:
    if not measured:
        return "" if not estimate else "n/a"
    return f"{(estimate - measured) / measured:+.1%}"


def size(n: int | None) -> str:
    return "—" if n is None else f"{format_bytes(n)} ({n:,} B)"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--optimizer", default="adam", choices=list(OPTIMIZER_STATE))
    ap.add_argument("--batches", type=int, nargs="+", default=[2, 8])
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = ap.parse_args(argv)
    cuda = args.device.startswith("cuda")
    print(f"torch {torch.__version__}, device {args.device}, fp32, optimizer {args.optimizer}\n")

    cases = dict(NETWORKS)
    for base, make in FROZEN_NETWORKS.items():
        for how in FREEZES:
            cases[f"{base}, {how}"] = lambda make=make, how=how: frozen(make(), how)
    summary = []
    for name, make in cases.items():
        for batch in args.batches:
            peak = None
            if cuda:
                # A first step creates cuBLAS's workspace, which stays; count from after it.
                estimate_and_measure(make(), batch, args.optimizer, args.device)
                gc.collect()
                torch.cuda.synchronize()
                base = torch.cuda.memory_allocated()
                torch.cuda.reset_peak_memory_stats()
            report, measured = estimate_and_measure(make(), batch, args.optimizer, args.device)
            if cuda:
                torch.cuda.synchronize()
                peak = torch.cuda.max_memory_allocated() - base
            est = dict(report.held)
            rows = [(part, est.get(part, 0), measured.get(part)) for part in PARTS]
            measured_total = sum(m for _, _, m in rows if m is not None)
            comparable = sum(e for _, e, m in rows if m is not None)
            print(f"{name}, batch {batch}")
            print(f"  {'part':<22}{'estimate':>28}{'measured':>28}{'diff':>9}")
            for part, e, m in rows:
                print(f"  {part:<22}{size(e):>28}{size(m):>28}{pct(e, m or 0):>9}")
            print(f"  {'total (measured parts)':<22}{size(comparable):>28}"
                  f"{size(measured_total):>28}{pct(comparable, measured_total):>9}")
            print(f"  {'peak of the step':<22}{size(report.pytorch.total):>28}"
                  f"{size(peak) if cuda else '':>28}"
                  f"{pct(report.pytorch.total, peak) if cuda else '':>9}"
                  f"{'   (CUDA allocator peak)' if cuda else ''}")
            print(f"  {'textbook total':<22}{size(report.textbook.total):>28}\n")
            summary.append((name, batch, held(est), held(measured), est["saved for backward"],
                            measured["saved for backward"], report.pytorch.total, peak,
                            report.textbook.total))

    print(f"Summary ({args.optimizer}; 'held' = {' + '.join(HELD)}; bytes)")
    head = (f"| network | batch | held est | held meas | diff | saved est | saved meas | diff "
            f"| estimate total | {'CUDA peak | diff | ' if cuda else ''}textbook total |")
    print(head)
    print("|" + "---|" * (head.count("|") - 1))
    for name, batch, he, hm, se, sm, total, peak, textbook in summary:
        cells = [name, str(batch), f"{he:,}", f"{hm:,}", pct(he, hm), f"{se:,}", f"{sm:,}",
                 pct(se, sm), f"{total:,}"]
        if cuda:
            cells += [f"{peak:,}", pct(total, peak)]
        cells.append(f"{textbook:,}")
        print("| " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
