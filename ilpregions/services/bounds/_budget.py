"""One deadline for a whole ``bounds`` call, and the bounds it cut (docs/bounds.md, "Time limit").

``bounds`` has two clocks. ``step`` is the time each search inside a bound
may take (tied_max, the block and strip searches, an exact count); without
an overall limit that is all there is (today's default, 4 s per search).
``deadline`` is the caller's overall limit (``--time-limit``): every bound
checks it before it starts, and a bound whose cost -- estimated by
arithmetic (positions, digits of the result) -- does not fit in the time
left is not started. Such bounds are listed as "not run: time limit" and
recorded in :attr:`Budget.cut`, which makes the answer partial (status
``time_limit``, exit 3). A bound that is printed is always finished, so it
stays proven.

Examples
--------
>>> b = Budget(step=4.0)             # no overall limit: never cuts
>>> b.seconds(), b.allows("x", 1e9), b.cut
(4.0, True, ())
>>> b = Budget(step=4.0, deadline=0.0)   # a deadline long past
>>> b.seconds() <= 0, b.allows("ilpregions.tied.fresh_box", 0.1), b.allows("tiny", 1e-4), b.cut
(True, False, True, ('ilpregions.tied.fresh_box',))
"""

from __future__ import annotations

import math
import time

from ilpregions.theory import tied_bounds as T

#: Seconds CPython 3.11 needs for a big-integer product or power with a result of
#: ``KARATSUBA_DIGITS`` decimal digits (measured: pow(697, 996004), 2.8M digits, 5 s on the
#: project's 2-core machine); costs scale as digits^1.585 (Karatsuba).
KARATSUBA_SECONDS = 5.0
KARATSUBA_DIGITS = 2_800_000
#: The same with python-flint (GMP): 0.13 s for 2.8M digits, about linear.
FLINT_SECONDS = 0.15
#: A bound starts only if SAFETY times its estimate fits in the time left (estimates are rough; the
#: contract allows 2x the limit under load).
SAFETY = 1.25
#: Bounds estimated below this many seconds (closed forms on small numbers) run even after the
#: deadline: cutting them would save nothing and lose a proven value.
FREE_SECONDS = 0.01
#: The closed forms (the box upper bound, the fresh box, the sub-lattice) may end up to this share of
#: the limit after the deadline: on a huge layer, building the instance alone can take the whole
#: limit, and one proven pair of bounds is worth the wait (the whole call stays within 1.5x the limit
#: plus the estimates' error, inside the contract's 2x).
GRACE = 0.5


def has_flint() -> bool:
    """Whether python-flint (GMP big integers) is importable: big powers are then ~40x faster."""
    try:
        import flint  # noqa: F401
    except ImportError:
        return False
    return True


def bigint_seconds(digits: float, fast: bool | None = None) -> float:
    """Estimated seconds to build an exact integer of ``digits`` decimal digits by products/powers.

    >>> bigint_seconds(2_800_000, fast=False)
    5.0
    >>> bigint_seconds(1000, fast=False) < 1e-4
    True
    """
    fast = has_flint() if fast is None else fast
    ratio = max(float(digits), 0.0) / KARATSUBA_DIGITS
    return FLINT_SECONDS * ratio if fast else KARATSUBA_SECONDS * ratio ** 1.585


#: Σ_{i≤m} C(n, i) (fc_bounds.binomial_sum) with a result of 168,252 digits: 2.3 s measured (the
#: ImageNet stem's Σ_{i≤U} C(N_1, i)); 24 s for 670,655 digits: cost ~ digits^1.7.
BINOMIAL_SUM_SECONDS = 2.3
BINOMIAL_SUM_DIGITS = 168_252


def binomial_sum_seconds(n: int, m: int, known=()) -> float:
    """Estimated seconds for ``fc_bounds.binomial_sum(n, m)``, from the digits of its largest term.

    >>> binomial_sum_seconds(10, 3) < 1e-3, round(binomial_sum_seconds(802816, 150528), 1)
    (True, 2.3)
    """
    if m < 0 or n <= 0 or (n, m) in known:
        return 0.0
    if m >= n:
        return 0.0   # 2^n: a shift
    m = min(m, n - m - 1)   # the complement has fewer terms
    if m <= 0:
        return 0.0
    log10_term = (math.lgamma(n + 1) - math.lgamma(m + 1) - math.lgamma(n - m + 1)) / math.log(10)
    return BINOMIAL_SUM_SECONDS * (max(log10_term, 0.0) / BINOMIAL_SUM_DIGITS) ** 1.7


