"""Affine and pooling ops of a traced torch graph as matrices and windows (used by torch_fx).

Conv and linear layers become matrices by running them, without bias, on
basis vectors in float64 (each entry is one weight times 1: exact);
BatchNorm becomes ``gamma / sqrt(var + eps)`` per channel; other affine ops
are evaluated on basis vectors. Max-pool windows are the flat input indices
(torch order, channels first) each output takes the maximum over.
"""

from __future__ import annotations

import itertools
import math

import numpy as np

from ilpregions.core.errors import InputError, TooLargeError
from ilpregions.core.slicenet import MAX_MATRIX_ENTRIES, ConvSpec


def _basis_matrix(fn, shape_in, n_out: int, where: str):
    """The matrix of a linear map ``fn`` (no constant term) from its values on basis vectors."""
    import scipy.sparse as sp
    import torch

    n_in = math.prod(shape_in)
    rows, cols, vals = [], [], []
    with torch.no_grad():
        chunk = max(1, min(512, 5_000_000 // max(1, n_out)))
        for lo in range(0, n_in, chunk):
            hi = min(n_in, lo + chunk)
            basis = torch.zeros((hi - lo, n_in), dtype=torch.float64)
            basis[torch.arange(hi - lo), torch.arange(lo, hi)] = 1.0
            out = fn(basis.reshape((hi - lo, *shape_in))).reshape(hi - lo, -1).numpy()
            if not np.all(np.isfinite(out)):
                raise InputError(f"{where}: its weights contain NaN or infinite values")
            r, c = np.nonzero(out)
            rows.append(c)
            cols.append(r + lo)
            vals.append(out[r, c])
            if sum(len(v) for v in vals) > MAX_MATRIX_ENTRIES:
                raise TooLargeError(f"{where}: more than {MAX_MATRIX_ENTRIES} non-zero weights")
    return sp.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                         shape=(n_out, n_in))


def _pool_windows(shape_in, out, kernel, stride, padding, dilation, where):
    """Flat input indices (torch order) of each output of a max pool.

    ``out`` are torch's output sizes (with ``ceil_mode`` the last window may
    hang over the edge: max-pool pads with -inf, so the window is just the
    part inside the input).
    """
    channels, spatial = shape_in[0], shape_in[1:]
    if any(o <= 0 for o in out):
        raise InputError(f"{where}: the pooling window does not fit the input {list(shape_in)}")
    per_channel = []
    for pos in itertools.product(*(range(o) for o in out)):
        cells = []
        for off in itertools.product(*(range(k) for k in kernel)):
            coords = [q * s - p + a * d for q, s, p, a, d in zip(pos, stride, padding, off, dilation)]
            if all(0 <= x < n for x, n in zip(coords, spatial)):
                cells.append(int(np.ravel_multi_index(coords, spatial)))
        if not cells:
            raise InputError(f"{where}: a pooling window lies entirely in the padding")
        per_channel.append(cells)
    return _per_channel(per_channel, channels, math.prod(spatial))


def _per_channel(per_channel, channels, size):
    return [np.array(cells, dtype=np.int64) + c * size for c in range(channels) for cells in per_channel]


def _adaptive_windows(shape_in, shape_out):
    """torch's adaptive max-pool windows: output i of n -> o covers [floor(i n / o), ceil((i + 1) n / o))."""
    spatial, out = shape_in[1:], shape_out[1:]
    ranges = [[range(i * n // o, -(-(i + 1) * n // o)) for i in range(o)] for n, o in zip(spatial, out)]
    per_channel = []
    for pos in itertools.product(*ranges):
        per_channel.append([int(np.ravel_multi_index(c, spatial)) for c in itertools.product(*pos)])
    return _per_channel(per_channel, shape_in[0], math.prod(spatial))


def _tuple(value, axes):
    if isinstance(value, int):
        return (value,) * axes
    value = tuple(int(v) for v in value)
    return value * axes if len(value) == 1 else value


def _number_arg(node, where) -> tuple[float, bool]:
    """The constant of ``x op c`` / ``c op x``, and whether the tensor comes first."""
    args = list(node.args)
    if len(args) != 2 or node.kwargs:
        raise InputError(f"{where}: expected a tensor and a number")
    first = hasattr(args[0], "op")
    c = args[1] if first else args[0]
    if isinstance(c, bool) or not isinstance(c, (int, float)) or not math.isfinite(c):
        raise InputError(f"{where}: only a constant number can be combined with a tensor here, got {c!r}")
    return float(c), first


def constant_op(node, kind, tid, b, where) -> int:
    import scipy.sparse as sp

    c, first = _number_arg(node, where)
    n = b.sizes[tid]
    eye = sp.identity(n, format="csr")
    name = node.target if isinstance(node.target, str) else node.target.__name__
    if kind == "add":
        return b.affine(tid, eye, np.full(n, c), where)
    if kind == "sub":
        return b.affine(tid, eye if first else -eye, np.full(n, -c if first else c), where)
    if "div" in name:
        if not first or c == 0:
            raise InputError(f"{where}: only division of a tensor by a non-zero number is affine")
        c = 1.0 / c
    return b.affine(tid, c * eye, np.zeros(n), where)


def _pool_params(node, m, axes):
    if m is not None:
        return m.kernel_size, m.stride, m.padding, m.dilation, m.ceil_mode, m.return_indices
    names = ("kernel_size", "stride", "padding", "dilation", "ceil_mode", "return_indices")
    values = dict(zip(names, (None, None, 0, 1, False, False)))
    values.update(zip(names, node.args[1:]))
    values.update({k: v for k, v in node.kwargs.items() if k in names})
    return tuple(values[k] for k in names)


def maxpool_windows(node, m, shape_in, shape_out, where):
    axes = len(shape_in) - 1
    if len(shape_out) != len(shape_in):
        raise InputError(f"{where}: expected a (C, *spatial) input, got {list(shape_in)}")
    name = type(m).__name__ if m is not None else node.target.__name__
    if "adaptive" in name.lower():
        returns = m.return_indices if m is not None else node.kwargs.get(
            "return_indices", node.args[2] if len(node.args) > 2 else False)
        if returns:
            raise InputError(f"{where}: return_indices=True is not supported")
        windows = _adaptive_windows(shape_in, shape_out)
    else:
        kernel, stride, padding, dilation, _ceil, return_indices = _pool_params(node, m, axes)
        if return_indices:
            raise InputError(f"{where}: return_indices=True is not supported")
        if stride is None or stride == []:
            stride = kernel
        kernel, stride = _tuple(kernel, axes), _tuple(stride, axes)
        padding, dilation = _tuple(padding, axes), _tuple(dilation, axes)
        windows = _pool_windows(shape_in, shape_out[1:], kernel, stride, padding, dilation, where)
    if len(windows) != math.prod(shape_out):
        raise InputError(f"{where}: {len(windows)} windows but torch gives {math.prod(shape_out)} outputs")
    return windows


def affine_op(node, m, gm, shape_in, shape_out, where):
    """The matrix (or, for a zero-padded convolution, its :class:`ConvSpec`) and constant of an affine op."""
    import scipy.sparse as sp
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    n_out = math.prod(shape_out)
    if m is not None:
        full = m
    else:
        x = next(a for a in node.args if hasattr(a, "op"))
        full = lambda t: node.target(*[t if a is x else a for a in node.args], **node.kwargs)  # noqa: E731
    pools = (nn.AvgPool1d, nn.AvgPool2d, nn.AvgPool3d, nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d,
             nn.AdaptiveAvgPool3d)
    pool_fns = (F.avg_pool1d, F.avg_pool2d, F.avg_pool3d, F.adaptive_avg_pool1d, F.adaptive_avg_pool2d,
                F.adaptive_avg_pool3d)
    channelwise = isinstance(m, (*pools, nn.modules.batchnorm._BatchNorm)) or (m is None and node.target in pool_fns)
    if isinstance(m, (nn.Conv1d, nn.Conv2d, nn.Conv3d)):      # conv(0) + b is b, exactly
        per = math.prod(shape_out[1:])
        bias = (np.repeat(m.bias.detach().numpy(), per) if m.bias is not None else np.zeros(n_out))
    elif isinstance(m, nn.modules.batchnorm._BatchNorm):
        # one position per channel is enough: each channel's constant is the same everywhere
        with torch.no_grad():
            probe = full(torch.zeros((1, shape_in[0], *[1] * (len(shape_in) - 1)), dtype=torch.float64))
        bias = np.repeat(probe.reshape(shape_in[0], -1)[:, :1].numpy(), math.prod(shape_out[1:]), axis=1).reshape(-1)
    elif channelwise and shape_out[0] == shape_in[0]:
        with torch.no_grad():            # a pooling treats every channel alike: one channel is enough
            probe = full(torch.zeros((1, 1, *shape_in[1:]), dtype=torch.float64)).reshape(-1).numpy()
        bias = np.tile(probe, shape_in[0])
    else:
        with torch.no_grad():
            bias = full(torch.zeros((1, *shape_in), dtype=torch.float64)).reshape(-1).numpy().copy()
    if not np.all(np.isfinite(bias)):
        raise InputError(f"{where}: its bias contains NaN or infinite values")
    if channelwise and not isinstance(m, nn.modules.batchnorm._BatchNorm) and shape_out[0] == shape_in[0] \
            and not np.any(bias):
        # a pooling: the same block for every channel, from one channel's basis vectors
        block = _basis_matrix(full, (1, *shape_in[1:]), math.prod(shape_out[1:]), where)
        return sp.kron(sp.identity(shape_in[0], format="csr"), block, format="csr"), bias
    if isinstance(m, (nn.Conv1d, nn.Conv2d, nn.Conv3d)):
        if m.padding_mode == "zeros" and not isinstance(m.padding, str):
            axes = len(shape_in) - 1
            if not torch.isfinite(m.weight).all():
                raise InputError(f"{where}: its weights contain NaN or infinite values")
            return ConvSpec(np.ascontiguousarray(m.weight.detach().numpy(), dtype=np.float64),
                            _tuple(m.stride, axes), _tuple(m.padding, axes), _tuple(m.dilation, axes),
                            int(m.groups), tuple(shape_in), tuple(shape_out)), bias
        return _basis_matrix(lambda t: m._conv_forward(t, m.weight, None), shape_in, n_out, where), bias
    if isinstance(m, nn.Linear):
        return _basis_matrix(lambda t: F.linear(t, m.weight), shape_in, n_out, where), bias
    if isinstance(m, nn.modules.batchnorm._BatchNorm):
        if m.running_var is None:
            raise InputError(f"{where}: track_running_stats=False normalises by batch statistics, which "
                             f"no fixed affine map reproduces")
        scale = 1.0 / torch.sqrt(m.running_var + m.eps)
        if m.weight is not None:
            scale = scale * m.weight
        per = math.prod(shape_in[1:])
        return sp.diags(np.repeat(scale.detach().numpy(), per)).tocsr(), bias
    A = _basis_matrix(full, shape_in, n_out, where)
    if np.any(bias):
        A = sp.csr_matrix(A.toarray() - bias[:, None])
    return A, bias


def leaky_slope(node, m, where) -> float:
    """The negative slope of an ``nn.LeakyReLU`` or ``F.leaky_relu`` / ``x.leaky_relu`` node."""
    if m is not None:
        return float(m.negative_slope)
    slope = node.kwargs.get("negative_slope", node.args[1] if len(node.args) > 1 else 0.01)
    if isinstance(slope, bool) or not isinstance(slope, (int, float)) or not math.isfinite(slope):
        raise InputError(f"{where}: the negative slope must be a constant number, got {slope!r}")
    return float(slope)


def concat_op(node, b, env, shape_out, where):
    """``torch.cat(tensors, dim)``: each branch placed by a 0/1 matrix, then added (exact)."""
    import scipy.sparse as sp

    parts = node.args[0] if node.args else node.kwargs.get("tensors")
    dim = node.args[1] if len(node.args) > 1 else node.kwargs.get("dim", 0)
    if not isinstance(parts, (list, tuple)) or not parts or not isinstance(dim, int) or shape_out is None:
        raise InputError(f"{where}: expected torch.cat of a list of tensors along a constant axis")
    axis = dim % (len(shape_out) + 1) - 1          # without the batch axis
    if axis < 0:
        raise InputError(f"{where}: concatenating along the batch axis is not supported")
    for p in parts:
        if not hasattr(p, "op") or env[p][0] != "t":
            raise InputError(f"{where}: torch.cat of something other than the model's tensors")
    index = np.arange(math.prod(shape_out)).reshape(shape_out)
    total, offset = None, 0
    for p in parts:
        _, tid, shape = env[p]
        rows = np.take(index, range(offset, offset + shape[axis]), axis=axis).ravel()
        offset += shape[axis]
        place = sp.csr_matrix((np.ones(len(rows)), (rows, np.arange(len(rows)))), shape=(index.size, len(rows)))
        placed = b.affine(tid, place, np.zeros(index.size), where)
        total = placed if total is None else b.add(total, placed, where)
    if offset != shape_out[axis]:
        raise InputError(f"{where}: the branches do not fill the output along axis {dim}")
    return ("t", total, shape_out)


def reduction_op(node, shape_in, shape_out, where):
    """The matrix of ``x.mean(dims)`` / ``x.sum(dims)`` / ``torch.mean(x, dims)`` over non-batch axes."""
    import torch

    args, kwargs = list(node.args[1:]), dict(node.kwargs)
    dim = kwargs.pop("dim", args.pop(0) if args else None)
    keepdim = kwargs.pop("keepdim", args.pop(0) if args else False)
    ndim = len(shape_in) + 1
    dims = [dim] if isinstance(dim, int) else list(dim) if isinstance(dim, (list, tuple)) else None
    if args or kwargs or not isinstance(keepdim, bool) or not dims or not all(
            isinstance(d, int) and not isinstance(d, bool) for d in dims):
        raise InputError(f"{where}: only mean/sum over constant axes (dim=..., keepdim=...) is supported")
    if any(d % ndim == 0 for d in dims):
        raise InputError(f"{where}: a mean or sum over the batch axis mixes samples; reduce over (C, *spatial) "
                         f"axes only")
    name = node.target if isinstance(node.target, str) else node.target.__name__
    reduce = getattr(torch, name)
    return _basis_matrix(lambda t: reduce(t, dim=tuple(dims), keepdim=keepdim), shape_in, math.prod(shape_out),
                         where)


__all__ = ["constant_op", "maxpool_windows", "affine_op", "leaky_slope", "concat_op", "reduction_op"]
