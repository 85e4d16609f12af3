"""The paper's two conclusions on real models, each against the counterparts of :mod:`._counterparts`.

For a model M with P parameters:

* **deep-vs-shallow**: a model of 2+ ReLU layers is the deep side A, its
  shallow counterpart (one layer like M's first, ≤ P parameters) the side B;
  a one-layer model is B, and its deep counterpart (two layers, ≤ P
  parameters) is A;
* **cnn-vs-fc**: M is A, its fully-connected counterpart (as many dense
  layers as M has ReLU layers, ≤ P parameters, at least one unit each) is B.

Each side's bounds are the headline pair of
:func:`ilpregions.services.bounds.compute_bounds` (proven for the network as
specified, shared filters included), under one deadline for the whole run.

>>> from ilpregions.core.spec import ConvLayer, Network
>>> [layer.filters for layer in deep_counterpart(Network((4, 1), (ConvLayer(2, 2),))).layers]
[1, 1]
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, Sequence

from ilpregions.core.errors import ParameterError
from ilpregions.core.spec import Network
from ilpregions.services.claims._warm import warm_engines
from ilpregions.services.claims._counterparts import deep_counterpart, fc_counterpart, relu_depth, shallow_counterpart
from ilpregions.services.claims._verdict import OPEN, Gap, Side, gap, verdict

#: Seconds per model when the caller gives no time limit (its three networks share them).
DEFAULT_SECONDS_PER_MODEL = 30.0
#: Share of a model's seconds for its fully-connected counterpart (closed forms: milliseconds).
FC_SHARE = 0.1
#: Below this many seconds left, no further network is started (the run is partial).
MIN_SECONDS = 0.05

DEEP_VS_SHALLOW, CNN_VS_FC = "deep-vs-shallow", "cnn-vs-fc"
CLAIMS_PER_MODEL = 2


@dataclass(frozen=True)
class ModelClaim:
    """One claim on one model: the claimed-larger side A against side B, and the verdict."""

    claim: str
    title: str
    model: str
    larger: Side
    other: Side
    verdict: str
    margin: float | None  # log10[(A.lower/A.params) / (B.upper/B.params)]; > 0 ⇔ PROVEN

    @property
    def gap(self) -> Gap | None:
        """What keeps an OPEN verdict open (None for PROVEN and REFUTED)."""
        return gap(self.larger, self.other) if self.verdict == OPEN else None

    @property
    def complete(self) -> bool:
        """PROVEN and REFUTED are final; an open verdict is complete when no side's bounds were cut."""
        return self.verdict != OPEN or (self.larger.complete and self.other.complete)

    def to_json(self) -> dict:
        return {"claim": self.claim, "title": self.title, "model": self.model, "verdict": self.verdict,
                "complete": self.complete,
                "log10_margin": None if self.margin is None else round(self.margin, 4),
                "gap": None if self.gap is None else self.gap.to_json(),
                "larger": self.larger.to_json(), "other": self.other.to_json()}


@dataclass(frozen=True)
class ModelsRun:
    """:func:`run_model_claims`: the claims evaluated (fewer than asked when the time ran out)."""

    results: tuple[ModelClaim, ...]
    models: tuple[str, ...]
    time_limit: float
    seconds: float

    @property
    def asked(self) -> int:
        return CLAIMS_PER_MODEL * len(self.models)

    @property
    def complete(self) -> bool:
        return len(self.results) == self.asked and all(r.complete for r in self.results)

    @property
    def status(self) -> str:
        return "complete" if self.complete else "time_limit"


class _Deadline:
    def __init__(self, seconds: float):
        self.end = time.perf_counter() + seconds

    def left(self) -> float:
        return self.end - time.perf_counter()


def model_side(label: str, network: Network, seconds: float) -> Side:
    """The best proven bounds of ``network`` within ``seconds`` in all (``compute_bounds``'s deadline).

    Parameters
    ----------
    label : str
        What the side is ("model", "shallow counterpart", ...).
    network : Network
        Any stack of layers.
    seconds : float
        One deadline for all of its bounds.

    Returns
    -------
    Side
        ``complete`` is False when the deadline stopped any bound.

    Raises
    ------
    ParameterError
        When ``seconds`` is not positive (``time_limit``).

    Examples
    --------
    >>> from ilpregions.core.spec import DenseLayer, Network
    >>> s = model_side("fc", Network((2, 1), (DenseLayer(3),)), 5.0)
    >>> s.lower, s.upper, s.params, s.complete
    (7, 7, 9, True)
    """
    from ilpregions.services.bounds import compute_bounds

    if not seconds > 0:
        raise ParameterError("time_limit", f"must be a positive number of seconds, got {seconds!r}")
    # no LP bounds (as the families): at real size they never beat the binomial upper bound, and their
    # 1.5 s floor would mark small sides as cut by the deadline
    report = compute_bounds(network, time_limit=seconds, total_seconds=seconds, lp=False)
    return Side(label, network, report.params, report.lower, report.upper, report.lower_name, report.upper_name,
                complete=report.status == "complete")


def _title(claim: str, one_layer: bool) -> str:
    if claim == CNN_VS_FC:
        return "the model > a fully-connected net on its input with ≤ its parameters and its depth, per parameter"
    if one_layer:
        return "a two-layer CNN with ≤ the model's parameters > the model (one layer), per parameter"
    return "the model > a one-layer CNN with ≤ its parameters, per parameter"


