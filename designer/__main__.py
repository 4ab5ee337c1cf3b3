"""Command line: `python -m designer [gui] | summary FILE | train FILE | export FILE --to KIND OUT |
import MODEL OUT | compare A B`."""

from __future__ import annotations

import argparse
import json
import sys

from .model.analysis import DTYPE_BYTES, OPTIMIZER_STATE


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m designer",
                                description="ConvNet Designer: design, understand and train "
                                            "convolutional networks.")
    sub = p.add_subparsers(dest="command")
    g = sub.add_parser("gui", help="open the desktop app (the default)")
    g.add_argument("file", nargs="?", help="a .convnet.json design to open")
    s = sub.add_parser("summary", help="per-layer table and training memory of a design")
    s.add_argument("file", help="a .convnet.json design")
    s.add_argument("--batch", type=int, default=None, help="batch size (default: the file's, or 1)")
    s.add_argument("--dtype", choices=list(DTYPE_BYTES), default=None)
    s.add_argument("--optimizer", choices=list(OPTIMIZER_STATE), default=None)
    s.add_argument("--budget", default=None,
                   help="memory budget, e.g. 12GB (GB = GiB = 1024³ bytes)")
    s.add_argument("--json", action="store_true", help="machine-readable output")
    s.add_argument("--no-hints", action="store_true",
                   help="leave out the design hints (the notes' rules of thumb)")
    from .training.cli import add_parser as add_train_parser

    add_train_parser(sub)
    from .cli_export import add_parsers as add_export_parsers

    add_export_parsers(sub)
    return p


def summary(args: argparse.Namespace) -> int:
    from .model.analysis import analyze
    from .model.design_file import DesignFileError, load
    from .model.units import parse_size
    from .summary import design_hints, hints_json, render_text, to_json

    try:
        design = load(args.file)
    except DesignFileError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    saved = design.analysis
    batch = args.batch if args.batch is not None else saved.get("batch", 1)
    if batch < 1:
        print(f"error: --batch must be ≥ 1, got {batch}", file=sys.stderr)
        return 2
    budget = saved.get("budget")
    if args.budget is not None:
        try:
            budget = parse_size(args.budget)
        except ValueError as e:
            print(f"error: --budget: {e}", file=sys.stderr)
            return 2
    report = analyze(design.network, batch=batch,
                     dtype=args.dtype or saved.get("dtype", "fp32"),
                     optimizer=args.optimizer or saved.get("optimizer", "sgd"), budget=budget)
    hints, ignored = (None, 0) if args.no_hints else design_hints(design, report)
    if args.json:
        data = to_json(design.network, report)
        if hints is not None:
            data["hints"] = hints_json(hints)
        json.dump(data, sys.stdout, indent=1, ensure_ascii=False)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(render_text(design.network, report, hints, ignored))
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "summary":
        return summary(args)
    if args.command == "train":
        from .training.cli import train

        return train(args)
    if args.command in ("export", "import", "compare"):
        from .cli_export import run

        return run(args)
    from .app import main as gui

    return gui([args.file] if getattr(args, "file", None) else [])


if __name__ == "__main__":
    sys.exit(main())
