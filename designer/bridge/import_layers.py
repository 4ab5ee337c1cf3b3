"""Catalogue layers from an operation's parameters, shared by every front end of the importer
(torch modules, torch functions, ATen operators and ONNX nodes): Conv2d, MaxPool2d, AvgPool2d,
AdaptiveAvgPool2d, BatchNorm2d and LocalResponseNorm, each as a (type, params) step.

Each helper checks that the parameters fit the designer's layer (square kernels, strides and
paddings; no divisor_override; ...) and raises _NoLayer, naming what does not fit, where they do
not. The layers without parameters, or with one obvious one, are made where they are read.

TORCH-free, no Qt.
"""

from __future__ import annotations

from typing import Any

from .import_graph import _NoLayer


def _square(value: Any, what: str) -> int:
    """An int, or a pair/list of equal ints, as one int (else _NoLayer)."""
    if isinstance(value, bool):
        raise _NoLayer(f"{what} {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, (tuple, list)):
        items = [int(v) for v in value]
        if len(items) == 1 or (items and all(v == items[0] for v in items)):
            return items[0]
        raise _NoLayer(f"{what} {'×'.join(str(v) for v in items)} (the designer's layers are "
                       f"square)")
    raise _NoLayer(f"{what} {value!r}")


def _conv(out_channels: int, kernel, stride, padding, dilation, groups: int, bias: bool,
          in_channels: int | None = None) -> tuple[str, dict]:
    if isinstance(padding, str):
        if padding not in ("same", "valid"):
            raise _NoLayer(f"Conv2d with padding {padding!r}")
        pad: Any = padding
    else:
        pad = _square(padding, "Conv2d with padding")
    return "Conv2d", {"out_channels": int(out_channels), "kernel_size": _square(kernel, "Conv2d "
                      "with a kernel"), "stride": _square(stride, "Conv2d with stride"),
                      "padding": pad, "dilation": _square(dilation, "Conv2d with dilation"),
                      "groups": int(groups), "bias": bool(bias)}


def _max_pool(kernel, stride, padding, dilation, ceil_mode) -> tuple[str, dict]:
    k = _square(kernel, "MaxPool2d with a window")
    s = k if stride is None or stride == [] or stride == () else _square(stride,
                                                                         "MaxPool2d with stride")
    return "MaxPool2d", {"kernel_size": k, "stride": s,
                         "padding": _square(padding, "MaxPool2d with padding"),
                         "dilation": _square(dilation, "MaxPool2d with dilation"),
                         "ceil_mode": bool(ceil_mode)}


def _avg_pool(kernel, stride, padding, ceil_mode, count_include_pad, divisor) -> tuple[str, dict]:
    if divisor is not None:
        raise _NoLayer("AvgPool2d with divisor_override")
    k = _square(kernel, "AvgPool2d with a window")
    s = k if stride is None or stride == [] or stride == () else _square(stride,
                                                                         "AvgPool2d with stride")
    return "AvgPool2d", {"kernel_size": k, "stride": s,
                         "padding": _square(padding, "AvgPool2d with padding"),
                         "ceil_mode": bool(ceil_mode),
                         "count_include_pad": bool(count_include_pad)}


def _adaptive(size) -> tuple[str, dict]:
    if size is None or (isinstance(size, (tuple, list)) and None in size):
        raise _NoLayer("AdaptiveAvgPool2d with a free output size")
    return "AdaptiveAvgPool2d", {"output_size": _square(size, "AdaptiveAvgPool2d to")}


def _bn(eps, momentum, affine: bool, track: bool) -> tuple[str, dict]:
    if momentum is None:
        raise _NoLayer("BatchNorm2d with momentum=None (a cumulative average)")
    return "BatchNorm2d", {"eps": float(eps), "momentum": float(momentum),
                           "affine": bool(affine), "track_running_stats": bool(track)}


def _lrn(size, alpha, beta, k) -> tuple[str, dict]:
    return "LocalResponseNorm", {"size": int(size), "alpha": float(alpha), "beta": float(beta),
                                 "k": float(k)}
