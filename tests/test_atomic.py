"""designer.atomic and the writers that use it: every output is written to an exclusive
temporary file (or folder) beside its target and renamed over it, so a planted symlink is never
followed, a failure or a kill never leaves half a file in place of the previous one, and the
temporary files a kill left are cleaned on a later write (ours only)."""

from __future__ import annotations

import os
import random
import signal
import stat
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import pytest

from designer import atomic
from designer.model import Network
from designer.model.design_file import Design, load, save

ROOT = Path(__file__).resolve().parents[1]
OLD = time.time() - 2 * atomic.STALE_AFTER_S


def design(name: str = "small", layers: int = 3) -> Design:
    net = Network(name)
    last = net.add("Input", {"channels": 1, "height": 8, "width": 8}, id="input")
    for _ in range(layers):
        last = net.add("ReLU", inputs=[last])
    last = net.add("Flatten", inputs=[last])
    net.add("Linear", {"out_features": 3}, inputs=[last])
    return Design(net)


def temps(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


@pytest.fixture
def planted(tmp_path, monkeypatch):
    """plant(target) puts symlinks at the first temporary names tempfile will draw for it (and
    at the fixed names older versions used) pointing at a victim file: the victim's text."""
    names = ["planteda", "plantedb", "plantedc"]
    monkeypatch.setattr(tempfile, "_get_candidate_names",
                        lambda: iter(names + [f"fresh{k:03d}" for k in range(100)]))
    victim = tmp_path / "victim.txt"
    victim.write_text("do not touch", encoding="utf-8")

    def plant(target: Path) -> None:
        for n in names[:2]:
            (target.parent / f".{target.name}.{n}.tmp").symlink_to(victim)
        # a dangling link: O_CREAT without O_EXCL would make its target
        (target.parent / f".{target.name}.{names[2]}.tmp").symlink_to(tmp_path / "gone")
        (target.parent / f".{target.name}.tmp").symlink_to(victim)  # the old fixed name
        (target.parent / f"{target.name}.tmp").symlink_to(victim)

    plant.victim = victim
    return plant


# ------------------------------------------------------------------------------ the module


def test_write_replaces_keeps_the_mode_and_leaves_no_temp(tmp_path):
    path = tmp_path / "out.txt"
    atomic.write_text(path, "one\n")
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask  # not mkstemp's 0600
    path.chmod(0o640)
    atomic.write_bytes(path, b"two\r\n")
    assert path.read_bytes() == b"two\r\n" and stat.S_IMODE(path.stat().st_mode) == 0o640
    with atomic.replacing(path) as tmp:
        assert tmp.parent == path.parent and atomic.is_temp_name(tmp.name, path)
        assert stat.S_IMODE(tmp.stat().st_mode) == 0o600  # private while written
        tmp.write_text("three", encoding="utf-8")
    assert path.read_text() == "three" and stat.S_IMODE(path.stat().st_mode) == 0o640
    assert os.listdir(tmp_path) == ["out.txt"]


def test_the_temp_names_are_ours_only():
    assert atomic.is_temp_name(".m.py.ab_12xyz.tmp", "m.py")
    for name in (".m.py.tmp", "m.py.ab_12xyz.tmp", ".m.py.ab_12xy.tmp", ".m.py.AB_12XYZ.tmp",
                 ".n.py.ab_12xyz.tmp", ".m.py.ab_12xyz.tmp~", ".m.py.ab_12xyz.tmp.tmp"):
        assert not atomic.is_temp_name(name, "m.py"), name
    assert atomic.is_temp_name(".a.b[1]*.abcdefgh.tmp", "a.b[1]*")  # the name is escaped


@pytest.mark.parametrize("where", ["writer", "replace"])
def test_a_failure_midway_keeps_the_previous_file_and_no_temp(tmp_path, monkeypatch, where):
    path = tmp_path / "s.convnet.json"
    save(design("before"), path)
    before = path.read_bytes()
    if where == "replace":
        monkeypatch.setattr(os, "replace", lambda *a: (_ for _ in ()).throw(OSError("full")))
        with pytest.raises(OSError):
            save(design("after"), path)
    else:
        with pytest.raises(RuntimeError), atomic.replacing(path) as tmp:
            tmp.write_bytes(b'{"half": ')
            raise RuntimeError("the writer failed")
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["s.convnet.json"]


def test_a_writer_that_swaps_its_temp_for_a_symlink_is_not_followed(tmp_path, planted):
    path = tmp_path / "out.bin"
    path.write_bytes(b"old")
    with pytest.raises(OSError), atomic.replacing(path) as tmp:
        tmp.unlink()
        tmp.symlink_to(planted.victim)
    assert planted.victim.read_text() == "do not touch" and path.read_bytes() == b"old"


def test_stale_temps_of_ours_are_cleaned_on_the_next_save_and_nothing_else(tmp_path):
    path = tmp_path / "s.convnet.json"
    victim = tmp_path / "victim.txt"
    victim.write_text("do not touch", encoding="utf-8")
    folder_victim = tmp_path / "keep"
    folder_victim.mkdir()
    (folder_victim / "inside.txt").write_text("mine", encoding="utf-8")
    old_ours = [".s.convnet.json.abcdefgh.tmp", ".s.convnet.json.0123_xyz.tmp"]
    for name in old_ours:
        (tmp_path / name).write_text("left by a kill", encoding="utf-8")
    (tmp_path / ".s.convnet.json.linkvict.tmp").symlink_to(victim)
    (tmp_path / ".s.convnet.json.linkfold.tmp").symlink_to(folder_victim)
    staged = tmp_path / ".s.convnet.json.stagedir.tmp"
    staged.mkdir()
    (staged / "s.convnet.json").write_text("half", encoding="utf-8")
    (staged / "out").symlink_to(folder_victim)
    os.mkfifo(tmp_path / ".s.convnet.json.fifo_abc.tmp")
    others = ["notes.txt", ".s.convnet.json.tmp", ".other.json.abcdefgh.tmp", "s.convnet.json~",
              ".s.convnet.json.abcdefgh.tmp.bak", ".s.convnet.json.ABCDEFGH.tmp"]
    for name in others:
        (tmp_path / name).write_text("not ours", encoding="utf-8")
    young = tmp_path / ".s.convnet.json.young123.tmp"  # another save in progress, maybe
    for p in tmp_path.iterdir():
        os.utime(p, (OLD, OLD), follow_symlinks=False)
    for p in staged.iterdir():
        os.utime(p, (OLD, OLD), follow_symlinks=False)
    young.write_text("in progress", encoding="utf-8")

    save(design(), path)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["s.convnet.json", "victim.txt", "keep", ".s.convnet.json.fifo_abc.tmp", young.name]
        + others)
    assert victim.read_text() == "do not touch"
    assert (folder_victim / "inside.txt").read_text() == "mine"
    assert load(path).network.name == "small"
    for name in others:
        assert (tmp_path / name).read_text() == "not ours"


