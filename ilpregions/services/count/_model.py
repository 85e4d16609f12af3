"""``count_model``: what the ``count`` command asks for, in one call.

The Theorem-1 count of a one-layer model with the options a user sets: the
backend (``"auto"`` picks one), a memory cap, the dp backend's Dask stages,
and optionally the exact polynomial R_N(d1) checked against the count. A
layer too large for an exact count can get the proven bounds on its
Theorem-1 value instead (``bounds_if_too_large``).
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from typing import Any

from ilpregions import backends
from ilpregions.core.errors import InconsistencyError, ParameterError, TooLargeError
from ilpregions.core.geometry import as_instance
from ilpregions.core.results import CountResult
from ilpregions.core.spec import ConvLayer, Network
from ilpregions.services.count._polynomial import PolynomialTimeLimit, RegionPolynomial, region_polynomial
from ilpregions.services.count._theorem1 import choose_backend, count_regions

#: ``ModelCount.status`` when the count was refused and bounds stand in for it.
BOUNDS_ONLY = "bounds_only"


@dataclass(frozen=True)
class ModelCount:
    """The count of one model, with its polynomial when asked for.

    ``count`` is None when the layer was too large for an exact count; then
    ``refused`` says why and ``bounds`` (a
    :class:`~ilpregions.services.bounds.BoundsReport` of the locally connected
    layer, whose maximum *is* the Theorem-1 value) holds the proven bounds,
    if they were asked for. ``polynomial`` is None when it was not asked
    for, or when the time limit stopped its DP (then ``polynomial_complete``
    is False). ``complete`` is True when everything asked for finished.
    """

    count: CountResult | None
    polynomial: RegionPolynomial | None = None
    polynomial_asked: bool = False
    polynomial_complete: bool = True
    filters: int = 0
    refused: str | None = None
    bounds: Any = None
    seconds: float = 0.0

    @property
    def complete(self) -> bool:
        return self.count is not None and self.count.exact and self.polynomial_complete


def count_model(model, *, backend: str = "auto", time_limit: float | None = None, progress: bool = False,
                memory_cap: int | None = None, dask_workers: int | None = None, scheduler: str | None = None,
                polynomial: bool = False, tune_process: bool = False,
                bounds_if_too_large: bool = False) -> ModelCount:
    """Count R_N of a one-layer model, and optionally its polynomial in d1.

    Parameters
    ----------
    model : Network or Theorem1Instance
        A network with exactly one conv, local or dense layer.
    backend : str
        ``"auto"`` or a counting backend name (unknown names raise
        :class:`~ilpregions.core.errors.UnknownBackendError` before any work).
    time_limit : float, optional
        Seconds for the count, and again for the polynomial; with
        ``bounds_if_too_large``, one deadline for the count and the bounds.
    progress : bool
        A progress bar on stderr for long runs.
    memory_cap : int, optional
        Bytes; every counting backend takes it.
    dask_workers, scheduler : optional
        Run the dp backend's large stages on that many local Dask workers,
        or on the cluster at ``scheduler``; only the dp backend has them.
    polynomial : bool
        Also compute R_N(d1) exactly (by the dp engine) and check it against
        the count at the layer's d1.
    tune_process : bool
        Let the dp engine tune this process's allocator (a process-wide
        change: only for a process that does nothing else, like the CLI's).
    bounds_if_too_large : bool
        When the dp engine (no memory cap given) refuses the layer as too large for an exact count,
        return the proven lower and upper bounds on its Theorem-1 value
        instead of raising (:func:`~ilpregions.services.bounds.compute_bounds`
        on the same layer with untied weights).

    Returns
    -------
    ModelCount

    Raises
    ------
    ParameterError
        ``dask_workers`` or ``scheduler`` with a backend other than dp.
    TooLargeError
        The layer is too large for the backend (unless ``bounds_if_too_large``).
    InconsistencyError
        The polynomial and the count disagree (a bug, never bad input).

    Examples
    --------
    >>> from ilpregions.core.spec import Network, ConvLayer
    >>> out = count_model(Network((3, 1), (ConvLayer(2, 2, shared=False),)), polynomial=True)
    >>> out.count.regions, out.polynomial.degree, out.complete
    (15, 3, True)
    >>> big = Network((32, 32, 3), (ConvLayer(16, 3, padding=1),))
    >>> out = count_model(big, bounds_if_too_large=True, time_limit=1)
    >>> out.count is None and out.bounds.lower <= out.bounds.upper
    True
    """
    start = time.perf_counter()
    if backend != backends.AUTO:
        backends.resolve(backend, backends.COUNT)
    inst = as_instance(model)          # the one-layer check, before any solver starts
    chosen = choose_backend(inst) if backend == backends.AUTO else backend
    options = _options(chosen, memory_cap, dask_workers, scheduler, tune_process)
    try:
        result = count_regions(model, backend=backend, time_limit=time_limit, progress=progress, **options)
    except TooLargeError as exc:
        # the dp engine's own refusal of a size only: another backend's refusal, or one under a memory
        # cap the caller set, stands as asked (tests/test_binary_sizes.py, test_dp, test_dp_estimate)
        if not bounds_if_too_large or not isinstance(model, Network) or chosen != "dp" or memory_cap is not None:
            raise
        left = None if time_limit is None else max(0.01, time_limit - (time.perf_counter() - start))
        report = theorem1_bounds(model, left, progress)
        return ModelCount(None, filters=inst.filters, refused=str(exc).splitlines()[0], bounds=report,
                          seconds=time.perf_counter() - start)
    if not polynomial:
        return ModelCount(result, filters=inst.filters)
    try:
        poly = region_polynomial(inst, time_limit=time_limit, memory_cap=memory_cap)
    except PolynomialTimeLimit:
        return ModelCount(result, None, True, False, inst.filters)
    if result.exact and poly(inst.filters) != result.regions:
        raise InconsistencyError(f"the polynomial gives {poly(inst.filters)} at d1 = {inst.filters}, "
                                 f"the count {result.regions}")
    return ModelCount(result, poly, True, True, inst.filters)


def _options(chosen: str, memory_cap, dask_workers, scheduler, tune_process) -> dict[str, Any]:
    """The backend's keyword options; Dask settings only for the dp backend."""
    options: dict[str, Any] = {}
    if memory_cap is not None:
        options["memory_cap"] = memory_cap
    for name, value, option in (("dask_workers", dask_workers, "workers"), ("scheduler", scheduler, "scheduler")):
        if value is not None:
            if chosen != "dp":
                raise ParameterError(name, f"needs the dp backend (whose stages run on Dask), not {chosen}")
            options[option] = value
    if tune_process and chosen == "dp":
        backends.load("dp", backends.COUNT).tune_malloc()
    return options


