r"""Bounds on Theorem 1's count of one layer that use locality, at any size (docs/math.md#locality-bounds).

* ``ilpregions.local.strips`` (lower): the layer with every field shrunk to
  the pixels its strip owns (:func:`ilpregions.theory.locality.shrink_to_strips`),
  counted exactly by the ``dp`` backend. Shrinking fields shrinks K_N, so
  this is a lower bound on R_N: the maximum of the *locally connected* layer.
  It is proven for the network as specified only when the layer is local;
  for shared overlapping filters it bounds Theorem 1's value, not the CNN.
* ``ilpregions.strip_cap.upper`` (upper): Σ_{k≤U} [y^k] Π_strips F_strip(y),
  the strips' generating polynomials (from the ``dp`` backend, one weight
  column each) multiplied and cut at degree U. It is at most both the strip
  partition Π F_strip(1) and Σ_{i≤U} C(N_1, i), and bounds the CNN too.

Examples
--------
>>> from ilpregions.core.spec import Network, ConvLayer
>>> from ilpregions.core.geometry import layer_instance
>>> from ilpregions.services.bounds._budget import Budget
>>> net = Network((6, 6, 1), (ConvLayer(2, 2, shared=False),))
>>> inst = layer_instance(net)
>>> low = shrunk_lower(net, inst, Budget(10.0))
>>> up = strip_cap_upper(inst, Budget(10.0))
>>> from ilpregions.services.count import count_regions
>>> low.value <= count_regions(inst, backend="dp").regions <= up.value
True
>>> low.value < up.value < 2 ** 50      # 2^50: the per-position box bound here
True
"""

from __future__ import annotations

import math
import time

from ilpregions.core.errors import ILPRegionsError
from ilpregions.core.geometry import Theorem1Instance
from ilpregions.core.set_system import components
from ilpregions.core.spec import ConvLayer, Network
from ilpregions.services.bounds._budget import SAFETY, Budget
from ilpregions.services.bounds._common import LOCAL, NETWORK, SHRUNK_STRIPS, STRIP_CAP, na, named
from ilpregions.theory import locality as L
from ilpregions.theory.tied_bounds import union_size

#: Bytes the DP runs of these bounds may hold (other helpers share the machine).
MEMORY_CAP = 2 * 2 ** 30
#: A strip height is tried only when the previous one's seconds times this fit in the time left
#: (measured on cifar_conv: 0.4 s for strips of three lines, 15.6 s for four).
GROWTH = 40.0
#: Seconds the searches take without an overall deadline.
DEFAULT_SECONDS = 4.0


def _count(inst: Theorem1Instance, seconds: float) -> int | None:
    """The ``dp`` count of ``inst`` if it finishes within ``seconds`` (else None: a partial sum is not kept)."""
    from ilpregions.services.count import count_regions

    if seconds <= 0:
        return None
    try:
        result = count_regions(inst, backend="dp", time_limit=seconds, memory_cap=MEMORY_CAP)
    except (ILPRegionsError, MemoryError):
        return None
    return result.regions if result.exact else None


def shrunk_lower(network: Network, inst: Theorem1Instance, budget: Budget, seconds: float | None = None):
    """``ilpregions.local.strips``: the best shrunk-strip count within the time given.

    Tries every output axis with at least two lines and strip heights 1, 2, …
    (each height only while the last one's time, times ``GROWTH``, fits);
    every finished count is a proven lower bound on R_N and the largest is
    kept. ``seconds`` defaults to the budget's step (or ``DEFAULT_SECONDS``).
    """
    layer = network.layers[0]
    proven = NETWORK if isinstance(layer, ConvLayer) and not layer.shared else LOCAL
    if not isinstance(layer, ConvLayer):
        return na(SHRUNK_STRIPS, "lower", "needs a conv or local layer", proven)
    allowed = budget.seconds(DEFAULT_SECONDS) if seconds is None else seconds
    deadline = time.perf_counter() + max(allowed or 0.0, 0.0)
    best = None
    seen = set()
    for axis, lines in enumerate(inst.output_spatial):
        shape = _axis_shape(inst, layer, axis)
        if shape in seen:
            continue   # swapping two axes of equal geometry maps these strips onto earlier ones: same count
        seen.add(shape)
        last = 0.0
        for height in range(1, max(lines, 2)):
            left = deadline - time.perf_counter()
            if left <= 0 or last * GROWTH * SAFETY > left:
                break
            started = time.perf_counter()
            value = _count(L.shrink_to_strips(inst, layer, axis, height), left)
            last = time.perf_counter() - started
            if value is None:
                break
            if best is None or value > best[0]:
                best = (value, axis, height)
    if best is None:
        if budget.deadline is not None and time.perf_counter() >= deadline:
            budget.mark(SHRUNK_STRIPS)
        return na(SHRUNK_STRIPS, "lower", "no shrunk strip layer was counted in time", proven)
    value, axis, height = best
    scope = "" if proven == NETWORK else "; a bound on Theorem 1's (locally connected) count, not on shared filters"
    return named(SHRUNK_STRIPS, "lower", value, f"fields shrunk to strips of {height} output line(s) along axis "
                                                f"{axis}, each pixel owned by one strip; counted by the dp backend"
                                                f"{scope}", proven_for=proven)


