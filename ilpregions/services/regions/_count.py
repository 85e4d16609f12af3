"""``count_linear_regions``: the entry point, choosing rank count, LP tree or sampler."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np

from ilpregions.core.bigint import big_int_repr
from ilpregions.core.errors import InputError, ParameterError, TooLargeError
from ilpregions.core.forward import check_weights, he_normal_weights, stages
from ilpregions.core.progress import Progress
from ilpregions.core.spec import ConvLayer, DenseLayer, Network
from ilpregions.services.regions._rank import count_one_layer
from ilpregions.services.regions._sampler import SAMPLE_SCALES, sample_patterns
from ilpregions.services.regions._tree import Enumerator, TimeUp

METHODS = ("exact", "lp", "sample")
#: Largest inputs × neurons product of two consecutive layers we attempt.
MAX_LAYER_PRODUCT = 20_000_000


@big_int_repr  # repr at any size (docs/safety.md)
@dataclass(frozen=True)
class RegionsResult:
    """Regions of one concrete network.

    ``regions`` is exact when ``exact`` is true; otherwise it is a lower bound
    (regions found before the time limit, or distinct sampled patterns).
    """

    regions: int
    exact: bool
    lps_solved: int
    seconds: float
    method: str
    details: dict[str, Any] = field(default_factory=dict, compare=False)

    def to_json(self) -> dict[str, Any]:
        out = {"regions": self.regions, "exact": self.exact, "lps_solved": self.lps_solved,
               "seconds": round(self.seconds, 6), "method": self.method}
        out.update(self.details)
        return out


def _one_affine_layer(network: Network) -> bool:
    """One conv/local/dense layer, possibly followed by average pooling (linear: no decisions)."""
    first, rest = network.layers[0], network.layers[1:]
    return isinstance(first, (ConvLayer, DenseLayer)) and all(layer.type == "avgpool" for layer in rest)


def _check_network(network: Network, method: str) -> None:
    """Refuse unknown methods, depths beyond 3 affine layers and sizes far beyond reach."""
    if method not in METHODS:
        raise ParameterError("method", f"unknown method {method!r}; one of {', '.join(METHODS)}")
    n_layers = sum(1 for layer in network.layers if layer.type not in ("maxpool", "avgpool"))
    if not 1 <= len(network.layers) <= 6 or n_layers > 3 or n_layers < 1:
        raise InputError(f"layers: regions counts networks with 1 to 3 conv/local/dense layers "
                         f"(plus maxpool/avgpool), this one has {n_layers}")
    sizes = [int(np.prod(s)) for s in network.input_shapes()] + [int(np.prod(network.output_shapes()[-1]))]
    if max(a * b for a, b in zip(sizes[:-1], sizes[1:])) > MAX_LAYER_PRODUCT:
        raise TooLargeError(f"layers: {sizes[0]} inputs and layer sizes {sizes[1:]} are far beyond exact "
                            f"region counting (it is #P-hard; this tool is for small networks)")


def _lp_tree(stage_list, n: int, seed: int | None, seed_samples: int | None, deadline, start,
             progress: bool = False) -> RegionsResult:
    """The LP tree, with ``seed_samples`` Gaussian inputs as free witness points."""
    if seed_samples is None:
        seed_samples = 20_000
    rng = np.random.default_rng(12345 if seed is None else seed + 104729)
    X = None
    if seed_samples:
        scales = np.resize(np.array(SAMPLE_SCALES), seed_samples)[:, None]
        X = rng.normal(size=(seed_samples, n)) * scales
    done = True
    with Progress("regions (LP tree)", unit="node", enabled=progress) as bar:
        enum = Enumerator(n, stage_list, X, deadline, bar=bar)
        try:
            enum.run()
        except TimeUp:
            done = False
    stats = dict(enum.stats)
    exact = done and stats["lp_ambiguous"] == 0
    details = {"tests": stats, "neurons": sum(st.decisions for st in stage_list if st.kind == "relu"),
               "inputs": n, "seed_samples": int(seed_samples),
               "min_lp_margin": None if enum.min_margin == math.inf else enum.min_margin}
    if enum.lp.retried:
        details["lp_retries"] = enum.lp.retried
    if stats["lp_ambiguous"]:
        details["note"] = "some LPs ended within the numerical tolerance band; the count may be off"
    return RegionsResult(enum.count, exact, enum.lp.solved, time.perf_counter() - start, "lp", details)


def count_linear_regions(network: Network, weights: Mapping[str, np.ndarray] | None = None,
                         seed: int | None = None, time_limit: float | None = None,
                         method: str = "exact", samples: int | None = None,
                         seed_samples: int | None = None, progress: bool = False) -> RegionsResult:
    """Count the linear regions of one concrete network.

    Parameters
    ----------
    network : Network
        1–3 conv/local/dense layers (each followed by ReLU) and maxpool layers.
    weights : mapping, optional
        Arrays named as in :mod:`ilpregions.core.forward`; default He-normal from ``seed``.
    seed : int, optional
        Seed of :func:`~ilpregions.core.forward.he_normal_weights` (and of the sampler).
    time_limit : float, optional
        Seconds; when reached, ``exact=False`` and ``regions`` is a lower bound.
    method : {"exact", "lp", "sample"}
        ``"exact"`` counts one layer exactly in the rationals the weights are
        (no-broken-circuit sets over exact ranks, any biases) and uses the LP
        tree for deeper networks; ``"lp"`` forces the LP tree; ``"sample"`` is the
        authors' Gaussian sampler (a lower bound).
    samples : int, optional
        Inputs drawn by ``"sample"`` (default 100,000).
    seed_samples : int, optional
        Gaussian inputs drawn before the LP tree to give free witness points
        (default 20,000; 0 disables).
    progress : bool
        A bar on stderr (nodes visited, regions so far), shown after a second.

    Returns
    -------
    RegionsResult
        ``regions``, ``exact``, the LPs solved, the seconds, the method used
        (``rank``, ``lp`` or ``sample``) and details.

    Raises
    ------
    ParameterError
        For parameter ``method``: not one of ``METHODS``.
    InputError
        The network is not 1–3 conv/local/dense layers (with max-pooling), or
        the weights do not fit it.
    TooLargeError
        The network is far beyond what an exact count can reach (by
        arithmetic, before any work).
    SolverError
        HiGHS fails on a cell LP even after the retries of
        :data:`ilpregions.backends.highs.RETRIES` (no count is given then).

    Examples
    --------
    >>> from ilpregions.core.spec import Network, ConvLayer
    >>> net = Network((3, 3, 1), (ConvLayer(filters=2, kernel=2),))
    >>> r = count_linear_regions(net, seed=1)
    >>> r.regions, r.exact, r.method
    (255, True, 'rank')
    >>> count_linear_regions(net, seed=1, method="lp").regions
    255
    """
    _check_network(network, method)
    if weights is None:
        weights = he_normal_weights(network, 0 if seed is None else seed)
    weights = check_weights(network, weights)
    start = time.perf_counter()
    deadline = None if time_limit is None else start + time_limit
    n = int(np.prod(network.input_shape))
    if method == "sample":
        total = 100_000 if samples is None else int(samples)
        found, drawn = sample_patterns(network, weights, total, seed=seed, deadline=deadline)
        return RegionsResult(found, False, 0, time.perf_counter() - start, "sample", {"samples": drawn})
    stage_list = stages(network, weights)
    if method == "exact" and _one_affine_layer(network):
        st = stage_list[0]
        rows = np.c_[st.A, st.b]
        counted = count_one_layer(rows, deadline, progress)
        if counted.certified:
            details = {"neurons": len(rows), "inputs": n, "exact_rank_checks": counted.exact_checks}
            if counted.primes_rejected:
                details["primes_rejected"] = counted.primes_rejected
            return RegionsResult(counted.regions, counted.complete, 0, time.perf_counter() - start, "rank", details)
        # every prime divided some minor (never seen but possible): the LP tree decides instead
    return _lp_tree(stage_list, n, seed, seed_samples, deadline, start, progress)


__all__ = ["RegionsResult", "count_linear_regions", "METHODS"]
