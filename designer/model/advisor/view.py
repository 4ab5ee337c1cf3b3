"""What every rule reads: DesignView, a design and its Report with the walks the rules share
(down-sampling POOLs, residual branches, the layers that follow a CONV, fresh layer ids), and the
layer-type groups they use.
"""

from __future__ import annotations

from ..analysis import LayerReport, Report
from ..network import Network
from .records import Hint

POOLS = ("MaxPool2d", "AvgPool2d")
WINDOWED = ("Conv2d", "MaxPool2d", "AvgPool2d")
# layers that stay with a CONV when a POOL is put after it (its normalisation and non-linearity)
FOLLOWERS = {"ReLU", "LeakyReLU", "ELU", "GELU", "Sigmoid", "Tanh", "BatchNorm2d",
             "LocalResponseNorm"}


class DesignView:
    """A design and its Report as the rules read them: the layers, who reads each, the
    INPUT, the CONVs, and the small walks several rules share; `hint` makes a Hint that can
    predict its effect, `fresh_id` names the layers an edit adds."""

    def __init__(self, network: Network, report: Report):
        self.net = network
        self.report = report
        self.nodes = network.nodes
        self.layers = report.layers
        self.readers = network.readers()  # (kept by the network while its wiring is)
        self.input_id = next((nid for nid in report.order if self.nodes[nid].type == "Input"),
                             None)
        self.input_shape = self.layers[self.input_id].shape if self.input_id else None
        self._base: Network | None = None
        self._taken: set[str] = set()
        self._pools: list[str] | None = None
        self.convs = [nid for nid, rep in self.layers.items() if rep.type == "Conv2d"]

    # ------------------------------------------------------------------------- helpers

    def base(self) -> Network:
        if self._base is None:
            self._base = self.net.copy()
        return self._base

    def hint(self, key: str, layers, title: str, reason: str, section: str, **kw) -> Hint:
        return Hint(key, tuple(layers), title, reason, section, _report=self.report,
                    _base=self.base() if kw.get("edit") or kw.get("settings") else None, **kw)

    def fresh_id(self, base: str) -> str:
        nid, i = base, 2
        while nid in self.nodes or nid in self._taken:
            nid = f"{base}_{i}"
            i += 1
        self._taken.add(nid)
        return nid

    def volume_in(self, rep: LayerReport) -> tuple[int, int, int] | None:
        if len(rep.in_shapes) != 1 or len(rep.in_shapes[0]) != 3 or rep.shape is None:
            return None
        return rep.in_shapes[0]

    def is_global(self, nid: str) -> bool:
        """A POOL whose window covers its whole input (a global pool, not a down-sampling)."""
        rep = self.layers[nid]
        vol = self.volume_in(rep)
        k = self.nodes[nid].params["kernel_size"]
        return vol is None or (k >= vol[1] and k >= vol[2])

    def downsampling_pools(self) -> list[str]:
        if self._pools is None:
            self._pools = [nid for nid, rep in self.layers.items()
                           if rep.type in POOLS and rep.shape is not None
                           and self.nodes[nid].params["stride"] > 1 and not self.is_global(nid)]
        return self._pools

    def feeds_add(self, nid: str) -> bool:
        """Whether a layer is on a residual branch: its output reaches an Add within a few
        single-reader layers (a residual block down-samples both of its branches)."""
        cur = nid
        for _ in range(8):
            readers = self.readers.get(cur, ())
            if any(self.nodes[r].type == "Add" for r in readers):
                return True
            if len(readers) != 1 or self.nodes[readers[0]].type in POOLS + ("Concat",):
                return False
            cur = readers[0]
        return False

    def after_followers(self, nid: str) -> str:
        """The last of the normalisation and non-linearity layers that follow `nid` alone."""
        cur = nid
        while True:
            readers = self.readers.get(cur, ())
            if len(readers) != 1 or self.nodes[readers[0]].type not in FOLLOWERS:
                return cur
            cur = readers[0]

    def first_halving_pool(self, conv: str) -> str | None:
        """The first down-sampling layer after `conv`, where it is a stride-2 POOL in the same
        stack (the first CONV's stride 2 can take its place)."""
        cur = conv
        while True:
            readers = self.readers.get(cur, ())
            if len(readers) != 1:
                return None
            cur = readers[0]
            node = self.nodes[cur]
            if node.type in WINDOWED and node.params["stride"] != 1:
                ok = (node.type in POOLS and node.params["stride"] == 2
                      and len(node.inputs) == 1 and not self.is_global(cur))
                return cur if ok else None
            if self.layers[cur].shape is None or len(self.layers[cur].shape) != 3:
                return None