def _axis_shape(inst: Theorem1Instance, layer: ConvLayer, axis: int) -> tuple:
    """What the layer looks like along one axis (input and output size, kernel, stride, padding, dilation)."""
    return (inst.input_spatial[axis], inst.output_spatial[axis], layer.kernel[axis], layer.stride[axis],
            layer.padding[axis], layer.dilation[axis])


def _strip(inst: Theorem1Instance, start: int, stop: int) -> Theorem1Instance:
    lines = (stop - start) // (inst.positions // inst.output_spatial[0])
    return Theorem1Instance(inst.input_spatial, inst.channels, inst.filters, (lines,) + inst.output_spatial[1:],
                            inst.fields[start:stop], "local")


def _strip_key(inst: Theorem1Instance, start: int, stop: int) -> tuple:
    """Strips equal up to a shift of pixel ids have equal polynomials."""
    fields = inst.fields[start:stop]
    base = min((f[0] for f in fields if f), default=0)
    return tuple(tuple(x - base for x in f) for f in fields)


def _shift(inst: Theorem1Instance, comp: list[int]) -> int:
    """Bits per coefficient: more than log2 of the block's box bound Π_p Σ_{t≤cap_p} C(d1, t) ≥ F(1)."""
    from ilpregions.core.combinatorics import binomial_prefix_sums

    caps = inst.caps
    prefix = binomial_prefix_sums(inst.filters, max((caps[p] for p in comp), default=0))
    bits = sum(prefix[caps[p]].bit_length() for p in comp)
    return bits + 1


def strip_polynomials(strip: Theorem1Instance, seconds: float) -> list[list[int]] | None:
    """The generating polynomial Σ_{t∈K} Π_p C(d1, t_p)·y^{Σt} of every block of ``strip`` (None if cut short)."""
    from ilpregions import backends

    dp = backends.load("dp", backends.EVALUATE)
    caps = list(strip.caps)

    def groups(comp):
        shift = _shift(strip, comp)
        degree = min(strip.coverage(comp), sum(caps[p] for p in comp))
        return [("kron", (strip.filters, shift), 1 << (shift * (degree + 1)))]

    try:
        per_block, complete, _ = dp.evaluate(strip, groups, caps, time_limit=max(seconds, 0.01),
                                             memory_cap=MEMORY_CAP)
    except (ILPRegionsError, MemoryError):
        return None
    if not complete:
        return None
    polys = []
    for comp, (value,) in zip(components(strip), per_block):
        degree = min(strip.coverage(comp), sum(caps[p] for p in comp))
        polys.append(L.kronecker_unpack(value, _shift(strip, comp), degree + 1))
    return polys


#: A strip's DP carries one Python integer of about shift·(U_strip + 1) bits per state; strips whose
#: weights would pass this many bits are not tried (cifar_conv: 0.16M bits for one output line, 0.42M
#: for two; the ImageNet stem's one line would need 9.7M, and minutes).
MAX_WEIGHT_BITS = 1_000_000


def weight_bits(strip: Theorem1Instance) -> int:
    """Bits of one DP weight of :func:`strip_polynomials` on ``strip`` (all positions as one block: an upper bound)."""
    every = list(range(strip.positions))
    return _shift(strip, every) * (min(union_size(strip), sum(strip.caps)) + 1)


#: The capped product is started only when its packed operands have at most this many digits with
#: python-flint (0.4 s measured for cifar_conv's 15 million) or ``PLAIN_DIGITS`` without it.
FLINT_DIGITS = 60_000_000
PLAIN_DIGITS = 2_000_000


def _product_fits(polys: dict, union: int) -> bool:
    from ilpregions.services.bounds._budget import has_flint

    logs = [(len(c) - 1, math.log10(max(sum(c), 1)), m) for c, m in polys.items()]
    digits = L.capped_product_digits(logs, union)
    return digits <= (FLINT_DIGITS if has_flint() else PLAIN_DIGITS)


