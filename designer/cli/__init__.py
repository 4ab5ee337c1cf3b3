"""The command line: `python -m designer [gui] | summary | train | export | import | compare`.

One module per command, each with `add_parser(sub)` and `run(args) -> int` (the exit code);
`main` builds the parser from them and dispatches. Building the parser imports neither torch nor
Qt: each command imports what it needs when it runs.
"""

from __future__ import annotations

import argparse
import importlib

# command -> module in this package, in the order `--help` lists them
COMMANDS = {"gui": "gui", "summary": "summary", "train": "train", "export": "export",
            "import": "import_model", "compare": "compare"}


def _module(command: str):
    return importlib.import_module(f".{COMMANDS[command]}", __name__)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m designer",
                                description="ConvNet Designer: design, understand and train "
                                            "convolutional networks.")
    sub = p.add_subparsers(dest="command")
    for command in COMMANDS:
        _module(command).add_parser(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    """Run one command; the window when none is named."""
    args = parser().parse_args(argv)
    return _module(args.command or "gui").run(args)
