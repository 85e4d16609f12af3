"""The published bounds: Xiong et al. 2020 Theorem 2 (i)/(ii) and the fully-connected formulas.

Each returns a :class:`~ilpregions.services.bounds._common.NamedBound`, applicable
or with the reason; the arguments are in docs/bounds.md.
"""

from __future__ import annotations

from ilpregions.core.combinatorics import product
from ilpregions.core.geometry import conv_instance
from ilpregions.core.spec import ConvLayer, DenseLayer, MaxPoolLayer, Network
from ilpregions.services.bounds._common import (BOTH, FOLDING_LOWER, MONTUFAR2014, MONTUFAR2017, PASCANU, SERRA2018,
                                                SERRA2018_LOWER, THEOREM2_LOWER, THEOREM2_UPPER, na, named)
from ilpregions.services.bounds._budget import binomial_sum_seconds
from ilpregions.services.bounds._exact import Exact, overlapping
from ilpregions.services.bounds._sizes import input_dim, is_relu, layer_neurons, layer_positions
from ilpregions.theory import fc_bounds


def single_tap(shape_in, layer: ConvLayer) -> tuple[int, ...] | None:
    """A kernel offset a with x = p·s − P + a·δ inside the input for every output p, or None.

    The lower bound's construction (as Montúfar's folding) lets each filter
    read one input scalar through one tap: output position p then reads pixel
    x(p), distinct for distinct p. Without padding a = 0 always works (the
    paper's setting); with "same" padding the centre tap does.

    Parameters
    ----------
    shape_in : tuple of int
        The layer's input shape (spatial axes, then channels).
    layer : ConvLayer
        A conv or local layer.

    Returns
    -------
    tuple of int or None
        One kernel offset per spatial axis, or None when no tap reads an
        input pixel at every output position.

    Examples
    --------
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


def conv_prefix(network: Network) -> int:
    """How many leading layers are conv/local layers."""
    k = 0
    while k < len(network.layers) and isinstance(network.layers[k], ConvLayer):
        k += 1
    return k


def _theorem2_conditions(network: Network, k: int) -> str | None:
    """Why Theorem 2 (i) does not apply to layers 1..k, or None."""
    layers, d0 = network.layers[:k], network.input_shape[-1]
    small = [i for i, layer in enumerate(layers[:-1]) if layer.filters < d0]
    if small:
        i = small[0]
        return f"needs d_l ≥ d0 = {d0} for every layer before the last; layer {i + 1} has {layers[i].filters} filters"
    shapes = network.input_shapes()
    for i, layer in enumerate(layers[:-1]):
        if single_tap(shapes[i], layer) is None:
            return (f"layer {i + 1}'s padding/dilation leave no kernel tap that reads an input pixel at every "
                    f"output position (the folding construction needs one)")
    return None


def theorem2_lower(network: Network, exact: Exact, time_limit: float | None, budget=None):
    """Xiong et al. 2020, Theorem 2 (i): R_N ≥ R_{N'} · Π_{l<L} ⌊d_l/d0⌋^{positions_l·d0}.

    R_{N'} is replaced by a *proven lower bound on N''s real maximum*
    (shared filters included: tied_max, the fresh box, strips; Theorem 1 only
    where it is N''s maximum). On a network that does not consist of conv
    layers only, the bound is taken on its longest conv prefix that satisfies
    the conditions: every activation region of a prefix contains at least one
    activation region of the whole network (docs/bounds.md). The first row of
    :func:`theorem2_lower_rows`.

    Parameters
    ----------
    network : Network
        The architecture.
    exact : Exact
        The memoised one-layer counter of this ``bounds`` call.
    time_limit : float, optional
        Seconds for each search on the last layer (N').
    budget : Budget, optional
        The overall deadline of the call, if any.

    Returns
    -------
    NamedBound
        The bound, or an inapplicable record with the condition that fails.

    Examples
    --------
    >>> from ilpregions.core.spec import ConvLayer, Network
    >>> from ilpregions.services.bounds._exact import Exact, bruteforce_counter
    >>> net = Network((4, 1), (ConvLayer(2, 2, stride=2), ConvLayer(2, 1)))
    >>> b = theorem2_lower(net, Exact(bruteforce_counter, None), None)
    >>> b.value, b.reason
    (36, "R_{N'} ≥ ilpregions.tied.fresh_box")
    """
    return theorem2_lower_rows(network, exact, time_limit, budget)[0]


def theorem2_lower_rows(network: Network, exact: Exact, time_limit: float | None, budget=None) -> tuple:
    """Xiong et al. 2020, Theorem 2 (i): R_N ≥ R_{N'} · Π_{l<L} ⌊d_l/d0⌋^{positions_l·d0}; and
    ``ilpregions.folding.lower``, the same construction with teeth(⌊d_l/d0⌋) teeth per folded scalar
    (Serra et al. 2018's sawtooth: one more tooth from three units on; docs/math.md#teeth-of-a-sawtooth).

    R_{N'} is replaced by a *proven lower bound on N''s real maximum*
    (shared filters included: tied_max, the fresh box, strips; Theorem 1 only
    where it is N''s maximum). On a network that does not consist of conv
    layers only, the bound is taken on its longest conv prefix that satisfies
    the conditions: every activation region of a prefix contains at least one
    activation region of the whole network (docs/bounds.md).

    Parameters
    ----------
    network : Network
        The architecture.
    exact : Exact
        The memoised one-layer counter of this ``bounds`` call.
    time_limit : float, optional
        Seconds for each search on the last layer (N').
    budget : Budget, optional
        The overall deadline of the call, if any.

    Returns
    -------
    tuple of NamedBound
        Theorem 2 (i) and the folding bound, each applicable or with the
        condition that fails.

    Examples
    --------
    >>> from ilpregions.core.spec import ConvLayer, Network
    >>> from ilpregions.services.bounds._exact import Exact, bruteforce_counter
    >>> net = Network((4, 1), (ConvLayer(2, 2, stride=2), ConvLayer(2, 1)))
    >>> [(b.name, b.value) for b in theorem2_lower_rows(net, Exact(bruteforce_counter, None), None)]
    [('xiong2020.theorem2.lower', 36), ('ilpregions.folding.lower', 36)]
    """
    name, kind = THEOREM2_LOWER, "lower"
    k = conv_prefix(network)

    def both(why: str) -> tuple:
        return na(name, kind, why), na(FOLDING_LOWER, kind, why)

    if len(network.layers) == 1:
        return both("one layer: Theorem 2 (i) reduces to R_{N'} itself (see the one-layer bounds)")
    if k < 2:
        return both("needs the network to start with two conv/local layers (this model: "
                    + ", ".join(layer.type for layer in network.layers) + ")")
    why = None
    for length in range(k, 1, -1):
        why = why or _theorem2_conditions(network, length)
        if _theorem2_conditions(network, length) is None:
            if budget is not None and budget.expired():
                budget.mark(name)
                return both(budget.why())
            return _theorem2_on_prefix(network, length, exact, time_limit, budget)
    return both(why)


#: Proven lower bounds on N''s maximum, by (N', Theorem 1's count, time limit): N' recurs
#: across networks (``claims`` asks for the same N' from every family at one width), and
#: each costs a tied_max search of up to ``time_limit`` seconds.
_N_PRIME: dict = {}
_N_PRIME_MAX = 256


def _n_prime_lower(n_prime: Network, inst, value, time_limit: float | None, budget=None):
    from ilpregions.services.bounds._one_layer import real_lower

    key = (n_prime, value, time_limit)
    if key not in _N_PRIME:
        found = real_lower(n_prime, inst, value, time_limit, budget=budget)
        if budget is not None and budget.deadline is not None:
            return found      # found under an overall deadline: not memoised
        if len(_N_PRIME) >= _N_PRIME_MAX:
            _N_PRIME.clear()
        _N_PRIME[key] = found
    return _N_PRIME[key]


def _theorem2_on_prefix(network: Network, k: int, exact: Exact, time_limit: float | None, budget=None):
    d0 = network.input_shape[-1]
    layers, shapes = network.layers[:k], network.input_shapes()
    last = layers[-1]
    n_prime_shape = shapes[0] if k == 1 else shapes[k - 1][:-1] + (d0,)
    n_prime = Network(n_prime_shape, (last,))
    inst = conv_instance(n_prime_shape, last)
    value = exact(inst)[0] if not overlapping(last, inst) else None
    lower = _n_prime_lower(n_prime, inst, value, time_limit, budget)
    if lower.value is None:
        why = "no proven lower bound on N''s maximum is available"
        return na(THEOREM2_LOWER, "lower", why), na(FOLDING_LOWER, "lower", why)
    positions = layer_positions(network)
    folds = [(layer.filters // d0, positions[i] * d0) for i, layer in enumerate(layers[:-1])]
    notes = [] if lower.name == "xiong2020.theorem1" else [f"R_{{N'}} ≥ {lower.name}"]
    if k < len(network.layers):
        notes.append(f"on layers 1..{k}, whose activation regions each contain one of the whole network")
    paper = named(THEOREM2_LOWER, "lower", product([pow(m, n) for m, n in folds] + [lower.value]),
                  "; ".join(notes) or None)
    teeth = [fc_bounds.teeth(m) for m, _ in folds]
    more = "; ".join(notes + [f"teeth per folded scalar: {', '.join(map(str, teeth))} (layers 1..{k - 1})"])
    ours = named(FOLDING_LOWER, "lower", product([pow(t, n) for t, (_, n) in zip(teeth, folds)] + [lower.value]),
                 more)
    return paper, ours


def theorem2_upper(network: Network, first_upper: int | None, first_from: str):
    """Xiong et al. 2020, Theorem 2 (ii): R_N ≤ R_{N''} · Π_{l≥2} Σ_{i≤n0} C(N_l, i).

    R_{N''} may be any proven upper bound on the first layer (Theorem 1 with
    shared filters too). Dense and average-pooling layers are affine maps, so
    the argument covers them; max-pooling is not affine.

    Parameters
    ----------
    network : Network
        The architecture.
    first_upper : int or None
        A proven upper bound on the first layer's maximum (None: unknown).
    first_from : str
        Where ``first_upper`` comes from, for the note ("Theorem 1", ...).

    Returns
    -------
    NamedBound
        The bound, or an inapplicable record (max-pooling, or no first-layer
        bound).

    Examples
    --------
    >>> from ilpregions.core.spec import ConvLayer, Network
    >>> theorem2_upper(Network((4, 1), (ConvLayer(2, 2), ConvLayer(2, 2))), 55, "Theorem 1").value
    880
    """
    name, kind = THEOREM2_UPPER, "upper"
    if any(isinstance(layer, MaxPoolLayer) for layer in network.layers):
        return na(name, kind, "max-pooling is not an affine map (see ilpregions.cnn.upper, which covers it)")
    if not is_relu(network.layers[0]):
        return na(name, kind, "needs a conv/local/dense first layer (N'')")
    if first_upper is None:
        return na(name, kind, "no upper bound on the first layer")
    n0 = input_dim(network)
    rest = [fc_bounds.binomial_sum(n, n0) for n in layer_neurons(network)[1:]]
    note = None if first_from == "Theorem 1" else f"R_{{N''}} ≤ {first_from}"
    return named(name, kind, product([first_upper] + rest), note)


def _dense_prefix(network: Network) -> int:
    k = 0
    while k < len(network.layers) and isinstance(network.layers[k], DenseLayer):
        k += 1
    return k


def _fc_dims(network: Network) -> list[tuple[int, int]]:
    """(N_l, m_l) of Montúfar 2017's factors Σ_{i≤m_l} C(N_l, i)."""
    out, dim = [], input_dim(network)
    for width in layer_neurons(network):
        out.append((width, dim))
        dim = min(dim, width)
    return out


def fc_seconds(network: Network, known=()) -> float:
    """Estimated seconds for Montúfar 2017's factors (Serra 2018's last factor is as big); sums in
    ``known`` are cached already."""
    return sum(binomial_sum_seconds(n, m, known) for n, m in _fc_dims(network))


def stack_seconds(network: Network, first_unknown: bool, known=()) -> float:
    """Estimated seconds for ``cnn_upper``: the binomial sums of layers 2.. (and of layer 1 when its
    bound is unknown)."""
    dims = _fc_dims(network)
    return sum(binomial_sum_seconds(n, m, known) for n, m in (dims if first_unknown else dims[1:]))


def theorem2_upper_seconds(network: Network, known=()) -> float:
    """Estimated seconds for Theorem 2 (ii)'s factors Σ_{i≤n0} C(N_l, i), l ≥ 2."""
    n0 = input_dim(network)
    return sum(binomial_sum_seconds(n, n0, known) for n in layer_neurons(network)[1:])


def fc_bounds_for(network: Network, budget=None) -> list:
    """The fully-connected bounds, each applicable or with its reason.

    Montúfar 2017 and Serra 2018 hold for any stack of ReLU layers joined by
    affine maps (conv, dense, average pooling); Montúfar 2014's construction
    needs dense layers and is taken on the longest dense prefix.

    Parameters
    ----------
    network : Network
        The architecture.
    budget : Budget, optional
        The overall deadline of the ``bounds`` call; a bound whose cost does
        not fit is listed as not run.

    Returns
    -------
    list of NamedBound
        Pascanu 2013 (exact for one dense layer), Montúfar 2014, Serra 2018's
        lower bound, Montúfar 2017 and Serra 2018's upper bound, in that order.

    Examples
    --------
    >>> from ilpregions.core.spec import DenseLayer, Network
    >>> [(b.name, b.value) for b in fc_bounds_for(Network((2,), (DenseLayer(3), DenseLayer(2))))]
    [('pascanu2013.exact', None), ('montufar2014.lower', 4), ('serra2018.lower', 4), ('montufar2017.upper', 28), ('serra2018.upper', 25)]
    """
    layers = network.layers
    n0 = input_dim(network)
    widths = list(layer_neurons(network))
    kinds = ", ".join(layer.type for layer in layers)
    out = []
    if len(layers) == 1 and isinstance(layers[0], DenseLayer):
        out.append(named(PASCANU, "exact", fc_bounds.pascanu2013_exact(n0, widths[0]), regions=BOTH))
    else:
        out.append(na(PASCANU, "exact", f"needs exactly one dense layer (this model: {kinds})"))
    out.extend(_montufar2014(network, n0, kinds))
    if any(isinstance(layer, MaxPoolLayer) for layer in layers):
        reason = "max-pooling is not an affine map between ReLU layers (see ilpregions.cnn.upper)"
        return out + [na(MONTUFAR2017, "upper", reason), na(SERRA2018, "upper", reason)]
    cost = fc_seconds(network, () if budget is None else budget.known)
    if budget is not None and not budget.allows(MONTUFAR2017, cost):
        budget.mark(SERRA2018)
        return out + [na(MONTUFAR2017, "upper", budget.why(cost)), na(SERRA2018, "upper", budget.why(cost))]
    out.append(named(MONTUFAR2017, "upper", fc_bounds.montufar2017_upper(n0, widths)))
    work = fc_bounds.serra2018_work(n0, widths)
    if budget is not None and not budget.allows(SERRA2018, 0.0):
        out.append(na(SERRA2018, "upper", budget.why(cost)))
    elif work > fc_bounds.SERRA_MAX_WORK:
        out.append(na(SERRA2018, "upper", f"its layer DP needs ~{work} big-integer products "
                                           f"(limit {fc_bounds.SERRA_MAX_WORK}); Montúfar 2017 still applies"))
    else:
        out.append(named(SERRA2018, "upper", fc_bounds.serra2018_upper(n0, widths)))
    if budget is not None:
        budget.known.update(_fc_dims(network))
    return out


def _montufar2014(network: Network, n0: int, kinds: str) -> list:
    """Montúfar et al. 2014 and Serra et al. 2018's lower bounds on the longest dense prefix."""
    k = _dense_prefix(network)
    if k == 0:
        why = f"needs dense layers from the input on (this model: {kinds})"
        return [na(MONTUFAR2014, "lower", why), na(SERRA2018_LOWER, "lower", why)]
    widths = [layer.units for layer in network.layers[:k]]
    narrow = [i for i, w in enumerate(widths[:-1]) if w < n0]
    if narrow:
        l = narrow[0]
        why = f"needs n_l ≥ n0 = {n0} in layers 1..L−1; layer {l + 1} has {widths[l]} units"
        return [na(MONTUFAR2014, "lower", why), na(SERRA2018_LOWER, "lower", why)]
    note = None if k == len(network.layers) else f"on the dense layers 1..{k}, lifted to the whole network"
    return [named(MONTUFAR2014, "lower", fc_bounds.montufar2014_lower(n0, widths), note),
            named(SERRA2018_LOWER, "lower", fc_bounds.serra2018_lower(n0, widths), note)]


__all__ = ["single_tap", "conv_prefix", "theorem2_lower", "theorem2_lower_rows", "theorem2_upper", "fc_bounds_for", "fc_seconds",
           "stack_seconds", "theorem2_upper_seconds"]
