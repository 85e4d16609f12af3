"""The real maximal region count of a one-layer CNN with *shared* filters.

Theorem 1 treats every neuron's weights as free within its receptive field;
a CNN ties them across positions, and then the formula only bounds the
maximum from above (docs/tied.md). With generic biases, a one-layer
network's regions are the independent subsets of its neurons' normal vectors
(Zaslavsky); for shared filters the normals are the shifted copies of the d1
filters, and the maximum over parameters is the number of independent
subsets for generic filters.

Each *draw* picks integer filters uniformly from [1, p), p = 2^31 - 1, and
counts the subsets independent over GF(p). Such a subset is independent over
ℚ, so every draw's count is a **proven lower bound** on the real maximum;
Theorem 1 is the proven upper bound. A draw falls short of the maximum only
if some basis minor vanishes at the drawn point (Schwartz–Zippel bound in
``failure_probability``); the largest count over the draws is kept.

Two independent methods count a draw:

* ``dp``: the subspace frontier DP (:mod:`ilpregions.backends.subspace`),
  polynomial in the number of states, the default;
* ``enumerate``: a search over every independent set (refused beyond
  ``max_sets`` of them).

Both see the same filters for the same seed, so their counts agree draw by
draw. Positions whose fields share no element form separate blocks whose
counts multiply.

Examples
--------
>>> from ilpregions.core.spec import Network, ConvLayer
>>> r = tied_max(Network((3, 3, 1), (ConvLayer(filters=2, kernel=2),)))
>>> r.regions, r.formula, r.gap, r.method
(255, 256, 1, 'dp')
>>> r.lower_bound, r.upper_bound, r.details["agreeing_draws"]
(255, 256, 3)
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ilpregions.core.bigint import big_int_repr
from ilpregions.services.tied._plans import ScanPlans, subspace
from ilpregions.services.tied._runner import Runner
from ilpregions.core.errors import InputError, ParameterError, TooLargeError
from ilpregions.core.geometry import layer_instance
from ilpregions.core.set_system import components
from ilpregions.core.spec import ConvLayer, Network
from ilpregions.theory.gfp import (PRIME, PRIME2, CentralDependency, count_independent_mod_p,  # noqa: F401
                                   to_residues)

METHODS = ("auto", "dp", "enumerate")
#: The enumeration visits every independent set; refuse beyond this many (the formula bounds them).
MAX_SETS = 5_000_000
#: Draws beyond this are refused by arithmetic before any counting (each draw is a full count).
MAX_REPEATS = 10_000
#: The dp's memory cap when none is given (the same default as ``count``'s dp).
DEFAULT_MEMORY_CAP = 8 * 2 ** 30
#: Largest r with r! < p: every k×k minor's coefficients are then non-zero mod p when non-zero over ℤ.
EXACT_MINOR_RANK = 12


@big_int_repr  # repr at any size (docs/safety.md)
@dataclass(frozen=True)
class TiedResult:
    """The shared-filter maximum of one layer, with what each number proves.

    ``regions`` is the best proven lower bound (the largest draw; equal to
    the maximum with probability ≥ 1 - ``failure_probability`` when
    ``complete``); ``formula`` is Theorem 1, a proven upper bound (None if
    it did not finish in time); ``gap = formula - regions``.
    """

    regions: int
    formula: int | None
    gap: int | None
    seconds: float
    details: dict[str, Any] = field(default_factory=dict, compare=False)
    complete: bool = True
    method: str = "dp"

    @property
    def lower_bound(self) -> int:
        return self.regions

    @property
    def upper_bound(self) -> int | None:
        return self.formula

    def to_json(self) -> dict[str, Any]:
        def text(v):
            return None if v is None else str(v)
        out = {"regions": text(self.regions), "formula": text(self.formula), "gap": text(self.gap),
               "lower_bound": text(self.regions), "upper_bound": text(self.formula),
               "complete": self.complete, "method": self.method, "seconds": round(self.seconds, 6)}
        out.update({k: (text(v) if k == "draw_counts" else v) for k, v in self.details.items()
                    if k != "draw_counts"})
        if "draw_counts" in self.details:
            out["draw_counts"] = [str(c) for c in self.details["draw_counts"]]
        return out


def shifted_filter_vectors(network: Network, filters: np.ndarray) -> np.ndarray:
    """The normals of a one-layer conv net with the given filters, as integer rows.

    Parameters
    ----------
    network : Network
        One conv layer.
    filters : ndarray
        Integer filters of shape (d1, *kernel, d0).

    Returns
    -------
    ndarray of int64
        One row per (position, filter), row-major; columns are the flattened
        input (channels last).

    Raises
    ------
    InputError
        The layer is not a conv layer.

    Examples
    --------
    >>> from ilpregions.core.spec import Network, ConvLayer
    >>> shifted_filter_vectors(Network((3, 1), (ConvLayer(1, 2),)), np.array([[[2], [3]]])).tolist()
    [[2, 3, 0], [0, 2, 3]]
    """
    from ilpregions.core.forward import layer_affine

    layer = network.layers[0]
    if not isinstance(layer, ConvLayer):
        raise InputError("layers[0]: tied-max needs a conv layer")
    weights = {"layers.0.weight": filters.astype(np.float64), "layers.0.bias": np.zeros(layer.filters)}
    A, _ = layer_affine(network, weights, 0)
    return np.rint(A).astype(np.int64)


def failure_probability(formula: int | None, neurons: int, union: int, draws: int) -> dict[str, Any]:
    """Schwartz–Zippel bound on P(the best of ``draws`` draws is below the maximum).

    A draw falls short only if the determinant of a maximal minor of some
    generic basis vanishes at the drawn point; that polynomial has degree
    r ≤ min(neurons, U), there are at most min(formula, C(neurons, r)) bases,
    and the filters are uniform on p - 1 values (docs/tied.md).

    Parameters
    ----------
    formula : int or None
        Theorem 1's count (an upper bound on the number of bases), if known.
    neurons : int
        The layer's neurons.
    union : int
        U = |∪ S_p|, the input scalars the layer reads.
    draws : int
        Independent draws made.

    Returns
    -------
    dict
        ``degree_bound`` (r), ``failure_probability_per_draw``,
        ``failure_probability`` (for all draws together) and
        ``minors_exact_mod_p``.

    Examples
    --------
    >>> bound = failure_probability(256, 8, 9, 2)
    >>> bound["degree_bound"], bound["failure_probability_per_draw"] < 1e-8, bound["failure_probability"] < 1e-16
    (8, True, True)
    """
    r = min(neurons, union)
    bases = math.comb(neurons, r)
    if formula is not None:
        bases = min(bases, formula)
    # Compare as integers first: bases can be far beyond float range.
    per_draw = 1.0 if bases * r >= PRIME - 1 else bases * r / (PRIME - 1)
    return {"degree_bound": r, "failure_probability_per_draw": per_draw,
            "failure_probability": per_draw ** draws if draws else 1.0,
            "minors_exact_mod_p": r <= EXACT_MINOR_RANK}


def tied_max(network: Network, repeats: int = 3, seed: int | None = 0, time_limit: float | None = None,
             backend: str = "auto", max_sets: int = MAX_SETS, method: str = "auto",
             memory_cap: int | None = None, progress: bool = False) -> TiedResult:
    """Maximal number of regions of a one-layer CNN with shared filters.

    Parameters
    ----------
    network : Network
        One conv layer. A local (``shared=False``) or dense layer has no ties:
        ``auto`` returns its Theorem-1 count; ``dp``/``enumerate`` count random
        untied weights instead (a check of the methods).
    repeats : int
        Independent random draws of the filters; the maximum is kept.
    seed : int, optional
        Seed of the random filters.
    time_limit : float, optional
        Seconds. When it passes, the result has ``complete=False`` and
        ``regions`` is still a proven lower bound (the best finished draw, or
        the exact count of the neurons processed so far); nothing is invented.
    backend : str
        Theorem-1 backend for ``formula``.
    max_sets : int
        ``enumerate`` refuses when the formula allows more sets than this.
    method : {"auto", "dp", "enumerate"}
        The subspace DP (``auto`` picks it), or the enumeration of the
        independent sets (tiny layers; a check of the DP).
    memory_cap : int, optional
        Bytes (default 8 GiB, as ``count``'s dp); the dp refuses to grow past
        it (before allocating), and refuses early when a projection of the
        states from the rows already scanned clearly exceeds it (an estimate,
        labelled so in the message).
    progress : bool
        Show a progress bar (scan step and state count) on stderr.

    Returns
    -------
    TiedResult
        ``regions`` (the best draw: a proven lower bound, the maximum with
        probability at least 1 - ``failure_probability``), ``formula``
        (Theorem 1, a proven upper bound), ``gap``, ``complete``, ``method``
        and details.

    Raises
    ------
    ParameterError
        For ``method`` (unknown) or ``repeats`` (not a positive integer).
    InputError
        The network is not one layer, or ``memory_cap`` is not positive.
    TooLargeError
        More than ``MAX_REPEATS`` draws, or the DP's states would exceed
        ``memory_cap`` (refused before allocating), or ``enumerate`` would
        list more than ``max_sets`` sets.

    Examples
    --------
    >>> from ilpregions.core.spec import ConvLayer, Network
    >>> r = tied_max(Network((3, 3, 1), (ConvLayer(2, 2),)))
    >>> r.regions, r.formula, r.gap, r.complete
    (255, 256, 1, True)
    """
    from ilpregions.services.count import count_regions

    start = time.perf_counter()
    if method not in METHODS:
        raise ParameterError("method", f"unknown method {method!r}; valid: {', '.join(METHODS)}")
    if not isinstance(repeats, int) or isinstance(repeats, bool) or repeats < 1:
        raise ParameterError("repeats", f"the number of draws must be a positive integer, got {repeats!r}")
    if repeats > MAX_REPEATS:
        raise TooLargeError(f"repeats: {repeats} draws asked, at most {MAX_REPEATS} (each draw is a full count; "
                            f"the failure bound is already the per-draw bound to the power of the draws)")
    if memory_cap is not None and memory_cap <= 0:
        raise InputError(f"memory_cap: must be a positive number of bytes, got {memory_cap!r}")
    memory_cap = DEFAULT_MEMORY_CAP if memory_cap is None else memory_cap
    deadline = None if time_limit is None else start + time_limit
    inst = layer_instance(network)
    layer = network.layers[0]
    shared = isinstance(layer, ConvLayer) and layer.shared
    if method == "auto" and not shared:
        # no ties: Theorem 1 is the exact maximum (a partial sum is a lower bound on it)
        got = count_regions(network, backend=backend, time_limit=time_limit)
        return TiedResult(got.regions, got.regions if got.exact else None, 0 if got.exact else None,
                          time.perf_counter() - start,
                          {"draws": 0, "agreeing_draws": 0, "repeats": 0, "draws_agree": True,
                           "status": "complete" if got.exact else "time_limit",
                           "note": "no weight sharing: Theorem 1 is the exact maximum"}, got.exact, "formula")
    chosen = "dp" if method == "auto" else method
    if chosen == "dp":
        _check_window(inst)
    sup = subspace().supports(network)
    blocks = components(inst)
    # blocks that surely need a scan are planned (and refused if too wide) here, the others on first use
    plans = ScanPlans(inst, sup, blocks) if chosen == "dp" else None
    if chosen == "enumerate":
        _check_enumerable(inst, blocks, max_sets, backend)
    runner = Runner(sup, blocks, plans, inst.pixels * inst.channels, deadline, memory_cap, progress)
    # the draws first: a layer the dp cannot hold is refused in seconds, before the (possibly long)
    # Theorem-1 count; the upper bound then gets the time that is left
    draws, partial = runner.run(np.random.default_rng(seed), repeats, chosen, None, max_sets)
    best = max(draws + ([partial] if partial is not None else []))
    if partial is None and best == 2 ** (inst.filters * sum(len(b) for b in blocks)):
        # every subset of the neurons is independent: Theorem 1 lies between this and 2^neurons
        formula, formula_note = best, "every subset of the neurons is independent, so Theorem 1 is 2^neurons"
    else:
        formula_note = None
        remaining = None if deadline is None else max(1e-3, deadline - time.perf_counter())
        upper = count_regions(network, backend=backend, time_limit=remaining)
        formula = upper.regions if upper.exact else None
    details = _details(inst, blocks, plans, runner, draws, best, partial, chosen, shared, formula)
    if formula_note is not None:
        details["formula_note"] = formula_note
    gap = None if formula is None else formula - best
    return TiedResult(best, formula, gap, time.perf_counter() - start, details, partial is None, chosen)


def _check_window(inst) -> None:
    """Refuse a big layer from a window of its positions, before its supports
    are built (seconds per million positions). The window's frontier in
    pixels times d0 is a lower bound on the dp's widest frame in every axis
    order (docs/tied.md#4-where-the-wall-is)."""
    engine = subspace()
    found = engine.window_frontier(inst)
    if found is not None and found.pixels * inst.channels > engine.MAX_FRAME:
        raise TooLargeError(f"method: the dp scan needs at least {found.pixels * inst.channels} active elements at "
                            f"once (found on {found.positions} positions of the block holding output position "
                            f"{found.first_position}), beyond the {engine.MAX_FRAME} a state key holds; "
                            f"`count_regions()` gives the formula, an upper bound")


def _details(inst, blocks, plans, runner, draws, best, partial, chosen, shared, formula) -> dict[str, Any]:
    """The JSON-able account of a run: draws, agreement, the failure bound, the DP's size."""
    neurons = sum(inst.filters for b in blocks for _ in b)
    details = {"draws": len(draws), "agreeing_draws": sum(1 for d in draws if d == best),
               "repeats": len(draws), "draws_agree": len(set(draws)) <= 1, "draw_counts": draws,
               "prime": PRIME, "blocks": len(blocks), "distinct_blocks": runner.distinct if chosen == "dp" else None,
               "peak_states": runner.peak_states if chosen == "dp" else None,
               "peak_memory_bytes": runner.peak_bytes if chosen == "dp" else None,
               "max_active": plans.max_active() if plans else None,
               "scan_axes": plans.scan_axes() if plans else None,
               "status": "complete" if partial is None else "time_limit",
               "untied_draws": not shared}
    details.update(failure_probability(formula, neurons, inst.union_size, len(draws)))
    if partial is not None:
        details["partial_note"] = runner.partial_note
    return details


def _check_enumerable(inst, blocks, max_sets: int, backend: str) -> None:
    """Refuse, before any counting, what the enumeration cannot visit."""
    from ilpregions.services.count import count_regions

    for block in blocks:
        # A block of rank r has at least 2^r independent sets.
        rank = min(len(block) * inst.filters, inst.coverage(block))
        if rank > 22:
            raise TooLargeError(f"method: enumeration visits every independent set, and one block of "
                                f"overlapping fields has rank {rank} (at least 2^{rank} sets); use the dp method")
    if len(blocks) == 1:
        formula = count_regions(inst, backend=backend).regions
        if formula > max_sets:
            raise TooLargeError(f"method: enumeration visits every independent set, and the formula allows "
                                f"{formula}; the limit is {max_sets} (use the dp method)")


__all__ = ["TiedResult", "tied_max", "count_independent_mod_p", "shifted_filter_vectors", "to_residues",
           "CentralDependency", "PRIME", "PRIME2", "METHODS", "failure_probability"]
