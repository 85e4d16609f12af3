"""Any ``nn.Module`` whose forward traces with ``torch.fx`` into supported ops, as a SliceNet.

Supported, wherever they appear in the graph (``nn`` modules, ``torch.*``,
``F.*`` or tensor methods):

* affine: ``Conv1d/2d/3d`` (any ``groups``, depthwise included, any
  ``padding_mode``: zeros, reflect, replicate and circular padding are all
  linear in the input), ``Linear``, ``BatchNorm1d/2d/3d`` in eval mode,
  ``AvgPool1d/2d/3d``, ``AdaptiveAvgPool1d/2d/3d``, ``Flatten``, ``view``/
  ``reshape``/``flatten``, ``Dropout`` and ``Identity`` (eval mode), adding
  or multiplying by a constant, negation, ``mean``/``sum`` over non-batch
  axes (global average pooling written as ``x.mean((2, 3))``);
* ``ReLU`` (module, ``torch.relu``, ``F.relu``, ``x.relu()``) and
  ``LeakyReLU`` / ``F.leaky_relu`` (any finite slope: still piecewise
  linear, and its pieces are still activation patterns);
* ``MaxPool1d/2d/3d`` (any dilation and padding, ``ceil_mode`` too) and
  ``AdaptiveMaxPool1d/2d/3d`` (torch's windows for the fixed output size);
* residual additions of two tensors (``x + y``, ``torch.add``) and
  ``torch.cat`` of any number of branches along a non-batch axis.

Tensors are flattened in torch's own order (channels first): points for a
slice are given the same way. Conv and linear layers become matrices by
running them, without bias, on basis vectors in float64 (each entry is one
weight times 1: exact); BatchNorm becomes the diagonal ``gamma / sqrt(var +
eps)`` and shift ``beta - mean * scale`` (rounded once, as torch rounds);
other affine ops are evaluated on basis vectors. Anything else is refused,
naming the op and the module path.

Examples
--------
>>> import pytest; torch = pytest.importorskip("torch"); nn = torch.nn
>>> class Block(nn.Module):
...     def __init__(self):
...         super().__init__()
...         self.conv = nn.Conv1d(2, 2, 3, padding=1)
...         self.head = nn.Linear(8, 3)
...     def forward(self, x):
...         x = x + torch.relu(self.conv(x))        # a residual connection
...         return self.head(x.flatten(1))
>>> net = to_slicenet(Block().eval(), (2, 4))
>>> [op.kind for op in net.ops]
['affine', 'relu', 'add', 'affine']
"""

from __future__ import annotations

import copy
import math
import operator
from typing import Any, Sequence

import numpy as np

from ilpregions.core.errors import InputError, TooLargeError
from ilpregions.core.slicenet import Builder, ConvSpec, SliceNet
from ilpregions.services.torch._fx_ops import (affine_op, concat_op, constant_op, leaky_slope, maxpool_windows,
                                               reduction_op)

#: Largest input a traced model may have (entries per sample).
MAX_INPUT = 1_000_000
#: Batch size of the shape-propagation run (2, so that a reshape that mixes the batch axis shows).
_BATCH = 2


def _trace(module):
    """``torch.fx.symbolic_trace``, but a failure names the innermost submodule whose forward failed."""
    import torch.fx

    class Tracer(torch.fx.Tracer):
        failed_in = None

        def call_module(self, m, forward, args, kwargs):
            try:
                return super().call_module(m, forward, args, kwargs)
            except Exception:
                if self.failed_in is None:  # the innermost module is the first to see the error
                    try:
                        self.failed_in = f"{self.path_of_module(m)} ({type(m).__name__})"
                    except NameError:
                        self.failed_in = type(m).__name__
                raise

    tracer = Tracer()
    try:
        graph = tracer.trace(module)
        return torch.fx.GraphModule(tracer.root, graph, type(module).__name__)
    except Exception as exc:  # noqa: BLE001 - tracing fails in many ways; all mean "unsupported"
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        where = tracer.failed_in or type(module).__name__
        raise InputError(f"{where}: forward cannot be traced by torch.fx ({text})") from None


def _check_eval(module) -> None:
    import torch.nn as nn

    for path, m in module.named_modules():
        if m.training and isinstance(m, (nn.modules.batchnorm._BatchNorm, nn.Dropout)):
            raise InputError(f"{path or type(module).__name__} ({type(m).__name__}): the model is in "
                             f"training mode; call model.eval() first")


