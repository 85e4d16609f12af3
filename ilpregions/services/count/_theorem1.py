"""Exact Theorem-1 counts: one public function with a ``backend=`` switch.

Examples
--------
>>> from ilpregions.core.spec import Network, ConvLayer
>>> net = Network((3, 3, 1), (ConvLayer(filters=2, kernel=2, shared=False),))
>>> result = count_regions(net, backend="bruteforce")
>>> result.regions, result.exact, result.t_vectors
(256, True, 81)
"""

from __future__ import annotations

import time

from ilpregions import backends
from ilpregions.core.geometry import Theorem1Instance, as_instance
from ilpregions.core.set_system import is_trivial
from ilpregions.core.progress import Progress
from ilpregions.core.results import COMPLETE, MEMORY_CAP, TIME_LIMIT, CountResult
from ilpregions.core.spec import Network


def weight_sharing_note(inst: Theorem1Instance) -> str | None:
    """The weight-sharing caveat (docs/math.md#weight-sharing) for a conv layer with shared filters, or None.

    Theorem 1 treats every neuron's weights as free within its support; a CNN
    ties them across positions. The formula is then the locally connected
    (untied) count and an upper bound for the CNN.

    Parameters
    ----------
    inst : Theorem1Instance
        A layer's set system (its ``kind`` says whether filters are shared).

    Returns
    -------
    str or None
        The note, or None where it does not apply (local or dense layers,
        disjoint fields: tied and untied counts coincide).

    Examples
    --------
    >>> from ilpregions.core.geometry import layer_instance
    >>> from ilpregions.core.spec import ConvLayer, Network
    >>> weight_sharing_note(layer_instance(Network((4, 1), (ConvLayer(2, 2),))))[:40]
    'Theorem-1 value: the exact maximum for a'
    >>> weight_sharing_note(layer_instance(Network((4, 1), (ConvLayer(2, 2, stride=2),)))) is None
    True
    """
    if inst.kind != "conv" or inst.positions < 2 or is_trivial(inst):
        return None  # disjoint fields: tied and untied counts coincide
    note = ("Theorem-1 value: the exact maximum for a locally connected (untied) layer; for a CNN "
            "with shared filters it is an upper bound (docs/math.md#weight-sharing)")
    return note


def strict_gap_expected(layer, inst: Theorem1Instance) -> bool:
    """True where the dependency of docs/math.md#the-commutativity-relation applies (then tied < formula).

    At stride 1 with one input channel, d1 >= 2 and at least a kernel's worth
    of unpadded outputs on two axes, the identity w1 * w2 = w2 * w1 of
    convolution is a dependency among actual neurons, so the shared-filter
    maximum is strictly below Theorem 1's value.

    Parameters
    ----------
    layer : ConvLayer
        The layer.
    inst : Theorem1Instance
        Its set system.

    Returns
    -------
    bool
        Whether the gap is certain.

    Examples
    --------
    >>> from ilpregions.core.geometry import layer_instance
    >>> from ilpregions.core.spec import ConvLayer, Network
    >>> net = Network((3, 3, 1), (ConvLayer(2, 2),))
    >>> strict_gap_expected(net.layers[0], layer_instance(net))
    True
    >>> net = Network((4, 1), (ConvLayer(2, 2),))
    >>> strict_gap_expected(net.layers[0], layer_instance(net))
    False
    """
    from ilpregions.core.spec import conv_output_size

    axes = [i for i, k in enumerate(layer.kernel) if k >= 2]
    # With several input channels the filter taps are vectors, not scalars, so
    # the identity below is no dependency (3x3x2, 2x2, d1 = 2: tied = formula).
    if inst.kind != "conv" or inst.filters < 2 or len(axes) < 2 or inst.channels != 1:
        return False
    # The full-convolution identity w1 * w2 = w2 * w1 shifts one filter by the
    # other's taps, a·δ for 0 <= a < f, so it needs δ·(f − 1) + 1 unpadded
    # outputs per axis at stride 1 to be a dependency among actual neurons.
    for i in axes:
        unpadded = conv_output_size(inst.input_spatial[i], layer.kernel[i], 1, 0, layer.dilation[i])
        if layer.stride[i] != 1 or unpadded < layer.dilation[i] * (layer.kernel[i] - 1) + 1:
            return False
    return True


