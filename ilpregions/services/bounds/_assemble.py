"""Every bound on a network, the proven headline pair, and the JSON record (docs/bounds.md).

The headline ``lower``/``upper`` are the best *applicable* bounds whose
``proven_for`` is ``"network"``: proven for the network exactly as specified,
shared filters included. Values proven only for the locally connected layer
stay in the table with ``proven_for = "locally-connected"``.

>>> from ilpregions.core.spec import Network, ConvLayer
>>> from ilpregions.services.bounds._exact import bruteforce_counter
>>> net = Network((1, 4, 1), (ConvLayer(2, (1, 2)), ConvLayer(3, (1, 2))))
>>> report = compute_bounds(net, exact_counter=bruteforce_counter, lp=False)
>>> report.lower <= report.upper, report.params, report.neurons
(True, 21, 12)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ilpregions.core.bigint import big_int_repr
from ilpregions.core.errors import ILPRegionsError
from ilpregions.core.progress import Progress
from ilpregions.core.spec import ConvLayer, Network
from ilpregions.services.bounds import _common as C
from ilpregions.services.bounds._exact import Exact, ExactCounter, first_layer_instance, first_layer_upper, overlapping
from ilpregions.services.bounds._budget import Budget
from ilpregions.services.bounds._locality import strip_cap_upper, with_shrunk_lower
from ilpregions.services.bounds._named import (fc_bounds_for, stack_seconds, theorem2_lower_rows, theorem2_upper,
                                              theorem2_upper_seconds)
from ilpregions.services.bounds._one_layer import (SEARCH_SECONDS_PER_POSITION, closed_forms, grid_conv, real_lower,
                                                  strip_partition_upper)
from ilpregions.services.bounds._sizes import input_dim, is_relu, layer_neurons, neurons, params
from ilpregions.services.bounds._stack import cnn_upper, composite_instances
from ilpregions.theory.tied_bounds import caps, union_size


@big_int_repr  # repr at any size (docs/safety.md)
@dataclass(frozen=True)
class BoundsReport:
    """Every named bound on a network, the best proven value of each side, and its size.

    ``lower``/``upper``: the best applicable bounds proven for the network
    (an ``exact`` bound counts as both); None when none applies.
    ``real_max``: one-layer nets only, the real maximum's DP count where it ran
    (a proven lower bound; the maximum with high probability) or Theorem 1
    where that is the maximum. ``exponent``/``position_maxima``: one-layer nets.
    """

    bounds: tuple
    lower: int | None
    upper: int | None
    params: int
    neurons: int
    exponent: int | None = None
    position_maxima: tuple[int, ...] | None = None
    notes: tuple[str, ...] = ()
    lower_name: str | None = None
    upper_name: str | None = None
    real_max: int | None = None
    cut: tuple[str, ...] = ()
    #: one-layer conv/local/dense models: the best bounds on Theorem 1's value (the locally connected
    #: layer), which for shared overlapping filters differs from the network's maximum
    theorem1: tuple = (None, None, None, None)

    @property
    def status(self) -> str:
        """``"time_limit"`` when the overall deadline stopped any bound (the answer is partial), else ``"complete"``."""
        return "time_limit" if self.cut else "complete"

    def bound(self, name: str):
        for b in self.bounds:
            if b.name == name:
                return b
        raise KeyError(name)

    def to_json(self) -> dict[str, Any]:
        # values over C.JSON_MAX_DIGITS digits are null, with their digits and log10 beside them
        low, up, real = C.value_json(self.lower), C.value_json(self.upper), C.value_json(self.real_max)
        out: dict[str, Any] = {
            "bounds": [C.bound_json(b) for b in self.bounds], "lower": low["value"], "upper": up["value"],
            "lower_log10": low["log10"], "upper_log10": up["log10"],
            "lower_name": self.lower_name, "upper_name": self.upper_name, "real_max": real["value"],
            "params": self.params, "neurons": self.neurons, "regions": C.ACTIVATION,
        }
        if self.exponent is not None:
            out["exponent"] = self.exponent
            out["position_maxima"] = list(self.position_maxima or ())
        if self.notes:
            out["notes"] = list(self.notes)
        out["cut_by_time_limit"] = list(self.cut)
        if self.theorem1[0] is not None or self.theorem1[1] is not None:
            t_low, t_up = C.value_json(self.theorem1[0]), C.value_json(self.theorem1[1])
            out["theorem1"] = {"lower": t_low["value"], "upper": t_up["value"], "lower_log10": t_low["log10"],
                               "upper_log10": t_up["log10"], "lower_name": self.theorem1[2],
                               "upper_name": self.theorem1[3]}
        return out


def theorem1_bounds(bounds) -> tuple:
    """(lower, upper, lower name, upper name): the best applicable bounds on Theorem 1's value of one layer.

    Every lower bound listed holds for it (a bound on the network's maximum is at most the locally
    connected maximum; ``locally-connected`` rows bound it by construction), and every upper bound
    listed comes from K_N or from arguments that hold for any weights, so it bounds Theorem 1's
    value too (docs/math.md#locality-bounds).
    """
    ok = [b for b in bounds if b.applicable and b.value is not None]
    exact = [b for b in ok if b.name == C.THEOREM1]
    if exact:
        return exact[0].value, exact[0].value, exact[0].name, exact[0].name
    low = max((b for b in ok if b.kind in ("lower", "exact")), key=lambda b: b.value, default=None)
    up = min((b for b in ok if b.kind in ("upper", "exact")), key=lambda b: b.value, default=None)
    return (None if low is None else low.value, None if up is None else up.value,
            None if low is None else low.name, None if up is None else up.name)


def best_bounds(bounds) -> tuple:
    """The applicable bounds proven for the network with the largest lower and the smallest upper value.

    An ``exact`` bound counts on both sides; values proven only for the
    locally connected layer are never chosen. Ties go to the published
    bounds: one of ours is chosen only when it is strictly best.

    Parameters
    ----------
    bounds : iterable of Bound
        Named bounds, applicable or not.

    Returns
    -------
    lower : NamedBound or None
        The best lower bound, or None when none applies.
    upper : NamedBound or None
        The best upper bound, or None when none applies.

    Examples
    --------
    >>> from ilpregions.services.bounds._common import LOCAL, na, named
    >>> rows = [named("a.lower", "lower", 5), named("b.upper", "upper", 9),
    ...         named("c.upper", "upper", 7, proven_for=LOCAL), na("d.lower", "lower", "needs d1 >= d0")]
    >>> [b.name for b in best_bounds(rows)]
    ['a.lower', 'b.upper']
    """
    proven = [b for b in bounds if b.applicable and getattr(b, "proven_for", C.NETWORK) == C.NETWORK]
    lows = [b for b in proven if b.kind in ("lower", "exact")]
    ups = [b for b in proven if b.kind in ("upper", "exact")]
    # Ties go to the published bounds: ours is named only when it is strictly best.
    low = max(lows, key=lambda b: (b.value, not b.name.startswith("ilpregions.")), default=None)
    up = min(ups, key=lambda b: (b.value, b.name.startswith("ilpregions.")), default=None)
    return low, up


#: The LP bounds' cost is at least this many seconds (cifar_conv's 1,024 positions: 1.7 s measured);
#: above that, SEARCH_SECONDS_PER_POSITION per position (the ImageNet stem: about 3 s).
LP_MIN_SECONDS = 1.5


def _lp_one_layer(inst):
    """The LP-based one-layer bounds of :mod:`ilpregions.services.bounds._lp` (extras: failures are dropped)."""
    try:
        from ilpregions.services.bounds._lp import one_layer_bounds
        return one_layer_bounds(inst)
    except (ImportError, ILPRegionsError, MemoryError):
        return None


def _lp_rows(lp_result, tied: bool) -> list:
    """LP bounds on Theorem 1's count, labelled: with shared overlapping filters a lower bound
    (or exact value) holds for the locally connected layer only; upper bounds hold for both."""
    rows = []
    for b in lp_result.bounds:
        if not tied:
            rows.append(C.as_named(b, C.NETWORK))
        elif b.kind == "upper" or not b.applicable:
            rows.append(C.as_named(b, C.NETWORK))
        elif b.kind == "exact":
            rows.append(C.as_named(b, C.NETWORK, "Theorem 1's count (exact for the locally connected layer); an "
                                              "upper bound with shared filters", kind="upper"))
        else:
            rows.append(C.as_named(b, C.LOCAL, "a lower bound on the locally connected count only"))
    return rows


def _theorem1_row(value, why, tied: bool):
    if value is None:
        return C.na(C.THEOREM1, "exact", why)
    if not tied:
        return C.named(C.THEOREM1, "exact", value, regions=C.BOTH)
    return C.named(C.THEOREM1, "upper", value, "exact for the locally connected layer; an upper bound with "
                                                "shared filters (tied weights are untied weights)")


def _first_layer(network: Network, exact: Exact, budget: Budget, lp: bool, search: bool) -> dict[str, Any]:
    """Everything about layer 1 alone: Theorem 1, proven lower bounds, upper bounds, LP extras."""
    if not is_relu(network.layers[0]):
        return {"inst": None, "rows": [], "real": None, "upper": (None, ""), "lp": None, "tied": False}
    inst = first_layer_instance(network)
    layer = network.layers[0]
    tied = overlapping(layer, inst)
    value, why = exact(inst)
    neurons_1 = layer_neurons(network)[0]
    # cheap bounds first, so that under a deadline they never wait for the expensive ones: the box
    # upper bound, the closed-form lower bounds, then Σ_{i≤U} C(N_1, i), then the searches and the LP
    upper = first_layer_upper(inst, neurons_1, value, None, budget, binomial=False)
    if budget.deadline is not None and grid_conv(layer, inst):
        closed_forms(inst, budget)
    upper = min(upper, first_layer_upper(inst, neurons_1, value, None, budget, box=False),
                key=lambda c: (c[0] is None, c[0] if c[0] is not None else 0))
    single = Network(network.input_shape, (layer,))
    want_lp = lp and (len(network.layers) == 1 or value is None)
    lp_cost = max(LP_MIN_SECONDS, SEARCH_SECONDS_PER_POSITION * inst.positions)
    budget.reserve = lp_cost if want_lp else 0.0    # the searches leave the LP bounds their time
    real = real_lower(single, inst, value, budget.step, search, budget=budget)
    real = with_shrunk_lower(real, single, inst, budget, search and value is None)
    budget.reserve = 0.0
    lp_result = None
    if want_lp and budget.allows("lp bounds", lp_cost):
        lp_result = _lp_one_layer(inst)
    if lp_result is not None:
        upper = min([upper] + [(b.value, b.name) for b in lp_result.bounds
                               if b.applicable and b.kind in ("upper", "exact")],
                    key=lambda c: (c[0] is None, c[0] if c[0] is not None else 0))
    rows = [_theorem1_row(value, why, tied)] if len(network.layers) == 1 else []
    if value is None and isinstance(layer, ConvLayer) and len(network.layers) == 1 and search:
        if budget.expired():
            budget.mark(C.STRIP_PARTITION)
            strip_value, how = None, budget.why()
        else:
            strip_value, how = strip_partition_upper(inst, budget.step, budget)
        rows.append(C.named(C.STRIP_PARTITION, "upper", strip_value, how) if strip_value is not None
                    else C.na(C.STRIP_PARTITION, "upper", how))
        if strip_value is not None and (upper[0] is None or strip_value < upper[0]):
            upper = (strip_value, "the strip partition K_N ⊆ Π K_strip")
        capped = strip_cap_upper(inst, budget) if not budget.expired() else C.na(C.STRIP_CAP, "upper", budget.why())
        rows.append(capped)
        if capped.applicable and (upper[0] is None or capped.value < upper[0]):
            upper = (capped.value, "the capped strip product Σ_{k≤U} [y^k] Π F_strip(y)")
    return {"inst": inst, "rows": rows, "real": real, "upper": upper, "lp": lp_result, "tied": tied}


def _prefix_row(network: Network, real) -> Any:
    if real is None:
        return C.na(C.PREFIX_LOWER, "lower", f"layer 1 is {network.layers[0].type}: no lower-bound argument "
                                             f"for a network that starts with pooling")
    if real.value is None:
        return C.na(C.PREFIX_LOWER, "lower", "no proven lower bound on layer 1 alone")
    return C.named(C.PREFIX_LOWER, "lower", real.value, f"layer 1 alone ({real.name}); each of its activation "
                                                        f"regions contains one of the whole network")


#: Seconds each exact count, tied_max run and strip search may take when the caller sets no limit of
#: its own (the size guards already skip hopeless instances without starting an engine).
DEFAULT_STEP_SECONDS = 4.0


def compute_bounds(network: Network, exact_counter: ExactCounter | None = None,
                   time_limit: float | None = None, lp: bool = True, search: bool = True,
                   progress: bool = False, total_seconds: float | None = None) -> BoundsReport:
    """Every named bound on ``network`` (docs/bounds.md lists them with their arguments).

    Parameters
    ----------
    network : Network
        Any stack of conv/local/dense/maxpool/avgpool layers.
    exact_counter : callable, optional
        ``(instance, time_limit) -> CountResult`` (or an int) for one-layer
        Theorem-1 counts; default the exact engine, under a size guard.
    time_limit : float, optional
        Seconds for each exact count, tied_max run and strip search; a run cut
        short makes the bounds that need it inapplicable, with the reason.
    lp : bool
        Include the LP-based one-layer bounds for one-layer nets.
    search : bool
        Run tied_max and the strip searches on the first layer (False: closed forms only there;
        Theorem 2's N' is still counted).
    progress : bool
        A bar on stderr over the four stages (shown only after a second).
    total_seconds : float, optional
        One deadline for the whole call (``bounds --time-limit``): no bound
        starts after it, and a bound whose estimated cost does not fit in the
        time left is listed as "not run: time limit". The report's ``cut``
        then names them and its ``status`` is ``"time_limit"``. Every value
        returned is finished, hence proven.

    Returns
    -------
    BoundsReport
        Every bound (applicable or with the reason it is not), the proven
        headline ``lower``/``upper`` and their names, parameter and neuron
        counts, and notes.

    Examples
    --------
    >>> from ilpregions.core.spec import ConvLayer, DenseLayer, Network
    >>> report = compute_bounds(Network((3, 3, 1), (ConvLayer(2, 2),)), lp=False, search=False)
    >>> report.lower, report.upper, report.upper_name, report.status
    (192, 256, 'xiong2020.theorem1', 'complete')
    >>> deep = compute_bounds(Network((4, 1), (ConvLayer(2, 2), DenseLayer(2))), lp=False, search=False)
    >>> deep.lower <= deep.upper, deep.params, deep.neurons
    (True, 20, 8)
    """
    budget = Budget.total(total_seconds, time_limit)
    with Progress("bounds", total=4, enabled=progress, unit="stage") as bar:
        return _compute(network, Exact(exact_counter, time_limit, budget if total_seconds else None), budget,
                        lp, search, bar)


def _compute(network, exact, budget, lp, search, bar) -> BoundsReport:
    """:func:`compute_bounds` with a progress bar (one tick per stage)."""
    bar.set_postfix(stage="layer 1")
    first = _first_layer(network, exact, budget, lp, search)
    bar.update(1)
    bar.set_postfix(stage="theorem 2")
    one_layer = len(network.layers) == 1
    bounds = list(first["rows"])
    if one_layer and first["real"] is not None:
        bounds.extend(first["real"].bounds)
    elif not one_layer:
        bounds.append(_prefix_row(network, first["real"]))
    bounds.extend(theorem2_lower_rows(network, exact, budget.step, budget))
    bar.update(1)
    bar.set_postfix(stage="upper bounds")
    bounds.extend(_upper_rows(network, first, exact, budget))
    bar.update(1)
    exponent = maxima = None
    if one_layer and first["lp"] is not None:
        bounds.extend(_lp_rows(first["lp"], first["tied"]))
        exponent, maxima = first["lp"].exponent, tuple(first["lp"].position_maxima)
    elif one_layer and first["inst"] is not None:
        exponent, maxima = union_size(first["inst"]), caps(first["inst"])
    notes = _notes(network, first, budget)
    low, up = best_bounds(bounds)
    real_max = first["real"].real_max if one_layer and first["real"] is not None else None
    pair = theorem1_bounds(bounds) if one_layer and first["inst"] is not None else (None, None, None, None)
    bar.update(1)
    return BoundsReport(tuple(bounds), None if low is None else low.value, None if up is None else up.value,
                        params(network), neurons(network), exponent, maxima, notes,
                        None if low is None else low.name, None if up is None else up.name, real_max, budget.cut,
                        pair)


def _upper_rows(network: Network, first, exact: Exact, budget: Budget) -> list:
    """Theorem 2 (ii), our stack bound and the fully-connected bounds, each only if its cost fits."""
    r1, r1_from = first["upper"]
    rows = []
    cost = theorem2_upper_seconds(network, budget.known)
    if budget.allows(C.THEOREM2_UPPER, cost):
        rows.append(theorem2_upper(network, r1, r1_from))
        budget.known.update((n, input_dim(network)) for n in layer_neurons(network)[1:])
    else:
        rows.append(C.na(C.THEOREM2_UPPER, "upper", budget.why(cost)))
    cost = stack_seconds(network, r1 is None, budget.known)
    if budget.allows(C.CNN_UPPER, cost):
        composite = [None if inst is None else exact(inst)[0] for inst in composite_instances(network)]
        union = union_size(first["inst"]) if first["inst"] is not None else 0
        note = None if r1_from in ("Theorem 1", "") else f"first layer bounded by {r1_from}"
        rows.append(C.named(C.CNN_UPPER, "upper", cnn_upper(network, r1, union, composite), note))
    else:
        rows.append(C.na(C.CNN_UPPER, "upper", budget.why(cost)))
    rows.extend(fc_bounds_for(network, budget))
    return rows


def _notes(network: Network, first, budget: Budget) -> tuple[str, ...]:
    notes = ["regions are activation regions (constant ReLU signs and max-pooling choices); upper bounds "
             "also bound the linear pieces of the function"]
    if first["tied"]:
        notes.append("shared filters with overlapping fields: Theorem 1 counts the locally connected layer, an "
                      "upper bound here; values marked locally-connected are not bounds for this network")
    if budget.cut:
        notes.append(f"partial answer: the time limit cut {', '.join(budget.cut)}; every value shown is finished "
                     f"and proven")
    return tuple(notes)


__all__ = ["BoundsReport", "compute_bounds", "best_bounds", "theorem1_bounds", "DEFAULT_STEP_SECONDS"]
