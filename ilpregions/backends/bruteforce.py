"""Brute force: every t in the box Π_p [0, min(d1, |S_p|)], tested against
Hall's condition over *all* 2^positions − 1 sets J.

It shares no code with the row pruning or the CP-SAT model, which is the
point: it is the independent reference for tiny instances. Hall's theorem
for b-matchings makes "every union row holds" the same as "a matching of
demands t into the elements exists" (docs/math.md#halls-theorem-for-b-matchings).
"""

from __future__ import annotations

import time
from math import comb

import numpy as np

from ilpregions.core.errors import TooLargeError
from ilpregions.core.results import EnumerationOutcome

MAX_POSITIONS = 18
MAX_BOX = 50_000_000
MAX_WORK = 4_000_000_000  # box size times number of subsets
CHUNK_WORK = 2 ** 24


#: Peak bytes when no ``memory_cap`` is given (see :func:`peak_bytes`).
DEFAULT_MEMORY_CAP = 2 << 30


def _pixel_labels(inst, positions: list[int]) -> dict[int, int]:
    """The pixels of the fields, numbered 0.. (a mask's bits, not its pixel ids up to 5e7)."""
    return {x: i for i, x in enumerate(sorted(set().union(*(inst.fields[p] for p in positions))))}


def peak_bytes(m: int, pixels: int) -> int:
    """Bytes the enumeration needs at most, by arithmetic: one Python int of ``pixels`` bits per
    subset J (2^m of them, with the list slot), the float32 incidence and unions, and one chunk
    (t as int64 and float32, the float32 products t·incidence of :data:`CHUNK_WORK` entries).

    >>> peak_bytes(15, 24) // 2 ** 20      # measured: 79 MiB over the interpreter's baseline
    83
    """
    subsets = 1 << m
    chunk = max(1, CHUNK_WORK // max(1, subsets - 1))
    return subsets * (8 + 32 + pixels // 8 + 4 * m + 4) + chunk * m * 20 + CHUNK_WORK * 5


def _all_unions(inst, positions: list[int], labels: dict[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Incidence rows of every non-empty J and g(J), by bitmask union."""
    m = len(positions)
    masks = [0] * (1 << m)
    for bit, p in enumerate(positions):
        field_mask = 0
        for x in inst.fields[p]:
            field_mask |= 1 << labels[x]
        masks[1 << bit] = field_mask
    for subset in range(1, 1 << m):
        low = subset & -subset
        masks[subset] = masks[low] | masks[subset ^ low]
    subsets = np.arange(1, 1 << m, dtype=np.int64)
    incidence = ((subsets[:, None] >> np.arange(m)[None, :]) & 1).astype(np.float32)
    union = np.array([bin(masks[s]).count("1") * inst.channels for s in range(1, 1 << m)], dtype=np.float32)
    return incidence, union


def count(inst, *, time_limit: float | None = None, progress=None,
          memory_cap: int | None = None) -> EnumerationOutcome:
    """Enumerate the t-box; sizes are checked by arithmetic first (``memory_cap``: bytes,
    default :data:`DEFAULT_MEMORY_CAP`)."""
    positions = [p for p in range(inst.positions) if inst.fields[p]]
    m = len(positions)
    if m > MAX_POSITIONS:   # first: the box of a million positions is a number of millions of digits
        raise TooLargeError(f"bruteforce: {m} positions with a field, over the limit of {MAX_POSITIONS} "
                            f"(2^{m} - 1 sets J); too large, use the dp or cpsat backend")
    caps = [inst.caps[p] for p in positions]
    box = 1
    for c in caps:
        box *= c + 1
    if box > MAX_BOX or box * ((1 << m) - 1) > MAX_WORK:
        raise TooLargeError(f"bruteforce: the t-box has {box} points and {m} positions "
                            f"({(1 << m) - 1} sets J); too large, use the dp or cpsat backend")
    labels = _pixel_labels(inst, positions)
    need, cap = peak_bytes(m, len(labels)), DEFAULT_MEMORY_CAP if memory_cap is None else memory_cap
    if need > cap:
        raise TooLargeError(f"bruteforce: about {need} bytes for the {(1 << m) - 1} unions of {len(labels)} "
                            f"pixels, over the limit of {cap} (memory_cap)")
    start = time.perf_counter()
    incidence, union = _all_unions(inst, positions, labels)
    radices = np.array(caps, dtype=np.int64) + 1
    place = np.ones(m, dtype=np.int64)
    for i in range(m - 2, -1, -1):
        place[i] = place[i + 1] * radices[i + 1]
    top = max(caps) if caps else 0
    signature_base = m + 1
    # Two t's with the same multiset of values have the same weight Π C(d1, t_p),
    # so feasible t's are tallied by that multiset and weighted once at the end.
    tally: dict[int, int] = {}
    feasible = 0
    chunk = max(1, CHUNK_WORK // max(1, incidence.shape[0]))
    done = 0
    complete = True
    if progress is not None:
        progress.set_total(box)
    for lo in range(0, box, chunk):
        if time_limit is not None and time.perf_counter() - start > time_limit:
            complete = False
            break
        idx = np.arange(lo, min(box, lo + chunk), dtype=np.int64)
        t = (idx[:, None] // place[None, :]) % radices[None, :]
        ok = ((t.astype(np.float32) @ incidence.T) <= union[None, :]).all(axis=1)
        good = t[ok]
        feasible += int(ok.sum())
        if len(good):
            signature = np.zeros(len(good), dtype=np.int64)
            for v in range(top + 1):
                signature = signature * signature_base + (good == v).sum(axis=1)
            keys, counts = np.unique(signature, return_counts=True)
            for key, n in zip(keys.tolist(), counts.tolist()):
                tally[key] = tally.get(key, 0) + n
        done += len(idx)
        if progress is not None:
            progress.update(len(idx))
    regions = 0
    for key, n in tally.items():
        weight = 1
        for v in range(top, -1, -1):
            key, how_many = divmod(key, signature_base)
            weight *= comb(inst.filters, v) ** how_many
        regions += weight * n
    return EnumerationOutcome(regions=regions, t_vectors=feasible, complete=complete,
                              details={"box_points": done})
