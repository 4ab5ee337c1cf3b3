"""Crash recovery the whole way: a real app process (this file, run as a script) opens a design,
edits it through designer.ui.commands, lets the autosave run, says "ready", and the test kills
it with SIGKILL; then what find_recoverable() finds, and what a new window offers, is checked.
The autosave's delays are short here (the module's DELAY_MS and MAX_DELAY_MS, set in the
child)."""

from __future__ import annotations

import json
import os
import queue
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CIFAR = ROOT / "presets" / "cifar10_example.convnet.json"
DELAY_MS, MAX_DELAY_MS = 200, 1000  # the child's autosave delays, unless a test says others
SETTLE_MS = 3 * DELAY_MS  # after an edit: its autosave is due after DELAY_MS
BURST = [30 + k for k in range(9)]  # out_channels set every 0.3 s: 2.4 s of edits


# ------------------------------------------------------------------------------- the child app

def _child(scenario: str, rec: str, work: str, delay_ms: int, max_delay_ms: int) -> None:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QSettings
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication

    app = QApplication([sys.argv[0]])
    from designer.ui import commands, recovery
    from designer.ui.main_window import MainWindow

    recovery.DELAY_MS, recovery.MAX_DELAY_MS = delay_ms, max_delay_ms
    design = Path(work) / "design.convnet.json"
    shutil.copy(CIFAR, design)
    settings = QSettings(str(Path(work) / "settings.ini"), QSettings.IniFormat)
    window = MainWindow(settings=settings, recovery_dir=Path(rec))
    assert window.open_path(str(design), ask=False)
    doc = window.doc

    def settle() -> None:  # long enough for the autosave of the edits made
        QTest.qWait(3 * delay_ms)
        app.processEvents()  # (a timer overdue after a stall fires now)
    if scenario == "first-edit":  # open, delete one layer
        commands.remove_layers(doc, ["relu"])
        settle()
    elif scenario == "after-save":  # open, edit, autosave, save, delete one layer
        commands.set_params(doc, "conv", out_channels=19)  # (two edits: this part does not
        commands.add_layer(doc, "ReLU")  # rest on the first edit after open being written)
        commands.set_params(doc, "conv", out_channels=20)
        settle()
        assert window.recovery.file.exists()
        assert window.save()
        assert not window.recovery.file.exists()
        commands.remove_layers(doc, ["relu"])
        settle()
    elif scenario == "nth-edit":  # three edits (the first two merge into one undo step)
        for edit in (lambda: commands.set_params(doc, "conv", out_channels=21),
                     lambda: commands.set_params(doc, "conv", out_channels=22),
                     lambda: commands.remove_layers(doc, ["relu"])):
            edit()
            settle()
    elif scenario == "burst":  # an edit every 0.3 s, killed while they still come
        for i, n in enumerate(BURST):
            if i:
                QTest.qWait(300)
            commands.set_params(doc, "conv", out_channels=n)
    else:
        raise SystemExit(f"unknown scenario {scenario}")
    print("ready", flush=True)
    app.exec()  # runs on, as the app would, until it is killed


