"""The command line: `python -m designer [gui] | summary | train | lr-find | sweep | export |
import | compare`.

One module per command, each with `add_parser(sub)` and `run(args) -> int` (the exit code);
`main` builds the parser from them and dispatches. Building the parser imports neither torch nor
Qt: each command imports what it needs when it runs.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

# command -> module in this package, in the order `--help` lists them
COMMANDS = {"gui": "gui", "summary": "summary", "train": "train", "lr-find": "lr_find",
            "sweep": "sweep", "export": "export", "import": "import_model", "compare": "compare"}


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
    try:
        return _module(args.command or "gui").run(args)
    except BrokenPipeError:  # `... --json | head`: the reader has gone, which is no error
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())  # Python's own flush at exit would fail
        except (OSError, ValueError):
            pass
        return 141  # 128 + SIGPIPE, what a shell reports for a command cut off this way
