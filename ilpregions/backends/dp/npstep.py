"""One DP step in plain numpy: all successors at once, then a merge by sort.

Used for small stages (no compile or load cost) and for the Python-int
weight columns, which the compiled kernels do not handle.
:mod:`ilpregions.backends.dp.kernels` does the same step without
materialising the successors.

The step for demand t is ``f'(B) = min(f(B_old) + add, clip, f(B_old ∪ W) + add − t)``
(module :mod:`ilpregions.backends.dp.plan`); all states of a stage are one
small-integer array (states × family columns).
"""

from __future__ import annotations

import numpy as np

from ilpregions.core.errors import TooLargeError

GIB = 2 ** 30


def pack_keys(rows: np.ndarray) -> np.ndarray:
    """Exact sort keys for rows of small non-negative ints: a 1-D array
    (int64 or a void view of several int64 words)."""
    n, m = rows.shape
    if m == 0:
        return np.zeros(n, dtype=np.int64)
    top = int(rows.max()) if n else 0
    bits = max(1, top.bit_length())
    per_word = max(1, 63 // bits)
    words = []
    for lo in range(0, m, per_word):
        chunk = rows[:, lo:lo + per_word].astype(np.int64)
        shifts = np.arange(chunk.shape[1], dtype=np.int64) * bits
        words.append((chunk << shifts).sum(axis=1))
    if len(words) == 1:
        return words[0]
    stacked = np.ascontiguousarray(np.stack(words, axis=1))
    return stacked.view(np.dtype((np.void, stacked.dtype.itemsize * stacked.shape[1]))).ravel()


_HASH_MULTIPLIERS = np.random.default_rng(20200712).integers(1, 2 ** 63, size=4096, dtype=np.uint64) | np.uint64(1)


def row_hash(words: np.ndarray) -> np.ndarray:
    """A 64-bit hash of each row of 64-bit words (collisions are checked)."""
    n, w = words.shape
    with np.errstate(over="ignore"):
        h = words @ _HASH_MULTIPLIERS[:w] if w <= len(_HASH_MULTIPLIERS) else words.sum(axis=1)
        h ^= h >> np.uint64(31)
        h *= np.uint64(0xBF58476D1CE4E5B9)
        h ^= h >> np.uint64(29)
    return h


def _runs_equal(ordered: np.ndarray, same: np.ndarray, chunk: int = 1 << 16) -> bool:
    """True when every row equals its predecessor wherever ``same`` says the
    hashes are equal (chunked, to avoid copying the whole array)."""
    for lo in range(0, len(same), chunk):
        hi = min(len(same), lo + chunk)
        flags = same[lo:hi]
        if flags.any():
            equal = (ordered[lo + 1:hi + 1] == ordered[lo:hi]).all(axis=1)
            if not equal[flags].all():
                return False
    return True


def merge(rows: np.ndarray, weights: np.ndarray, cols: "Columns") -> tuple[np.ndarray, np.ndarray]:
    """Merge equal rows, adding their weights (mod each column's prime).

    Rows are grouped by a 64-bit hash of their bytes, then every row is
    compared with its group's first row; only if some group mixes different
    rows (a hash collision) do we fall back to an exact sort of the bytes.
    """
    n = len(rows)
    if n <= 1:
        return rows, weights
    if rows.shape[1] == 0:
        return rows[:1], cols.reduce(np.add.reduce(weights, axis=0)[None, :])
    words = rows.view(np.uint64)
    h = row_hash(words)
    perm = np.argsort(h)
    hs = h[perm]
    same = hs[1:] == hs[:-1]
    starts = np.concatenate(([0], np.flatnonzero(~same) + 1))
    ordered = words[perm]
    # Equal hashes must mean equal rows: compare each row with its
    # predecessor inside every run of equal hashes.
    if same.any() and not _runs_equal(ordered, same):
        void = np.ascontiguousarray(words).view(np.dtype((np.void, words.shape[1] * 8))).ravel()
        perm = np.argsort(void, kind="stable")
        vs = void[perm]
        starts = np.concatenate(([0], np.flatnonzero(vs[1:] != vs[:-1]) + 1))
        ordered = words[perm]
    merged_w = cols.reduce(np.add.reduceat(weights[perm], starts, axis=0))
    return ordered[starts].view(rows.dtype), merged_w


def estimate_bytes(candidates: int, width: int, itemsize: int, weight_bytes: int) -> int:
    # candidate rows + their weights, then the merge: hashes, permutation,
    # group ids, two permuted copies of the row words, the permuted weights.
    return candidates * (3 * width * itemsize + 2 * weight_bytes + 32)


def expand(states: np.ndarray, weights: np.ndarray, step, cols: "Columns", memory_cap: int,
            stats: dict, label: str, track: bool = False):
    """All successors of all states for t = 0..cap.

    Returns ``(rows, weights, sources, ts)`` (the last two only with
    ``track``). ``min(min(f(A), f(A∪W) − t) + add, clip)`` is computed as
    ``min(K, J − t)`` with ``K = min(f(A) + add, clip)`` and ``J = f(A∪W) + add``
    taken once per state.
    """
    fw = states[:, step.window]
    perm = np.argsort(-fw.astype(np.int64), kind="stable")
    states, weights, fw = states[perm], weights[perm], fw[perm]
    neg = -fw.astype(np.int64)  # ascending
    counts = [int(np.searchsorted(neg, -t, side="right")) for t in range(step.cap + 1)]
    total = sum(counts)
    width = len(step.a_idx)  # padded by the plan: rows are whole 64-bit words
    dtype = states.dtype
    weight_bytes = cols.width * cols.bytes_per_weight
    held = states.nbytes + len(weights) * weight_bytes
    need = (estimate_bytes(total, width, dtype.itemsize, weight_bytes)
            + len(states) * 2 * width * dtype.itemsize)
    if held + need > memory_cap:
        raise TooLargeError(
            f"dp: {label}: {total} candidate states × {width} frontier sets would need about "
            f"{size_text(held + need)}, over the memory cap of {size_text(memory_cap)} "
            f"(raise the memory cap, or try the cpsat backend)")
    stats["peak_memory_bytes"] = max(stats.get("peak_memory_bytes", 0), held + need)
    keep = np.take(states, step.a_idx, axis=1)
    keep += step.add
    np.minimum(keep, step.clip, out=keep)
    joined = np.take(states, step.u_idx, axis=1)
    joined += step.add
    rows = np.empty((total, width), dtype=dtype)
    out_w = np.empty((total, cols.width), dtype=weights.dtype)
    sources = np.empty(total, dtype=np.intp) if track else None
    ts = np.empty(total, dtype=np.int64) if track else None
    at = 0
    for t, c in enumerate(counts):
        if c == 0:
            break
        block = rows[at:at + c]
        np.subtract(joined[:c], dtype.type(t), out=block)
        np.minimum(block, keep[:c], out=block)
        out_w[at:at + c] = weights[:c] if t == 0 else cols.scale(weights[:c], t)
        if track:
            sources[at:at + c] = perm[:c]
            ts[at:at + c] = t
        at += c
    return rows, out_w, sources, ts


def size_text(nbytes: int) -> str:
    """A byte count for messages: GiB when large, else MiB/KiB/bytes."""
    for unit, scale in (("GiB", GIB), ("MiB", 2 ** 20), ("KiB", 2 ** 10)):
        if nbytes >= scale:
            return f"{nbytes / scale:.2f} {unit}"
    return f"{nbytes} bytes"
