"""Where runs keep their weights (training/store.py): beside the design, copied at a save,
pruned with the runs, found again on reopening, checked, and never outside their folder."""

from __future__ import annotations

import os

import pytest

torch = pytest.importorskip("torch")

from designer.training import runs as checkpoints  # noqa: E402
from designer.training.store import (  # noqa: E402
    RunStore,
    is_run_id,
    new_run_id,
    weights_folder,
    without_weights,
)

VERSION = "0123456789abcdef"


def write_run(store: RunStore, kinds=("best", "last")) -> dict:
    rid = new_run_id()
    folder = store.new_run_folder(rid)
    folder.mkdir(parents=True)
    for kind in kinds:
        checkpoints.write_checkpoint(folder / f"{kind}.safetensors",
                                     {"model": {"w": torch.full((2,), 1.0)}, "meta": {"k": kind}})
    return {"id": rid, "version": VERSION, "weights": list(kinds), "status": "finished"}


def test_a_save_copies_the_weights_beside_the_design_and_prunes_dropped_runs(tmp_path):
    store = RunStore(tmp_path / "work")
    a, b = write_run(store), write_run(store, kinds=("last",))
    design = tmp_path / "net.convnet.json"
    saved = store.save(design, [a, b])
    folder = tmp_path / "net.weights"
    assert weights_folder(design) == folder
    assert sorted(p.name for p in (folder / a["id"]).iterdir()) == ["best.safetensors",
                                                                    "last.safetensors"]
    assert saved == [a, b]
    # a new store (the design reopened) finds them there
    reopened = RunStore(tmp_path / "other")
    reopened.design_path = str(design)
    assert reopened.problems(saved) == []
    record, path = reopened.weights_for(saved, VERSION)
    assert record["id"] == b["id"]  # the latest run
    assert path == folder / b["id"] / "last.safetensors"
    assert reopened.weights_for(saved, "fedcba9876543210") is None
    # a run deleted from the design: its folder goes at the next save
    store.save(design, [b])
    assert not (folder / a["id"]).exists() and (folder / b["id"]).exists()
    store.save(design, [])
    assert not folder.exists()


def test_a_second_save_does_not_copy_again(tmp_path):
    store = RunStore(tmp_path / "work")
    a = write_run(store)
    design = tmp_path / "net.convnet.json"
    store.save(design, [a])
    copied = weights_folder(design) / a["id"] / "best.safetensors"
    before = os.stat(copied).st_ino
    store.save(design, [a])
    assert os.stat(copied).st_ino == before


def test_missing_and_damaged_weights_are_named(tmp_path):
    store = RunStore(tmp_path / "work")
    a, b = write_run(store), write_run(store)
    design = tmp_path / "net.convnet.json"
    saved = store.save(design, [a, b])
    (weights_folder(design) / a["id"] / "best.safetensors").unlink()
    damaged = weights_folder(design) / b["id"] / "best.safetensors"
    damaged.write_bytes(damaged.read_bytes()[:50])
    fresh = RunStore(tmp_path / "w2")
    fresh.design_path = str(design)
    problems = fresh.problems(saved)
    assert len(problems) == 2
    assert problems[0].endswith(f"{a['id']}/best.safetensors is missing")
    assert str(damaged) in problems[1]
    # the run whose best is gone still has its last
    assert fresh.files(a) == {"last": weights_folder(design) / a["id"] / "last.safetensors"}


def test_run_ids_from_a_file_never_reach_the_file_system(tmp_path):
    store = RunStore(tmp_path / "work")
    (tmp_path / "secret").mkdir()
    (tmp_path / "secret" / "best.safetensors").write_bytes(b"x")
    store.design_path = str(tmp_path / "work" / "a" / "net.convnet.json")
    for rid in ("../../secret", "/tmp", "20261203-104233-3f9c0e/../..", 5, None):
        record = {"id": rid, "version": VERSION, "weights": ["best"]}
        assert store.files(record) == {}
        assert store.problems([record]) == []  # not a run of ours: nothing to look for
    assert not is_run_id("../x") and is_run_id(new_run_id())
    with pytest.raises(ValueError):
        store.new_run_folder("../x")


def test_a_shared_copy_keeps_the_curves_without_the_weights():
    record = {"id": new_run_id(), "weights": ["best"], "history": [{"epoch": 1}]}
    (shared,) = without_weights([record])
    assert shared == {"id": record["id"], "history": [{"epoch": 1}]}
    assert "weights" in record  # the design's own record is unchanged


def test_the_working_folder_goes_with_the_store(tmp_path):
    store = RunStore()
    folder = store.new_run_folder(new_run_id())
    folder.mkdir(parents=True)
    assert folder.is_dir()
    store.close()
    assert not folder.parent.exists()
