"""Numbers the way the readouts write them. Pure Python."""

from __future__ import annotations

import re

_UNITS = {"": 1, "b": 1, "k": 1024, "kb": 1024, "kib": 1024, "m": 1024**2, "mb": 1024**2,
          "mib": 1024**2, "g": 1024**3, "gb": 1024**3, "gib": 1024**3, "t": 1024**4,
          "tb": 1024**4, "tib": 1024**4}


def format_bytes(n: float) -> str:
    """Bytes divided by 1024 as often as it takes, as the notes do: '73.5 MiB'."""
    n = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024 or unit == "GiB":
            if unit == "B" or abs(n) >= 100:
                return f"{n:.0f} {unit}"
            return f"{n:.3g} {unit}"
        n /= 1024
    raise AssertionError


def format_count(n: float) -> str:
    """Short form for readouts: 61,706 / 151 K / 15.2 M / 138 M / 1.55 G."""
    n = float(n)
    if abs(n) < 100_000:
        return f"{n:,.0f}"
    for unit, div in (("K", 1e3), ("M", 1e6), ("G", 1e9), ("T", 1e12)):
        v = n / div
        if abs(v) < 1000 or unit == "T":
            return f"{v:.3g} {unit}" if abs(v) < 100 else f"{v:.0f} {unit}"
    raise AssertionError


def parse_size(text: str) -> int:
    """'12GB', '12 GiB', '800M', '1073741824' -> bytes. GB and GiB both mean 1024³ bytes, as
    GPU memory sizes are quoted and as the notes divide by 1024."""
    m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([A-Za-z]*)\s*", text)
    if not m or m.group(2).lower() not in _UNITS:
        raise ValueError(f"{text!r} is not a size (e.g. 12GB, 800MiB, 4G)")
    value = float(m.group(1)) * _UNITS[m.group(2).lower()]
    if value < 1:
        raise ValueError(f"{text!r} is not a size larger than zero")
    return int(value)


def plural(n: int, word: str, many: str | None = None) -> str:
    """A count and its noun, singular for one: plural(1, "layer") -> '1 layer',
    plural(1234, "layer") -> '1,234 layers', plural(2, "batch", "batches") -> '2 batches'."""
    return f"{n:,} {word if n == 1 else many or word + 's'}"