def test_a_staging_folder_in_use_is_not_stale(tmp_path):
    path = tmp_path / "m.onnx"
    with atomic.staging(path) as folder:
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700
        (folder / "m.onnx.data").write_bytes(b"being written")  # a big export, still going
        os.utime(folder, (OLD, OLD))
        assert atomic.clean_stale(path) == []
        os.utime(folder / "m.onnx.data", (OLD, OLD))
        assert atomic.clean_stale(path) == [folder]
    assert os.listdir(tmp_path) == []


# ------------------------------------------------------------------------------ planted links


def test_design_save_never_follows_a_planted_symlink(tmp_path, planted):
    path = tmp_path / "s.convnet.json"
    planted(path)
    save(design(), path)
    assert planted.victim.read_text() == "do not touch" and not (tmp_path / "gone").exists()
    assert load(path).network.name == "small" and not path.is_symlink()


def test_code_export_never_follows_a_planted_symlink(tmp_path, planted, capsys):
    from designer.cli import main

    src = tmp_path / "d.convnet.json"
    save(design(), src)
    out = tmp_path / "model.py"
    planted(out)
    assert main(["export", str(src), "--to", "code", str(out)]) == 0
    assert planted.victim.read_text() == "do not touch"
    assert "class " in out.read_text() and not out.is_symlink()


