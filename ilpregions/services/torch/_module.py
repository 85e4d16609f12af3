"""Models written as ``nn.Module`` subclasses: the user's own class plus a weights-only state_dict.

A saved *file* must never run code, so the model's code does not come from
the file: the user names it (``--torch-module``), as ``package.module:Name``
(importable; the current directory is searched first) or
``path/to/file.py:Name``. ``Name`` is a class or a function returning the
module; it is called with keyword arguments from
``--torch-kwargs`` (a JSON object of plain values). The weights come from a
``torch.save(model.state_dict(), FILE)`` file (or a checkpoint dict holding
one under ``"state_dict"`` / ``"model_state_dict"``), read with
``torch.load(weights_only=True)`` only, and loaded strictly (every name and
shape must match).

Why not ``torch.export.save`` (.pt2)? ``torch.export.load`` warns that it
"uses pickle under the hood" and, in torch 2.13, reads weights and constants
with ``torch.load(weights_only=False)`` and ``pickle.loads``: loading a .pt2
can run arbitrary code, so it is never used here. Importing the named Python
code runs that code, exactly as running the user's own script would; that is
the trust the user states by naming it.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import sys
from pathlib import Path
from typing import Any, Mapping

from ilpregions.core.errors import InputError, ParameterError


def parse_kwargs(text: str | None) -> dict[str, Any]:
    """The keyword arguments of a user's module class: a JSON object of plain values, or ``{}`` when not given.

    Parameters
    ----------
    text : str or None
        The JSON text.

    Returns
    -------
    dict
        The object.

    Raises
    ------
    ParameterError
        For parameter ``torch_kwargs``: not JSON, or not a JSON object.

    Examples
    --------
    >>> parse_kwargs('{"width": 8, "depth": 2}')
    {'width': 8, 'depth': 2}
    >>> parse_kwargs(None)
    {}
    """
    if text is None:
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ParameterError("torch_kwargs", f"not JSON ({exc.msg} at {exc.pos})") from None
    if not isinstance(value, dict):
        raise ParameterError("torch_kwargs", "expected a JSON object such as {\"width\": 8}")
    return value


def _import_target(target: str):
    if target.count(":") != 1 or not all(target.split(":")):
        raise ParameterError("torch_module", f"expected package.module:Name or "
                             f"path/to/file.py:Name, got {target!r}")
    where, name = target.split(":")
    try:
        if where.endswith(".py"):
            path = Path(where)
            if not path.is_file():
                raise ParameterError("torch_module", f"{where}: no such file")
            spec = importlib.util.spec_from_file_location(f"_ilpregions_user_{path.stem}", path)
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
        else:
            module = _import_from_here(where)
    except ParameterError:
        raise
    except Exception as exc:  # noqa: BLE001 - the user's code can fail in any way
        raise ParameterError("torch_module", f"importing {where} failed: "
                             f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}"
                             ) from None
    if not hasattr(module, name):
        raise ParameterError("torch_module", f"{where} has no {name!r}")
    return getattr(module, name)


def _import_from_here(name: str):
    """``importlib.import_module(name)``, with the current directory searched first, as ``python -m`` and
    ``python script.py`` do (an installed console script does not put it on ``sys.path``)."""
    here = os.getcwd()
    added = here not in sys.path and "" not in sys.path
    if added:
        sys.path.insert(0, here)
    try:
        return importlib.import_module(name)
    finally:
        if added and here in sys.path:
            sys.path.remove(here)


def build_user_module(torch_module: str, torch_kwargs: Mapping[str, Any] | None = None):
    """Call the class or factory named by ``torch_module`` with ``torch_kwargs``; the result must be an nn.Module.

    Importing the named code runs it, as running the user's own script would:
    that is the trust the user states by naming it.

    Parameters
    ----------
    torch_module : str
        ``package.module:Name`` (importable) or ``path/to/file.py:Name``; Name
        is a class or a function returning the module.
    torch_kwargs : mapping, optional
        Keyword arguments for it.

    Returns
    -------
    torch.nn.Module
        The module, with fresh weights.

    Raises
    ------
    ParameterError
        For ``torch_module`` (malformed, not importable, no such name, not an
        nn.Module) or ``torch_kwargs`` (the call fails).

    Examples
    --------
    >>> import pytest; _ = pytest.importorskip("torch")
    >>> build_user_module("torch.nn:Linear", {"in_features": 2, "out_features": 3})
    Linear(in_features=2, out_features=3, bias=True)
    """
    import torch.nn as nn

    target, kwargs = torch_module, torch_kwargs
    factory = _import_target(target)
    try:
        module = factory(**dict(kwargs or {}))
    except Exception as exc:  # noqa: BLE001
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise ParameterError("torch_kwargs", f"{target}(**{dict(kwargs or {})}) failed: "
                             f"{type(exc).__name__}: {text}") from None
    if not isinstance(module, nn.Module):
        raise ParameterError("torch_module", f"{target} returned a {type(module).__name__}, "
                             f"not an nn.Module")
    return module


def _state_dict(data, path: Path) -> Mapping:
    if isinstance(data, Mapping):
        for key in ("state_dict", "model_state_dict"):
            if isinstance(data.get(key), Mapping):
                data = data[key]
                break
    if not isinstance(data, Mapping) or not all(isinstance(k, str) and hasattr(v, "shape")
                                                 for k, v in data.items()):
        raise InputError(f"{path}: expected a state_dict (names -> tensors), e.g. from "
                         f"torch.save(model.state_dict(), path)")
    return data


def load_user_module(torch_module: str, weights: str | Path, torch_kwargs: Mapping[str, Any] | None = None):
    """The module ``torch_module(**torch_kwargs)`` with the state_dict in ``weights`` (weights_only), in eval mode.

    Parameters
    ----------
    torch_module : str
        The class or factory (see :func:`build_user_module`).
    weights : str or Path
        A ``torch.save(model.state_dict(), FILE)`` file, or a checkpoint dict
        holding one under ``"state_dict"`` or ``"model_state_dict"``; read
        with ``torch.load(weights_only=True)`` only and loaded strictly.
    torch_kwargs : mapping, optional
        Keyword arguments for the class or factory.

    Returns
    -------
    torch.nn.Module
        The module with the saved weights, in eval mode.

    Raises
    ------
    InputError
        The file cannot be read, holds no state_dict, or its weights do not
        fit the module.
    ParameterError
        For ``torch_module`` or ``torch_kwargs`` (see
        :func:`build_user_module`), or ``arch`` for a file of pickled objects.

    Examples
    --------
    >>> import os, tempfile, pytest
    >>> torch = pytest.importorskip("torch")
    >>> path = os.path.join(tempfile.mkdtemp(), "weights.pt")
    >>> torch.save(torch.nn.Linear(2, 3).state_dict(), path)
    >>> load_user_module("torch.nn:Linear", path, {"in_features": 2, "out_features": 3}).training
    False
    """
    target, kwargs = torch_module, torch_kwargs
    from ilpregions.services.torch._file import read_weights_only

    path = Path(weights)
    state = _state_dict(read_weights_only(path), path)
    module = build_user_module(target, kwargs)
    dtypes = {t.dtype for t in state.values() if t.is_floating_point()}
    if len(dtypes) == 1:
        module = module.to(dtypes.pop())
    try:
        module.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        text = " ".join(str(exc).strip().split())
        raise InputError(f"{path}: the weights do not fit {target}: {text[:300]}") from None
    return module.eval()


__all__ = ["parse_kwargs", "build_user_module", "load_user_module"]
