"""The exact maximal region count of a one-layer CNN with *shared* filters.

Theorem 1 treats every neuron's weights as free within its receptive field;
a CNN ties them across positions (MATH.md §4). With generic biases, a
one-layer network's regions are the independent subsets of its neurons'
normal vectors (Zaslavsky; MATH.md §2). For shared filters the normals are
the shifted copies of the d1 filters, and the maximum over parameters is
reached by generic filters: it is the number of independent subsets of the
shifted-filter vectors of random filters.

Ranks are computed exactly over the prime field GF(p), p = 2^31 - 1, with
the filters drawn uniformly from the field. A set that is dependent for all
filters stays dependent mod p; an independent one turns dependent only if a
non-zero minor vanishes at the random point (probability at most its degree
over p, by Schwartz–Zippel). Errors can therefore only *lower* the count,
so the run is repeated with fresh filters and the maximum is kept.

The search visits independent sets only: a candidate that depends on the
current set is never extended, which prunes every superset of a dependent
set. Positions whose fields share no pixel form separate blocks whose
counts multiply.

Examples
--------
>>> from ilpregions.core.spec import Network, ConvLayer
>>> r = tied_max(Network((3, 3, 1), (ConvLayer(filters=2, kernel=2),)))
>>> r.regions, r.formula, r.gap
(255, 256, 1)
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ilpregions.core.bigint import big_int_repr
from ilpregions.core.errors import InputError
from ilpregions.core.geometry import components, layer_instance
from ilpregions.core.spec import ConvLayer, Network

#: The field: a Mersenne prime below 2^31, so products fit in int64.
PRIME = 2 ** 31 - 1


@big_int_repr  # repr at any size (docs/safety.md)
@dataclass(frozen=True)
class TiedResult:
    """``regions``: the tied (shared-filter) maximum; ``formula``: Theorem 1; ``gap`` = formula - regions."""

    regions: int
    formula: int
    gap: int
    seconds: float
    details: dict[str, Any] = field(default_factory=dict, compare=False)

    def to_json(self) -> dict[str, Any]:
        out = {"regions": str(self.regions), "formula": str(self.formula), "gap": str(self.gap),
               "seconds": round(self.seconds, 6)}
        out.update(self.details)
        return out


def shifted_filter_vectors(network: Network, filters: np.ndarray) -> np.ndarray:
    """The normals of a one-layer conv net with the given filters, as integer rows.

    ``filters`` has shape (d1, *kernel, d0); rows are ordered (position, filter)
    row-major, columns are the flattened input (channels last).
    """
    from ilpregions.core.forward import layer_affine

    layer = network.layers[0]
    if not isinstance(layer, ConvLayer):
        raise InputError("layers[0]: tied-max needs a conv layer")
    weights = {"layers.0.weight": filters.astype(np.float64), "layers.0.bias": np.zeros(layer.filters)}
    A, _ = layer_affine(network, weights, 0)
    return np.rint(A).astype(np.int64)


def _inverse(value: int, p: int = PRIME) -> int:
    return pow(int(value), p - 2, p)


class CentralDependency(Exception):
    """A dependent set of normals whose hyperplanes meet: the biases are not generic."""


#: A second prime for cross-checks (2^31 - 19).
PRIME2 = 2 ** 31 - 19


def to_residues(values: np.ndarray, p: int = PRIME) -> np.ndarray:
    """Exact residues mod p of float arrays, row by row up to a power of two.

    Each float is m * 2^e exactly; every row is multiplied by 2^(-min e of the
    row), which turns it into integers without changing which sets of rows
    are independent (nor whether a dependent set's hyperplanes meet, when the
    bias is the row's last entry).

    >>> to_residues(np.array([[0.5, 0.25, -1.0]]), p=7).tolist()  # (2, 1, -4) * 2^52
    [[4, 2, 6]]
    """
    X = np.asarray(values, dtype=np.float64)
    frac, expo = np.frexp(X)
    mant = np.rint(frac * 2.0 ** 53).astype(np.int64)          # exact: |frac| < 1
    expo = expo.astype(np.int64) - 53
    nonzero = mant != 0
    base = np.where(nonzero, expo, np.iinfo(np.int64).max).min(axis=1, keepdims=True)
    base = np.where(base == np.iinfo(np.int64).max, 0, base)
    shifts = np.where(nonzero, expo - base, 0)
    out = np.mod(mant, p)
    powers = {int(k): pow(2, int(k), p) for k in np.unique(shifts)}
    factor = np.vectorize(powers.__getitem__, otypes=[np.int64])(shifts)
    return (out * factor) % p


def count_independent_mod_p(vectors: np.ndarray, p: int = PRIME, deadline: float | None = None,
                            bias: np.ndarray | None = None, strict_deadline: bool = True) -> tuple[int, bool]:
    """Independent subsets (including the empty set) of integer rows over GF(p).

    Each search node keeps the later candidates reduced against the chosen
    set; a candidate reducing to zero is dependent and is never extended,
    which prunes all its supersets. With ``bias`` (one residue per row), the
    bias column is reduced along but never pivoted on, and a dependent
    candidate whose bias also reduces to zero raises
    :class:`CentralDependency` (its hyperplanes meet; every circuit is met
    this way, as the extension of its smaller elements by its largest).

    Returns ``(count, complete)``; ``complete`` is False when the deadline
    passed first (then ``count`` is a lower bound), or raises
    :class:`TimeoutError` if ``strict_deadline``.

    >>> count_independent_mod_p(np.array([[1, 0], [0, 1], [1, 1]]))
    (7, True)
    >>> count_independent_mod_p(np.array([[1, 2], [2, 4]]))
    (3, True)
    """
    V = np.mod(np.asarray(vectors, dtype=np.int64), p)
    cols = V.shape[1]
    if bias is not None:
        V = np.concatenate([V, np.mod(np.asarray(bias, dtype=np.int64), p).reshape(-1, 1)], axis=1)
    count = 1
    stack = [V]
    nodes = 0
    while stack:
        R = stack.pop()
        nodes += 1
        if deadline is not None and nodes % 512 == 0 and time.perf_counter() > deadline:
            if strict_deadline:
                raise TimeoutError("time limit reached")
            return count, False
        W = R[:, :cols]
        nonzero = W.any(axis=1)
        if bias is not None and not np.all(nonzero | (R[:, cols] != 0)):
            raise CentralDependency
        for i in np.flatnonzero(nonzero):
            count += 1
            if i + 1 >= len(R):
                continue
            row = R[i]
            pivot = int(np.flatnonzero(row[:cols])[0])
            rest = R[i + 1:]
            factor = (rest[:, pivot] * _inverse(row[pivot], p)) % p
            # rest - factor * row (mod p); both factors < 2^31, so products fit in int64
            rest = (rest - (factor[:, None] * row[None, :]) % p) % p
            stack.append(rest)
    return count, True


#: The search visits every independent set; refuse beyond this many (the formula bounds them).
MAX_SETS = 5_000_000


def tied_max(network: Network, repeats: int = 3, seed: int | None = 0,
             time_limit: float | None = None, backend: str = "auto",
             max_sets: int = MAX_SETS) -> TiedResult:
    """Maximal number of regions of a one-layer CNN with shared filters.

    Parameters
    ----------
    network : Network
        One conv layer (a local or dense layer has no ties: its maximum is the
        Theorem-1 count, which is returned as both values).
    repeats : int
        Independent random draws of the filters; the maximum is kept.
    seed : int, optional
        Seed of the random filters.
    time_limit : float, optional
        Seconds; raises :class:`TimeoutError` when exceeded.
    backend : str
        Theorem-1 backend for ``formula``.

    Returns
    -------
    TiedResult
    """
    from ilpregions.services.counting import count_regions

    start = time.perf_counter()
    deadline = None if time_limit is None else start + time_limit
    inst = layer_instance(network)
    for block in components(inst):
        # A block of rank r has at least 2^r independent sets: refuse before any counting.
        rank = min(len(block) * inst.filters, inst.coverage(block))
        if rank > 22 and isinstance(network.layers[0], ConvLayer) and network.layers[0].shared:
            from ilpregions.core.errors import TooLargeError
            raise TooLargeError(f"tied-max visits every independent set, and one block of overlapping "
                                f"fields has rank {rank} (at least 2^{rank} sets); use `ilpregions count` "
                                f"for the formula, an upper bound")
    formula = count_regions(network, backend=backend).regions
    layer = network.layers[0]
    if not (isinstance(layer, ConvLayer) and layer.shared):
        return TiedResult(formula, formula, 0, time.perf_counter() - start,
                          {"repeats": 0, "note": "no weight sharing: the formula is the maximum"})
    blocks = components(inst)
    # Each block's count is at most its own Theorem-1 count; their product is the formula.
    if formula > max_sets and len(blocks) == 1:
        from ilpregions.core.errors import TooLargeError
        raise TooLargeError(f"tied-max visits every independent set, and the formula allows {formula}; "
                            f"the limit is {max_sets}")
    rng = np.random.default_rng(seed)
    shape = (layer.filters,) + tuple(layer.kernel) + (inst.channels,)
    draws = []
    for _ in range(max(1, repeats)):
        filters = rng.integers(1, PRIME, size=shape, dtype=np.int64)
        # Integer filters are placed as floats by layer_affine; keep them < 2^53.
        vectors = _shifted_int(network, filters)
        total = 1
        for block in blocks:
            rows = np.concatenate([np.arange(p * layer.filters, (p + 1) * layer.filters) for p in block])
            sub = vectors[rows]
            sub = sub[:, sub.any(axis=0)]
            total *= count_independent_mod_p(sub, PRIME, deadline)[0]
        draws.append(total)
    regions = max(draws)
    return TiedResult(regions, formula, formula - regions, time.perf_counter() - start,
                      {"repeats": len(draws), "draws_agree": len(set(draws)) == 1,
                       "prime": PRIME, "blocks": len(blocks)})


def _shifted_int(network: Network, filters: np.ndarray) -> np.ndarray:
    """Shifted-filter rows with exact integer entries (each entry is one filter weight)."""
    return shifted_filter_vectors(network, filters)


__all__ = ["TiedResult", "tied_max", "count_independent_mod_p", "shifted_filter_vectors", "to_residues",
           "CentralDependency", "PRIME", "PRIME2"]
