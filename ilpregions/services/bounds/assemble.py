"""Every bound on a network, the proven headline pair, and the JSON record (docs/bounds.md).

The headline ``lower``/``upper`` are the best *applicable* bounds whose
``proven_for`` is ``"network"``: proven for the network exactly as specified,
shared filters included. Values proven only for the locally connected layer
stay in the table with ``proven_for = "locally-connected"``.

>>> from ilpregions.core.spec import Network, ConvLayer
>>> from ilpregions.services.bounds.exact import bruteforce_counter
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
from ilpregions.services.bounds import common as C
from ilpregions.services.bounds.exact import Exact, ExactCounter, first_layer_instance, first_layer_upper, overlapping
from ilpregions.services.bounds.named import fc_bounds_for, theorem2_lower, theorem2_upper
from ilpregions.services.bounds.one_layer import real_lower, strip_partition_upper
from ilpregions.services.bounds.sizes import is_relu, layer_neurons, neurons, params
from ilpregions.services.bounds.stack import cnn_upper, composite_instances


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

    def bound(self, name: str):
        for b in self.bounds:
            if b.name == name:
                return b
        raise KeyError(name)

    def to_json(self) -> dict[str, Any]:
        text = lambda v: None if v is None else C.decimal_text(v)  # noqa: E731
        out: dict[str, Any] = {
            "bounds": [C.bound_json(b) for b in self.bounds], "lower": text(self.lower), "upper": text(self.upper),
            "lower_name": self.lower_name, "upper_name": self.upper_name, "real_max": text(self.real_max),
            "params": self.params, "neurons": self.neurons, "regions": C.ACTIVATION,
        }
        if self.exponent is not None:
            out["exponent"] = self.exponent
            out["position_maxima"] = list(self.position_maxima or ())
        if self.notes:
            out["notes"] = list(self.notes)
        return out


def best_bounds(bounds) -> tuple:
    """The applicable bounds proven for the network with the largest lower and the smallest upper value."""
    proven = [b for b in bounds if b.applicable and getattr(b, "proven_for", C.NETWORK) == C.NETWORK]
    lows = [b for b in proven if b.kind in ("lower", "exact")]
    ups = [b for b in proven if b.kind in ("upper", "exact")]
    # Ties go to the published bounds: ours is named only when it is strictly best.
    low = max(lows, key=lambda b: (b.value, not b.name.startswith("ilpregions.")), default=None)
    up = min(ups, key=lambda b: (b.value, b.name.startswith("ilpregions.")), default=None)
    return low, up


def _lp_one_layer(inst):
    """The LP-based one-layer bounds of :mod:`ilpregions.services.lp_bounds` (extras: failures are dropped)."""
    try:
        from ilpregions.services.lp_bounds import one_layer_bounds
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


def _first_layer(network: Network, exact: Exact, time_limit, lp: bool, search: bool) -> dict[str, Any]:
    """Everything about layer 1 alone: Theorem 1, proven lower bounds, upper bounds, LP extras."""
    if not is_relu(network.layers[0]):
        return {"inst": None, "rows": [], "real": None, "upper": (None, ""), "lp": None, "tied": False}
    inst = first_layer_instance(network)
    layer = network.layers[0]
    tied = overlapping(layer, inst)
    value, why = exact(inst)
    single = Network(network.input_shape, (layer,))
    real = real_lower(single, inst, value, time_limit, search)
    lp_result = _lp_one_layer(inst) if lp and (len(network.layers) == 1 or value is None) else None
    upper = first_layer_upper(inst, layer_neurons(network)[0], value, lp_result)
    rows = [_theorem1_row(value, why, tied)] if len(network.layers) == 1 else []
    if value is None and isinstance(layer, ConvLayer) and len(network.layers) == 1 and search:
        strip_value, how = strip_partition_upper(inst, time_limit)
        rows.append(C.named(C.STRIP_PARTITION, "upper", strip_value, how) if strip_value is not None
                    else C.na(C.STRIP_PARTITION, "upper", how))
        if strip_value is not None and strip_value < upper[0]:
            upper = (strip_value, "the strip partition K_N ⊆ Π K_strip")
    return {"inst": inst, "rows": rows, "real": real, "upper": upper, "lp": lp_result, "tied": tied}


def _prefix_row(network: Network, real) -> Any:
    if real is None:
        return C.na(C.PREFIX_LOWER, "lower", f"layer 1 is {network.layers[0].type}: no lower-bound argument "
                                             f"for a network that starts with pooling")
    if real.value is None:
        return C.na(C.PREFIX_LOWER, "lower", "no proven lower bound on layer 1 alone")
    return C.named(C.PREFIX_LOWER, "lower", real.value, f"layer 1 alone ({real.name}); each of its activation "
                                                        f"regions contains one of the whole network")


def compute_bounds(network: Network, exact_counter: ExactCounter | None = None,
                   time_limit: float | None = None, lp: bool = True, search: bool = True,
                   progress: bool = False) -> BoundsReport:
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
        Include :mod:`ilpregions.services.lp_bounds` for one-layer nets.
    search : bool
        Run tied_max and the strip searches on the first layer (False: closed forms only there;
        Theorem 2's N' is still counted).
    progress : bool
        A bar on stderr over the four stages (shown only after a second).
    """
    with Progress("bounds", total=4, enabled=progress, unit="stage") as bar:
        return _compute(network, Exact(exact_counter, time_limit), time_limit, lp, search, bar)


