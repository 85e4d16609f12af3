r"""Compiled inner loops of the subspace DP (numba, ``nopython``).

The states live in one flat store: keys ``K`` (W words per state, see
:mod:`ilpregions.backends.subspace.keys`) and counts ``C`` (L limbs of 63
bits per state, little-endian; counts only ever add, so carries suffice).
An open-addressing hash table indexes the store: a slot holds
``tag << 32 | (index + 1)`` (0 = empty), the tag being the hash's high 32
bits, so a probe reads a key only when the tags agree.

A neuron step keeps every state where it is and appends the new subspaces
``V + <v>`` behind them, merging on the fly through the table: no candidate
buffer, no second copy. The counts a step adds are read from a copy of the
counts before the step (``Cold``), so a state that gains a count is still
read with its old one. Every loop works on a slice ``[start, stop)`` of the
states so the caller can check its deadline and grow the store between
slices.

Why numba: each step touches every state once with O(a²) scalar work and a
hash probe; that is a tight scalar loop over many tiny matrices, which
vectorises poorly in numpy and is ~100x slower in Python.
"""

from __future__ import annotations

import numpy as np
from ilpregions.core.numba_cache import njit

from ilpregions.backends.subspace.keys import PRIME, inv_mod, mul_mod, sub_mod, decode, encode, hash_key, key_words
from ilpregions.core.errors import InconsistencyError

LIMB_BITS = 63
_LIMB_MASK = np.uint64((1 << 63) - 1)
_LOW = np.uint64(0xFFFFFFFF)
_P = np.int64(PRIME)


@njit(cache=True, inline="always")
def _add_count(C, j, src, i, L):
    carry = np.uint64(0)
    for k in range(L):
        t = C[j * L + k] + src[i * L + k] + carry
        carry = t >> np.uint64(LIMB_BITS)
        C[j * L + k] = t & _LIMB_MASK


@njit(cache=True, inline="always")
def _lookup(K, W, Q, qbase, table, h):
    """(slot, index): the state equal to Q[qbase:qbase+W], or index -1 and the empty slot."""
    tmask = np.uint64(table.size - 1)
    tag = h >> np.uint64(32)
    s = h & tmask
    while True:
        e = table[s]
        if e == 0:
            return s, np.int64(-1)
        if (e >> np.uint64(32)) == tag:
            j = np.int64(e & _LOW) - 1
            same = True
            for w in range(W):
                if K[j * W + w] != Q[qbase + w]:
                    same = False
                    break
            if same:
                return s, j
        s = (s + np.uint64(1)) & tmask


@njit(cache=True)
def insert_all(K, n, W, table):
    """Index the n (distinct) states of K in an empty table."""
    for j in range(n):
        h = hash_key(K, j * W, W)
        s, _ = _lookup(K, W, K, j * W, table, h)
        table[s] = ((h >> np.uint64(32)) << np.uint64(32)) | np.uint64(j + 1)


