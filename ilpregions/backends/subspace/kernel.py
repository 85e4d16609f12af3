r"""Compiled inner loops of the subspace DP (numba, ``nopython``).

A state is a subspace V of GF(p)^a in reduced row-echelon form (RREF), with
a = the frame width. Its key is one row of ``uint64`` words:

* word 0: the pivot mask (bit j set when column j is a pivot);
* then the free entries, two 31-bit residues per word: for each pivot row
  in pivot order, its entries on the non-pivot columns to its right (every
  other entry of an RREF row is fixed: 0 left of the pivot, 1 at it, 0 on
  the other pivot columns). There are at most a²/4 of them, the rest is 0.

RREF is unique for a subspace and a column order, so equal subspaces have
equal keys, and merging states is a hash-table insert on the key words.
Counts are non-negative integers stored as little-endian limbs of 63 bits
(they only ever add, so carries are enough).

Why numba: each step touches every state once with O(a²) scalar work and a
hash probe; that is a tight scalar loop over rows of different shapes,
which vectorises poorly in numpy and is ~100x slower in Python. Working
modulo one prime below 2^31 keeps every product inside int64.
"""

from __future__ import annotations

import numpy as np
from numba import njit

PRIME = 2 ** 31 - 1
LIMB_BITS = 63
_LIMB_MASK = np.uint64((1 << 63) - 1)
_LO = np.uint64(0xFFFFFFFF)