def _shapes(gm, input_shape):
    import torch
    from torch.fx.passes.shape_prop import ShapeProp

    try:
        ShapeProp(gm).propagate(torch.zeros((_BATCH, *input_shape), dtype=torch.float64))
    except Exception as exc:  # noqa: BLE001
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(f"input_shape {list(input_shape)}: the model cannot run on it ({text})") from None


def _tensor_shape(node) -> tuple[int, ...] | None:
    meta = node.meta.get("tensor_meta")
    if meta is None or not hasattr(meta, "shape"):
        return None
    return tuple(int(v) for v in meta.shape)[1:]


def _where(node, gm) -> str:
    if node.op == "call_module":
        return f"{node.target} ({type(gm.get_submodule(node.target)).__name__})"
    if node.op == "call_method":
        return f"{node.name} (.{node.target}())"
    return f"{node.name} ({getattr(node.target, '__name__', node.target)})"


_RESHAPE_METHODS = {"view", "reshape", "flatten", "contiguous", "unsqueeze", "squeeze", "view_as", "reshape_as"}
_STATIC_METHODS = {"size", "dim", "numel"}


def _classify(node, gm):
    """('relu' | 'alias' | 'maxpool' | 'add' | 'sub' | 'scale' | 'affine' | 'static', module or None)."""
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    if node.op == "call_module":
        m = gm.get_submodule(node.target)
        if isinstance(m, nn.ReLU):
            return "relu", m
        if isinstance(m, nn.LeakyReLU):
            return "leaky", m
        if isinstance(m, (nn.Flatten, nn.Unflatten, nn.Identity, nn.Dropout, nn.Dropout1d, nn.Dropout2d,
                          nn.Dropout3d)):
            return "alias", m
        if isinstance(m, (nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d, nn.AdaptiveMaxPool1d, nn.AdaptiveMaxPool2d,
                          nn.AdaptiveMaxPool3d)):
            return "maxpool", m
        if isinstance(m, (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.Linear, nn.modules.batchnorm._BatchNorm,
                          nn.AvgPool1d, nn.AvgPool2d, nn.AvgPool3d, nn.AdaptiveAvgPool1d,
                          nn.AdaptiveAvgPool2d, nn.AdaptiveAvgPool3d)):
            return "affine", m
        return None, m
    if node.op == "call_method":
        name = node.target
        return {"relu": "relu", "leaky_relu": "leaky", "add": "add", "sub": "sub", "mul": "scale", "div": "scale",
                "mean": "reduce", "sum": "reduce", "neg": "neg"}.get(
            name, "alias" if name in _RESHAPE_METHODS else "static" if name in _STATIC_METHODS else None), None
    fn = node.target
    table = {torch.relu: "relu", F.relu: "relu", torch.flatten: "alias", torch.reshape: "alias",
             operator.add: "add", operator.iadd: "add", torch.add: "add", operator.sub: "sub",
             torch.sub: "sub", operator.mul: "scale", operator.truediv: "scale", getattr: "static",
             F.max_pool1d: "maxpool", F.max_pool2d: "maxpool", F.max_pool3d: "maxpool",
             F.avg_pool1d: "affine", F.avg_pool2d: "affine", F.avg_pool3d: "affine",
             F.adaptive_avg_pool1d: "affine", F.adaptive_avg_pool2d: "affine", F.adaptive_avg_pool3d: "affine",
             F.dropout: "dropout", operator.getitem: "static", F.leaky_relu: "leaky",
             F.adaptive_max_pool1d: "maxpool", F.adaptive_max_pool2d: "maxpool", F.adaptive_max_pool3d: "maxpool",
             torch.cat: "cat", torch.concat: "cat", torch.concatenate: "cat", torch.mean: "reduce",
             torch.sum: "reduce", operator.neg: "neg", torch.neg: "neg"}
    try:
        return table.get(fn), None
    except TypeError:
        return None, None