class Child:
    """The app as another process, in its own work folder, with its recovery folder `rec`."""

    def __init__(self, scenario: str, rec: Path, work: Path, delay_ms: int = DELAY_MS,
                 max_delay_ms: int = MAX_DELAY_MS):
        work.mkdir(parents=True, exist_ok=True)
        self.work = work
        env = {**os.environ, "QT_QPA_PLATFORM": "offscreen",
               "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
        self.stderr = open(work / "stderr.txt", "wb")  # closed in kill()
        self.proc = subprocess.Popen(
            [sys.executable, __file__, scenario, str(rec), str(work), str(delay_ms),
             str(max_delay_ms)], cwd=ROOT, env=env, stdout=subprocess.PIPE,
            stderr=self.stderr, text=True)
        self.lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.put(line.strip())
        self.lines.put(None)

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                line = None
            if line == "ready":
                return
            if line is None:
                self.kill()
                pytest.fail("the child app did not get ready:\n"
                            + (self.work / "stderr.txt").read_text(errors="replace")[-3000:])

    def kill(self) -> None:
        """kill -9 (TerminateProcess on Windows), and wait for it to be gone."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=30)
        self.stderr.close()


@pytest.fixture
def children():
    made: list[Child] = []

    def start(*args, **kwargs) -> Child:
        made.append(Child(*args, **kwargs))
        return made[-1]

    yield start
    for child in made:
        child.kill()


@pytest.fixture
def make_window(qtbot, tmp_path, monkeypatch):
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QMessageBox

    from designer.ui.main_window import MainWindow

    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.Discard)

    def make() -> MainWindow:
        settings = QSettings(str(tmp_path / "settings.ini"), QSettings.IniFormat)
        window = MainWindow(settings=settings, recovery_dir=tmp_path / "own-recovery")
        qtbot.addWidget(window)
        return window
    return make


def crashed(children, scenario: str, rec: Path, work: Path, **delays) -> Child:
    child = children(scenario, rec, work, **delays)
    child.wait_ready()
    child.kill()
    return child


def design_of(rec) -> dict:
    return json.loads(rec.text)


def nodes(design: dict) -> dict:
    return {n["id"]: n for n in design["nodes"]}


def answer_questions(monkeypatch, *answers):
    """QMessageBox.question answers in turn (then Discard, for the window's close); returns
    the texts asked."""
    from PySide6.QtWidgets import QMessageBox

    asked: list[str] = []
    left = [*answers, QMessageBox.Discard]

    def question(*a, **_k):
        asked.append(a[2])
        return left.pop(0) if len(left) > 1 else left[0]

    monkeypatch.setattr(QMessageBox, "question", question)
    return asked


# ------------------------------------------------------------------------------- the tests

def test_the_first_edit_after_opening_survives_a_kill(children, make_window, tmp_path,
                                                      monkeypatch):
    from PySide6.QtWidgets import QMessageBox

    from designer.app import _offer_recovery
    from designer.ui.recovery import find_recoverable

    rec = tmp_path / "rec"
    crashed(children, "first-edit", rec, tmp_path / "child")
    found = find_recoverable(rec)
    assert len(found) == 1
    assert "relu" not in nodes(design_of(found[0])) and found[0].name == "CIFAR-10 example"
    assert found[0].path == str(tmp_path / "child" / "design.convnet.json")

    window = make_window()
    asked = answer_questions(monkeypatch, QMessageBox.Yes)
    _offer_recovery(window, found, QMessageBox)
    assert len(asked) == 1 and "CIFAR-10 example" in asked[0]
    assert "relu" not in window.doc.network.nodes and window.doc.modified
    assert window.doc.path == found[0].path
    assert list(rec.iterdir()) == []  # the file and its lock are gone once handled


def test_the_first_edit_after_saving_survives_a_kill(children, tmp_path):
    from designer.model.design_file import load
    from designer.ui.recovery import find_recoverable

    rec = tmp_path / "rec"
    crashed(children, "after-save", rec, tmp_path / "child")
    saved = load(tmp_path / "child" / "design.convnet.json").network
    assert saved["conv"].params["out_channels"] == 20 and "relu" in saved.nodes
    assert len(saved.nodes) == 6  # the ReLU added before the save
    found = find_recoverable(rec)
    assert len(found) == 1
    design = nodes(design_of(found[0]))
    assert design["conv"]["params"]["out_channels"] == 20 and "relu" not in design
    assert len(design) == 5


def test_the_nth_edit_survives_a_kill(children, tmp_path):
    from designer.ui.recovery import find_recoverable

    rec = tmp_path / "rec"
    crashed(children, "nth-edit", rec, tmp_path / "child")
    found = find_recoverable(rec)
    assert len(found) == 1
    design = nodes(design_of(found[0]))
    assert design["conv"]["params"]["out_channels"] == 22 and "relu" not in design


def test_edits_that_keep_coming_are_written_within_the_maximum_delay(children, tmp_path):
    """An edit every 0.3 s for 2.4 s: the quiet delay (1 s) never passes, the maximum one
    (1.5 s) does; killed right after the last edit."""
    from designer.ui.recovery import find_recoverable

    rec = tmp_path / "rec"
    crashed(children, "burst", rec, tmp_path / "child", delay_ms=1000, max_delay_ms=1500)
    found = find_recoverable(rec)
    assert len(found) == 1
    assert nodes(design_of(found[0]))["conv"]["params"]["out_channels"] in BURST


def test_two_crashed_instances_are_both_offered(children, make_window, tmp_path, monkeypatch):
    from PySide6.QtWidgets import QMessageBox

    from designer import app
    from designer.ui import recovery

    rec = tmp_path / "rec"
    one = children("first-edit", rec, tmp_path / "one")
    two = children("nth-edit", rec, tmp_path / "two")
    for child in (one, two):
        child.wait_ready()
        child.kill()
    assert len(list(rec.glob("*.json"))) == 2

    window = make_window()
    monkeypatch.setattr(recovery, "default_directory", lambda: rec)
    asked = answer_questions(monkeypatch, QMessageBox.No, QMessageBox.Yes)
    app._check_recovery(window)  # what main() runs once the window is up
    assert len(asked) == 2
    assert "1 of 2" in asked[0] and "2 of 2" in asked[1]
    # the one answered Yes is in the window: either child's, as it left it
    conv = {str(tmp_path / "one" / "design.convnet.json"): 12,
            str(tmp_path / "two" / "design.convnet.json"): 22}
    assert window.doc.network["conv"].params["out_channels"] == conv[window.doc.path]
    assert "relu" not in window.doc.network.nodes
    assert list(rec.iterdir()) == []


def test_a_recovery_kept_by_cancel_is_offered_again(make_window, tmp_path, monkeypatch):
    """Recovering a second design first asks about the one recovered into the window; a
    cancel there keeps the second file for the next start."""
    from PySide6.QtWidgets import QMessageBox

    from designer.app import _offer_recovery
    from designer.model.design_file import load, to_dict
    from designer.ui.recovery import FORMAT, find_recoverable

    rec = tmp_path / "rec"
    rec.mkdir()
    for n, name in enumerate(("older", "newer")):
        design = to_dict(load(CIFAR))
        design["name"] = name
        # what a process that died leaves (no lock held: QLockFile sees a dead one the same)
        (rec / f"1{n}-a.json").write_text(json.dumps(
            {"format": FORMAT, "path": None, "saved_at": 1000.0 + n, "design": design}))
    window = make_window()
    # Yes to "newer"; Yes to "older", then Cancel when asked to save "newer" first
    asked = answer_questions(monkeypatch, QMessageBox.Yes, QMessageBox.Yes, QMessageBox.Cancel)
    _offer_recovery(window, find_recoverable(rec), QMessageBox)
    assert len(asked) == 3 and "Save the changes" in asked[2]
    assert window.doc.network.name == "newer"
    again = find_recoverable(rec)
    assert [r.name for r in again] == ["older"]
    again[0].release()
    assert [p.name for p in rec.iterdir()] == ["10-a.json"]  # and no lock left behind


def test_a_running_instance_s_file_is_neither_offered_nor_deleted(children, make_window,
                                                                  tmp_path, monkeypatch):
    from designer import app
    from designer.ui import recovery

    rec = tmp_path / "rec"
    live = children("first-edit", rec, tmp_path / "live")
    live.wait_ready()
    (file,) = rec.glob("*.json")
    lock = Path(str(file) + ".lock")
    assert lock.exists()

    assert recovery.find_recoverable(rec) == []
    window = make_window()
    monkeypatch.setattr(recovery, "default_directory", lambda: rec)
    asked = answer_questions(monkeypatch)
    app._check_recovery(window)
    assert asked == []
    assert file.exists() and lock.exists()

    live.kill()  # now it crashed: its lock is stale, and the file is offered
    found = recovery.find_recoverable(rec)
    assert [r.file for r in found] == [file]
    found[0].discard()
    assert list(rec.iterdir()) == []


def test_a_change_that_only_marks_the_design_modified_is_autosaved(qtbot, tmp_path):
    """Training settings and runs only mark the design modified (no `changed`)."""
    from designer.ui.document import Document
    from designer.ui.recovery import Recovery

    doc = Document()
    recovery = Recovery(doc, tmp_path / "rec", delay_ms=10, max_delay_ms=50)
    doc.mark_modified()
    qtbot.waitUntil(recovery.file.exists, timeout=5000)
    assert Path(str(recovery.file) + ".lock").exists()
    recovery.close()  # a normal close: the file and its lock go, and nothing more is written
    doc.set_settings(batch=7)
    qtbot.wait(100)
    assert list((tmp_path / "rec").iterdir()) == []


def test_a_lock_left_without_its_file_by_a_dead_process_is_removed(tmp_path):
    """A process that died between taking its lock and writing its file."""
    from designer.ui.recovery import find_recoverable

    rec = tmp_path / "rec"
    rec.mkdir()
    lock = rec / "1-a.json.lock"
    subprocess.run([sys.executable, "-c", "import os, sys\n"
                    "from PySide6.QtCore import QLockFile\n"
                    "lock = QLockFile(sys.argv[1])\n"
                    "assert lock.tryLock(0)\n"
                    "os._exit(0)  # no unlock: the lock stays, as a killed process's",
                    str(lock)], check=True, timeout=60)
    assert lock.exists()
    assert find_recoverable(rec) == []
    assert not lock.exists()


if __name__ == "__main__":
    _child(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]))