def _instance(model) -> tuple[Theorem1Instance, object]:
    """The set system, and the layer when a Network was given (for the note)."""
    return as_instance(model), (model.layers[0] if isinstance(model, Network) else None)


def choose_backend(inst: Theorem1Instance) -> str:
    """What ``backend="auto"`` runs: the DP engine when installed, else CP-SAT.

    Trivial geometries (no two fields overlap) are products of closed forms in
    every backend, so the choice does not matter there.

    Parameters
    ----------
    inst : Theorem1Instance
        The layer's set system.

    Returns
    -------
    str
        A counting backend name.

    Examples
    --------
    >>> from ilpregions.core.geometry import layer_instance
    >>> from ilpregions.core.spec import ConvLayer, Network
    >>> choose_backend(layer_instance(Network((4, 1), (ConvLayer(2, 2),))))
    'dp'
    """
    if backends.BACKENDS["dp"].is_available():
        return "dp"
    return "cpsat"


def count_regions(model, backend: str = "auto", time_limit: float | None = None,
                  progress: bool = False, **options) -> CountResult:
    """Count R_N of a one-layer network exactly (Theorem 1).

    Parameters
    ----------
    model : Network or Theorem1Instance
        A network with exactly one conv, local or dense layer.
    backend : str
        ``"auto"`` (default) or a counting backend name (``dp``, ``cpsat``,
        ``bruteforce``, ``scip`` and the variants of ``BACKENDS``).
    time_limit : float, optional
        Seconds. A run cut short returns ``exact=False`` and a partial sum,
        which is a lower bound on R_N.
    progress : bool
        Show a progress bar on stderr for runs longer than a second.
    **options
        Passed to the backend (for instance ``workers=`` for ``cpsat``,
        ``memory_cap=`` for ``dp``).

    Returns
    -------
    CountResult
        ``regions`` (an exact int), ``exact``, ``status`` (``complete``,
        ``time_limit`` or ``memory_cap``), the backend, the number of feasible
        t-vectors where the backend enumerates them, and a note on weight
        sharing for conv layers.

    Raises
    ------
    InputError
        The model is not one conv/local/dense layer.
    UnknownBackendError
        ``backend`` is not a counting backend; the message lists the valid
        ones.
    BackendUnavailableError
        The backend's solver is not installed.
    TooLargeError
        The backend refuses the instance by arithmetic before building it
        (memory estimate, block sizes).

    Examples
    --------
    >>> from ilpregions.core.spec import ConvLayer, Network
    >>> net = Network((3, 3, 1), (ConvLayer(filters=2, kernel=2, shared=False),))
    >>> result = count_regions(net, backend="bruteforce")
    >>> result.regions, result.exact, result.t_vectors, result.status
    (256, True, 81, 'complete')
    >>> count_regions(net).regions
    256
    """
    inst, layer = _instance(model)
    if backend == backends.AUTO:
        backend = choose_backend(inst)
    module = backends.load(backend, backends.COUNT)
    bar = Progress(f"count[{backend}]", enabled=progress, unit="sol")
    start = time.perf_counter()
    try:
        outcome = module.count(inst, time_limit=time_limit, progress=bar, **options)
    finally:
        bar.close()
    seconds = time.perf_counter() - start
    note = weight_sharing_note(inst)
    if note and layer is not None and strict_gap_expected(layer, inst):
        note += "; here the tied maximum is strictly smaller (shifted filters are always dependent)"
    if note:
        note += "; `tied_max()` gives the real (shared-filter) maximum"
    return CountResult(
        regions=outcome.regions, exact=outcome.complete, backend=backend,
        t_vectors=outcome.t_vectors, union_size=inst.union_size, positions=inst.positions,
        seconds=seconds, status=_status(outcome),
        solutions=outcome.solutions, note=note, details=dict(outcome.details))


def _status(outcome) -> str:
    """Complete, or why a partial sum stopped: the time limit, or the memory cap while running."""
    if outcome.complete:
        return COMPLETE
    return MEMORY_CAP if outcome.details.get("stopped_by") == MEMORY_CAP else TIME_LIMIT


__all__ = ["count_regions", "choose_backend", "weight_sharing_note", "strict_gap_expected"]
