"""Sizes that don't work out, errors that stop at a layer, merges, receptive fields, budgets."""

from designer.model import Network, analyze, fmt_shape


def chain(c=3, h=32, w=32):
    net = Network()
    return net, net.add("Input", {"channels": c, "height": h, "width": w})


def test_sizes_that_dont_work_out_warn_and_offer_fixes_that_work():
    net, inp = chain(3, 32, 32)
    conv = net.add("Conv2d", {"out_channels": 8, "kernel_size": 3, "stride": 3}, inputs=[inp])
    rep = analyze(net)
    [issue] = rep.layers[conv].issues
    assert issue.severity == "warning"
    assert "(32 − 3 + 0)/3 + 1 = 10.6667" in issue.message and "not an integer" in issue.message
    assert rep.ok and fmt_shape(rep.layers[conv].shape) == "10×10×8"  # PyTorch floors
    assert [f.label for f in issue.fixes] == ["padding 0 → 2", "stride 3 → 1"]
    for fix in issue.fixes:
        trial = net.copy()
        trial.set_params(conv, **fix.params)
        assert not analyze(trial).layers[conv].issues, fix.label


def test_output_size_at_most_zero_is_an_error_downstream_unknown_rest_analysed():
    net, inp = chain(3, 8, 8)
    side = net.add("Conv2d", {"out_channels": 4, "kernel_size": 3}, inputs=[inp])
    big = net.add("Conv2d", {"out_channels": 4, "kernel_size": 11}, inputs=[inp])
    after = net.add("ReLU", inputs=[big])
    rep = analyze(net)
    assert not rep.ok
    assert rep.layers[big].errors and rep.layers[big].shape is None
    assert "larger than the padded input" in rep.layers[big].errors[0].message
    assert rep.layers[after].shape is None and not rep.layers[after].errors
    assert fmt_shape(rep.layers[side].shape) == "6×6×4"


def test_mismatched_merges_are_errors_at_the_merge():
    net, inp = chain(3, 16, 16)
    a = net.add("Conv2d", {"out_channels": 8, "padding": 1}, inputs=[inp])
    b = net.add("Conv2d", {"out_channels": 4, "padding": 1}, inputs=[inp])
    add = net.add("Add", inputs=[a, b])
    cat = net.add("Concat", inputs=[a, b])
    rep = analyze(net)
    assert "equal shape" in rep.layers[add].errors[0].message
    assert fmt_shape(rep.layers[cat].shape) == "16×16×12"
    c = net.add("Conv2d", {"out_channels": 4, "stride": 2, "padding": 1}, inputs=[inp])
    cat2 = net.add("Concat", inputs=[a, c])
    assert "widths and heights must match" in analyze(net).layers[cat2].errors[0].message


def test_strided_same_padding_is_an_error_with_a_fix():
    net, inp = chain()
    conv = net.add("Conv2d", {"kernel_size": 3, "stride": 2, "padding": "same"}, inputs=[inp])
    [err] = analyze(net).layers[conv].errors
    assert err.fixes[0].params == {"padding": 1}


def test_conv_after_fc_is_an_error_naming_the_problem():
    net, inp = chain()
    fc = net.add("Linear", {"out_features": 10}, inputs=[inp])
    conv = net.add("Conv2d", inputs=[fc])
    assert "flat vector" in analyze(net).layers[conv].errors[0].message


def test_no_input_and_unconnected_layers_are_reported_not_raised():
    net = Network()
    relu = net.add("ReLU")
    rep = analyze(net)
    assert not rep.ok
    assert any("no INPUT" in i.message for _, i in rep.issues)
    assert rep.layers[relu].shape is None


def test_receptive_field_jump_and_start():
    net, inp = chain(3, 32, 32)
    c1 = net.add("Conv2d", {"kernel_size": 3, "padding": 1}, inputs=[inp])
    p1 = net.add("MaxPool2d", inputs=[c1])
    c2 = net.add("Conv2d", {"kernel_size": 3, "padding": 1}, inputs=[p1])
    rep = analyze(net)
    assert rep.layers[c1].rf.size == (3, 3) and rep.layers[c1].rf.start == (0.5, 0.5)
    assert rep.layers[p1].rf.size == (4, 4) and rep.layers[p1].rf.jump == (2, 2)
    assert rep.layers[c2].rf.size == (8, 8) and rep.layers[c2].rf.jump == (2, 2)
    assert rep.layers[c2].rf.start == (1.0, 1.0)


def test_largest_batch_that_fits_the_budget():
    net, inp = chain(3, 64, 64)
    net.add("Conv2d", {"out_channels": 64, "padding": 1}, inputs=[inp])
    rep = analyze(net, batch=1, budget=64 * 1024**2)
    for est in (rep.textbook, rep.pytorch):
        n = est.max_batch
        assert n > 1
        assert est.fixed + n * est.per_sample <= est.budget < est.fixed + (n + 1) * est.per_sample
        big = analyze(net, batch=n + 1, budget=est.budget)
        same = big.textbook if est is rep.textbook else big.pytorch
        assert same.fits is False
    tiny = analyze(net, budget=1024)
    assert tiny.textbook.max_batch == 0 and tiny.textbook.fits is False


def test_batchnorm_counts_running_statistics_as_buffers():
    net, inp = chain(3, 8, 8)
    bn = net.add("BatchNorm2d", inputs=[inp])
    rep = analyze(net).layers[bn]
    assert (rep.params, rep.buffers) == (6, 7)


def test_fc_receptive_field_covers_the_whole_volume():
    net, inp = chain(3, 32, 32)
    pool = net.add("MaxPool2d", inputs=[inp])
    fc = net.add("Linear", inputs=[pool])
    assert analyze(net).layers[fc].rf.size == (32, 32)