def digits_of(log10_value: float) -> int:
    """Decimal digits of a number whose log10 is given (0 for values below 1)."""
    return 0 if log10_value < 0 else int(math.floor(log10_value)) + 1


class Budget:
    """The per-search seconds, the overall deadline (perf_counter time or None) and what it cut.

    Mutable on purpose: one object is threaded through a ``bounds`` call and
    collects the names of the bounds the deadline stopped.
    """

    def __init__(self, step: float | None, deadline: float | None = None, limit: float = 0.0):
        self.step = step
        self.deadline = deadline
        self.limit = limit     # the overall seconds (for GRACE)
        self._cut: list[str] = []
        #: (n, m) of the binomial sums Σ_{i≤m} C(n, i) already built in this call (they are cached: free)
        self.known: set[tuple[int, int]] = set()
        #: seconds the searches must leave for the stages after them (set by the caller around a stage)
        self.reserve = 0.0
        #: closed-form rows already computed, by id(instance): (instance, rows)
        self.closed: dict[int, tuple] = {}

    @classmethod
    def total(cls, seconds: float | None, step: float | None = None) -> "Budget":
        """A budget of ``seconds`` from now (None: no overall limit), each search at most ``step``."""
        if seconds is None:
            return cls(step)
        return cls(seconds if step is None else min(step, seconds), time.perf_counter() + seconds, seconds)

    def left(self) -> float:
        """Seconds to the deadline (inf without one)."""
        return math.inf if self.deadline is None else self.deadline - time.perf_counter()

    def seconds(self, default: float | None = None, share: float = 1.0) -> float | None:
        """Seconds one search may take now: the step (or ``default``), at most ``share`` of the time left."""
        step = self.step if self.step is not None else default
        if self.deadline is None:
            return step
        left = share * max(self.left() - self.reserve, 0.0)
        return left if step is None else min(step, left)

    def expired(self) -> bool:
        return self.deadline is not None and time.perf_counter() >= self.deadline

    def allows(self, name: str, estimate: float = 0.0, grace: bool = False) -> bool:
        """Whether a bound estimated at ``estimate`` seconds may start; if not, ``name`` is recorded as cut.

        ``grace``: a closed form, which may end up to ``GRACE`` times the limit after the deadline.
        """
        if self.deadline is None or estimate <= FREE_SECONDS or estimate * SAFETY <= self.room(grace):
            return True
        self.mark(name)
        return False

    def room(self, grace: bool = False) -> float:
        """Seconds a bound may still take (inf without a deadline); see :meth:`allows`."""
        return self.left() + (GRACE * self.limit if grace else 0.0)

    def mark(self, name: str) -> None:
        """Record that the deadline cut ``name`` (a bound not run, or a search stopped early)."""
        if name not in self._cut:
            self._cut.append(name)

    @property
    def cut(self) -> tuple[str, ...]:
        return tuple(self._cut)

    def why(self, estimate: float | None = None) -> str:
        """The reason text of a bound this budget cut."""
        cost = "" if estimate is None else f", estimated {estimate:.3g} s"
        return f"not run: time limit ({max(self.left(), 0.0):.1f} s left{cost})"


#: Seconds per (position, pixel) pair of one numpy pass of the fresh counts (measured: 9M pairs of a
#: million 3x3 fields, 0.4 s per scan order).
SECONDS_PER_ARC = 5e-8


def box_seconds(inst) -> tuple[float, float]:
    """Estimated seconds of the fresh box: (one scan order's numpy passes over the fields, the exact
    product, of at most the digits of the per-position box Π_p Σ_{t≤|S_p|} C(d1, t))."""
    sizes = T.field_sizes(inst)
    arcs = int(sizes.sum()) // max(inst.channels, 1)
    return SECONDS_PER_ARC * arcs, bigint_seconds(T.box_log10(inst.filters, sizes))



__all__ = ["box_seconds", "SECONDS_PER_ARC", "GRACE", "Budget", "bigint_seconds", "binomial_sum_seconds", "digits_of", "has_flint", "KARATSUBA_SECONDS", "FLINT_SECONDS", "SAFETY"]
