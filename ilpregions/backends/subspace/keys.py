r"""Arithmetic mod p = 2^31 − 1 and the packed state keys (numba, ``nopython``).

A state is a subspace V of GF(p)^a in reduced row-echelon form (RREF), with
a = the frame width. Its key is a row of ``uint64`` words read as one bit
string:

* bits ``0 .. a-1``: the pivot mask (bit j set when column j is a pivot);
* then the free entries, 31 bits each, back to back: for each pivot row in
  pivot order, its entries on the non-pivot columns to its right (every
  other entry of an RREF row is fixed: 0 left of the pivot, 1 at it, 0 on
  the other pivot columns).

A subspace of rank r has at most r·(a − r) free entries, so a step whose
ranks stay ≤ R needs ``key_words(a, R)`` words (the engine bounds R by the
rank of what the future can see plus the neurons of the step). RREF is
unique for a subspace and a column order, so equal subspaces have equal
keys.

p is a Mersenne prime: a product x < 2^62 reduces with two folds
``(x & p) + (x >> 31)`` and one subtraction, without a division; the
constant is frozen into the compiled code.

>>> key_words(6, 3), key_words(6, 6), key_words(15, 15)
(5, 5, 28)
>>> int(mul_mod(PRIME - 1, PRIME - 1)), int(inv_mod(3) * 3 % PRIME)
(1, 1)
"""

from __future__ import annotations

import numpy as np
from ilpregions.core.numba_cache import njit

PRIME = 2 ** 31 - 1
_P = np.int64(PRIME)
_E = np.uint64(0x7FFFFFFF)


def max_free(a: int, rank: int) -> int:
    """The most free entries of an RREF of rank ≤ ``rank`` in width ``a``: max r·(a − r)."""
    r = min(rank, a, a // 2)
    return r * (a - r)


def key_words(a: int, rank: int | None = None) -> int:
    """Words of a key for frame width ``a`` and ranks ≤ ``rank`` (default: any)."""
    rank = a if rank is None else rank
    return max(1, -(-(a + 31 * max_free(a, rank)) // 64))


@njit(cache=True, inline="always")
def _mod(x):
    # x in [0, 2^62): two Mersenne folds leave x <= p, then one subtraction
    x = (x & _P) + (x >> 31)
    x = (x & _P) + (x >> 31)
    return x - _P if x >= _P else x


@njit(cache=True, inline="always")
def mul_mod(x, y):
    return _mod(x * y)


@njit(cache=True, inline="always")
def sub_mod(x, y):
    d = x - y
    return d + _P if d < 0 else d


@njit(cache=True)
def inv_mod(x):
    # extended Euclid; x in [1, p)
    r0, r1 = _P, x
    s0, s1 = np.int64(0), np.int64(1)
    while r1 != 0:
        q = r0 // r1
        r0, r1 = r1, r0 - q * r1
        s0, s1 = s1, s0 - q * s1
    return s0 + _P if s0 < 0 else s0


@njit(cache=True)
def decode(K, base, a, M):
    """Fill the a×a pivot-indexed matrix M from the key at K[base:]; return the mask.

    Row j of M is the RREF row with pivot j (zero when j is not a pivot).
    """
    lowmask = np.uint64(0xFFFFFFFFFFFFFFFF) if a >= 64 else (np.uint64(1) << np.uint64(a)) - np.uint64(1)
    mask = K[base] & lowmask
    for i in range(a):
        for j in range(a):
            M[i, j] = 0
    off = a
    for j in range(a):
        if (mask >> np.uint64(j)) & np.uint64(1):
            M[j, j] = 1
            for c in range(j + 1, a):
                if not ((mask >> np.uint64(c)) & np.uint64(1)):
                    w = base + (off >> 6)
                    s = np.uint64(off & 63)
                    val = K[w] >> s
                    if s > 33:
                        val |= K[w + 1] << (np.uint64(64) - s)
                    M[j, c] = np.int64(val & _E)
                    off += 31
    return mask


@njit(cache=True)
def encode(M, mask, a, out, base, W):
    """Write the key of (M, mask) to out[base:base+W]; False if it needs more than W words."""
    for w in range(W):
        out[base + w] = 0
    out[base] = mask
    off = a
    for j in range(a):
        if (mask >> np.uint64(j)) & np.uint64(1):
            for c in range(j + 1, a):
                if not ((mask >> np.uint64(c)) & np.uint64(1)):
                    w = off >> 6
                    if w >= W or ((off & 63) > 33 and w + 1 >= W):
                        return False
                    s = np.uint64(off & 63)
                    val = np.uint64(M[j, c])
                    out[base + w] |= val << s
                    if s > 33:
                        out[base + w + 1] |= val >> (np.uint64(64) - s)
                    off += 31
    return True


@njit(cache=True)
def hash_key(K, base, W):
    # multiply-xorshift per word, then the splitmix64 finaliser: every bit of
    # every word reaches the bits that pick the slot and the tag
    h = np.uint64(0x243F6A8885A308D3)
    for w in range(W):
        h = (h ^ K[base + w]) * np.uint64(0x9E3779B97F4A7C15)
        h ^= h >> np.uint64(29)
    h ^= h >> np.uint64(30)
    h *= np.uint64(0xBF58476D1CE4E5B9)
    h ^= h >> np.uint64(27)
    h *= np.uint64(0x94D049BB133111EB)
    return h ^ (h >> np.uint64(31))


__all__ = ["PRIME", "key_words", "max_free", "decode", "encode", "hash_key"]