def test_the_window_code_export_never_follows_a_planted_symlink(tmp_path, planted):
    from designer.ui.file_names import write_text_file as _write_text

    out = tmp_path / "model.py"
    planted(out)
    _write_text(str(out), "print('hi')\n")
    assert planted.victim.read_text() == "do not touch" and out.read_text() == "print('hi')\n"


def test_pt2_export_never_follows_a_planted_symlink(tmp_path, planted):
    import torch

    from designer.bridge.pt2 import export_pt2

    out = tmp_path / "m.pt2"
    planted(out)
    export_pt2(design().network, out)
    assert planted.victim.read_text() == "do not touch"
    assert torch.export.load(str(out)).module()(torch.zeros(4, 1, 8, 8)).shape == (4, 3)


def test_onnx_export_never_follows_a_planted_symlink(tmp_path, planted):
    pytest.importorskip("onnx")
    from designer.bridge.onnx import export_onnx

    out = tmp_path / "m.onnx"
    planted(out)
    folder = tmp_path / "elsewhere"
    folder.mkdir()
    (tmp_path / ".m.onnx.plantedc.tmp").unlink()
    (tmp_path / ".m.onnx.plantedc.tmp").symlink_to(folder)  # a staging folder's name
    export_onnx(design().network, out)
    assert planted.victim.read_text() == "do not touch" and os.listdir(folder) == []
    assert out.stat().st_size > 0 and not out.is_symlink()


# ------------------------------------------------------------------------------ kills


CHILD = textwrap.dedent("""
    import sys
    from designer.model import Network
    from designer.model.design_file import Design, save

    def design(name, layers):
        net = Network(name)
        last = net.add("Input", {"channels": 1, "height": 8, "width": 8}, id="input")
        for _ in range(layers):
            last = net.add("ReLU", inputs=[last], label="x" * 3000)
        return Design(net)

    a, b = design("a", 150), design("b", 170)
    path = sys.argv[1]
    save(a, path)
    print("ready", flush=True)
    while True:
        save(b, path)
        save(a, path)
""")


def test_a_save_killed_at_random_moments_leaves_a_good_file(tmp_path):
    """20 SIGKILLs of a process saving a design (about 0.5 MB) in a loop: after each the file
    loads and is one of the two designs; what the kills left is ours, and goes with a save once
    it is old."""
    path = tmp_path / "s.convnet.json"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    rng = random.Random(15)
    for _ in range(20):
        child = subprocess.Popen([sys.executable, "-c", CHILD, str(path)], env=env,
                                 stdout=subprocess.PIPE, cwd=tmp_path)
        try:
            assert child.stdout.readline() == b"ready\n"
            time.sleep(rng.uniform(0.0, 0.08))
        finally:
            child.send_signal(signal.SIGKILL)
            child.wait()
            child.stdout.close()
        assert load(path).network.name in ("a", "b")
    left = [p for p in tmp_path.iterdir() if p != path]
    assert all(atomic.is_temp_name(p.name, path) and p.is_file() for p in left), left
    for p in left:
        os.utime(p, (OLD, OLD))
    save(design(), path)
    assert os.listdir(tmp_path) == [path.name]


def test_the_window_save_is_atomic_keeps_the_mode_and_cleans_our_leftovers(tmp_path, qapp):
    """The window saves with QSaveFile (its own exclusive temporary file, renamed over the
    target); after a save what a killed save of ours left beside the file is gone too."""
    from designer.ui.document import Document

    path = tmp_path / "s.convnet.json"
    save(design("before"), path)
    path.chmod(0o640)
    left = tmp_path / ".s.convnet.json.killed12.tmp"
    left.write_text("half", encoding="utf-8")
    os.utime(left, (OLD, OLD))
    doc = Document(design("after"))
    doc.save(str(path))
    assert load(path).network.name == "after"
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert os.listdir(tmp_path) == ["s.convnet.json"]