def to_slicenet(module, input_shape: Sequence[int]) -> SliceNet:
    """Trace ``module`` (eval mode) and turn it into a :class:`SliceNet` on inputs of ``input_shape``.

    The module is deep-copied and run in float64; it is not modified.

    Parameters
    ----------
    module : torch.nn.Module
        A module traceable by ``torch.fx``: affine layers, ReLU (leaky too),
        max-pooling, additions (residual connections) and reshapes.
    input_shape : sequence of int
        One input in torch order without the batch axis, e.g. ``(1, 8, 8)``.

    Returns
    -------
    SliceNet
        The network as flat float64 operations, channels-first.

    Raises
    ------
    InputError
        A non-positive shape, a module in training mode, an op that is not
        piecewise linear, several inputs or outputs, or a graph that cannot
        be traced (the message names the node).
    TooLargeError
        More than ``MAX_INPUT`` inputs, or a layer's matrix too large to hold.

    Examples
    --------
    >>> import pytest; nn = pytest.importorskip("torch.nn")
    >>> net = to_slicenet(nn.Sequential(nn.Linear(2, 3), nn.ReLU()), (2,))
    >>> [op.kind for op in net.ops], net.sizes
    (['affine', 'relu'], (2, 3, 3))
    """
    shape = tuple(int(v) for v in input_shape)
    if not shape or any(v <= 0 for v in shape):
        raise InputError(f"input_shape: expected positive sizes (C, *spatial), got {list(input_shape)}")
    if math.prod(shape) > MAX_INPUT:
        raise TooLargeError(f"input_shape: {math.prod(shape)} inputs is more than {MAX_INPUT}")
    _check_eval(module)
    model = copy.deepcopy(module).double().eval()
    gm = _trace(model)
    _shapes(gm, shape)
    b = Builder(shape, "channels-first")
    env: dict[Any, tuple] = {}
    for node in gm.graph.nodes:
        if node.op == "placeholder":
            if any(v[0] == "t" for v in env.values()):
                raise InputError(f"{node.name}: the model takes more than one input")
            env[node] = ("t", 0, shape)
        elif node.op == "get_attr":
            env[node] = ("attr", None, None)
        elif node.op == "output":
            out = node.args[0]
            if not hasattr(out, "op") or env.get(out, ("?",))[0] != "t":
                raise InputError("output: the model must return one tensor")
            return b.build(env[out][1])
        else:
            env[node] = _convert(node, gm, b, env)
    raise InputError("the traced graph has no output")


def _tensor_args(node, env, where):
    tensors, static = [], []
    for a in list(node.args) + list(node.kwargs.values()):
        if hasattr(a, "op"):
            kind = env[a][0]
            if kind == "t":
                tensors.append(a)
            elif kind == "attr":
                raise InputError(f"{where}: uses a parameter or buffer directly (get_attr "
                                 f"{a.target!r}); only nn layers may hold weights")
            else:
                static.append(a)
    return tensors, static


def _convert(node, gm, b, env):
    where = _where(node, gm)
    kind, m = _classify(node, gm)
    if kind == "cat":
        return concat_op(node, b, env, _tensor_shape(node), where)
    tensors, static = _tensor_args(node, env, where)
    if kind == "static":
        if tensors and node.target not in _STATIC_METHODS and node.target is not getattr:
            raise InputError(f"{where}: indexing a tensor is not supported")
        return ("v", None, None)
    if kind is None or not tensors:
        what = f"module {type(m).__name__}" if m is not None else f"op {where}"
        raise InputError(f"{where}: unsupported {what}; supported: Conv1d/2d/3d, Linear, ReLU, "
                         f"LeakyReLU, MaxPool, AdaptiveMaxPool, AvgPool, AdaptiveAvgPool, BatchNorm (eval), "
                         f"Flatten/view/reshape, mean/sum over non-batch axes, Dropout, Identity, residual additions, "
                         f"torch.cat")
    x = tensors[0]
    _, tid, shape_in = env[x]
    shape_out = _tensor_shape(node)
    if shape_out is None:
        raise InputError(f"{where}: its output is not a tensor")
    if kind == "dropout":
        kind = "alias" if node.kwargs.get("training", node.args[2] if len(node.args) > 2 else True) is False \
            else None
        if kind is None:
            raise InputError(f"{where}: F.dropout with training=True is random; pass training=self.training "
                             f"and call model.eval()")
    if kind == "alias":
        if math.prod(shape_out) != math.prod(shape_in) or _batch_lost(node):
            raise InputError(f"{where}: a reshape that mixes the batch axis is not supported")
        return ("t", tid, shape_out)
    if static:
        raise InputError(f"{where}: arguments computed from tensor sizes are only supported in reshapes")
    if kind == "relu":
        return ("t", b.relu(tid, where), shape_out)
    if kind == "leaky":
        return ("t", b.relu(tid, where, leaky_slope(node, m, where)), shape_out)
    if kind == "neg":
        import scipy.sparse as sp
        n = b.sizes[tid]
        return ("t", b.affine(tid, -sp.identity(n, format="csr"), np.zeros(n), where), shape_out)
    if kind == "reduce":
        return ("t", b.affine(tid, reduction_op(node, shape_in, shape_out, where), np.zeros(math.prod(shape_out)),
                              where), shape_out)
    if kind in ("add", "sub") and len(tensors) == 2:
        y = env[tensors[1]][1]
        if env[tensors[1]][2] != shape_in:
            raise InputError(f"{where}: adds tensors of shapes {list(shape_in)} and {list(env[tensors[1]][2])} "
                             f"(broadcasting is not supported)")
        if kind == "sub":
            n = b.sizes[y]
            import scipy.sparse as sp
            y = b.affine(y, -sp.identity(n, format="csr"), np.zeros(n), where)
        return ("t", b.add(tid, y, where), shape_out)
    if kind in ("add", "sub", "scale"):
        return ("t", constant_op(node, kind, tid, b, where), shape_out)
    if kind == "maxpool":
        return ("t", b.maxpool(tid, maxpool_windows(node, m, shape_in, shape_out, where), where), shape_out)
    A, bias = affine_op(node, m, gm, shape_in, shape_out, where)
    if isinstance(A, ConvSpec):
        return ("t", b.conv(tid, A, bias, where), shape_out)
    return ("t", b.affine(tid, A, bias, where), shape_out)


