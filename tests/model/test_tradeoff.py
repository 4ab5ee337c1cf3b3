"""Runs compared (model/tradeoff.py): the Pareto front of accuracy against a cost, and run
records read from a file, checked field by field."""

from __future__ import annotations

import itertools
import random

from designer.model.tradeoff import pareto_front, run_entries


def dominated(p, q) -> bool:
    """q beats p: no more costly, no less accurate, and better in one."""
    return q[0] <= p[0] and q[1] >= p[1] and (q[0] < p[0] or q[1] > p[1])


def test_the_front_is_exactly_the_points_no_other_beats():
    rng = random.Random(0)
    for _ in range(200):
        points = [(rng.choice([1, 2, 3, 5, 8]), rng.choice([0.1, 0.5, 0.7, 0.9]))
                  for _ in range(rng.randint(1, 9))]
        front = pareto_front(points)
        expected = [i for i, p in enumerate(points)
                    if not any(dominated(p, q) for q in points)
                    and not any(points[j] == p for j in range(i))]  # equal points: the first
        assert sorted(front) == expected, points
        costs = [points[i][0] for i in front]
        assert costs == sorted(costs)  # cheapest first: the line is drawn in this order
        accs = [points[i][1] for i in front]
        assert all(a < b for a, b in itertools.pairwise(accs))


def test_run_records_from_a_file_are_read_with_care():
    runs = [
        {"id": "20261203-104233-3f9c0e", "version": "0123456789abcdef", "status": "finished",
         "best_val_accuracy": 0.91, "seconds": 12.5, "epochs_done": 3, "params": 31066,
         "macs": 362_000, "estimated_bytes": 9_000_000, "peak_bytes": None,
         "history": [{"epoch": 3, "val_accuracy": 0.9}],
         "config": {"optimizer": "momentum", "lr": 0.02, "batch_size": 64, "epochs": 3,
                    "data": {"name": "synthetic"}}},
        {"id": 5, "status": "stopped", "best_val_accuracy": float("nan"), "params": True,
         "history": "not a list", "config": "damaged"},
        "not a run",
    ]
    a, b = run_entries("net", "/x/net.convnet.json", runs, "0123456789abcdef")
    assert a.current and a.best_accuracy == 0.91 and a.final_accuracy == 0.9
    assert a.costs == {"params": 31066, "macs": 362_000, "memory": 9_000_000, "seconds": 12.5}
    assert a.settings == "momentum, lr 0.02, batch 64, 3 epochs" and a.data == "synthetic"
    assert not b.current and b.best_accuracy is None and b.costs == {}  # nothing guessed
    assert b.final_accuracy is None and b.data == "?"