def claims_on_model(name: str, network: Network, seconds: float,
                    progress: Callable[[], None] | None = None) -> list[ModelClaim]:
    """Both claims on one model within ``seconds``; a claim whose sides did not start is left out.

    Parameters
    ----------
    name : str
        The model's name in the results (its file, say).
    network : Network
        A CNN (first layer conv or local).
    seconds : float
        The time for the model's three networks (its counterparts and itself).
    progress : callable, optional
        Called once per network whose bounds are done.

    Returns
    -------
    list of ModelClaim
        deep-vs-shallow, then cnn-vs-fc (either left out when a side of it did not start).

    Raises
    ------
    ParameterError
        When the model is not a CNN (``network``).

    Examples
    --------
    >>> from ilpregions.core.spec import ConvLayer, Network
    >>> [c.verdict for c in claims_on_model("tiny", Network((4, 1), (ConvLayer(2, 2),)), 10.0)]
    ['OPEN', 'PROVEN']
    """
    one_layer = relu_depth(network) == 1
    counterpart = deep_counterpart(network) if one_layer else shallow_counterpart(network)
    fc = fc_counterpart(network)
    clock = _Deadline(seconds)
    tick = progress or (lambda: None)
    sides: dict[str, Side] = {}
    plan = [("fc", "fully-connected counterpart", fc, FC_SHARE),
            ("model", "model", network, (1 - FC_SHARE) / 2),
            ("counterpart", "deep counterpart" if one_layer else "shallow counterpart", counterpart, (1 - FC_SHARE) / 2)]
    for index, (key, label, net, weight) in enumerate(plan):
        # its planned share even when an earlier network ran over (each overshoots by a bounded factor),
        # and more when the earlier ones left time
        budget = max(seconds * weight, clock.left() * weight / sum(w for *_, w in plan[index:]))
        if budget < MIN_SECONDS:
            break
        sides[key] = model_side(label, net, budget)
        tick()
    out = []
    if "counterpart" in sides:
        a, b = ((sides["counterpart"], sides["model"]) if one_layer else (sides["model"], sides["counterpart"]))
        out.append(ModelClaim(DEEP_VS_SHALLOW, _title(DEEP_VS_SHALLOW, one_layer), name, a, b, *verdict(a, b)))
    if "model" in sides:
        a, b = sides["model"], sides["fc"]
        out.append(ModelClaim(CNN_VS_FC, _title(CNN_VS_FC, one_layer), name, a, b, *verdict(a, b)))
    return out


def run_model_claims(models: Sequence[tuple[str, Network]], time_limit: float | None = None,
                     progress: Callable[[], None] | None = None) -> ModelsRun:
    """Both claims on every model of ``models`` within ``time_limit`` seconds in all.

    Each model gets an equal share of the limit, or of the time left when that
    is more; within a model, the fully-connected counterpart gets
    :data:`FC_SHARE` of it, the model and its deep or shallow counterpart half
    of the rest each (again more when earlier ones left time). Every network
    keeps its planned share when an earlier one ran over, so each claim gets
    its sides; a network whose share is under :data:`MIN_SECONDS` is not
    started and its claims are left out (``status`` ``"time_limit"``). The
    engines are loaded before the first share starts (their first import
    takes about a second), so no share pays for it. An open
    verdict whose bounds the deadline cut also makes the run partial, since
    more time may decide it.

    Parameters
    ----------
    models : sequence of (name, Network)
        CNNs (first layer conv or local), checked before any work.
    time_limit : float, optional
        Seconds for the whole run; default :data:`DEFAULT_SECONDS_PER_MODEL` per model.
    progress : callable, optional
        Called once per network whose bounds are done (three per model).

    Returns
    -------
    ModelsRun
        The claims evaluated, the models, the time limit, the seconds taken and the status.

    Raises
    ------
    ParameterError
        A model that is not a CNN, no models (``models``), or a time limit that
        is not positive (``time_limit``).

    Examples
    --------
    >>> from ilpregions.core.spec import ConvLayer, Network
    >>> run = run_model_claims([("tiny", Network((4, 1), (ConvLayer(2, 2),)))], time_limit=20)
    >>> [(c.claim, c.verdict) for c in run.results], run.status
    ([('deep-vs-shallow', 'OPEN'), ('cnn-vs-fc', 'PROVEN')], 'complete')
    """
    if not models:
        raise ParameterError("models", "at least one model is needed")
    seconds = DEFAULT_SECONDS_PER_MODEL * len(models) if time_limit is None else float(time_limit)
    if not seconds > 0:
        raise ParameterError("time_limit", f"must be a positive number of seconds, got {time_limit!r}")
    for name, network in models:   # every model is checked before any work
        try:
            shallow_counterpart(network)
        except ParameterError as exc:
            raise ParameterError("models", f"{name}: {exc.message}") from None
    start = time.perf_counter()
    clock = _Deadline(seconds)
    warm_engines()   # their first import is charged now, not inside a network's share
    results: list[ModelClaim] = []
    for index, (name, network) in enumerate(models):
        share = max(seconds / len(models), clock.left() / (len(models) - index))
        if share < MIN_SECONDS:
            break
        results.extend(claims_on_model(name, network, share, progress))
    return ModelsRun(tuple(results), tuple(name for name, _ in models), seconds, time.perf_counter() - start)


__all__ = ["ModelClaim", "ModelsRun", "model_side", "claims_on_model", "run_model_claims",
           "DEFAULT_SECONDS_PER_MODEL", "DEEP_VS_SHALLOW", "CNN_VS_FC"]