# long: one compiled loop; splitting it would add calls to the hot path
@njit(cache=True)
def expand(K, C, Cold, start, stop, m, a, W, L, v, table):
    """Neuron v on the states [start, stop): add V + <v> (when v ∉ V) to the store.

    The store holds m states; new ones are appended (the caller reserved room
    for stop − start more). Returns the new number of states.
    """
    M = np.zeros((a, a), dtype=np.int64)
    res = np.zeros(a, dtype=np.int64)
    key = np.zeros(W, dtype=np.uint64)
    for i in range(start, stop):
        mask = decode(K, i * W, a, M)
        for c in range(a):
            res[c] = v[c]
        for j in range(a):
            # rows are 0 on the other pivot columns, so res[j] is final when row j is used
            if (mask >> np.uint64(j)) & np.uint64(1) and res[j] != 0:
                f = res[j]
                for c in range(j, a):
                    if M[j, c] != 0:
                        res[c] = sub_mod(res[c], mul_mod(f, M[j, c]))
        q = -1
        for c in range(a):
            if res[c] != 0:
                q = c
                break
        if q < 0:
            continue  # v ∈ V: adding it would make the set dependent
        inv = inv_mod(res[q])
        for c in range(q, a):
            res[c] = mul_mod(res[c], inv)
        for j in range(q):
            if (mask >> np.uint64(j)) & np.uint64(1) and M[j, q] != 0:
                f = M[j, q]
                for c in range(q, a):
                    M[j, c] = sub_mod(M[j, c], mul_mod(f, res[c]))
        for c in range(a):
            M[q, c] = res[c]
        if not encode(M, mask | (np.uint64(1) << np.uint64(q)), a, key, 0, W):
            raise InconsistencyError("subspace DP: a state's rank exceeded its key width")
        h = hash_key(key, 0, W)
        s, j = _lookup(K, W, key, 0, table, h)
        if j < 0:
            for w in range(W):
                K[m * W + w] = key[w]
            for k in range(L):
                C[m * L + k] = Cold[i * L + k]
            table[s] = ((h >> np.uint64(32)) << np.uint64(32)) | np.uint64(m + 1)
            m += 1
        else:
            _add_count(C, j, Cold, i, L)
    return m


# long: one compiled loop; splitting it would add calls to the hot path
@njit(cache=True)
def _intersect(N, mask, b, Cm, A):
    """Replace the RREF (N, mask) by its intersection with ker Cm; return the new mask.

    Rows [R·Cmᵀ | R] are reduced on the left part; the rows whose left part
    vanishes are y·[0 | R] with y·R·Cmᵀ = 0, and they span V ∩ ker Cm.
    """
    c = Cm.shape[0]
    r = 0
    for j in range(b):
        if (mask >> np.uint64(j)) & np.uint64(1):
            for l in range(c):
                acc = np.int64(0)
                for col in range(j, b):
                    if N[j, col] != 0 and Cm[l, col] != 0:
                        acc += mul_mod(N[j, col], Cm[l, col])
                        if acc >= _P:
                            acc -= _P
                A[r, l] = acc
            for col in range(b):
                A[r, c + col] = N[j, col]
            r += 1
    top = 0
    for l in range(c):
        piv = -1
        for i in range(top, r):
            if A[i, l] != 0:
                piv = i
                break
        if piv < 0:
            continue
        for col in range(c + b):
            A[top, col], A[piv, col] = A[piv, col], A[top, col]
        inv = inv_mod(A[top, l])
        for col in range(c + b):
            A[top, col] = mul_mod(A[top, col], inv)
        for i in range(top + 1, r):
            f = A[i, l]
            if f != 0:
                for col in range(c + b):
                    A[i, col] = sub_mod(A[i, col], mul_mod(f, A[top, col]))
        top += 1
    for i in range(b):
        for j in range(b):
            N[i, j] = 0
    new = np.uint64(0)
    for i in range(top, r):       # insert each surviving row into a fresh RREF
        for j in range(b):
            if (new >> np.uint64(j)) & np.uint64(1) and A[i, c + j] != 0:
                f = A[i, c + j]
                for col in range(j, b):
                    A[i, c + col] = sub_mod(A[i, c + col], mul_mod(f, N[j, col]))
        q = -1
        for col in range(b):
            if A[i, c + col] != 0:
                q = col
                break
        if q < 0:
            continue
        inv = inv_mod(A[i, c + q])
        for col in range(q, b):
            A[i, c + col] = mul_mod(A[i, c + col], inv)
        for j in range(b):
            if (new >> np.uint64(j)) & np.uint64(1) and N[j, q] != 0:
                f = N[j, q]
                for col in range(q, b):
                    N[j, col] = sub_mod(N[j, col], mul_mod(f, A[i, c + col]))
        for col in range(b):
            N[q, col] = A[i, c + col]
        new |= np.uint64(1) << np.uint64(q)
    return new


