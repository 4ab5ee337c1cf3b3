"""The CUDA peak figures BENCHMARKS.md and README.md quote, from the stored H100 measurements.

    python benchmarks/peak_calibration_report.py [--rows]

No GPU needed: it replays the measured steps of tests/bridge/test_peak_calibration.py (the fitted
ones in tests/bridge/data/h100_step_peaks.json, the --verify ones stored there to the MiB)
against the analysis and prints, per group, the rows (a row is one measured training step), the
designs, how many are within 5 % and 10 % of the measured peak, and the worst error. --rows adds
every step. The test keeps these figures equal to the ones the documents quote.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "bridge")]

from test_peak_calibration import DATA, GROUPS, MiB, case, error, table  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", action="store_true", help="also print every step")
    args = ap.parse_args(argv)
    print(f"{DATA['device']}, torch {DATA['torch']}, cuDNN {DATA['cudnn']}: estimate vs "
          "torch.cuda.max_memory_allocated of one training step\n")
    print("| group | rows | designs | within 5 % | within 10 % | worst |")
    print("|---|---:|---:|---:|---:|---|")
    for group, (rows, designs, w5, w10, worst, where) in table().items():
        print(f"| {group} | {rows} | {designs} | {w5} | {w10} | {worst:+.1f} % ({where}) |")
    if args.rows:
        for group, rows in GROUPS.items():
            if group.startswith("fitted, less"):
                continue  # a part of "fitted"
            print(f"\n{group}:")
            for r in rows:
                print(f"  {case(r):<72} measured {r['peak_bytes'] / MiB:9.2f} MiB  "
                      f"{error(r):+6.1%}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
