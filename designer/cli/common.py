"""What the commands share: an error line on stderr and its exit code."""

from __future__ import annotations

import sys


class Refused(Exception):
    """The input cannot be used (exit code 2)."""


def error(message: str, code: int = 2) -> int:
    """Print `error: message` on stderr; return the exit code (2: the input cannot be used)."""
    print(f"error: {message}", file=sys.stderr)
    return code