# long: one compiled loop; splitting it would add calls to the hot path
@njit(cache=True)
def remap(K, C, start, stop, m, a, Wa, b, Wb, L, keep, Cm, out, table):
    """Move the states [start, stop) to the next frame and merge them into out[:m].

    Drops expired columns (keep[c] < 0), renumbers the rest into width b,
    cuts the subspace down to ker Cm (what the future can see; Cm may have
    no rows), and merges equal results, adding counts (C is compacted in
    place: row m ≤ i takes row i). ``out`` may be K itself when Wb ≤ Wa:
    row m of the new layout ends before row i + 1 of the old one starts.
    Returns the new number of states.

    Expired columns come first in expiry order, so a row whose pivot is not
    expired is zero on all of them: V ∩ (kept coordinates) is spanned by the
    rows with kept pivots, restricted. New columns of the next frame are 0.
    """
    M = np.zeros((a, a), dtype=np.int64)
    bb = max(b, 1)
    N = np.zeros((bb, bb), dtype=np.int64)
    A = np.zeros((bb, Cm.shape[0] + bb), dtype=np.int64)
    key = np.zeros(Wb, dtype=np.uint64)
    for i in range(start, stop):
        mask = decode(K, i * Wa, a, M)
        for r in range(b):
            for c in range(b):
                N[r, c] = 0
        nmask = np.uint64(0)
        for j in range(a):
            if (mask >> np.uint64(j)) & np.uint64(1) and keep[j] >= 0:
                nj = keep[j]
                nmask |= np.uint64(1) << np.uint64(nj)
                for c in range(j, a):
                    if keep[c] >= 0:
                        N[nj, keep[c]] = M[j, c]
        if Cm.shape[0] > 0 and nmask != 0:
            nmask = _intersect(N, nmask, b, Cm, A)
        if not encode(N, nmask, b, key, 0, Wb):
            raise InconsistencyError("subspace DP: a state's rank exceeded its key width")
        h = hash_key(key, 0, Wb)
        s, j = _lookup(out, Wb, key, 0, table, h)
        if j < 0:
            for w in range(Wb):
                out[m * Wb + w] = key[w]
            if m != i:
                for k in range(L):
                    C[m * L + k] = C[i * L + k]
            table[s] = ((h >> np.uint64(32)) << np.uint64(32)) | np.uint64(m + 1)
            m += 1
        else:
            _add_count(C, j, C, i, L)
    return m


@njit(cache=True)
def max_rank(K, n, W, keepmask):
    """The largest number of kept pivots (bits of keepmask) over the n states."""
    best = 0
    for i in range(n):
        x = K[i * W] & keepmask
        r = 0
        while x:
            x &= x - np.uint64(1)
            r += 1
        best = max(best, r)
    return best


@njit(cache=True)
def rank_histogram(K, n, W, a):
    """How many of the n states have each rank (popcount of the pivot mask), ranks 0..a."""
    hist = np.zeros(a + 1, dtype=np.int64)
    lowmask = np.uint64(0xFFFFFFFFFFFFFFFF) if a >= 64 else (np.uint64(1) << np.uint64(a)) - np.uint64(1)
    for i in range(n):
        x = K[i * W] & lowmask
        r = 0
        while x:
            x &= x - np.uint64(1)
            r += 1
        hist[r] += 1
    return hist


@njit(cache=True)
def total(C, start, stop, L, acc):
    """Add the counts of states [start, stop) to the limbs acc (one more limb of headroom is the caller's)."""
    for i in range(start, stop):
        carry = np.uint64(0)
        for k in range(L):
            s = acc[k] + C[i * L + k] + carry
            carry = s >> np.uint64(LIMB_BITS)
            acc[k] = s & _LIMB_MASK
    return acc


def limbs_to_int(limbs) -> int:
    """The integer of little-endian 63-bit limbs."""
    value = 0
    for k, limb in enumerate(np.asarray(limbs).tolist()):
        value |= int(limb) << (LIMB_BITS * k)
    return value


__all__ = ["expand", "remap", "insert_all", "max_rank", "rank_histogram", "total", "limbs_to_int", "key_words", "PRIME", "LIMB_BITS"]