def as_sequential(module):
    """The ``nn.Sequential`` equivalent of a module whose traced graph is a plain chain.

    A residual addition (or any op with two tensor inputs) cannot be written
    as a chain, so a spec cannot express it: refused in one line.

    Parameters
    ----------
    module : torch.nn.Module
        The module (a bare layer is wrapped as is).

    Returns
    -------
    torch.nn.Sequential
        Its layers in order; functional ReLUs and flattens become modules.

    Raises
    ------
    InputError
        The graph is not a chain of layers the spec format knows (the message
        names the node, and points to ``slice_network()``).

    Examples
    --------
    >>> import pytest; torch = pytest.importorskip("torch")
    >>> class Net(torch.nn.Module):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.fc = torch.nn.Linear(2, 3)
    ...     def forward(self, x):
    ...         return torch.relu(self.fc(x))
    >>> as_sequential(Net())
    Sequential(
      (0): Linear(in_features=2, out_features=3, bias=True)
      (1): ReLU()
    )
    """
    import torch.nn as nn

    if not list(module.children()):
        return nn.Sequential(module)  # a bare layer
    gm = _trace(module)
    chain, previous = [], None
    for node in gm.graph.nodes:
        if node.op == "placeholder":
            previous = node
            continue
        if node.op == "output":
            if node.args[0] is not previous:
                raise InputError("output: the model does not return the end of its layer chain")
            return nn.Sequential(*chain)
        where = _where(node, gm) if node.op != "get_attr" else f"{node.target} (parameter)"
        kind, m = _classify(node, gm) if node.op != "get_attr" else (None, None)
        inputs = [a for a in list(node.args) + list(node.kwargs.values()) if hasattr(a, "op")]
        if kind in ("add", "sub") and len(inputs) == 2:
            raise InputError(f"{where}: a residual addition; the spec format cannot express it; "
                             f"`slice_network()` handles it")
        if len(inputs) != 1 or inputs[0] is not previous:
            raise InputError(f"{where}: the graph is not a chain of layers, which the spec format needs; "
                             f"`slice_network()` handles it")
        if node.op == "call_module":
            chain.append(m)
        elif kind == "relu":
            chain.append(nn.ReLU())
        elif kind == "alias" and (node.target == "flatten" or getattr(node.target, "__name__", "") == "flatten"):
            chain.append(nn.Flatten())
        else:
            raise InputError(f"{where}: not a layer the spec format knows; `slice_network()` "
                             f"may handle it")
        previous = node
    raise InputError("the traced graph has no output")


def _batch_lost(node) -> bool:
    meta = node.meta.get("tensor_meta")
    return meta is None or not hasattr(meta, "shape") or int(meta.shape[0]) != _BATCH


__all__ = ["to_slicenet", "as_sequential", "MAX_INPUT"]