def theorem1_bounds(network: Network, time_limit: float | None = None, progress: bool = False):
    """Proven bounds on the Theorem-1 value of a one-layer network.

    They are the bounds of the same layer with untied weights, whose maximum
    the Theorem-1 formula is (docs/math.md#weight-sharing).

    Parameters
    ----------
    network : Network
        A one-layer network (a shared conv layer is untied first).
    time_limit : float, optional
        One deadline for all the bounds (None: each exact step gets the
        bounds' default seconds and there is no overall limit).
    progress : bool
        A bar on stderr over the bounds' stages.

    Returns
    -------
    BoundsReport
        The bounds report of the untied layer; its ``lower``/``upper`` bound
        the Theorem-1 value.

    Examples
    --------
    >>> from ilpregions.core.spec import ConvLayer, Network
    >>> report = theorem1_bounds(Network((3, 3, 1), (ConvLayer(2, 2),)))
    >>> report.lower, report.upper
    (256, 256)
    """
    from ilpregions.services.bounds import DEFAULT_STEP_SECONDS, compute_bounds

    layer = network.layers[0]
    if isinstance(layer, ConvLayer) and layer.shared:
        network = dataclasses.replace(network, layers=(dataclasses.replace(layer, shared=False),))
    if time_limit is None:
        return compute_bounds(network, time_limit=DEFAULT_STEP_SECONDS, progress=progress)
    return compute_bounds(network, time_limit=min(time_limit, DEFAULT_STEP_SECONDS), progress=progress,
                          total_seconds=time_limit)


__all__ = ["ModelCount", "count_model", "theorem1_bounds", "BOUNDS_ONLY"]
