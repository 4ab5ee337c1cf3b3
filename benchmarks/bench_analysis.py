"""Analysis speed on a ~500-layer network (ResNet-152) against torchinfo.summary in the same run.

    python benchmarks/bench_analysis.py [--preset presets/resnet152.convnet.json] [--repeat 50]

Prints the median time of analyze() cold (every cache emptied), on a freshly loaded copy, again
on an unchanged design, and after one edit (what the app does per keystroke); the same with the
PyTorch peak estimate asked for (Report.pytorch walks the training step in time, on first use);
and the ratio of torchinfo.summary (a forward pass of the built model with hooks: shapes,
parameters, MACs, no training memory) to the cold analysis.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from timing import median_ms  # noqa: E402

import designer.model.analysis as analysis_module  # noqa: E402
from designer.model.analysis import analyze  # noqa: E402
from designer.model.design_file import load  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--preset", default=str(ROOT / "presets" / "resnet152.convnet.json"))
    ap.add_argument("--repeat", type=int, default=50)
    ap.add_argument("--torchinfo-repeat", type=int, default=3)
    args = ap.parse_args()

    net = load(args.preset).network
    n = len(net)

    def empty_caches(_):
        analysis_module._MEMO.clear()
        net._reports.clear()
        net._order = None

    def forget_network(_):
        net._reports.clear()
        net._order = None

    cold = median_ms(lambda: analyze(net), args.repeat, empty_caches)
    fresh = median_ms(lambda: analyze(net), args.repeat, forget_network)
    analyze(net)
    same = median_ms(lambda: analyze(net), args.repeat)
    convs = [nid for nid, node in net.nodes.items() if node.type == "Conv2d"]
    target = convs[len(convs) // 2]
    width = net.nodes[target].params["out_channels"]

    def edit(i):
        net.set_params(target, out_channels=width + (i % 2))

    edited = median_ms(lambda: analyze(net), args.repeat, edit)

    def empty_all(_):
        empty_caches(_)
        analysis_module._WALKS.clear()

    # the PyTorch peak estimate is walked when first asked for (the totals panel asks)
    peak_cold = median_ms(lambda: analyze(net).pytorch, args.repeat, empty_all)
    peak_edit = median_ms(lambda: analyze(net).pytorch, args.repeat, edit)
    net.set_params(target, out_channels=width)

    import torch
    from torchinfo import summary

    from designer.bridge.module import build_module

    report = analyze(net)
    model = build_module(net, report)
    c, h, w = report.layers[model.input_id].shape
    summary(model, input_size=(1, c, h, w), verbose=0)  # warm up
    base = median_ms(lambda: summary(model, input_size=(1, c, h, w), verbose=0),
                     args.torchinfo_repeat)

    print(f"network: {Path(args.preset).name}, {n} layers, {report.totals.params:,} params, "
          f"torch {torch.__version__}")
    print(f"analyze(), cold (all caches empty)   {cold:8.2f} ms")
    print(f"analyze(), freshly loaded design     {fresh:8.2f} ms")
    print(f"analyze(), unchanged design          {same:8.2f} ms")
    print(f"analyze(), after one edit            {edited:8.2f} ms")
    print(f"… with the PyTorch peak (step walked), cold {peak_cold:8.2f} ms")
    print(f"… with the PyTorch peak, after one edit     {peak_edit:8.2f} ms")
    print(f"torchinfo.summary (baseline)         {base:8.1f} ms")
    print(f"ratio torchinfo / cold analysis      {base / cold:8.0f}×")


if __name__ == "__main__":
    main()
