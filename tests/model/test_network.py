"""Network edits: add, remove with reconnection, insert on a wire, connect, cycles refused."""

import pytest

from designer.model import Network, NetworkError


@pytest.fixture
def stack():
    net = Network()
    ids = [net.add("Input", id="input")]
    for t in ("Conv2d", "ReLU", "MaxPool2d", "Linear"):
        ids.append(net.add(t, inputs=[ids[-1]]))
    return net, ids


def test_ids_are_readable_and_unique(stack):
    net, ids = stack
    assert ids == ["input", "conv", "relu", "pool", "fc"]
    assert net.add("Conv2d") == "conv1"
    assert net.add("Conv2d") == "conv2"


def test_topological_order_follows_the_wires(stack):
    net, ids = stack
    assert net.topological_order() == tuple(ids)
    extra = net.add("ReLU")
    net.connect("fc", extra)
    assert net.topological_order()[-1] == extra


def test_a_copy_keeps_the_order_until_it_is_edited_and_the_original_its_own(stack):
    net, ids = stack
    order = net.topological_order()
    copy = net.copy()
    assert copy.topological_order() is order  # (known: not sorted again)
    extra = copy.add("ReLU", inputs=["input"])
    copy.connect(extra, "conv")
    copy.remove("relu")
    assert copy.topological_order() == ("input", extra, "conv", "pool", "fc")
    assert net.topological_order() == tuple(ids)


def test_an_edit_of_parameters_keeps_the_order_and_a_rewiring_sorts_again(stack):
    from designer.model.network import _toposort

    net, ids = stack
    order = net.topological_order()
    version = net.version
    net.set_params("conv", out_channels=7)
    net.set_frozen("conv", True)
    assert net.version == version + 2  # (the analysis sees both)
    assert net.topological_order() is order == _toposort(net.nodes)
    extra = net.add("ReLU", inputs=["input"])
    net.connect(extra, "conv")  # wired anew: sorted again
    assert net.topological_order() == ("input", extra, "conv", "relu", "pool", "fc")
    net.disconnect(extra, "conv")
    net.remove(extra)
    assert net.topological_order() == tuple(ids) == _toposort(net.nodes)


def test_remove_inside_a_stack_reconnects_the_neighbours(stack):
    net, ids = stack
    net.remove("relu")
    assert net["pool"].inputs == ("conv",)
    net.remove("conv", reconnect=False)
    assert net["pool"].inputs == ()


def test_insert_on_an_edge(stack):
    net, _ = stack
    bn = net.insert_on_edge("conv", "relu", "BatchNorm2d")
    assert net[bn].inputs == ("conv",) and net["relu"].inputs == (bn,)
    with pytest.raises(NetworkError, match="no wire"):
        net.insert_on_edge("input", "relu", "ReLU")
    with pytest.raises(NetworkError, match="cannot be put on a wire"):
        net.insert_on_edge("conv", bn, "Add")


def test_connect_refuses_cycles_and_changes_nothing(stack):
    net, _ = stack
    before = dict(net.nodes)
    with pytest.raises(NetworkError, match="cycle"):
        net.connect("pool", "conv")
    with pytest.raises(NetworkError, match="cycle"):
        net.connect("fc", "fc")
    assert net.nodes == before


def test_connect_replaces_a_single_input_and_appends_to_merges(stack):
    net, _ = stack
    net.connect("input", "pool")
    assert net["pool"].inputs == ("input",)
    add = net.add("Add", inputs=["conv"])
    net.connect("relu", add)
    assert net[add].inputs == ("conv", "relu")
    net.disconnect("conv", add)
    assert net[add].inputs == ("relu",)
    with pytest.raises(NetworkError, match="takes no inputs"):
        net.connect("conv", "input")


def test_set_params_validates_types_and_ranges(stack):
    net, _ = stack
    net.set_params("conv", stride=2, padding="same")
    assert net["conv"].params["stride"] == 2
    with pytest.raises(NetworkError, match=r"conv\.stride: must be ≥ 1, got 0"):
        net.set_params("conv", stride=0)
    with pytest.raises(NetworkError, match="expected an integer"):
        net.set_params("conv", kernel_size="3")
    with pytest.raises(NetworkError, match="has no parameter 'colour'"):
        net.set_params("conv", colour=1)
    assert net["conv"].params["stride"] == 2


