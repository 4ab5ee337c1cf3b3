"""Design-hint speed on a ~500-layer network (ResNet-152), against the analysis it runs after.

    python benchmarks/bench_advisor.py [--preset presets/resnet152.convnet.json] [--repeat 50]

The window runs advise() after every edit, so it must cost a fraction of analyze(). Prints the
median time of advise() cold (its cache emptied), cached (same network version), after one edit
(a new version: what the app does per keystroke), next to analyze() after the same edit; and the
time to work out every hint's predicted effect (an analysis of an edited copy each), which the
Hints panel does a moment after the editing pauses.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from timing import median_ms  # noqa: E402

from designer.model import advisor  # noqa: E402
from designer.model.analysis import analyze  # noqa: E402
from designer.model.design_file import load  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--preset", default=str(ROOT / "presets" / "resnet152.convnet.json"))
    ap.add_argument("--repeat", type=int, default=50)
    args = ap.parse_args()

    net = load(args.preset).network
    report = analyze(net, batch=32)
    hints = advisor.advise(net, report)
    print(f"{net.name}: {len(net)} layers, {len(hints)} hints: "
          + ", ".join(h.key for h in hints))

    cold = median_ms(lambda: advisor.advise(net, report), args.repeat,
                     lambda _: advisor._CACHE.clear())
    cached = median_ms(lambda: advisor.advise(net, report), args.repeat)

    conv = next(n for n in net.nodes.values() if n.type == "Conv2d" and n.id != "conv1").id
    state = {"report": report}

    def edit(i):
        net.set_params(conv, bias=bool(i % 2))
        state["report"] = analyze(net, batch=32)

    after_edit = median_ms(lambda: advisor.advise(net, state["report"]), args.repeat, edit)
    analysis = median_ms(lambda: analyze(net, batch=32), args.repeat,
                         lambda i: net.set_params(conv, bias=bool(i % 2)))

    def effects():
        for h in advisor.advise(net, state["report"]):
            h._memo.clear()
            h.effect()

    predictions = median_ms(effects, max(args.repeat // 5, 3))
    print(f"advise() cold          {cold:7.2f} ms")
    print(f"advise() cached        {cached:7.3f} ms")
    print(f"advise() after an edit {after_edit:7.2f} ms   (analyze() after an edit: "
          f"{analysis:.2f} ms, ratio {after_edit / analysis:.2f})")
    print(f"every predicted effect {predictions:7.2f} ms   (deferred in the window)")


if __name__ == "__main__":
    main()
