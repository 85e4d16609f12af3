"""The safe file format for PyTorch models: a layer list + state_dict, loaded with weights_only=True.

``save(model, path)`` writes ``{"format", "architecture", "state_dict"}`` with
``torch.save``; :func:`load_file` reads it back with
``torch.load(weights_only=True)`` (never unpickling code), rebuilds the
``nn.Sequential`` from whitelisted layer types after checking every declared
size, and loads the weights.
"""

from __future__ import annotations

import math
import pickle
import re
from pathlib import Path
from typing import Any, Mapping, Sequence

from ilpregions.core.errors import InputError, ParameterError, TooLargeError

#: The file format written by :func:`save` and read by :func:`load_file`.
FORMAT = "ilpregions.torch/1"

#: Most parameters a rebuilt model may declare (checked before any module is built).
MAX_PARAMETERS = 50_000_000


def entry_name(index: int, module) -> str:
    return f"layer {index} ({type(module).__name__})"


def flatten_modules(module) -> list:
    import torch.nn as nn

    if isinstance(module, nn.Sequential):
        out = []
        for child in module.children():
            out.extend(flatten_modules(child))
        return out
    return [module]


# ----------------------------------------------------------------------------
# A safe file format: layer list + state_dict, loaded with weights_only=True
# ----------------------------------------------------------------------------

#: For each supported torch class, its constructor arguments (and defaults).
_ARCH_ARGS: dict[str, dict[str, Any]] = {
    **{f"Conv{k}d": {"in_channels": None, "out_channels": None, "kernel_size": None, "stride": 1,
                     "padding": 0, "dilation": 1, "groups": 1, "bias": True, "padding_mode": "zeros"}
       for k in (1, 2, 3)},
    "Linear": {"in_features": None, "out_features": None, "bias": True},
    "ReLU": {},
    "Flatten": {"start_dim": 1, "end_dim": -1},
    **{f"MaxPool{k}d": {"kernel_size": None, "stride": None, "padding": 0, "dilation": 1,
                        "ceil_mode": False} for k in (1, 2, 3)},
    **{f"BatchNorm{k}d": {"num_features": None, "eps": 1e-5, "momentum": 0.1, "affine": True,
                          "track_running_stats": True} for k in (1, 2, 3)},
    **{f"AvgPool{k}d": {"kernel_size": None, "stride": None, "padding": 0, "ceil_mode": False,
                        "count_include_pad": True} for k in (1, 2, 3)},
    **{f"AdaptiveAvgPool{k}d": {"output_size": None} for k in (1, 2, 3)},
    "Dropout": {"p": 0.5},
    "Identity": {},
    # Built so that from_torch can refuse them by name, not because they count.
    **{name: {} for name in ("Tanh", "Sigmoid", "GELU", "SiLU", "ELU", "Softplus")},
    "LeakyReLU": {"negative_slope": 0.01},
}


def _plain(value):
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    return value


def architecture(module) -> list[dict[str, Any]]:
    """The layer list of an ``nn.Sequential``: plain data (str/int/float/bool/lists).

    Parameters
    ----------
    module : torch.nn.Module
        A Sequential (nested ones are flattened) of the layer types that
        :func:`build_module` can rebuild.

    Returns
    -------
    list of dict
        One table per layer: ``type`` and its constructor arguments.

    Raises
    ------
    InputError
        A layer type that cannot be saved (the message lists the supported
        ones).

    Examples
    --------
    >>> import pytest; nn = pytest.importorskip("torch.nn")
    >>> architecture(nn.Sequential(nn.Conv1d(1, 2, 3, stride=2, bias=False), nn.ReLU()))[0]["stride"]
    [2]
    """
    out = []
    for i, m in enumerate(flatten_modules(module)):
        kind = type(m).__name__
        if kind not in _ARCH_ARGS:
            raise InputError(f"{entry_name(i, m)}: cannot be saved; supported: {', '.join(sorted(_ARCH_ARGS))}")
        entry: dict[str, Any] = {"type": kind}
        for arg in _ARCH_ARGS[kind]:
            if arg == "bias":
                entry[arg] = m.bias is not None
            else:
                entry[arg] = _plain(getattr(m, arg))
        out.append(entry)
    return out


