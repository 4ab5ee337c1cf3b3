"""What this machine has free, asked without torch (the window asks before a run starts; the
Trainer's out-of-memory advice asks after one failed). Standard library only."""

from __future__ import annotations

import os


def available_ram() -> int | None:
    """Bytes of RAM a new program can still use (Linux's MemAvailable, else the free pages the
    system reports), or None where neither is known."""
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return None
