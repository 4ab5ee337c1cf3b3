"""Train → Experiments (issue 20): the runs of the open design and of the recent designs in a
table and on a trade-off plot with its Pareto front; a point opens the design version its run
trained, with its weights."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt

from designer.model.design_file import load
from designer.model.versions import structure_key
from tests.ui.test_runs import CIFAR, make_window, said, small, train  # noqa: F401

ROOT = Path(__file__).resolve().parents[2]
PATTERN = ROOT / "presets" / "pattern_conv_relu_pool_x2.convnet.json"


def test_runs_of_several_designs_on_one_trade_off_plot(make_window, qtbot, tmp_path):  # noqa: F811
    window = make_window()
    window.open_example(PATTERN)
    train(window, qtbot, small(epochs=1))
    other = tmp_path / "pattern.convnet.json"
    assert window._save_to(str(other))

    window.open_example(CIFAR)
    first = train(window, qtbot, small(epochs=1))
    trained = window.doc.version
    window.doc.edit("Channels", lambda net: net.set_params("conv", out_channels=16))
    second = train(window, qtbot, small(epochs=1))
    mine = tmp_path / "cifar.convnet.json"
    assert window._save_to(str(mine))

    dialog = window.show_experiments()
    qtbot.addWidget(dialog)
    rows = dialog.rows()
    pattern_name = load(PATTERN).network.name
    assert [r[0] for r in rows] == ["CIFAR-10 example"] * 2 + [pattern_name]
    assert [r[2] for r in rows[:2]] == ["another version", "this version"]
    assert all(r[5].endswith("%") and r[8] != "–" and r[9] != "–" for r in rows)
    # every run drawn; the front is the runs no other run beats
    assert len(dialog.shown) == 3
    points = [(e.cost("params"), e.best_accuracy) for e, _r in dialog.entries]
    for i in dialog.front_rows:
        assert not any(q[0] <= points[i][0] and q[1] >= points[i][1] and q != points[i]
                       for q in points)
    dialog.axis.setCurrentIndex(1)  # against MACs
    assert "MACs" in dialog.plot.getAxis("bottom").labelText

    # the older run trained another version: opening it brings that version and its weights
    row = next(i for i, (e, r) in enumerate(dialog.entries) if r["id"] == first["id"])
    dialog.table.selectRow(row)
    qtbot.mouseClick(dialog.open_button, Qt.LeftButton)
    doc = window.doc
    assert doc.version == trained == first["version"] != second["version"]
    assert structure_key(doc.network) == trained
    assert "version of" in doc.network.name
    found = doc.trained_weights()
    assert found is not None and found[0]["id"] == first["id"]

    # a run of another design file opens that file
    row = next(i for i, (e, r) in enumerate(dialog.entries) if e.path == str(other.resolve()))
    dialog.open_row(row)
    assert Path(window.doc.path).resolve() == other.resolve()
    assert window.doc.trained_weights() is not None


def test_a_hints_variant_is_trained_beside_the_design(make_window, qtbot):  # noqa: F811
    """Try on a hint (the notes' "getting rid of pooling") trains the design with the hint
    applied, the design on screen unchanged; the run is recorded as its own version, and
    Experiments shows it beside the design's run."""
    window = make_window()
    window.open_example(CIFAR)
    train(window, qtbot, small(epochs=1))
    panel = window.hints_panel
    window.docks["hints"].show()
    panel.fill_effects()
    card = next(c for c in panel.cards if c.hint.title.startswith("Getting rid of pooling"))
    assert card.try_button.isVisible() and card.try_button.isEnabled()
    before = window.doc.version
    training = window.training
    qtbot.mouseClick(card.try_button, Qt.LeftButton)
    assert training.running
    assert training.edit_notice.text().startswith("Training the variant “Getting rid of pooling")
    qtbot.waitUntil(lambda: not training.running, timeout=120_000)
    assert window.doc.version == before  # the design on screen is as it was
    variant = window.doc.runs[-1]
    assert variant["variant"] == card.hint.title and variant["status"] == "finished"
    assert variant["version"] != before
    copy = window.doc.network.copy()
    card.hint.apply(copy)
    assert variant["version"] == structure_key(copy)
    assert variant["macs"] != window.doc.runs[0]["macs"]  # its own cost
    dialog = window.show_experiments()
    qtbot.addWidget(dialog)
    assert [r[2] for r in dialog.rows()] == ["this version",
                                             f"another version: hint “{card.hint.title}”"]
