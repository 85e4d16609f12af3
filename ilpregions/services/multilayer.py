"""Bounds on the number of linear regions of a stack of conv/local/dense layers.

Every bound is an exact integer, returned as a :class:`~ilpregions.core.results.Bound`
under a stable name. A bound whose assumptions fail is *kept* with
``applicable=False`` and the reason, and its value is never computed.

Notation (MATH.md §6): the input has n0 = n0^(1)·…·d0 scalars; ReLU layer l
has N_l neurons (output positions × channels); ``positions_l`` is the number
of output positions of layer l (n_l^(1)·n_l^(2) in the paper).

Names
-----
``xiong2020.theorem1``
    One-layer nets only: the Theorem-1 count from the exact engine. Exact for
    local and dense layers and for conv layers whose fields do not overlap; for
    shared filters with overlapping fields it is an upper bound (MATH.md §4).
``xiong2020.theorem2.lower``
    R_{N'} · Π_{l<L} ⌊d_l/d0⌋^{positions_l·d0}; needs conv/local layers with
    d_l ≥ d0, and before layer L a kernel tap that reads an input pixel at every
    output position (always true without padding, the paper's setting).
    N' is layer L on an input with layer L−1's grid and **d0** channels.
``xiong2020.theorem2.upper``
    R_{N''} · Π_{l≥2} Σ_{i≤n0} C(N_l, i), N'' the first layer alone.
``ilpregions.cnn.upper``
    Ours, see :func:`cnn_upper`.
``pascanu2013.exact``, ``montufar2014.lower``, ``montufar2017.upper``, ``serra2018.upper``
    The fully-connected formulas of :mod:`ilpregions.theory.fc_bounds`, with N_l as the
    widths; the two upper bounds hold for any ReLU net, the other two need
    dense layers.

Examples
--------
>>> from ilpregions.core.spec import Network, ConvLayer
>>> net = Network((1, 4, 1), (ConvLayer(2, (1, 2)), ConvLayer(3, (1, 2))))
>>> params(net), neurons(net)
(21, 12)
>>> report = compute_bounds(net, exact_counter=bruteforce_counter)
>>> [(b.name, b.value) for b in report.bounds if b.applicable][:3]
[('xiong2020.theorem2.lower', 320), ('xiong2020.theorem2.upper', 3135), ('ilpregions.cnn.upper', 3135)]
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from itertools import product as iproduct
from typing import Any, Callable, Optional

from ilpregions.core.bigint import big_int_repr
from ilpregions.theory import fc_bounds
from ilpregions.core.combinatorics import decimal_string, product, short_int
from ilpregions.core.errors import ILPRegionsError, TooLargeError
from ilpregions.core.geometry import Theorem1Instance, components, conv_instance, dense_instance
from ilpregions.core.results import Bound
from ilpregions.core.spec import ConvLayer, DenseLayer, MaxPoolLayer, Network

THEOREM1 = "xiong2020.theorem1"
THEOREM2_LOWER = "xiong2020.theorem2.lower"
THEOREM2_UPPER = "xiong2020.theorem2.upper"
CNN_UPPER = "ilpregions.cnn.upper"
PASCANU = "pascanu2013.exact"
MONTUFAR2014 = "montufar2014.lower"
MONTUFAR2017 = "montufar2017.upper"
SERRA2018 = "serra2018.upper"

#: The exact engine is not even started when one overlapping block of fields
#: has more positions than this (e.g. the ImageNet stem's 12,544): no exact
#: method finishes there, and the caller wants its answer in seconds.
EXACT_MAX_BLOCK_POSITIONS = 400
#: ... or when the instance has more positions than this in all.
EXACT_MAX_POSITIONS = 5_000


# ----------------------------------------------------------------------------
# Sizes: parameters and neurons (MATH.md §1)
# ----------------------------------------------------------------------------

def _prod(values) -> int:
    out = 1
    for v in values:
        out *= v
    return out


def layer_params(network: Network) -> tuple[int, ...]:
    """Weights plus biases of every layer.

    conv: d1·(Π f_i·d0 + 1); local: that once per output position (untied);
    dense from n to m units: m·(n + 1); max-pooling: 0.

    >>> from ilpregions.core.spec import Network, ConvLayer, DenseLayer
    >>> layer_params(Network((3, 3, 1), (ConvLayer(2, 2), ConvLayer(2, 2, shared=False), DenseLayer(3))))
    (10, 18, 9)
    """
    out = []
    for layer, shape_in, shape_out in zip(network.layers, network.input_shapes(), network.output_shapes()):
        if isinstance(layer, ConvLayer):
            per_filter = _prod(layer.kernel) * shape_in[-1] + 1
            copies = 1 if layer.shared else _prod(shape_out[:-1])
            out.append(copies * layer.filters * per_filter)
        elif isinstance(layer, DenseLayer):
            out.append(layer.units * (_prod(shape_in) + 1))
        else:
            out.append(0)
    return tuple(out)


def params(network: Network) -> int:
    """Total weights plus biases."""
    return sum(layer_params(network))


def layer_neurons(network: Network) -> tuple[int, ...]:
    """N_l, the ReLU neurons of each conv/local/dense layer (max-pooling skipped).

    >>> from ilpregions.core.spec import Network, ConvLayer
    >>> layer_neurons(Network((1, 4, 1), (ConvLayer(2, (1, 2)), ConvLayer(3, (1, 2)))))
    (6, 6)
    """
    return tuple(_prod(shape) for layer, shape in zip(network.layers, network.output_shapes())
                 if not isinstance(layer, MaxPoolLayer))


def neurons(network: Network) -> int:
    """Total ReLU neurons."""
    return sum(layer_neurons(network))


def input_dim(network: Network) -> int:
    """n0, the number of input scalars."""
    return _prod(network.input_shape)


def layer_positions(network: Network) -> tuple[int, ...]:
    """Output positions of each layer (1 for dense)."""
    return tuple(_prod(shape[:-1]) if len(shape) > 1 else 1 for shape in network.output_shapes())


# ----------------------------------------------------------------------------
# One-layer counts and the weight-sharing caveat
# ----------------------------------------------------------------------------

#: What an exact counter returns: ``(value, None)`` or ``(None, reason)``.
ExactAnswer = tuple[Optional[int], Optional[str]]
ExactCounter = Callable[[Theorem1Instance, Optional[float]], Any]


def first_layer_instance(network: Network, index: int = 0) -> Theorem1Instance:
    layer = network.layers[index]
    shape = network.input_shapes()[index]
    if isinstance(layer, ConvLayer):
        return conv_instance(shape, layer)
    return dense_instance(shape, layer)


@lru_cache(maxsize=8)
def largest_block(inst: Theorem1Instance) -> int:
    """Positions in the largest overlapping block of fields (0 when all are empty).

    Cached: the ImageNet stem's 12,544 fields take a second to analyse.
    """
    return max((len(c) for c in components(inst)), default=0)


def sharing_status(layer, inst: Theorem1Instance) -> str:
    """How Theorem 1 relates to the layer's true maximum (MATH.md §4).

    ``"exact"``: local or dense layer, or fields that never overlap (then the
    arrangement is a product and tying filters changes nothing);
    ``"strict"``: shared 2-D+ filters at stride 1 where commutativity of
    convolution makes Theorem 1 strictly larger than the tied maximum;
    ``"checked"``: shared filters, overlapping fields, no dependency known (all
    1-D cases checked agree, but it is not proven).
    """
    from ilpregions.services.counting import strict_gap_expected

    if not isinstance(layer, ConvLayer) or not layer.shared or largest_block(inst) <= 1:
        return "exact"
    if strict_gap_expected(layer, inst):
        return "strict"
    return "checked"


_CHECKED_NOTE = ("R_{N'} is Theorem 1's count; with shared, overlapping filters it could exceed the "
                 "CNN's maximum, though no dependency is known for this geometry and every 1-D case "
                 "checked agrees (MATH.md §4)")
_STRICT_REASON = ("the last layer has shared filters at stride 1 on 2+ axes: Theorem 1 (the locally "
                  "connected count) is strictly larger than its tied maximum (MATH.md §4), so "
                  "R_{N'} is unknown")


def size_guard(inst: Theorem1Instance) -> str | None:
    """Why the exact engine should not be started on ``inst``, or None."""
    block = largest_block(inst)
    if block <= 1:
        return None  # a product of closed forms in every backend
    if block > EXACT_MAX_BLOCK_POSITIONS or inst.positions > EXACT_MAX_POSITIONS:
        return (f"exact count skipped: {block} positions overlap in one block "
                f"(limit {EXACT_MAX_BLOCK_POSITIONS}); no exact method finishes there")
    return None


def engine_counter(inst: Theorem1Instance, time_limit: float | None = None):
    """The default exact counter: :func:`ilpregions.services.counting.count_regions`, backend "auto"."""
    from ilpregions.services.counting import count_regions

    return count_regions(inst, backend="auto", time_limit=time_limit)


def bruteforce_counter(inst: Theorem1Instance, time_limit: float | None = None):
    """An exact counter for tiny instances (used in examples and tests)."""
    from ilpregions.services.counting import count_regions

    return count_regions(inst, backend="bruteforce", time_limit=time_limit)


class _Exact:
    """Memoised one-layer exact counts with size guard and time limit."""

    def __init__(self, counter: ExactCounter | None, time_limit: float | None):
        self.counter = counter or engine_counter
        self.time_limit = time_limit
        self.cache: dict[tuple, ExactAnswer] = {}

    def __call__(self, inst: Theorem1Instance) -> ExactAnswer:
        key = (inst.fields, inst.channels, inst.filters)
        if key not in self.cache:
            self.cache[key] = self._count(inst)
        return self.cache[key]

    def _count(self, inst: Theorem1Instance) -> ExactAnswer:
        guard = size_guard(inst)
        if guard:
            return None, guard
        try:
            result = self.counter(inst, self.time_limit)
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
                          f"(partial sum {_short(result.regions)})")
        return result.regions, None


def _short(value: int) -> str:
    return short_text(value)


def box_upper(inst: Theorem1Instance) -> int:
    """Π_p Σ_{i≤min(d1,|S_p|)} C(d1, i) ≥ R_N: K_N lies in the box t_p ≤ |S_p|.

    >>> from ilpregions.core.spec import Network, ConvLayer
    >>> from ilpregions.core.geometry import layer_instance
    >>> box_upper(layer_instance(Network((4, 1), (ConvLayer(2, 2),))))   # 4³ ≥ 55
    64
    """
    sums: dict[int, int] = {}
    for size in inst.field_sizes:
        if size not in sums:
            sums[size] = fc_bounds.binomial_sum(inst.filters, size)
    counts: dict[int, int] = {}
    for size in inst.field_sizes:
        counts[size] = counts.get(size, 0) + 1
    return product(pow(sums[s], c) for s, c in counts.items())


# ----------------------------------------------------------------------------
# The bounds
# ----------------------------------------------------------------------------

def _relu_layers(network: Network):
    return [layer for layer in network.layers if not isinstance(layer, MaxPoolLayer)]


def _na(name: str, kind: str, reason: str) -> Bound:
    return Bound(name, kind, None, applicable=False, reason=reason)


def single_tap(shape_in, layer: ConvLayer) -> tuple[int, ...] | None:
    """A kernel offset a with x = p·s − P + a·δ inside the input for every output p, or None.

    The lower bound's construction (as Montúfar's folding) lets each filter
    read one input scalar through one tap: output position p then reads pixel
    x(p), distinct for distinct p. Without padding a = 0 always works (the
    paper's setting); with "same" padding the centre tap does.

    >>> from ilpregions.core.spec import Network, ConvLayer
    >>> net = Network((5, 1), (ConvLayer(2, 3, padding=1), ConvLayer(2, 3, padding=2)))
    >>> single_tap((5, 1), net.layers[0]), single_tap((5, 2), net.layers[1])
    ((1,), None)
    """
    from ilpregions.core.spec import conv_output_size

    taps = []
    for n, k, s, pad, dil in zip(shape_in[:-1], layer.kernel, layer.stride, layer.padding, layer.dilation):
        last = conv_output_size(n, k, s, pad, dil) - 1
        good = [a for a in range(k) if a * dil - pad >= 0 and last * s - pad + a * dil <= n - 1]
        if not good:
            return None
        taps.append(good[0])
    return tuple(taps)


def theorem2_lower(network: Network, exact: Callable[[Theorem1Instance], ExactAnswer],
                   first: Theorem1Instance | None = None) -> Bound:
    """Xiong et al. 2020, Theorem 2 (i): R_N ≥ R_{N'} · Π_{l<L} ⌊d_l/d0⌋^{positions_l·d0}.

    Local (untied) layers are allowed: every CNN weight setting is a local one,
    so a local stack has at least the CNN's regions, and its last layer's
    maximum is exactly Theorem 1 (MATH.md §4).

    The construction behind it (as Montúfar et al.'s): in layers l < L each
    filter reads one input scalar through one kernel tap and ⌊d_l/d0⌋ filters
    per channel fold it like a sawtooth, so every output coordinate of layer l
    maps its region of [0, 1] onto [0, 1] ⌊d_l/d0⌋ times; N' then cuts the
    folded cube [0, 1]^{positions_{L−1}·d0} into R_{N'} pieces, each pulled
    back to Π folds disjoint regions. Where layer l+1 reads *every* output
    position of layer l (stride 1 with "same" padding, or l = L−1) this is
    plainly realised; where layers shrink, we rely on the published
    statement. Padding or dilation only matter through the tap: we require a
    tap that reads an input pixel at every output position (:func:`single_tap`).
    """
    name, kind = THEOREM2_LOWER, "lower"
    layers = network.layers
    if not all(isinstance(layer, ConvLayer) for layer in layers):
        return _na(name, kind, "needs conv/local layers only (this model has "
                               + ", ".join(layer.type for layer in layers) + ")")
    d0 = network.input_shape[-1]
    small = [i for i, layer in enumerate(layers) if layer.filters < d0]
    if small:
        i = small[0]
        return _na(name, kind, f"needs d_l ≥ d0 = {d0} for every layer; layer {i + 1} has "
                               f"{layers[i].filters} filters")
    shapes = network.input_shapes()
    for i, layer in enumerate(layers[:-1]):
        if single_tap(shapes[i], layer) is None:
            return _na(name, kind, f"layer {i + 1}'s padding/dilation leave no kernel tap that reads an "
                                   f"input pixel at every output position (the folding construction needs one)")
    last = layers[-1]
    if len(layers) == 1 and first is not None:
        n_prime = first  # N' is the layer itself
    else:
        n_prime = conv_instance(shapes[-1][:-1] + (d0,), last)
    status = sharing_status(last, n_prime)
    if status == "strict":
        return _na(name, kind, _STRICT_REASON)
    value, why = exact(n_prime)
    if value is None:
        return _na(name, kind, f"R_{{N'}} unavailable: {why}")
    positions = layer_positions(network)
    factors = [pow(layer.filters // d0, positions[i] * d0) for i, layer in enumerate(layers[:-1])]
    note = _CHECKED_NOTE if status == "checked" else None
    return Bound(name, kind, product(factors + [value]), reason=note)


def theorem2_upper(network: Network, exact: Callable[[Theorem1Instance], ExactAnswer],
                   first: Theorem1Instance | None = None) -> Bound:
    """Xiong et al. 2020, Theorem 2 (ii): R_N ≤ R_{N''} · Π_{l≥2} Σ_{i≤n0} C(N_l, i).

    Theorem 1 bounds the first layer from above also with shared filters.
    """
    name, kind = THEOREM2_UPPER, "upper"
    if not all(isinstance(layer, ConvLayer) for layer in network.layers):
        return _na(name, kind, "stated for conv/local layers only (this model has "
                               + ", ".join(layer.type for layer in network.layers) + ")")
    value, why = exact(first if first is not None else first_layer_instance(network))
    if value is None:
        return _na(name, kind, f"R_{{N''}} unavailable: {why}")
    n0 = input_dim(network)
    rest = [fc_bounds.binomial_sum(n, n0) for n in layer_neurons(network)[1:]]
    return Bound(name, kind, product([value] + rest))


def tail_upper(dimension: int, widths: list[int]) -> int:
    """Regions a ReLU stack of ``widths`` cuts a ``dimension``-dim input into, at most.

    min(Montúfar 2017, Serra 2018) for that input dimension (Serra when its DP
    is affordable); 1 for an empty stack.

    >>> tail_upper(3, [2, 5]), tail_upper(3, [])
    (29, 1)
    """
    if not widths:
        return 1
    best = fc_bounds.montufar2017_upper(dimension, widths)
    if fc_bounds.serra2018_work(dimension, widths) <= fc_bounds.SERRA_MAX_WORK:
        best = min(best, fc_bounds.serra2018_upper(dimension, widths))
    return best


#: Composite-field instances with more field entries than this are not built
#: (their overlap analysis alone would dominate the run time).
MAX_COMPOSITE_ENTRIES = 20_000


def composite_instances(network: Network) -> list[Theorem1Instance | None]:
    """Per ReLU layer l ≥ 2, its neurons' receptive fields *in the input*, as a set system.

    Position q of layer l reads positions T_q of layer l−1, so it depends on
    the input pixels ∪_{p∈T_q} S^{(l−1)}_p (all channels); a dense layer
    reads everything the previous layer reads. The instance carries d_l
    filters and kind "local". None where it would be too large to use.

    >>> from ilpregions.core.spec import Network, ConvLayer
    >>> inst = composite_instances(Network((4, 1), (ConvLayer(2, 2), ConvLayer(3, 2))))[0]
    >>> inst.fields, inst.filters
    (((0, 1, 2), (1, 2, 3)), 3)
    """
    from ilpregions.core.geometry import receptive_field

    first = first_layer_instance(network)
    spatial, d0 = network.input_shape[:-1], network.input_shape[-1]
    fields = [frozenset(f) for f in first.fields]
    out: list[Theorem1Instance | None] = []
    shapes = network.input_shapes()
    for index in range(1, len(network.layers)):
        layer = network.layers[index]
        if isinstance(layer, DenseLayer):
            union = frozenset().union(*fields) if fields else frozenset()
            fields, units, grid = [union], layer.units, (1,)
        else:
            shape = shapes[index]
            out_grid = conv_instance(shape, layer).output_spatial
            fields = [frozenset().union(*(fields[p] for p in receptive_field(shape[:-1], layer, q)))
                      for q in iproduct(*(range(n) for n in out_grid))]
            units, grid = layer.filters, out_grid
        if sum(len(f) for f in fields) > MAX_COMPOSITE_ENTRIES:
            out.append(None)
            continue
        out.append(Theorem1Instance(spatial, d0, units, grid, tuple(tuple(sorted(f)) for f in fields), "local"))
    return out


def cnn_upper(network: Network, first_layer: int, union_size: int,
              composite_counts: list[int | None] | None = None) -> int:
    """Our upper bound: the smaller of two products over the first layer's regions.

    (a) R_1 · tail_upper(min(U, N_1), [N_2, …, N_L]);
    (b) R_1 · Π_{l≥2} min(Σ_{i≤m_l} C(N_l, i), R^{loc}_l), m_l = min(U, N_1, …, N_{l−1}),
        where R^{loc}_l is the Theorem-1 count of a *local* layer with layer l's
        input-space receptive fields (``composite_counts``; None = not known).

    Argument. Let R_1 bound the regions of the first layer alone (Theorem 1:
    exact for local/dense layers, an upper bound for shared filters, because
    tied weights are a special case of untied ones). Every region of the whole
    network lies in one region C of the first layer, on which h_1 is affine,
    x ↦ W_C x + b_C. h_1 reads only the U = |∪_p S_p| input scalars its
    fields cover, and has N_1 outputs, so its image on C is an affine set of
    dimension k ≤ min(U, N_1) ≤ min(n0, N_1).

    (a) Layers 2..L see x only through h_1(x), so within C they act as a ReLU
    net on a k-dimensional input with widths N_2..N_L: its activation regions
    are convex, and pulled back to C (convex) each stays convex, so C splits
    into at most as many pieces as that net has regions on ℝ^k. Montúfar
    (2017) and Serra et al. (2018) bound those for any weights (their
    dimension bound min(k, N_2, …, N_{l−1}) is built in), and both are
    monotone in k.

    (b) Inductively, inside one region C' of layers 1..l−1, layer l's
    pre-activations are affine in x, so C' is cut by N_l hyperplanes. Their
    normals live in a space of dimension ≤ m_l (Zaslavsky: ≤ Σ_{i≤m_l} C(N_l, i)
    pieces), and neuron (q, k)'s normal is supported on q's input-space
    receptive field. Theorem 1 is the maximum region count over *all*
    arrangements with that support pattern (a small generic perturbation never
    merges regions), so also ≤ R^{loc}_l pieces.

    Summing over the regions gives the bound. It is ≤ Theorem 2 (ii), which
    uses n0 for every layer, and ≤ Montúfar 2017 on the whole net, whose first
    factor is ≥ R_1.
    """
    widths = list(layer_neurons(network))
    dimension = min(union_size, widths[0])
    best = first_layer * tail_upper(dimension, widths[1:])
    if len(widths) > 1 and composite_counts is not None:
        factors, dim = [first_layer], dimension
        for width, local in zip(widths[1:], composite_counts):
            factor = fc_bounds.binomial_sum(width, dim)
            factors.append(factor if local is None else min(factor, local))
            dim = min(dim, width)
        best = min(best, product(factors))
    return best


def fc_bounds_for(network: Network) -> list[Bound]:
    """The four fully-connected bounds, each applicable or with its reason."""
    layers = network.layers
    n0 = input_dim(network)
    widths = list(layer_neurons(network))
    all_dense = all(isinstance(layer, DenseLayer) for layer in layers)
    kinds = ", ".join(layer.type for layer in layers)
    out = []
    if len(layers) == 1 and all_dense:
        out.append(Bound(PASCANU, "exact", fc_bounds.pascanu2013_exact(n0, widths[0])))
    else:
        out.append(_na(PASCANU, "exact", f"needs exactly one dense layer (this model: {kinds})"))
    if not all_dense:
        out.append(_na(MONTUFAR2014, "lower", f"needs dense layers only (this model: {kinds})"))
    elif any(w < n0 for w in widths[:-1]):
        l = next(i for i, w in enumerate(widths[:-1]) if w < n0)
        out.append(_na(MONTUFAR2014, "lower", f"needs n_l ≥ n0 = {n0} in layers 1..L−1; layer {l + 1} "
                                               f"has {widths[l]} units"))
    else:
        out.append(Bound(MONTUFAR2014, "lower", fc_bounds.montufar2014_lower(n0, widths)))
    out.append(Bound(MONTUFAR2017, "upper", fc_bounds.montufar2017_upper(n0, widths)))
    work = fc_bounds.serra2018_work(n0, widths)
    if work > fc_bounds.SERRA_MAX_WORK:
        out.append(_na(SERRA2018, "upper", f"its layer DP needs ~{work} big-integer products "
                                            f"(limit {fc_bounds.SERRA_MAX_WORK}); Montúfar 2017 still applies"))
    else:
        out.append(Bound(SERRA2018, "upper", fc_bounds.serra2018_upper(n0, widths)))
    return out


# Kept under these names for callers of this module; one implementation lives
# in :mod:`ilpregions.core.combinatorics`.
decimal_text = decimal_string
short_text = short_int


def bound_json(b: Bound) -> dict[str, Any]:
    """:meth:`Bound.to_json` with the fast decimal conversion."""
    return {"name": b.name, "kind": b.kind, "value": None if b.value is None else decimal_text(b.value),
            "applicable": b.applicable, "reason": b.reason}


# ----------------------------------------------------------------------------
# The report
# ----------------------------------------------------------------------------

@big_int_repr  # repr at any size (docs/safety.md)
@dataclass(frozen=True)
class BoundsReport:
    """Every named bound on a network, the best of each side, and its size.

    ``lower``/``upper`` are the best applicable values (an ``exact`` bound
    counts as both); None when no bound of that side applies.
    ``exponent``/``position_maxima`` are set for one-layer networks only.
    """

    bounds: tuple[Bound, ...]
    lower: int | None
    upper: int | None
    params: int
    neurons: int
    exponent: int | None = None
    position_maxima: tuple[int, ...] | None = None
    notes: tuple[str, ...] = ()
    lower_name: str | None = None
    upper_name: str | None = None

    def bound(self, name: str) -> Bound:
        for b in self.bounds:
            if b.name == name:
                return b
        raise KeyError(name)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "bounds": [bound_json(b) for b in self.bounds],
            "lower": None if self.lower is None else decimal_text(self.lower),
            "upper": None if self.upper is None else decimal_text(self.upper),
            "lower_name": self.lower_name,
            "upper_name": self.upper_name,
            "params": self.params,
            "neurons": self.neurons,
        }
        if self.exponent is not None:
            out["exponent"] = self.exponent
            out["position_maxima"] = list(self.position_maxima or ())
        if self.notes:
            out["notes"] = list(self.notes)
        return out


def best_bounds(bounds) -> tuple[Bound | None, Bound | None]:
    """The applicable bound with the largest lower and the smallest upper value."""
    lows = [b for b in bounds if b.applicable and b.kind in ("lower", "exact")]
    ups = [b for b in bounds if b.applicable and b.kind in ("upper", "exact")]
    # Ties go to the published bounds: ours is named only when it is strictly best.
    low = max(lows, key=lambda b: (b.value, b.name != CNN_UPPER), default=None)
    up = min(ups, key=lambda b: (b.value, b.name == CNN_UPPER), default=None)
    return low, up


def _lp_one_layer(inst: Theorem1Instance):
    """The LP-based one-layer bounds of :mod:`ilpregions.services.lp_bounds`, if installed."""
    import importlib
    import importlib.util

    if importlib.util.find_spec("ilpregions.services.lp_bounds") is None:
        return None
    module = importlib.import_module("ilpregions.services.lp_bounds")
    try:
        return module.one_layer_bounds(inst)
    except (ILPRegionsError, MemoryError):
        return None  # the LP bounds are extras; the named bounds stand without them


def _tied_view(b: Bound, status: str) -> Bound:
    """A bound on Theorem 1's (untied) count, seen as a bound on this layer.

    Upper bounds stay valid with shared filters (tied ≤ untied). Lower and
    "exact" values bound the untied count: with shared filters an exact value
    becomes an upper bound, and a lower bound is kept only where no
    dependency is known (``"checked"``), with that caveat.
    """
    if status == "exact" or not b.applicable or b.kind == "upper":
        return b
    if b.kind == "exact":
        return Bound(b.name, "upper", b.value,
                     reason="exact for Theorem 1's (locally connected) count; an upper bound with shared filters")
    if status == "strict":
        return Bound(b.name, b.kind, None, applicable=False,
                     reason="bounds Theorem 1's (untied) count from below; with shared filters the "
                            "CNN's maximum is strictly smaller here (MATH.md §4)")
    return Bound(b.name, b.kind, b.value,
                 reason="a lower bound on Theorem 1's (untied) count; with shared, overlapping filters the "
                        "CNN's maximum could be smaller, though no dependency is known for this geometry "
                        "and every 1-D case checked agrees (MATH.md §4)")


def compute_bounds(network: Network, exact_counter: ExactCounter | None = None,
                   time_limit: float | None = None, lp: bool = True) -> BoundsReport:
    """Every named bound on ``network`` (module docstring lists them).

    Parameters
    ----------
    network : Network
        A stack of conv/local/dense layers (max-pooling makes every bound inapplicable).
    exact_counter : callable, optional
        ``(instance, time_limit) -> CountResult`` (or an int) for one-layer
        Theorem-1 counts; default :func:`engine_counter`. It is not called on
        instances beyond the size guard (:func:`size_guard`).
    time_limit : float, optional
        Seconds per exact count; a count cut short makes the bounds that need
        it inapplicable, with the reason.
    lp : bool
        Include :mod:`ilpregions.services.lp_bounds` for one-layer nets when that module exists.
    """
    total_params, total_neurons = params(network), neurons(network)
    pools = [i for i, layer in enumerate(network.layers) if isinstance(layer, MaxPoolLayer)]
    names = [(THEOREM2_LOWER, "lower"), (THEOREM2_UPPER, "upper"), (CNN_UPPER, "upper"),
             (PASCANU, "exact"), (MONTUFAR2014, "lower"), (MONTUFAR2017, "upper"), (SERRA2018, "upper")]
    if pools:
        reason = (f"layer {pools[0] + 1} is max-pooling; these bounds are for stacks of ReLU "
                  f"conv/local/dense layers")
        bounds = tuple(_na(n, k, reason) for n, k in names)
        return BoundsReport(bounds, None, None, total_params, total_neurons)

    exact = _Exact(exact_counter, time_limit)
    one_layer = len(network.layers) == 1
    first = first_layer_instance(network)
    first_status = sharing_status(network.layers[0], first)
    bounds: list[Bound] = []
    notes: list[str] = []
    first_value, first_why = exact(first)
    if one_layer:
        if first_value is None:
            bounds.append(_na(THEOREM1, "exact", first_why))
        elif first_status == "exact":
            bounds.append(Bound(THEOREM1, "exact", first_value))
        else:
            bounds.append(Bound(THEOREM1, "upper", first_value,
                                reason="shared filters: Theorem 1 is the locally connected count, an "
                                       "upper bound for the CNN (MATH.md §4)"))
    bounds.append(theorem2_lower(network, exact, first))
    bounds.append(theorem2_upper(network, exact, first))

    # Our bound: with the exact first layer when we have it, else the best
    # upper bound we can get on it (K_N ⊆ box; LP bounds; Pascanu).
    lp_result = None
    if lp and (one_layer or first_value is None):
        lp_result = _lp_one_layer(first)
    if first_value is not None:
        r1, r1_from = first_value, "Theorem 1"
    else:
        n1 = layer_neurons(network)[0]
        candidates = [(box_upper(first), "the box bound Π_p Σ_{i≤|S_p|} C(d1, i)"),
                      (fc_bounds.binomial_sum(n1, first.union_size),
                       "Σ_{i≤U} C(N_1, i) (N_1 hyperplanes in a U-dimensional input)")]
        if lp_result is not None:
            candidates += [(b.value, b.name) for b in lp_result.bounds
                           if b.applicable and b.kind in ("upper", "exact")]
        r1, r1_from = min(candidates, key=lambda c: c[0])
    note = None if first_value is not None else f"first layer bounded by {r1_from} ({first_why})"
    composite = [None if inst is None else exact(inst)[0] for inst in composite_instances(network)]
    bounds.append(Bound(CNN_UPPER, "upper", cnn_upper(network, r1, first.union_size, composite), reason=note))
    bounds.extend(fc_bounds_for(network))

    exponent = position_maxima = None
    if one_layer:
        if lp_result is not None:
            for b in lp_result.bounds:
                bounds.append(_tied_view(b, first_status))
            exponent = lp_result.exponent
            position_maxima = tuple(lp_result.position_maxima)
        else:
            # Facts of the polymatroid, not LP output: max Σt = g(all) = U and
            # max t_p = min(d1, |S_p|) (the singleton rows and the d1 cap).
            exponent, position_maxima = first.union_size, first.caps
            notes.append("ilpregions.services.lp_bounds is not installed: exponent and position maxima are "
                         "the polymatroid values U and min(d1, |S_p|)")
        if first_status != "exact":
            notes.append("shared filters with overlapping fields: Theorem 1 counts the locally "
                         "connected layer, an upper bound for this CNN (MATH.md §4)")
    low, up = best_bounds(bounds)
    return BoundsReport(tuple(bounds), None if low is None else low.value, None if up is None else up.value,
                        total_params, total_neurons, exponent, position_maxima, tuple(notes),
                        None if low is None else low.name, None if up is None else up.name)


__all__ = ["BoundsReport", "compute_bounds", "params", "neurons", "layer_params", "layer_neurons",
           "input_dim", "theorem2_lower", "theorem2_upper", "cnn_upper", "tail_upper", "box_upper",
           "fc_bounds_for", "best_bounds", "sharing_status", "size_guard", "engine_counter",
           "bruteforce_counter", "composite_instances", "single_tap", "decimal_text", "short_text",
           "largest_block"]