def _declared_parameters(kind: str, kwargs: Mapping[str, Any]) -> int:
    """Parameters a layer's arguments declare, computed before anything is allocated."""
    def size(key):
        value = kwargs.get(key, 1)
        values = list(value) if isinstance(value, (list, tuple)) else [value]
        if not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in values):
            raise ParameterError(key, "must be a positive integer (or a list of them)")
        return math.prod(values)

    if kind.startswith("Conv"):
        dims = int(kind[4])
        kernel = kwargs.get("kernel_size", 1)
        kernel = math.prod(kernel) if isinstance(kernel, (list, tuple)) else (kernel if isinstance(kernel, int) else 0) ** dims
        groups = max(1, size("groups"))
        return size("out_channels") * (size("in_channels") // groups) * kernel + size("out_channels")
    if kind == "Linear":
        return (size("in_features") + 1) * size("out_features")
    if kind.startswith("BatchNorm"):
        return 4 * size("num_features")
    return 0


def _check_declared_size(kind: str, kwargs: Mapping[str, Any], at: str) -> None:
    try:
        count = _declared_parameters(kind, kwargs)
    except ParameterError as exc:
        raise InputError(f"{at}.{exc}") from None
    if count > MAX_PARAMETERS:
        raise TooLargeError(f"{at}: {kind} declares {count} parameters, more than {MAX_PARAMETERS}; "
                            f"refused before building it")


def build_module(layers: Sequence[Mapping[str, Any]], where: str = "architecture"):
    """An ``nn.Sequential`` from a layer list (see :func:`architecture`); types are whitelisted.

    The parameters each layer declares are counted before anything is
    allocated.

    Parameters
    ----------
    layers : sequence of mapping
        Layer tables: ``type`` and constructor arguments (numbers, strings,
        bools, lists of ints).
    where : str
        The name of the list in error messages.

    Returns
    -------
    torch.nn.Sequential
        The model, with fresh weights.

    Raises
    ------
    InputError
        An empty list, an unsupported type, an unknown, missing or ill-typed
        argument, or a constructor that fails.
    TooLargeError
        A layer declares more than ``MAX_PARAMETERS`` parameters.

    Examples
    --------
    >>> import pytest; _ = pytest.importorskip("torch")
    >>> build_module([{"type": "Linear", "in_features": 2, "out_features": 3}, {"type": "ReLU"}])
    Sequential(
      (0): Linear(in_features=2, out_features=3, bias=True)
      (1): ReLU()
    )
    """
    import torch.nn as nn

    if not isinstance(layers, (list, tuple)) or not layers:
        raise InputError(f"{where}: must be a non-empty list of layer tables")
    modules = []
    for i, entry in enumerate(layers):
        at = f"{where}[{i}]"
        if not isinstance(entry, Mapping) or not isinstance(entry.get("type"), str):
            raise InputError(f"{at}: must be a table with a string 'type'")
        kind = entry["type"]
        if kind not in _ARCH_ARGS:
            raise InputError(f"{at}: unsupported type {kind!r}; supported: {', '.join(sorted(_ARCH_ARGS))}")
        allowed = _ARCH_ARGS[kind]
        kwargs = {}
        for key, value in entry.items():
            if key == "type":
                continue
            if key not in allowed:
                raise InputError(f"{at}: unknown argument {key!r} for {kind}; valid: {', '.join(allowed) or 'none'}")
            if not isinstance(value, (int, float, str, bool, list)) or (
                    isinstance(value, list) and not all(isinstance(v, int) for v in value)):
                raise InputError(f"{at}.{key}: must be a number, string, bool or list of ints, got {value!r}")
            kwargs[key] = tuple(value) if isinstance(value, list) else value
        for key, default in allowed.items():
            if default is None and key not in kwargs and not (kind.startswith(("MaxPool", "AvgPool")) and key == "stride"):
                raise InputError(f"{at}: {kind} needs {key!r}")
        _check_declared_size(kind, kwargs, at)
        try:
            modules.append(getattr(nn, kind)(**kwargs))
        except (TypeError, ValueError, RuntimeError) as exc:
            raise InputError(f"{at}: {kind}({kwargs}) failed: {exc}") from None
    return nn.Sequential(*modules)


def save(module, path: str | Path) -> None:
    """Save an ``nn.Sequential`` in the format ``import-torch`` reads.

    The file is a dict ``{"format", "architecture", "state_dict"}`` of plain
    data and tensors, written by ``torch.save`` and read back with
    ``torch.load(weights_only=True)``: loading it never runs pickled code.

    Parameters
    ----------
    module : torch.nn.Module
        The model (see :func:`architecture` for the layers it may have).
    path : str or Path
        The file to write: a regular file (a device, FIFO or directory is
        refused), replaced atomically under a lock.

    Raises
    ------
    InputError
        A layer type that cannot be saved, or an output path that is not a
        writable regular file.

    Examples
    --------
    >>> import os, tempfile, pytest
    >>> nn = pytest.importorskip("torch.nn")
    >>> path = os.path.join(tempfile.mkdtemp(), "model.pt")
    >>> save(nn.Sequential(nn.Linear(2, 3), nn.ReLU()), path)
    >>> load_file(path)
    Sequential(
      (0): Linear(in_features=2, out_features=3, bias=True)
      (1): ReLU()
    )
    """
    import torch

    from ilpregions.core.safe_io import atomic_path, output_lock

    data = {"format": FORMAT, "architecture": architecture(module), "state_dict": module.state_dict()}
    # Like every output: a regular file only, under a lock, renamed into place when complete.
    with output_lock(path), atomic_path(path) as tmp:
        torch.save(data, tmp)


def _first_line(exc: BaseException) -> str:
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(exc)).strip()  # torch colours some messages
    return text.splitlines()[0] if text else type(exc).__name__