def _strips_at(inst: Theorem1Instance, height: int, deadline: float) -> tuple[dict | None, str]:
    """Every strip polynomial of one height, as {coefficients: how many strips share it}, or (None, why)."""
    polys: dict[tuple, int] = {}
    memo: dict[tuple, list] = {}
    for start, stop in L.strip_slices(inst, height):
        key = _strip_key(inst, start, stop)
        if key not in memo:
            strip = _strip(inst, start, stop)
            if weight_bits(strip) > MAX_WEIGHT_BITS:
                return None, f"strips of {height} output line(s): their DP weights would pass {MAX_WEIGHT_BITS} bits"
            found = strip_polynomials(strip, deadline - time.perf_counter())
            if found is None:
                return None, f"strips of {height} output line(s) did not finish in time"
            memo[key] = found
        for coefficients in memo[key]:
            polys[tuple(coefficients)] = polys.get(tuple(coefficients), 0) + 1
    return polys, ""


def strip_cap_upper(inst: Theorem1Instance, budget: Budget, seconds: float | None = None):
    """``ilpregions.strip_cap.upper``: min over strip heights of Σ_{k≤U} [y^k] Π_strips F_strip(y).

    Strips are whole output lines along the first axis; heights 1, 2, … are
    tried while the last one's time, times ``GROWTH``, fits (each finished
    height is a proven bound; the smallest is kept).
    """
    if len(inst.output_spatial) < 2 or math.prod(inst.output_spatial) != inst.positions:
        return na(STRIP_CAP, "upper", "needs a grid of at least two spatial axes")
    union = union_size(inst)
    allowed = budget.seconds(DEFAULT_SECONDS) if seconds is None else seconds
    deadline = time.perf_counter() + max(allowed or 0.0, 0.0)
    best, why, last = None, "no strip height finished in time", 0.0
    for height in range(1, max(inst.output_spatial[0], 2)):
        left = deadline - time.perf_counter()
        if left <= 0 or last * GROWTH * SAFETY > left:
            break
        started = time.perf_counter()
        polys, why_not = _strips_at(inst, height, deadline)
        last = time.perf_counter() - started
        if polys is None:
            why = why_not
            break
        if not _product_fits(polys, union):
            why = f"strips of {height} output line(s): the capped product is too large to build here"
            break
        value = L.capped_product(list(polys.items()), union)
        if best is None or value < best[0]:
            best = (value, height)
    if best is None:
        if budget.deadline is not None and time.perf_counter() >= deadline:
            budget.mark(STRIP_CAP)
        return na(STRIP_CAP, "upper", why)
    return named(STRIP_CAP, "upper", best[0], f"strips of {best[1]} output line(s), each strip's generating "
                                              f"polynomial from the dp backend, product cut at degree U = {union}")


#: Share of the time left that the shrunk-strip search may take under an overall deadline.
SHRUNK_SHARE = 0.35


def with_shrunk_lower(real, network: Network, inst: Theorem1Instance, budget: Budget, search: bool):
    """``real`` (a :class:`~ilpregions.services.bounds.one_layer.RealLower`) with the shrunk-strip row added.

    For a local layer the row is proven for the network and may become the
    best lower bound; for shared overlapping filters it bounds Theorem 1's
    value only and is listed as such. Skipped (None row) when there is no
    conv/local layer, the layer is exact anyway, or ``search`` is off.
    """
    from dataclasses import replace

    layer = network.layers[0]
    if not search or not isinstance(layer, ConvLayer) or real is None or len(inst.output_spatial) == 0:
        return real
    if real.real_max is not None and not layer.shared:
        return real      # Theorem 1 was counted exactly: it is the maximum
    cost = 1e-4 * inst.positions     # building the shrunk layer: numpy passes over the fields
    if not budget.allows(SHRUNK_STRIPS, cost):
        return replace(real, bounds=real.bounds + (na(SHRUNK_STRIPS, "lower", budget.why(cost)),))
    row = shrunk_lower(network, inst, budget, budget.seconds(DEFAULT_SECONDS, SHRUNK_SHARE))
    value, name = real.value, real.name
    if row.applicable and row.proven_for == NETWORK and (value is None or row.value > value):
        value, name = row.value, row.name
    return replace(real, bounds=real.bounds + (row,), value=value, name=name)


__all__ = ["shrunk_lower", "strip_cap_upper", "strip_polynomials", "with_shrunk_lower", "MEMORY_CAP"]
