"""Mutated design files, many of them: how many load, how many are refused with the loader's
one-line error, and how many crash a reader (the figure in README's safety section).

    python benchmarks/fuzz_designs.py [--files 10000] [--seed 0]

Each file is a case study (with training settings and an analysis section added) changed 1–4
times at random: a value replaced (edge values that broke readers before, or random JSON), a key
deleted, a list entry duplicated, a wire or a layer removed, a parameter or the input size
changed, a number token replaced by 1e999, or a few bytes flipped. A file that loads is then
used the way the app uses one (tests/test_fuzz_design_files.py `use`: the analysis, the hints,
the summary as text and JSON, the training settings, save and reopen). A crash is any exception
other than the loader's DesignFileError (or the training settings' ConfigError); each distinct
one is printed with its file, so it can become a regression test.
"""

from __future__ import annotations

import argparse
import copy
import json
import random
import re
import sys
import time
import traceback
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from designer.model.design_file import DesignFileError, loads  # noqa: E402
from tests.test_fuzz_design_files import BASES, use  # noqa: E402

EDGE = [10**309, -(10**400), 10**18, 2**53 + 1, -1, 0, 1, 65_536, 65_537, 8192, 16_384, 1e308,
        0.5, "\ud800", "fc\n", "x\0", "yesterday", "3", "", "same", [], {}, [1, 2], {"a": 1},
        None, True, False]


def _random_json(rng: random.Random, depth: int = 0):
    kind = rng.randrange(7 if depth < 2 else 5)
    if kind == 0:
        return None
    if kind == 1:
        return rng.random() < 0.5
    if kind == 2:
        return rng.randint(-(2**70), 2**70) if rng.random() < 0.3 else rng.randint(-5, 300)
    if kind == 3:
        return rng.uniform(-1e6, 1e6)
    if kind == 4:
        return "".join(chr(rng.randrange(32, 0x2FF)) for _ in range(rng.randrange(8)))
    if kind == 5:
        return [_random_json(rng, depth + 1) for _ in range(rng.randrange(4))]
    return {str(rng.randrange(99)): _random_json(rng, depth + 1) for _ in range(rng.randrange(4))}


def _paths(obj, prefix=()):
    yield prefix
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _paths(v, prefix + (k,))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from _paths(v, prefix + (i,))


def mutated(rng: random.Random) -> str:
    d = copy.deepcopy(BASES[rng.choice(sorted(BASES))])
    for _ in range(rng.randint(1, 4)):
        action = rng.choice(["replace", "replace", "delete", "duplicate", "unwire", "drop",
                             "param", "param", "input"])
        nodes, edges = d.get("nodes"), d.get("edges")
        if action == "unwire" and isinstance(edges, list) and edges:
            edges.pop(rng.randrange(len(edges)))
        elif action == "drop" and isinstance(nodes, list) and nodes:
            gone = nodes.pop(rng.randrange(len(nodes)))
            if isinstance(edges, list) and isinstance(gone, dict):
                d["edges"] = [e for e in edges
                              if not isinstance(e, dict) or gone.get("id") not in e.values()]
        elif action == "param" and isinstance(nodes, list) and nodes:
            node = rng.choice(nodes)
            params = node.get("params") if isinstance(node, dict) else None
            if isinstance(params, dict) and params:
                params[rng.choice(sorted(params, key=str))] = (
                    rng.randint(0, 20_000) if rng.random() < 0.7 else rng.choice(EDGE))
        elif action == "input" and isinstance(nodes, list):
            for node in nodes:
                if (isinstance(node, dict) and node.get("type") == "Input"
                        and isinstance(node.get("params"), dict)):
                    for key in ("height", "width"):
                        node["params"][key] = rng.randint(1, 9000)
        else:
            paths = [p for p in _paths(d) if p]
            if not paths:
                break
            path = rng.choice(paths)
            parent = d
            for key in path[:-1]:
                parent = parent[key]
            if action == "delete":
                del parent[path[-1]]
            elif action == "duplicate" and isinstance(parent, list):
                parent.append(copy.deepcopy(parent[path[-1]]))
            else:
                parent[path[-1]] = rng.choice(EDGE) if rng.random() < 0.5 else _random_json(rng)
    text = json.dumps(d)
    r = rng.random()
    if r < 0.15:
        numbers = list(re.finditer(r"(?<=[:\[, ])-?\d+(\.\d+)?(?=[,\]} ])", text))
        if numbers:
            m = rng.choice(numbers)
            text = text[:m.start()] + "1e999" + text[m.end():]
    elif r < 0.25:
        chars = list(text)
        for _ in range(rng.randint(1, 3)):
            chars[rng.randrange(len(chars))] = chr(rng.randrange(32, 127))
        text = "".join(chars)
    return text


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--files", type=int, default=10_000)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    rng = random.Random(args.seed)
    loaded = refused = 0
    crashes: dict[str, str] = {}
    crash_count = 0
    tracemalloc.start()
    t0 = time.perf_counter()
    for _ in range(args.files):
        text = mutated(rng)
        try:
            design = loads(text)
        except DesignFileError:
            refused += 1
            continue
        except Exception:  # noqa: BLE001 - what this script is for
            crash_count += 1
            crashes.setdefault(traceback.format_exc(limit=-3), text)
            continue
        loaded += 1
        try:
            use(design)
        except Exception:  # noqa: BLE001
            crash_count += 1
            crashes.setdefault(traceback.format_exc(limit=-3), text)
    seconds = time.perf_counter() - t0
    peak = tracemalloc.get_traced_memory()[1]
    print(f"{args.files:,} mutated design files (seed {args.seed}): {loaded:,} loaded and used, "
          f"{refused:,} refused with the loader's error, {crash_count} crashes "
          f"({seconds:.0f} s, Python heap peak {peak / 2**20:.0f} MiB)")
    for trace, text in list(crashes.items())[:10]:
        print("----\n" + trace + "file: " + text[:300])
    return 1 if crash_count else 0


if __name__ == "__main__":
    sys.exit(main())