def key_words(a: int) -> int:
    """Words of a key for frame width ``a``: the mask and ⌊a²/4⌋ residues, two per word."""
    return 1 + (a * a // 4 + 1) // 2


@njit(cache=True)
def _inverse(x, p):
    # extended Euclid; x in [1, p)
    r0, r1 = p, x
    s0, s1 = 0, 1
    while r1 != 0:
        q = r0 // r1
        r0, r1 = r1, r0 - q * r1
        s0, s1 = s1, s0 - q * s1
    return s0 % p


@njit(cache=True)
def _decode(key, a, M):
    """Fill the a×a pivot-indexed matrix M (row j = the row with pivot j, else 0)."""
    mask = key[0]
    for i in range(a):
        for j in range(a):
            M[i, j] = 0
    k = 0
    for j in range(a):
        if (mask >> np.uint64(j)) & np.uint64(1):
            M[j, j] = 1
            for c in range(j + 1, a):
                if not ((mask >> np.uint64(c)) & np.uint64(1)):
                    w = key[1 + (k >> 1)]
                    M[j, c] = np.int64((w >> np.uint64(32 * (k & 1))) & _LO)
                    k += 1
    return mask


@njit(cache=True)
def _encode(M, mask, a, out):
    for w in range(out.shape[0]):
        out[w] = 0
    out[0] = mask
    k = 0
    for j in range(a):
        if (mask >> np.uint64(j)) & np.uint64(1):
            for c in range(j + 1, a):
                if not ((mask >> np.uint64(c)) & np.uint64(1)):
                    out[1 + (k >> 1)] |= np.uint64(M[j, c]) << np.uint64(32 * (k & 1))
                    k += 1


@njit(cache=True)
def _hash(row):
    # multiply-xorshift per word, then the splitmix64 finaliser: every bit of
    # every word reaches the low bits that pick the slot
    h = np.uint64(0x243F6A8885A308D3)
    for w in row:
        h = (h ^ w) * np.uint64(0x9E3779B97F4A7C15)
        h ^= h >> np.uint64(29)
    h ^= h >> np.uint64(30)
    h *= np.uint64(0xBF58476D1CE4E5B9)
    h ^= h >> np.uint64(27)
    h *= np.uint64(0x94D049BB133111EB)
    return h ^ (h >> np.uint64(31))


@njit(cache=True)
def _copy_row(src, i, dst, j):
    for w in range(src.shape[1]):   # explicit loops: slice assignment is slow in numba
        dst[j, w] = src[i, w]


# long: one compiled loop; splitting it would add calls to the hot path
@njit(cache=True)
def dedup(ck, cc, T, bk, bc):
    """Merge equal keys among the T candidate rows; the result is bk[:m], bc[:m].

    Partitioned hashing: the candidates are first scattered by the top bits
    of their hash into buckets of about 2048 rows (a few hundred sequential
    write streams), then each bucket is merged with a small hash table that
    stays in cache. A global table would cost a cache and TLB miss per probe.
    """
    if T == 0:
        return 0
    h = np.empty(T, dtype=np.uint64)
    for i in range(T):
        h[i] = _hash(ck[i])
    B = 0
    while (T >> B) > 2048:
        B += 1
    nb = 1 << B
    start = np.zeros(nb + 1, dtype=np.int64)
    for i in range(T):
        b = np.int64(h[i] >> np.uint64(64 - B)) if B > 0 else 0
        start[b + 1] += 1
    for b in range(nb):
        start[b + 1] += start[b]
    pos = start[:nb].copy()
    hb = np.empty(T, dtype=np.uint64)
    for i in range(T):
        b = np.int64(h[i] >> np.uint64(64 - B)) if B > 0 else 0
        j = pos[b]
        pos[b] = j + 1
        _copy_row(ck, i, bk, j)
        _copy_row(cc, i, bc, j)
        hb[j] = h[i]
    biggest = 1
    for b in range(nb):
        biggest = max(biggest, start[b + 1] - start[b])
    size = 16
    while size < 2 * biggest:
        size *= 2
    table = np.empty(size, dtype=np.int64)
    W = bk.shape[1]
    L = bc.shape[1]
    m = 0
    for b in range(nb):
        lo, hi = start[b], start[b + 1]
        tsize = 16
        while tsize < 2 * (hi - lo):
            tsize *= 2
        tmask = np.uint64(tsize - 1)
        for s in range(tsize):
            table[s] = -1
        for j in range(lo, hi):
            s = hb[j] & tmask
            while True:
                idx = table[s]
                if idx < 0:
                    # rows below j are consumed, so row m (m <= j) is free to take row j
                    if m != j:
                        _copy_row(bk, j, bk, m)
                        _copy_row(bc, j, bc, m)
                        hb[m] = hb[j]
                    table[s] = m
                    m += 1
                    break
                if hb[idx] == hb[j]:
                    same = True
                    for w in range(W):
                        if bk[idx, w] != bk[j, w]:
                            same = False
                            break
                    if same:
                        carry = np.uint64(0)
                        for k in range(L):
                            t = bc[idx, k] + bc[j, k] + carry
                            carry = t >> np.uint64(LIMB_BITS)
                            bc[idx, k] = t & _LIMB_MASK
                        break
                s = (s + np.uint64(1)) & tmask
    return m


# long: one compiled loop; splitting it would add calls to the hot path
@njit(cache=True)
def expand(keys, counts, n, a, v, p, out_keys, out_counts):
    """One neuron v: every state is kept, and V + <v> is added when v ∉ V.

    Writes the candidates (not yet merged) and returns their number.
    """
    M = np.zeros((a, a), dtype=np.int64)
    res = np.zeros(a, dtype=np.int64)
    m = 0
    for i in range(n):
        _copy_row(keys, i, out_keys, m)
        _copy_row(counts, i, out_counts, m)
        m += 1
        mask = _decode(keys[i], a, M)
        for c in range(a):
            res[c] = v[c]
        for j in range(a):
            if (mask >> np.uint64(j)) & np.uint64(1) and v[j] != 0:
                f = v[j]   # rows are 0 on other pivot columns, so v[j] is final
                for c in range(j, a):
                    if M[j, c] != 0:
                        res[c] = (res[c] - f * M[j, c]) % p
        q = -1
        for c in range(a):
            if res[c] != 0:
                q = c
                break
        if q < 0:
            continue  # v ∈ V: adding it would make the set dependent
        inv = _inverse(res[q], p)
        for c in range(q, a):
            res[c] = res[c] * inv % p
        for j in range(a):
            if (mask >> np.uint64(j)) & np.uint64(1) and M[j, q] != 0:
                f = M[j, q]
                for c in range(q, a):
                    M[j, c] = (M[j, c] - f * res[c]) % p
        for c in range(a):
            M[q, c] = res[c]
        _encode(M, mask | (np.uint64(1) << np.uint64(q)), a, out_keys[m])
        _copy_row(counts, i, out_counts, m)
        m += 1
    return m


# long: one compiled loop; splitting it would add calls to the hot path
@njit(cache=True)
def _intersect(N, mask, b, C, p, A):
    """Replace the RREF (N, mask) by its intersection with ker C; return the new mask.

    Rows [R·Cᵀ | R] are reduced on the left part; the rows whose left part
    vanishes are y·[0 | R] with y·R·Cᵀ = 0, and they span V ∩ ker C.
    """
    c = C.shape[0]
    r = 0
    for j in range(b):
        if (mask >> np.uint64(j)) & np.uint64(1):
            for l in range(c):
                acc = 0
                for col in range(j, b):
                    if N[j, col] != 0 and C[l, col] != 0:
                        acc = (acc + N[j, col] * C[l, col]) % p
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
        inv = _inverse(A[top, l], p)
        for col in range(c + b):
            A[top, col] = A[top, col] * inv % p
        for i in range(top + 1, r):
            f = A[i, l]
            if f != 0:
                for col in range(c + b):
                    A[i, col] = (A[i, col] - f * A[top, col]) % p
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
                    A[i, c + col] = (A[i, c + col] - f * N[j, col]) % p
        q = -1
        for col in range(b):
            if A[i, c + col] != 0:
                q = col
                break
        if q < 0:
            continue
        inv = _inverse(A[i, c + q], p)
        for col in range(q, b):
            A[i, c + col] = A[i, c + col] * inv % p
        for j in range(b):
            if (new >> np.uint64(j)) & np.uint64(1) and N[j, q] != 0:
                f = N[j, q]
                for col in range(q, b):
                    N[j, col] = (N[j, col] - f * A[i, c + col]) % p
        for col in range(b):
            N[q, col] = A[i, c + col]
        new |= np.uint64(1) << np.uint64(q)
    return new


@njit(cache=True)
def remap(keys, counts, n, a, b, keep, C, p, out_keys, out_counts):
    """Drop expired columns (keep[c] < 0), move the rest to a frame of width b,
    and cut the subspace down to ker C (what the future can see; C may have no rows).

    Expired columns come first in expiry order, so a row whose pivot is not
    expired is zero on all of them: V ∩ (kept coordinates) is spanned by the
    rows with kept pivots, restricted. New columns of the next frame are 0.
    """
    M = np.zeros((a, a), dtype=np.int64)
    N = np.zeros((max(b, 1), max(b, 1)), dtype=np.int64)
    A = np.zeros((max(b, 1), C.shape[0] + max(b, 1)), dtype=np.int64)
    for i in range(n):
        mask = _decode(keys[i], a, M)
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
        if C.shape[0] > 0 and nmask != 0:
            nmask = _intersect(N, nmask, b, C, p, A)
        _encode(N, nmask, b, out_keys[i])
        _copy_row(counts, i, out_counts, i)
    return n


@njit(cache=True)
def total(counts, n):
    """The sum of the first n counts, as limbs (one more limb of headroom is the caller's job)."""
    L = counts.shape[1]
    acc = np.zeros(L, dtype=np.uint64)
    for i in range(n):
        carry = np.uint64(0)
        for k in range(L):
            s = acc[k] + counts[i, k] + carry
            carry = s >> np.uint64(LIMB_BITS)
            acc[k] = s & _LIMB_MASK
    return acc


def limbs_to_int(limbs) -> int:
    """The integer of little-endian 63-bit limbs."""
    value = 0
    for k, limb in enumerate(np.asarray(limbs).tolist()):
        value |= int(limb) << (LIMB_BITS * k)
    return value
