"""Compiled DP step (numba): successors go straight into a hash table.

The numpy step (:mod:`ilpregions.backends.dp.npstep`) builds every
successor of every state, then sorts them; its peak memory is the number of
*candidates* (states × demands), often ten times the number of distinct
successors. Here each successor row is computed into a scratch buffer,
hashed, and looked up in an open-addressing table of the new stage's rows:
an equal row adds its weight, a new row is appended. Only distinct rows are
stored, so memory follows the states, not the candidates.

Rows are the plan's small integers (one byte each; the plan pads a row to
whole 64-bit words), hashed and compared word by word; equal hashes are
always confirmed by comparing the rows, so merging is exact.

Weights are residues modulo primes below 2^31 (see
:mod:`ilpregions.backends.dp.weights`). A successor adds ``w·C(x, t)``
(below 2^62) to a 64-bit accumulator, which is reduced modulo its prime
only when it passes 2^63 (so it never overflows), and once at the end.

``numba`` is imported by this module only; the engine imports it lazily,
when a stage is large enough for compiling to pay.
"""

from __future__ import annotations

import numpy as np
from ilpregions.core.numba_cache import njit

_REDUCE_AT = np.uint64(1 << 63)
_MIX = np.uint64(0xBF58476D1CE4E5B9)
_SEED = np.uint64(0x243F6A8885A308D3)
_SHIFT = np.uint64(29)
_HIGH = np.uint64(0x8080808080808080)
_ONES = np.uint64(0x0101010101010101)
_SEVEN = np.uint64(7)
_EIGHT = np.uint64(8)
_HIGH32 = np.uint64(0xFFFFFFFF00000000)
_LOW32 = np.uint64(0xFFFFFFFF)


#: One odd 64-bit multiplier per word of a row (fixed seed: hashes, hence
#: partitions, are the same in every process).
MULTIPLIERS = np.random.default_rng(20200712).integers(1, 2 ** 63, size=1 << 15, dtype=np.uint64) | np.uint64(1)


@njit(cache=True, inline="always")
def _finish(h):
    h ^= h >> _SHIFT
    h *= _MIX
    h ^= h >> _SHIFT
    return h


@njit(cache=True, inline="always")
def _hash(buf, mults):
    # Multilinear (Σ word·multiplier): the products are independent, so they
    # pipeline; the final mix spreads the high bits into the low ones.
    h = _SEED
    for k in range(buf.shape[0]):
        h += buf[k] * mults[k]
    return _finish(h)


@njit(cache=True, inline="always")
def _equal(a, b):
    for k in range(a.shape[0]):
        if a[k] != b[k]:
            return False
    return True


@njit(cache=True, inline="always")
def _slot(buf, h, rows, hashes, table, m, capacity):
    """Index of ``buf`` in the table, appending it if new; -1 when full.

    A table entry is ``(high 32 bits of the hash) << 32 | (index + 1)``; 0 is
    empty. Equal tags are confirmed by comparing the rows.
    """
    mask = np.uint64(table.shape[0] - 1)
    tag = h & _HIGH32
    slot = h & mask
    while True:
        e = table[slot]
        if e == 0:
            if m >= capacity:
                return -1
            rows[m, :] = buf
            hashes[m] = h
            table[slot] = tag | np.uint64(m + 1)
            return m
        if (e & _HIGH32) == tag:
            idx = np.int64(e & _LOW32) - 1
            if _equal(rows[idx], buf):
                return idx
        slot = (slot + np.uint64(1)) & mask


@njit(cache=True, inline="always")
def _min_bytes(a, b):
    """Bytewise min of two words whose bytes are all below 128 (SWAR)."""
    ge = (((a | _HIGH) - b) & _HIGH) >> _SEVEN      # 1 in each byte where a >= b
    pick = (ge << _EIGHT) - ge                      # 0xFF there (no carries: bytes are 0 or 1)
    return (b & pick) | (a & ~pick)


