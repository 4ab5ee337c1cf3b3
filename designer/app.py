"""Desktop app entry point.

The window is not built yet: until it is, the app prints the summary of the design it would open
(the notes' CIFAR-10 example by default).
"""

from __future__ import annotations

import sys
from pathlib import Path

DEFAULT_DESIGN = Path(__file__).resolve().parent.parent / "presets" / "cifar10_example.convnet.json"


def main(argv: list[str] | None = None) -> int:
    from .__main__ import main as cli

    argv = sys.argv[1:] if argv is None else argv
    return cli(["summary", argv[0] if argv else str(DEFAULT_DESIGN)])
