"""One-layer Theorem-1 counts inside ``bounds``: memoised, size-guarded, time-limited.

Theorem 1 (Xiong et al. 2020) counts the *locally connected* layer; with
shared filters it is an upper bound on the CNN's maximum (tied weights are a
special case of untied ones), exact where fields do not overlap.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Callable, Optional

from ilpregions.core.errors import ILPRegionsError, TooLargeError
from ilpregions.core.geometry import Theorem1Instance, conv_instance, dense_instance
from ilpregions.core.set_system import components
from ilpregions.core.spec import ConvLayer, Network
from ilpregions.services.bounds._common import THEOREM1, short_text
from ilpregions.theory import fc_bounds

#: The exact engine is not even started when one overlapping block of fields
#: has more positions than this (e.g. the ImageNet stem's 12,544): no exact
#: method finishes there, and the caller wants its answer in seconds.
EXACT_MAX_BLOCK_POSITIONS = 400
#: ... or when the instance has more positions than this in all.
EXACT_MAX_POSITIONS = 5_000

#: What an exact counter returns: ``(value, None)`` or ``(None, reason)``.
ExactAnswer = tuple[Optional[int], Optional[str]]
ExactCounter = Callable[[Theorem1Instance, Optional[float]], Any]


def first_layer_instance(network: Network, index: int = 0) -> Theorem1Instance:
    """The Theorem-1 set system of layer ``index`` of a network (a conv/local or dense layer).

    Unlike :func:`ilpregions.layer_instance`, the network may have any depth;
    the layer's input shape comes from the layers before it.

    Parameters
    ----------
    network : Network
        The architecture.
    index : int
        The layer (0 = the first); it must be a conv, local or dense layer.

    Returns
    -------
    Theorem1Instance
        The layer's receptive fields, channels and filters.

    Examples
    --------
    >>> from ilpregions.core.spec import ConvLayer, DenseLayer, Network
    >>> net = Network((4, 1), (ConvLayer(2, 2), DenseLayer(3)))
    >>> first_layer_instance(net).positions, first_layer_instance(net, 1).channels
    (3, 2)
    """
    layer = network.layers[index]
    shape = network.input_shapes()[index]
    if isinstance(layer, ConvLayer):
        return conv_instance(shape, layer)
    return dense_instance(shape, layer)


@lru_cache(maxsize=8)
def largest_block(inst: Theorem1Instance) -> int:
    """Positions in the largest overlapping block of fields (0 when all are empty).

    Cached: the ImageNet stem's 12,544 fields take a second to analyse.

    Parameters
    ----------
    inst : Theorem1Instance
        A layer's set system.

    Returns
    -------
    int
        The size of the largest connected component of positions whose
        fields share pixels.

    Examples
    --------
    >>> from ilpregions.core.geometry import layer_instance
    >>> from ilpregions.core.spec import ConvLayer, Network
    >>> largest_block(layer_instance(Network((6, 1), (ConvLayer(2, 2),)))), largest_block(
    ...     layer_instance(Network((6, 1), (ConvLayer(2, 2, stride=2),))))
    (5, 1)
    """
    return max((len(c) for c in components(inst)), default=0)


def fields_meet(inst: Theorem1Instance) -> bool:
    """Whether two fields share a pixel (the largest block has > 1 position), from the incidence
    arrays in one pass: a million positions in a fraction of a second, without the components.

    >>> from ilpregions.core.spec import Network, ConvLayer
    >>> from ilpregions.core.geometry import layer_instance
    >>> fields_meet(layer_instance(Network((4, 1), (ConvLayer(2, 2),)))), fields_meet(
    ...     layer_instance(Network((4, 1), (ConvLayer(2, 2, stride=2),))))
    (True, False)
    """
    import numpy as np

    from ilpregions.core.flow_network import incidence

    pixel = incidence(inst).pixel
    return len(pixel) > 0 and int(np.bincount(pixel).max()) > 1


def overlapping(layer, inst: Theorem1Instance) -> bool:
    """True for shared filters whose fields overlap: Theorem 1 is then only an upper bound."""
    return isinstance(layer, ConvLayer) and layer.shared and fields_meet(inst)


def size_guard(inst: Theorem1Instance) -> str | None:
    """Why the exact engine should not be started on ``inst``, or None.

    Disjoint fields are always counted (a product of closed forms); otherwise
    an instance over ``EXACT_MAX_POSITIONS`` positions, or with a block over
    ``EXACT_MAX_BLOCK_POSITIONS``, is skipped: no exact method finishes there.

    Parameters
    ----------
    inst : Theorem1Instance
        A layer's set system.

    Returns
    -------
    str or None
        The reason to skip, for the bound's record; None to go ahead.

    Examples
    --------
    >>> from ilpregions.core.geometry import layer_instance
    >>> from ilpregions.core.spec import ConvLayer, Network
    >>> size_guard(layer_instance(Network((8, 8, 1), (ConvLayer(2, 2),)))) is None
    True
    >>> size_guard(layer_instance(Network((30, 30, 1), (ConvLayer(2, 2),))))
    'exact count skipped: 841 positions overlap in one block (limit 400); no exact method finishes there'
    """
    if not fields_meet(inst):
        return None  # a product of closed forms in every backend
    if inst.positions > EXACT_MAX_POSITIONS:
        return (f"exact count skipped: {inst.positions} positions with overlapping fields (limit "
                f"{EXACT_MAX_POSITIONS}); no exact method finishes there")
    block = largest_block(inst)
    if block > EXACT_MAX_BLOCK_POSITIONS:
        return (f"exact count skipped: {block} positions overlap in one block "
                f"(limit {EXACT_MAX_BLOCK_POSITIONS}); no exact method finishes there")
    return None


def engine_counter(inst: Theorem1Instance, time_limit: float | None = None):
    """The default exact counter: :func:`ilpregions.services.count.count_regions` with backend "auto".

    Parameters
    ----------
    inst : Theorem1Instance
        A layer's set system.
    time_limit : float, optional
        Seconds before the count stops with a partial (lower-bound) sum.

    Returns
    -------
    CountResult
        The Theorem-1 count; ``exact`` is False when the time limit stopped it.

    Raises
    ------
    TooLargeError
        The engine refuses the instance up front (memory estimate), or a step
        would hold more than :data:`EXACT_MEMORY_CAP`.

    Examples
    --------
    >>> from ilpregions.core.geometry import layer_instance
    >>> from ilpregions.core.spec import ConvLayer, Network
    >>> engine_counter(layer_instance(Network((4, 1), (ConvLayer(2, 2),)))).regions
    55
    """
    from ilpregions.services.count import count_regions

    # A bonus inside the bounds, never worth most of the machine: the engine refuses (by its own
    # arithmetic, before allocating) a step over EXACT_MEMORY_CAP, and the bound is skipped.
    return count_regions(inst, backend="auto", time_limit=time_limit, memory_cap=EXACT_MEMORY_CAP)


#: Bytes the exact engine may hold for one count inside the bounds (the count command's default is 8 GiB).
EXACT_MEMORY_CAP = 2 ** 30


def bruteforce_counter(inst: Theorem1Instance, time_limit: float | None = None):
    """An exact counter for tiny instances: the brute-force backend (used in examples and tests).

    Parameters
    ----------
    inst : Theorem1Instance
        A layer's set system (a handful of positions).
    time_limit : float, optional
        Seconds before the enumeration stops.

    Returns
    -------
    CountResult
        The Theorem-1 count by enumerating the box of t-vectors.

    Raises
    ------
    TooLargeError
        The box of t-vectors is too large to enumerate.

    Examples
    --------
    >>> from ilpregions.core.geometry import layer_instance
    >>> from ilpregions.core.spec import ConvLayer, Network
    >>> bruteforce_counter(layer_instance(Network((4, 1), (ConvLayer(2, 2),)))).regions
    55
    """
    from ilpregions.services.count import count_regions

    return count_regions(inst, backend="bruteforce", time_limit=time_limit)


class Exact:
    """Memoised one-layer Theorem-1 counts with size guard and time limit."""

    def __init__(self, counter: ExactCounter | None, time_limit: float | None, budget=None):
        self.counter = counter or engine_counter
        self.time_limit = time_limit
        self.budget = budget     # a Budget with an overall deadline, or None
        self.cache: dict[tuple, ExactAnswer] = {}
        self.keep: list = []

    def __call__(self, inst: Theorem1Instance) -> ExactAnswer:
        # hashing a million fields takes a third of a second: big instances are keyed by identity
        fields = inst.fields if inst.positions <= 20_000 else id(inst)
        key = (fields, inst.channels, inst.filters)
        if not isinstance(fields, tuple):
            self.keep.append(inst)   # keeps the id valid while cached
        if key in self.cache:
            return self.cache[key]
        guard = size_guard(inst)
        if guard:
            self.cache[key] = (None, guard)
            return self.cache[key]
        if self.budget is not None and self.budget.expired():
            self.budget.mark(THEOREM1)
            return None, "not run: time limit"
        answer = self._count(inst)
        if answer[0] is not None or self.budget is None or not self.budget.expired():
            self.cache[key] = answer
        elif "time limit" in (answer[1] or ""):
            self.budget.mark(THEOREM1)   # stopped by the overall deadline
        return answer

    def _count(self, inst: Theorem1Instance) -> ExactAnswer:
        guard = size_guard(inst)
        if guard:
            return None, guard
        try:
            seconds = self.time_limit if self.budget is None else self.budget.seconds(share=0.5)
            result = self.counter(inst, seconds)
        except TooLargeError as exc:
            return None, f"exact count refused: {exc}"
        except ILPRegionsError as exc:
            return None, f"exact count failed: {exc}"
        except MemoryError:
            return None, "exact count ran out of memory"
        if isinstance(result, int):
            return result, None
        if not result.exact:
            return None, (f"exact count stopped by the time limit after {result.seconds:.1f} s "
                          f"(partial sum {short_text(result.regions)})")
        return result.regions, None


def box_upper(inst: Theorem1Instance) -> int:
    """The box bound Π_p Σ_{i≤min(d1,|S_p|)} C(d1, i) ≥ R_N: K_N lies in the box t_p ≤ |S_p|.

    Parameters
    ----------
    inst : Theorem1Instance
        A layer's set system.

    Returns
    -------
    int
        The bound, exactly.

    Examples
    --------
    >>> from ilpregions.core.spec import Network, ConvLayer
    >>> from ilpregions.core.geometry import layer_instance
    >>> box_upper(layer_instance(Network((4, 1), (ConvLayer(2, 2),))))   # 4³ ≥ 55
    64
    """
    from ilpregions.theory.tied_bounds import box_product

    from ilpregions.theory.tied_bounds import field_sizes

    return box_product(inst.filters, field_sizes(inst))


def first_layer_upper(inst: Theorem1Instance, neurons: int, exact_value: int | None,
                      lp_result=None, budget=None, binomial: bool = True,
                      box: bool = True) -> tuple[int | None, str]:
    """The best proven upper bound on the first layer's maximum, and where it comes from.

    With a ``budget`` (an overall deadline), a candidate whose estimated cost
    does not fit in the time left is not built; ``(None, why)`` when none fits.
    ``binomial=False`` leaves out Σ_{i≤U} C(N_1, i) (slow on big layers: asked for later),
    ``box=False`` the box bound.
    """
    from ilpregions.services.bounds._budget import bigint_seconds, binomial_sum_seconds
    from ilpregions.theory.tied_bounds import box_log10, field_sizes, union_size

    if exact_value is not None:
        return exact_value, "Theorem 1"
    union = union_size(inst)
    candidates = []
    if box and (budget is None or budget.allows("first layer: box bound",
                                                bigint_seconds(box_log10(inst.filters, field_sizes(inst))), grace=True)):
        candidates.append((box_upper(inst), "the box bound Π_p Σ_{i≤|S_p|} C(d1, i)"))
    if binomial and (budget is None or budget.allows("first layer: Σ_{i≤U} C(N_1, i)",
                                                     binomial_sum_seconds(neurons, union, budget.known))):
        candidates.append((fc_bounds.binomial_sum(neurons, union),
                           "Σ_{i≤U} C(N_1, i) (N_1 hyperplanes in a U-dimensional input)"))
        if budget is not None:
            budget.known.add((neurons, union))
    if lp_result is not None:
        candidates += [(b.value, b.name) for b in lp_result.bounds
                       if b.applicable and b.kind in ("upper", "exact")]
    if not candidates:
        return None, "not run: time limit"
    return min(candidates, key=lambda c: c[0])


__all__ = ["Exact", "ExactAnswer", "ExactCounter", "first_layer_instance", "largest_block", "overlapping",
           "size_guard", "engine_counter", "bruteforce_counter", "box_upper", "first_layer_upper",
           "EXACT_MAX_BLOCK_POSITIONS", "EXACT_MAX_POSITIONS"]
