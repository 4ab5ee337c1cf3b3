"""The weights of a torch.export program (.pt2), read as raw bytes, never unpickled.

torch.export.save (torch 2.7 on) keeps a program's state_dict beside its graph as
`data/weights/<model>_weights_config.json`, naming for each tensor a member of the zip
(`data/weights/weight_<i>`: the raw bytes of its storage, in the byte order the archive's
`byteorder` member names) with its dtype, sizes, strides and storage offset; the constants
likewise under `data/constants/`. That is read here as data: the configuration's JSON, then
only the bytes of the tensors the design's layers take (fx_pt2.py names, for each stand-in
weight of the graph, the tensor it stands for). What only unpickling could give is refused
with a reason: a tensor stored pickled (`use_pickle`, a tensor subclass), an archive of the
older layouts (`data/weights/<model>.pt`, `serialized_state_dict.pt`, both pickles).

Within limits, checked before anything is read: the configuration (fx_pt2.MAX_GRAPH_BYTES), a
tensor's declared size (the design's layer's, exactly), the bytes its sizes, strides and offset
reach (within its member's size), and all the bytes read (MAX_WEIGHT_BYTES). Only those bytes
are read from a member (a compressed one is inflated no further).

TORCH (imported where first used), no Qt.
"""

from __future__ import annotations

import json
import math
import zipfile
from pathlib import Path
from typing import Any

from . import import_weights
from .fx_pt2 import MAX_GRAPH_BYTES, _check_directory
from .import_graph import _Ref
from .import_weights import _NoWeights

# torch/_export/serde/schema.py's ScalarType codes read: (torch dtype name, bytes)
_DTYPES = {4: ("int32", 4), 5: ("int64", 8), 6: ("float16", 2), 7: ("float32", 4),
           8: ("float64", 8), 13: ("bfloat16", 2)}
_NUMPY = {"int32": "i4", "int64": "i8", "float16": "f2", "float32": "f4", "float64": "f8"}


