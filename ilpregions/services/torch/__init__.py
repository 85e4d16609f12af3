"""PyTorch models in and out: ``nn.Sequential`` to a spec with weights, the project's file format,
user modules named by ``package.module:Class``, and fx-traced models as slicer graphs.

This module is the package's front: other packages and the CLI import only
the names below. Its private helpers: ``_convert`` (:func:`from_torch`),
``_file`` (the saved format, read with ``weights_only=True``), ``_module``
(a user's module class), ``_fx`` and ``_fx_ops`` (``torch.fx`` tracing to
a :class:`~ilpregions.core.slicenet.SliceNet`). torch itself is imported
only inside the functions that need it.
"""

from ilpregions.services.torch._convert import ImportedNetwork, from_torch
from ilpregions.services.torch._file import FORMAT, architecture, build_module, load_file, read_weights_only, save
from ilpregions.services.torch._fx import MAX_INPUT, as_sequential, to_slicenet
from ilpregions.services.torch._module import build_user_module, load_user_module, parse_kwargs

__all__ = ["from_torch", "ImportedNetwork", "load_file", "save", "architecture", "build_module",
           "read_weights_only", "FORMAT", "to_slicenet", "as_sequential", "MAX_INPUT", "load_user_module",
           "build_user_module", "parse_kwargs"]
