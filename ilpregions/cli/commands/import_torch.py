"""``ilpregions import-torch FILE.pt --input C,H,W``: a saved PyTorch model to a spec (+ weights).

FILE.pt is read with ``torch.load(weights_only=True)`` only; it never unpickles
arbitrary objects. Two layouts are accepted:

* the file written by ``ilpregions.services.torch.save(model, "model.pt")``: a
  dict of plain data and tensors, ``{"format": "ilpregions.torch/1",
  "architecture": [layer tables], "state_dict": model.state_dict()}``;
* a bare ``torch.save(model.state_dict(), "model.pt")`` plus ``--arch
  ARCH.toml``, whose ``[[layers]]`` tables name the torch class and its
  constructor arguments, e.g. ``type = "Conv2d"``, ``in_channels = 3``,
  ``out_channels = 8``, ``kernel_size = 3``, ``padding = 1``;
* a bare state_dict plus ``--torch-module package.module:Name`` (or
  ``path/to/file.py:Name``): the model's own ``nn.Module`` subclass, built
  with ``--torch-kwargs`` (see :mod:`ilpregions.services.torch._module`).

Outputs (the spec and the weights) are written through
:mod:`ilpregions.core.safe_io`: atomically, only to regular files, under an
exclusive lock. ``--json`` prints ``model`` (the file), ``status``,
``seconds``, then the layers and where they were written.
"""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path

from ilpregions.cli.commands._common import add_json_argument, json_record, print_json, torch_input_shape
from ilpregions.cli.flags import error_message
from ilpregions.core.errors import EXIT_OK, InputError, ParameterError


def register(sub) -> None:
    parser = sub.add_parser(
        "import-torch", help="turn a saved PyTorch model (a chain of layers) into a spec (and weights)",
        description="Read a saved PyTorch model (torch.load(weights_only=True) only) and write its "
                    "architecture as a TOML spec, and optionally its weights as .npz for "
                    "`ilpregions regions --weights`. Needs the torch extra.")
    parser.add_argument("file", metavar="FILE.pt",
                        help="saved by ilpregions.services.torch.save(model, path), or a bare state_dict with --arch")
    parser.add_argument("--input", type=torch_input_shape, required=True, metavar="C,H,W",
                        help="one input's shape in torch order, without the batch axis (e.g. 3,32,32)")
    parser.add_argument("--arch", default=None, metavar="ARCH.toml",
                        help="the layer list for a bare state_dict ([[layers]] tables: type = torch class, "
                             "plus its constructor arguments)")
    add_torch_module_arguments(parser)
    parser.add_argument("-o", "--output", default=None, metavar="MODEL.toml",
                        help="write the spec here (default: print it)")
    parser.add_argument("--weights-out", default=None, metavar="W.npz",
                        help="write the weights (channels-last layout) for `regions --weights`")
    parser.add_argument("--drop-head", action="store_true",
                        help="leave out a final linear/conv layer without ReLU (it does not change the regions)")
    add_json_argument(parser)
    parser.set_defaults(func=run)


def _read_arch(path: str):
    from ilpregions.core.safe_io import read_text_bounded

    try:  # regular files only, bounded, never a blocking open; not UTF-8 is one line
        data = tomllib.loads(read_text_bounded(path, what="an architecture file"))
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"{path}: TOML syntax error: {exc}") from None
    if set(data) - {"layers"} or "layers" not in data:
        raise InputError(f"{path}: expected only [[layers]] tables (type = torch class name, "
                         f"plus its constructor arguments)")
    return data["layers"]


def add_torch_module_arguments(parser) -> None:
    """``--torch-module`` / ``--torch-kwargs``: the model's own code for a state_dict file."""
    parser.add_argument("--torch-module", metavar="PKG.MOD:NAME",
                        help="the model's code, for a state_dict file (torch.save(model.state_dict(), f)): "
                             "package.module:Name or path/to/file.py:Name, a class or a function returning "
                             "the nn.Module (the file itself is still read with weights_only=True)")
    parser.add_argument("--torch-kwargs", metavar="JSON",
                        help="with --torch-module: keyword arguments for Name, as a JSON object")


def torch_model(path: str, args):
    """The torch model in ``path``: the ilpregions format, or a state_dict with --arch or --torch-module."""
    from ilpregions.services.torch import load_file
    from ilpregions.services.torch import load_user_module, parse_kwargs

    if args.torch_module:
        if args.arch:
            raise InputError("--arch and --torch-module both give the architecture; use one")
        return load_user_module(args.torch_module, path, parse_kwargs(args.torch_kwargs))
    if args.torch_kwargs is not None:
        raise InputError("--torch-kwargs needs --torch-module")
    try:
        return load_file(path, arch=_read_arch(args.arch) if args.arch else None)
    except ParameterError as exc:
        if exc.parameter != "arch":
            raise
        raise InputError(f"{error_message(exc)} (for a Module subclass: --torch-module "
                         f"package.module:Class)") from None


def run(args) -> int:
    import importlib.util
    import time

    from ilpregions.core.safe_io import atomic_write, output_lock, output_target

    start = time.perf_counter()
    if importlib.util.find_spec("torch") is None:
        raise InputError("import-torch needs PyTorch: pip install 'ilpregions[torch]'")
    outputs = [p for p in (args.output, args.weights_out) if p]
    if len(outputs) == 2 and Path(args.output).resolve() == Path(args.weights_out).resolve():
        raise InputError("--weights-out: the same file as -o/--output")
    for path in outputs:
        output_target(path)  # refuse a FIFO, device or directory before the work
    from ilpregions.core.spec_toml import dumps
    from ilpregions.services.torch import from_torch

    module = torch_model(args.file, args)
    imported = from_torch(module, args.input, drop_head=args.drop_head)
    network = imported.network
    name = Path(args.file).stem
    text = f"# imported from {Path(args.file).name} (input {','.join(map(str, args.input))} in torch order)\n"
    text += dumps(type(network)(network.input_shape, network.layers, name=network.name or name))
    if args.output:
        with output_lock(args.output):
            atomic_write(args.output, text)
    if args.weights_out:
        imported.save_weights(args.weights_out)
    if args.json:
        print_json(json_record(str(args.file), "imported", time.perf_counter() - start,
                               input_shape=list(network.input_shape), layers=[layer.type for layer in network.layers],
                               spec_file=args.output, spec=None if args.output else text,
                               weights_file=args.weights_out,
                               weights=sorted(imported.weights) if args.weights_out else None,
                               dropped=list(imported.dropped)))
        return EXIT_OK
    _print_human(args, network, imported, text)
    return EXIT_OK


def _print_human(args, network, imported, text) -> None:
    if args.output:
        print(f"wrote {args.output}: input {list(network.input_shape)} (channels last), "
              f"{len(network.layers)} layers: {', '.join(layer.type for layer in network.layers)}")
    else:
        sys.stdout.write(text)
    if args.weights_out:
        print(f"wrote {args.weights_out}: {', '.join(sorted(imported.weights))}",
              file=sys.stdout if args.output else sys.stderr)
    for note in imported.dropped:
        print(f"note: dropped {note}", file=sys.stderr)