def _compute(network, exact, time_limit, lp, search, bar) -> BoundsReport:
    """:func:`compute_bounds` with a progress bar (one tick per stage)."""
    bar.set_postfix(stage="layer 1")
    first = _first_layer(network, exact, time_limit, lp, search)
    bar.update(1)
    bar.set_postfix(stage="theorem 2")
    one_layer = len(network.layers) == 1
    bounds = list(first["rows"])
    if one_layer and first["real"] is not None:
        bounds.extend(first["real"].bounds)
    elif not one_layer:
        bounds.append(_prefix_row(network, first["real"]))
    bounds.append(theorem2_lower(network, exact, time_limit))
    bar.update(1)
    bar.set_postfix(stage="upper bounds")
    r1, r1_from = first["upper"]
    bounds.append(theorem2_upper(network, r1, r1_from))
    composite = [None if inst is None else exact(inst)[0] for inst in composite_instances(network)]
    union = first["inst"].union_size if first["inst"] is not None else 0
    note = None if r1_from in ("Theorem 1", "") else f"first layer bounded by {r1_from}"
    bounds.append(C.named(C.CNN_UPPER, "upper", cnn_upper(network, r1, union, composite), note))
    bounds.extend(fc_bounds_for(network))
    bar.update(1)
    exponent = maxima = None
    if one_layer and first["lp"] is not None:
        bounds.extend(_lp_rows(first["lp"], first["tied"]))
        exponent, maxima = first["lp"].exponent, tuple(first["lp"].position_maxima)
    elif one_layer and first["inst"] is not None:
        exponent, maxima = first["inst"].union_size, first["inst"].caps
    notes = _notes(network, first)
    low, up = best_bounds(bounds)
    real_max = first["real"].real_max if one_layer and first["real"] is not None else None
    bar.update(1)
    return BoundsReport(tuple(bounds), None if low is None else low.value, None if up is None else up.value,
                        params(network), neurons(network), exponent, maxima, notes,
                        None if low is None else low.name, None if up is None else up.name, real_max)


def _notes(network: Network, first) -> tuple[str, ...]:
    notes = ["regions are activation regions (constant ReLU signs and max-pooling choices); upper bounds "
             "also bound the linear pieces of the function"]
    if first["tied"]:
        notes.append("shared filters with overlapping fields: Theorem 1 counts the locally connected layer, an "
                      "upper bound here; values marked locally-connected are not bounds for this network")
    return tuple(notes)


__all__ = ["BoundsReport", "compute_bounds", "best_bounds"]