class _ArchiveWeights:
    """The tensors of one program in a .pt2 archive, by the names its graph gives them."""

    def __init__(self, path: Path, member: str, sources: dict[str, str]):
        self.path = path
        self.sources = sources
        parts = member.split("/")
        if len(parts) >= 2 and parts[-2] == "models":
            folder, self.model = parts[:-2], parts[-1][:-5]
        else:  # serialized_exported_program.json: the older layout
            folder, self.model = parts[:-1], ""
        self.root = "".join(p + "/" for p in folder)
        self.budget = import_weights.MAX_WEIGHT_BYTES
        self._configs: list | str | None = None  # str: why none can be read
        self._infos: dict[str, zipfile.ZipInfo] | None = None
        self._order = "little"
        self._zip: zipfile.ZipFile | None = None

    def __enter__(self) -> _ArchiveWeights:
        return self

    def __exit__(self, *exc) -> None:
        if self._zip is not None:
            self._zip.close()
            self._zip = None

    def fetch(self, ref: _Ref, expected) -> Any:
        fqn = self.sources.get(ref.handle) if isinstance(ref.handle, str) else None
        if fqn is None:
            raise _NoWeights("the program does not name the tensor it stands for")
        if ref.sibling:
            head = fqn.rpartition(".")[0]
            fqn = f"{head}.{ref.sibling}" if head else ref.sibling
        found = self._entry(fqn)
        if found is None:
            if ref.optional:
                return None
            raise _NoWeights(f"the archive has no tensor {_short(fqn)}")
        folder, entry = found
        if not isinstance(entry, dict):
            raise _NoWeights(f"the archive's entry for {_short(fqn)} is not an object")
        if entry.get("use_pickle") is not False:
            raise _NoWeights(f"the archive keeps {_short(fqn)} pickled (a tensor subclass), "
                             "and the importer never unpickles anything")
        return self._tensor(fqn, folder, entry, expected)

    # the configuration

    def _entry(self, fqn: str) -> tuple[str, Any] | None:
        if self._configs is None:
            try:
                self._configs = self._read_configs()
            except _NoWeights as e:
                self._configs = str(e)  # said once, for every tensor after
        if isinstance(self._configs, str):
            raise _NoWeights(self._configs)
        for folder, config in self._configs:
            if fqn in config:
                return folder, config[fqn]
        return None

    def _read_configs(self) -> list:
        _check_directory(self.path)
        z = self._zip = zipfile.ZipFile(self.path)  # closed by __exit__
        self._infos = names = {i.filename: i for i in z.infolist() if not i.is_dir()}
        legacy = [n for n in (f"{self.root}data/weights/{self.model}.pt",
                              f"{self.root}serialized_state_dict.pt") if n in names]
        if not self.model or legacy:
            where = legacy[0] if legacy else "an older torch.export layout"
            raise _NoWeights(
                f"the archive keeps its weights pickled ({where}): they come in only by "
                "unpickling, which the importer never does; save the program again with "
                "torch.export.save of torch 2.7 or later")
        if f"{self.root}byteorder" in names:
            order = self._read(z, f"{self.root}byteorder", 16).decode("ascii", "replace")
            self._order = order.strip()
            if self._order not in ("little", "big"):
                raise _NoWeights(f"the archive's byte order is {_short(self._order)}")
        configs = []
        for folder in ("weights", "constants"):
            name = f"{self.root}data/{folder}/{self.model}_{folder}_config.json"
            if name not in names:
                continue
            try:
                doc = json.loads(self._read(z, name, MAX_GRAPH_BYTES))
            except (ValueError, RecursionError) as e:
                raise _NoWeights(f"{name} is not JSON ({type(e).__name__})") from None
            config = doc.get("config") if isinstance(doc, dict) else None
            if not isinstance(config, dict):
                raise _NoWeights(f"{name} has no configuration of tensors")
            configs.append((f"{self.root}data/{folder}/", config))
        if not configs:
            raise _NoWeights("the archive has no weights configuration (data/weights/"
                             f"{self.model}_weights_config.json)")
        return configs

    def _read(self, z: zipfile.ZipFile, name: str, limit: int) -> bytes:
        info = self._infos[name] if self._infos else z.getinfo(name)
        if info.file_size > limit:
            raise _NoWeights(f"{name} is {info.file_size:,} bytes; more than {limit:,} is "
                             "not read")
        with z.open(info) as f:
            return f.read(limit)

    # one tensor

    def _tensor(self, fqn: str, folder: str, entry: dict, expected) -> Any:
        import torch

        meta = entry.get("tensor_meta")
        path_name = entry.get("path_name")
        if not isinstance(meta, dict) or not isinstance(path_name, str):
            raise _NoWeights(f"the archive's entry for {_short(fqn)} has no tensor_meta or "
                             "path_name")
        code = meta.get("dtype")
        if isinstance(code, bool) or code not in _DTYPES:
            raise _NoWeights(f"{_short(fqn)} is of a type the importer does not read "
                             f"(ScalarType {_short(code)})")
        dtype_name, itemsize = _DTYPES[code]
        sizes = _ints(meta.get("sizes"), fqn, "sizes")
        strides = _ints(meta.get("strides"), fqn, "strides")
        offset = _ints([meta.get("storage_offset", {"as_int": 0})], fqn, "storage_offset")[0]
        if tuple(sizes) != tuple(expected.shape):
            raise _NoWeights(f"the program's {_short(fqn)} is {_dims(sizes)}, the layer's "
                             f"{_dims(expected.shape)}")
        if len(strides) != len(sizes):
            raise _NoWeights(f"{_short(fqn)} has {len(sizes)} sizes but {len(strides)} strides")
        if math.prod(sizes) == 0:
            return torch.zeros(sizes, dtype=getattr(torch, dtype_name))
        extent = offset + sum((s - 1) * st for s, st in zip(sizes, strides)) + 1
        nbytes = extent * itemsize
        member = folder + path_name
        info = (self._infos or {}).get(member)
        if info is None:
            raise _NoWeights(f"the archive has no member {_short(member)} for {_short(fqn)}")
        if nbytes > info.file_size:
            raise _NoWeights(f"{_short(fqn)} reaches {nbytes:,} bytes into {_short(member)}, "
                             f"which holds {info.file_size:,}")
        if nbytes > self.budget:
            raise _NoWeights(f"the weights read would pass "
                             f"{import_weights.MAX_WEIGHT_BYTES:,} bytes")
        self.budget -= nbytes
        assert self._zip is not None  # the configuration was read: the archive is open
        with self._zip.open(info) as f:
            raw = f.read(nbytes)
        if len(raw) != nbytes:
            raise _NoWeights(f"{_short(member)} ends after {len(raw):,} of {nbytes:,} bytes")
        flat = _flat(raw, dtype_name, self._order, extent)
        return torch.as_strided(flat, sizes, strides, offset)


def _flat(raw: bytes, dtype_name: str, order: str, count: int):
    import numpy as np
    import torch

    if order == "little" or dtype_name not in _NUMPY:
        if order != "little":
            raise _NoWeights(f"{dtype_name} tensors of a big-endian archive are not read")
        return torch.frombuffer(bytearray(raw), dtype=getattr(torch, dtype_name), count=count)
    array = np.frombuffer(raw, dtype=">" + _NUMPY[dtype_name], count=count)
    return torch.from_numpy(array.astype(_NUMPY[dtype_name]))


def _ints(values: Any, fqn: str, what: str) -> list[int]:
    if not isinstance(values, list) or len(values) > 16:
        raise _NoWeights(f"{_short(fqn)}'s {what} are not a list of at most 16 sizes")
    out = []
    for v in values:
        n = v.get("as_int") if isinstance(v, dict) and len(v) == 1 else None
        if isinstance(n, bool) or not isinstance(n, int) or not 0 <= n < 1 << 40:
            raise _NoWeights(f"{_short(fqn)}'s {what} are not whole numbers from 0 to 2^40 "
                             f"({_short(v)})")
        out.append(n)
    return out


def _dims(shape) -> str:
    return "×".join(str(int(s)) for s in shape) or "a scalar"


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
