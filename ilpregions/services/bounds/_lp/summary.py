"""``one_layer_bounds``: the lower bound, the LP exponent and the upper bound of one layer."""

from __future__ import annotations

from ilpregions.core.errors import InconsistencyError

import time
from dataclasses import dataclass, field
from typing import Any

from ilpregions.core.bigint import big_int_repr
from ilpregions.core.combinatorics import decimal_string
from ilpregions.core.geometry import Theorem1Instance
from ilpregions.core.results import Bound
from ilpregions.services.bounds._lp.box import (BASELINE_TERMS, best_box, box_value, global_binomial_bound,
                                              per_position_bound)
from ilpregions.services.bounds._lp.network import PixelNetwork, lp_exponent, position_lp_maxima
from ilpregions.services.bounds._lp.tilt import block_tree_upper


@big_int_repr  # repr at any size (docs/safety.md)
@dataclass(frozen=True)
class OneLayerBounds:
    """Bounds on R_N for one layer.

    Attributes
    ----------
    bounds : every bound computed, as :class:`~ilpregions.core.results.Bound`
    exponent : U = max Σ t over the LP relaxation without the d1 cap (= |∪S|)
    position_maxima : per position, max t_p over the LP relaxation (d1 cap on)
    lower, upper : the best lower and upper bound
    box : the c of the best box, per position (row-major)
    """

    bounds: tuple[Bound, ...]
    exponent: int
    position_maxima: tuple[int, ...]
    lower: int
    upper: int
    box: tuple[int, ...] = ()
    details: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def exact(self) -> bool:
        return self.lower == self.upper or any(b.kind == "exact" for b in self.bounds)

    def to_json(self) -> dict[str, Any]:
        return {"bounds": [b.to_json() for b in self.bounds],
                "lower": decimal_string(self.lower), "upper": decimal_string(self.upper),
                "exponent": self.exponent, "position_maxima": list(self.position_maxima),
                **self.details}


def one_layer_bounds(inst: Theorem1Instance, baselines: bool = True) -> OneLayerBounds:
    """Lower and upper bounds on R_N of one layer, with the LP exponent.

    Parameters
    ----------
    inst : Theorem1Instance
        The layer's set system.
    baselines : bool
        Also report the two textbook upper bounds for comparison.

    Returns
    -------
    OneLayerBounds
        The bounds (best box in K_N, exact-block tree, and the baselines), the
        best lower and upper value, the LP exponent |∪S| and each position's LP
        maximum.

    Raises
    ------
    InconsistencyError
        The LP exponent differs from |∪S|. It cannot, by the rank of the
        polymatroid: this is a check against a bug in the flow network.

    Examples
    --------
    >>> from ilpregions.core.spec import ConvLayer, Network
    >>> from ilpregions.core.geometry import layer_instance
    >>> r = one_layer_bounds(layer_instance(Network((4, 1), (ConvLayer(2, 2),))))
    >>> r.lower, r.upper, r.exponent, r.exact
    (55, 55, 4, True)
    """
    timings = {}
    start = time.perf_counter()
    net = PixelNetwork(inst) if any(inst.fields) else None
    state: list = []
    box = best_box(inst, net, state)
    lower = box_value(inst, box)
    timings["lower"] = time.perf_counter() - start

    start = time.perf_counter()
    exponent = lp_exponent(inst, (net, *state) if state else None)
    if exponent != inst.union_size:
        raise InconsistencyError(f"LP exponent {exponent} differs from |∪S| = {inst.union_size}")
    timings["exponent"] = time.perf_counter() - start

    start = time.perf_counter()
    upper, exact, info = block_tree_upper(inst, net)
    timings["upper"] = time.perf_counter() - start

    bounds = [Bound("best box in K_N", "lower", lower),
              Bound("exact-block tree", "exact" if exact else "upper", upper)]
    if baselines:
        bounds.append(Bound("per-position product Π_p Σ_{i≤|S_p|} C(d1,i)", "upper",
                            per_position_bound(inst)))
        glob = global_binomial_bound(inst)
        if glob is None:
            bounds.append(Bound("global binomial Σ_{k≤U} C(positions·d1,k)", "upper", None,
                                applicable=False,
                                reason=f"not computed: more than {BASELINE_TERMS} huge terms"))
        else:
            bounds.append(Bound("global binomial Σ_{k≤U} C(positions·d1,k)", "upper", glob))
    uppers = [b.value for b in bounds if b.kind in ("upper", "exact") and b.value is not None]
    lowers = [b.value for b in bounds if b.kind in ("lower", "exact") and b.value is not None]
    details = {"box_levels": sorted(set(box)), "block_tree": info,
               "seconds": {k: round(v, 4) for k, v in timings.items()}}
    return OneLayerBounds(bounds=tuple(bounds), exponent=exponent,
                          position_maxima=position_lp_maxima(inst),
                          lower=max(lowers), upper=min(uppers), box=box, details=details)


__all__ = ["OneLayerBounds", "one_layer_bounds"]
