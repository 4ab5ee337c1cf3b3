"""Blocks as a user meets them (issue 19): Group, Ungroup, Collapse and Expand are undoable
steps that change no number; a collapsed block is one card with its figures; wires attach to
it; one click on its toggle expands it in place."""

from __future__ import annotations

from pathlib import Path

import pytest

from designer.model import transforms
from designer.model.design_file import load, to_dict
from designer.ui import commands
from designer.ui.document import Document

PRESETS = Path(__file__).parents[2] / "presets"


def state(doc: Document) -> tuple:
    """What undo must put back exactly: the design as saved (nodes, wires, blocks)."""
    data = to_dict(doc.design)
    return data["nodes"], data["edges"], data.get("blocks")


def readouts(doc: Document) -> tuple:
    r = doc.report
    return (r, dict(r.layers), r.pytorch, r.held)


def test_group_and_ungroup_undo_and_redo_exactly_and_change_no_number(qtbot):
    doc = Document(load(PRESETS / "vgg16.convnet.json"))
    start, numbers = state(doc), readouts(doc)
    bid = commands.group(doc, ["fc6", "relu6", "drop6"], name="classifier")
    assert bid in doc.network.blocks and doc.network.blocks[bid].name == "classifier"
    grouped = state(doc)
    assert readouts(doc) == numbers
    commands.ungroup(doc, [bid])
    assert bid not in doc.network.blocks and readouts(doc) == numbers
    doc.undo_stack.undo()
    assert state(doc) == grouped
    doc.undo_stack.undo()
    assert state(doc) == start
    doc.undo_stack.redo()
    assert state(doc) == grouped
    doc.undo_stack.redo()
    assert state(doc) == start


def test_a_group_that_straddles_a_block_is_refused_with_the_reason(qtbot):
    doc = Document(load(PRESETS / "resnet18.convnet.json"))
    said = []
    doc.error.connect(said.append)
    count = doc.undo_stack.count()
    first = next(iter(doc.network.blocks.values()))
    assert commands.group(doc, [first.members[0], "conv1"]) is None
    assert doc.undo_stack.count() == count and "holds" in said[-1]


def test_collapse_and_expand_undo_and_redo_exactly(qtbot):
    doc = Document(load(PRESETS / "resnet18.convnet.json"))
    start, numbers = state(doc), readouts(doc)
    bids = list(doc.network.blocks)[:2]
    positions = {n: doc.network.nodes[n].pos for n in doc.network.nodes}
    moves = {"fc": (0.0, -50.0)}
    commands.show_blocks(doc, bids, not doc.network.blocks[bids[0]].collapsed, positions, moves)
    after = state(doc)
    assert after != start and doc.network.nodes["fc"].pos == (0.0, -50.0)
    assert readouts(doc) == numbers and doc.modified
    doc.undo_stack.undo()
    assert state(doc) == start
    doc.undo_stack.redo()
    assert state(doc) == after


def test_a_template_inserted_in_the_window_is_one_block(qtbot):
    doc = Document(load(PRESETS / "cifar10_example.convnet.json"))
    out = doc.edit("Insert", lambda net: transforms.basic_block(net, "pool", 16, 1,
                                                                  prefix="basic"))
    assert out is not None
    block = doc.network.blocks["basic"]
    assert block.kind == "basic" and out in block.members and len(block.members) == 9
    doc.undo_stack.undo()
    assert doc.network.blocks == {}


@pytest.mark.parametrize("preset", ["resnet18", "googlenet"])
def test_presets_open_grouped(preset):
    net = load(PRESETS / f"{preset}.convnet.json").network
    assert net.blocks