def read_weights_only(path: str | Path):
    """``torch.load(path, weights_only=True)``: tensors and plain containers only, never pickled code.

    Parameters
    ----------
    path : str or Path
        A file written by ``torch.save``.

    Returns
    -------
    object
        What the file holds (a dict of tensors and plain data, usually).

    Raises
    ------
    InputError
        No such file, or a file ``torch.load(weights_only=True)`` cannot read;
        one line naming the file.
    ParameterError
        For parameter ``arch``: the file pickles Python objects (a whole
        ``torch.save(model)``), which are never loaded.

    Examples
    --------
    >>> import os, tempfile, pytest
    >>> nn = pytest.importorskip("torch.nn")
    >>> path = os.path.join(tempfile.mkdtemp(), "model.pt")
    >>> save(nn.Sequential(nn.Linear(2, 3), nn.ReLU()), path)
    >>> sorted(read_weights_only(path))
    ['architecture', 'format', 'state_dict']
    """
    import torch

    from ilpregions.core import sizes
    from ilpregions.core.safe_io import open_input

    path = Path(path)
    try:
        with open_input(path, sizes.MAX_WEIGHTS_BYTES, "a torch file") as handle:  # never blocks on a FIFO
            data = torch.load(handle, map_location="cpu", weights_only=True)
    except InputError:
        raise
    except pickle.UnpicklingError as exc:
        if "unsupported global" not in str(exc).lower():
            raise InputError(f"{path}: not a file torch.load(weights_only=True) can read "
                             f"(corrupt, or not written by torch.save)") from None
        # weights_only=True refused an object: the file pickles Python classes (a whole
        # torch.save(model), or anything else), and we never run such code.
        raise ParameterError("arch", f"{path}: holds pickled Python objects (a whole "
                             f"torch.save(model)?), which are never loaded; save with "
                             f"ilpregions.services.torch.save(model, path), or save "
                             f"model.state_dict() and give its architecture or its Python class") from None
    except Exception as exc:  # noqa: BLE001 - torch raises many kinds; all mean "not readable"
        raise InputError(f"{path}: cannot be read by torch.load(weights_only=True): "
                         f"{_first_line(exc)}") from None
    return data


def load_file(path: str | Path, arch: Sequence[Mapping[str, Any]] | None = None):
    """Rebuild the ``nn.Sequential`` saved in ``path``, in eval mode.

    Only ``torch.load(weights_only=True)`` is used; float64 weights stay
    float64.

    Parameters
    ----------
    path : str or Path
        A file written by :func:`save`, or a bare ``state_dict``
        (``torch.save(model.state_dict(), path)``).
    arch : sequence of mapping, optional
        The layer list (as :func:`architecture` makes it; e.g. from an
        architecture TOML file): needed with a bare state_dict, and overrides
        the file's own.

    Returns
    -------
    torch.nn.Sequential
        The model with the saved weights, in eval mode.

    Raises
    ------
    InputError
        The file cannot be read, has an unknown format or no state_dict, or
        its weights do not fit the architecture.
    ParameterError
        For parameter ``arch``: a bare state_dict without ``arch``, or a file
        of pickled objects.

    Examples
    --------
    >>> import os, tempfile, pytest
    >>> torch = pytest.importorskip("torch")
    >>> path = os.path.join(tempfile.mkdtemp(), "state.pt")
    >>> torch.save(torch.nn.Sequential(torch.nn.Linear(2, 3)).state_dict(), path)
    >>> model = load_file(path, arch=[{"type": "Linear", "in_features": 2, "out_features": 3}])
    >>> model[0].out_features, model.training
    (3, False)
    """
    path = Path(path)
    data = read_weights_only(path)
    if not isinstance(data, Mapping):
        raise InputError(f"{path}: expected a dict (state_dict, or the ilpregions format), got "
                         f"{type(data).__name__}")
    if "format" in data:
        if data["format"] != FORMAT:
            raise InputError(f"{path}: unknown format {data['format']!r}; expected {FORMAT!r}")
        state = data.get("state_dict")
        layers = data.get("architecture") if arch is None else arch
    else:
        state, layers = data, arch
        if layers is None:
            raise ParameterError("arch", f"{path}: a bare state_dict does not say the architecture; "
                                 f"give it (ARCH.toml, a list of [[layers]] tables) or the model's Python class, "
                                 f"or save with "
                                 f"ilpregions.services.torch.save(model, path)")
    module = build_module(layers)
    if not isinstance(state, Mapping):
        raise InputError(f"{path}: the state_dict is missing")
    dtypes = {t.dtype for t in state.values() if hasattr(t, "is_floating_point") and t.is_floating_point()}
    if len(dtypes) == 1:
        module = module.to(dtypes.pop())  # keep float64 weights float64
    try:
        module.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise InputError(f"{path}: the weights do not fit the architecture: "
                         f"{str(exc).strip().splitlines()[0]}") from None
    return module.eval()


__all__ = ["architecture", "build_module", "save", "load_file", "read_weights_only", "FORMAT"]