@njit(cache=True)
def expand_insert(states, weights, window, cap, a_idx, u_idx, add, clip, mult, mods,
                  rows, hashes, acc, table, mults):  # pragma: no cover - compiled
    """All successors of all states, merged into (rows, hashes, acc, table).

    ``states`` (n × w_in uint8, values below 128), ``weights`` (n × k
    residues), the step's index maps (``add``/``clip`` as 64-bit words of
    bytes, like the rows), ``mult``
    ((cap+1) × k: C(x, t) mod p) and ``mods``. ``rows`` (capacity × w/8
    uint64) receives the new rows. Returns the number m of new rows, or
    -1 - s when the capacity is reached while expanding state s (the caller
    refuses: memory cap).

    A successor row is ``min(keep, joined − t)`` bytewise, with
    ``keep = min(f(B_old) + add, clip)`` and ``joined = f(B_old ∪ W) + add``
    built once per state; ``joined ≥ f(W) ≥ t`` (f is monotone), so the
    subtraction never borrows across bytes. The successors of one state are
    built first and their table slots touched before any is resolved, so
    the cache misses of a batch overlap.
    """
    # One loop nest on purpose: numba compiles it into one tight kernel.
    n = states.shape[0]
    w = a_idx.shape[0]
    w8 = rows.shape[1]
    k = acc.shape[1]
    capacity = rows.shape[0]
    keep = np.zeros(w8, np.uint64)
    joined = np.zeros(w8, np.uint64)
    keep_b = keep.view(np.uint8)
    joined_b = joined.view(np.uint8)
    batch = np.zeros((cap + 1, w8), np.uint64)
    bh = np.zeros(cap + 1, np.uint64)
    mask = np.uint64(table.shape[0] - 1)
    sink = np.uint64(0)
    m = 0
    for s in range(n):
        row = states[s]
        top = min(cap, np.int64(row[window]))
        for j in range(w):
            keep_b[j] = row[a_idx[j]]
            joined_b[j] = row[u_idx[j]]
        for q in range(w8):
            # f + add stays below 128 (the plan's value bound): no carries.
            keep[q] = _min_bytes(keep[q] + add[q], clip[q])
            joined[q] += add[q]
        # Build every successor of this state first, then touch their table
        # slots, then resolve them: the independent loads overlap (several
        # cache misses in flight instead of one after another).
        for t in range(top + 1):
            dt = np.uint64(t) * _ONES
            h = _SEED
            for q in range(w8):
                word = _min_bytes(keep[q], joined[q] - dt)
                batch[t, q] = word
                h += word * mults[q]
            bh[t] = _finish(h)
        for t in range(top + 1):
            e = table[bh[t] & mask]
            if e != 0 and (e & _HIGH32) == (bh[t] & _HIGH32):
                i = np.int64(e & _LOW32) - 1
                sink ^= rows[i, 0] ^ acc[i, 0]
        for t in range(top + 1):
            idx = _slot(batch[t], bh[t], rows, hashes, table, m, capacity)
            if idx < 0:
                return -1 - s
            if idx == m:
                m += 1
            for c in range(k):
                v = acc[idx, c] + np.uint64(weights[s, c]) * mult[t, c]
                if v >= _REDUCE_AT:
                    v = v % mods[c]
                acc[idx, c] = v
    if m < capacity:
        hashes[m] = sink  # an unused slot: keeps the touching loads alive
    return m


@njit(cache=True)
def insert_rows(src_rows, src_hashes, src_weights, mods, rows, hashes, acc, table, m):  # pragma: no cover
    """Merge already-built rows with weights (below 2^32) into a table.

    Used to combine the pieces of one partition (Dask path). Returns the new
    number of rows, or -1 when the capacity is reached.
    """
    capacity = rows.shape[0]
    k = acc.shape[1]
    for i in range(src_rows.shape[0]):
        idx = _slot(src_rows[i], src_hashes[i], rows, hashes, table, m, capacity)
        if idx < 0:
            return -1
        if idx == m:
            m += 1
        for c in range(k):
            v = acc[idx, c] + np.uint64(src_weights[i, c])
            if v >= _REDUCE_AT:
                v = v % mods[c]
            acc[idx, c] = v
    return m


@njit(cache=True)
def reduce_weights(acc, m, mods):  # pragma: no cover - compiled
    """The accumulators of the first m rows reduced to uint32 residues."""
    k = acc.shape[1]
    out = np.empty((m, k), np.uint32)
    for i in range(m):
        for c in range(k):
            out[i, c] = np.uint32(acc[i, c] % mods[c])
    return out


@njit(cache=True)
def hash_rows(words, mults):  # pragma: no cover - compiled
    """The table hash of each row (to partition states by key)."""
    out = np.empty(words.shape[0], np.uint64)
    for i in range(words.shape[0]):
        out[i] = _hash(words[i], mults)
    return out
