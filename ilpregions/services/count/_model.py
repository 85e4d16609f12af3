"""``count_model``: what the ``count`` command asks for, in one call.

The Theorem-1 count of a one-layer model with the options a user sets: the
backend (``"auto"`` picks one), a memory cap, the dp backend's Dask stages,
and optionally the exact polynomial R_N(d1) checked against the count.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ilpregions import backends
from ilpregions.core.errors import InconsistencyError, ParameterError
from ilpregions.core.geometry import as_instance
from ilpregions.core.results import CountResult
from ilpregions.services.count._polynomial import PolynomialTimeLimit, RegionPolynomial, region_polynomial
from ilpregions.services.count._theorem1 import choose_backend, count_regions


@dataclass(frozen=True)
class ModelCount:
    """The count of one model, with its polynomial when asked for.

    ``polynomial`` is None when it was not asked for, or when the time limit
    stopped its DP (then ``polynomial_complete`` is False). ``complete`` is
    True when everything asked for finished.
    """

    count: CountResult
    polynomial: RegionPolynomial | None = None
    polynomial_asked: bool = False
    polynomial_complete: bool = True
    filters: int = 0

    @property
    def complete(self) -> bool:
        return self.count.exact and self.polynomial_complete


def count_model(model, *, backend: str = "auto", time_limit: float | None = None, progress: bool = False,
                memory_cap: int | None = None, dask_workers: int | None = None, scheduler: str | None = None,
                polynomial: bool = False, tune_process: bool = False) -> ModelCount:
    """Count R_N of a one-layer model, and optionally its polynomial in d1.

    Parameters
    ----------
    model : Network or Theorem1Instance
        A network with exactly one conv, local or dense layer.
    backend : str
        ``"auto"`` or a counting backend name (unknown names raise
        :class:`~ilpregions.core.errors.UnknownBackendError` before any work).
    time_limit : float, optional
        Seconds for the count, and again for the polynomial.
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

    Returns
    -------
    ModelCount

    Raises
    ------
    ParameterError
        ``dask_workers`` or ``scheduler`` with a backend other than dp.
    InconsistencyError
        The polynomial and the count disagree (a bug, never bad input).

    Examples
    --------
    >>> from ilpregions.core.spec import Network, ConvLayer
    >>> out = count_model(Network((3, 1), (ConvLayer(2, 2, shared=False),)), polynomial=True)
    >>> out.count.regions, out.polynomial.degree, out.complete
    (15, 3, True)
    """
    if backend != backends.AUTO:
        backends.resolve(backend, backends.COUNT)
    inst = as_instance(model)          # the one-layer check, before any solver starts
    chosen = choose_backend(inst) if backend == backends.AUTO else backend
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
    result = count_regions(model, backend=backend, time_limit=time_limit, progress=progress, **options)
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


__all__ = ["ModelCount", "count_model"]
