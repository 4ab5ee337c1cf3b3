"""A design's version: what its trained weights depend on. Pure Python: no Qt, no torch.

    structure_key(network) -> "3f9c0e5a1b2d4c6e"      # 16 hex digits

Two designs have the same key exactly when the module built from them has the same parameters
under the same names: the same layers (id, type, parameters) wired the same way. A layer's
position, label, the design's name and description, and which layers are frozen are not part of
it (moving a card or freezing a layer keeps the weights usable); a kernel size, a channel count,
a layer added or rewired makes another version.

A run records the key of the design it trained (ui/panels/runs.py); the window uses a run's
weights wherever the design on screen has that key again (after an undo, on reopening).
"""

from __future__ import annotations

import json
from typing import Any

from .network import Network

KEY_DIGITS = 16


def structure_key(network: Network) -> str:
    """The design's version: a BLAKE2b digest of its layers and wiring (see the module)."""
    layers = [[n.id, n.type, _plain(dict(n.params)), list(n.inputs)]
              for n in sorted(network.nodes.values(), key=lambda n: n.id)]
    text = json.dumps(layers, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    import hashlib  # (here: the window starts without it)

    return hashlib.blake2b(text.encode("ascii"), digest_size=KEY_DIGITS // 2).hexdigest()


def is_key(value: Any) -> bool:
    """A version key as structure_key writes it (a run record's "version" is read from a file)."""
    return (isinstance(value, str) and len(value) == KEY_DIGITS
            and all(c in "0123456789abcdef" for c in value))


def _plain(value: Any) -> Any:
    """Parameters as JSON: tuples as lists (a kernel (3, 3) and [3, 3] are one size)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value
