"""`python -m designer [gui] [FILE]`: the desktop app (the default command)."""

from __future__ import annotations

import argparse
from typing import Any


def add_parser(sub: Any) -> None:
    g = sub.add_parser("gui", help="open the desktop app (the default)",
                       description="Open the desktop app, with FILE if one is given.")
    g.add_argument("file", nargs="?", help="a .convnet.json design to open")


def run(args: argparse.Namespace) -> int:
    from ..app import main as gui

    return gui([args.file] if getattr(args, "file", None) else [])