def test_rename_moves_the_wires(stack):
    net, _ = stack
    net.rename("conv", "conv1")
    assert net["relu"].inputs == ("conv1",)
    with pytest.raises(NetworkError, match="not a valid layer name"):
        net.rename("relu", "1relu")
    with pytest.raises(NetworkError, match="already a layer"):
        net.rename("relu", "pool")


def test_version_changes_on_every_edit(stack):
    net, _ = stack
    v = net.version
    net.set_params("fc", out_features=3)
    assert net.version > v


def test_a_moved_layer_keeps_every_other_field():
    """Node.at() builds the node field by field (dataclasses.replace costs twice as much): a
    field added to Node must be added there too."""
    from dataclasses import fields, replace

    from designer.model.network import Node

    assert [f.name for f in fields(Node)] == ["id", "type", "params", "inputs", "label", "pos",
                                              "frozen"], "add the new field to Node.at()"
    node = Node("c", "Conv2d", {"out_channels": 3}, ("a", "b"), "mine", (1.0, 2.0), True)
    assert node.at((5.0, 6.0)) == replace(node, pos=(5.0, 6.0))
    assert node.at(None) == replace(node, pos=None)


def test_what_the_analysis_takes_from_the_wiring_follows_every_rewiring(stack):
    """The readers' counts and the ReLUs run in place (the memory walk's) are kept through
    edits of parameters and worked out again when the wiring changes: a ReLU whose producer
    gains a second reader can no longer overwrite it."""
    from designer.model.analysis import analyze, inplace_activations

    net, ids = stack

    def afresh():
        counts = {}
        for n in net.nodes.values():
            for s in n.inputs:
                counts[s] = counts.get(s, 0) + 1
        return counts, frozenset(inplace_activations(net))

    analyze(net)
    wired, readers = net._wired, net.readers()
    assert (dict(wired[0]), wired[1]) == afresh() and "relu" in wired[1]
    assert dict(readers) == {"input": ("conv",), "conv": ("relu",), "relu": ("pool",),
                             "pool": ("fc",)}
    net.set_params("conv", out_channels=9)
    net.set_frozen("conv", True)
    analyze(net)
    assert net._wired is wired and net.readers() is readers  # (kept: the same wiring)
    assert net.copy().readers() is readers
    other = net.add("Linear", inputs=["conv"])  # conv read twice now
    analyze(net)
    assert (dict(net._wired[0]), net._wired[1]) == afresh() and "relu" not in net._wired[1]
    assert net.readers()["conv"] == ("relu", other)
    net.remove(other)
    analyze(net)
    assert (dict(net._wired[0]), net._wired[1]) == afresh() and "relu" in net._wired[1]
    assert net.readers()["conv"] == ("relu",)


def test_moving_many_layers_at_once_changes_their_places_only():
    from dataclasses import replace

    net = Network()
    a = net.add("Input", {"channels": 3, "height": 8, "width": 8}, pos=(0, 0))
    b = net.add("Conv2d", {"out_channels": 4}, inputs=[a], pos=(0, 80))
    net.set_frozen(b, True)
    c = net.add("ReLU", {}, inputs=[b], pos=(0, 160))
    before = dict(net.nodes)
    order, version = net.topological_order(), net.version
    net.move_all({b: (10, 90.5), c: None, "gone": (1, 1)})  # (a layer not in the design: left)
    assert net.nodes[b].pos == (10.0, 90.5) and isinstance(net.nodes[b].pos[0], float)
    assert net.nodes[c].pos is None and net.nodes[a] is before[a] and "gone" not in net.nodes
    for nid in (b, c):
        assert replace(net.nodes[nid], pos=None) == replace(before[nid], pos=None)
    assert net.topological_order() is order and net.version == version  # nothing analysed
