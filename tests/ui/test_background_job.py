"""Job (ui/panels/background.py): a function in its own thread; its last report arrives before
its result, an exception arrives as `failed` (never in the event loop), and a job that is
still running when asked to cancel ends."""

from __future__ import annotations

import threading

from PySide6.QtCore import QThread

from designer.ui.panels.background import Job


def test_the_last_report_comes_before_the_result_in_the_gui_thread(qtbot):
    seen: list[tuple[str, object, bool]] = []
    gui = QThread.currentThread()

    def work(report):
        assert QThread.currentThread() is not gui
        for i in range(500):
            report(i)
        return "done"

    job = Job(work, interval_s=10.0)  # throttled: only the first and the last get out
    job.step.connect(lambda v: seen.append(("step", v, QThread.currentThread() is gui)))
    job.done.connect(lambda v: seen.append(("done", v, QThread.currentThread() is gui)))
    with qtbot.waitSignal(job.done, timeout=10_000):
        job.start()
    assert job.wait()
    assert seen[-2:] == [("step", 499, True), ("done", "done", True)]
    assert len(seen) <= 3
    assert not job.running


def test_an_exception_is_failed_not_a_crash(qtbot):
    job = Job(lambda report: 1 / 0)
    errors: list[Exception] = []
    job.failed.connect(errors.append)
    with qtbot.waitSignal(job.failed, timeout=10_000):
        job.start()
    job.wait()
    assert isinstance(errors[0], ZeroDivisionError)


def test_cancel_ends_a_job_that_waits_for_it(qtbot):
    stop = threading.Event()
    job = Job(lambda report: stop.wait(30) and "stopped", cancel=stop.set)
    with qtbot.waitSignal(job.done, timeout=10_000) as blocker:
        job.start()
        job.cancel()
    assert blocker.args == ["stopped"]
    assert job.wait(5_000)
