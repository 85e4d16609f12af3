"""The state store of the subspace DP: flat keys, multi-limb counts and their hash table,
grown in place, every growth checked against the memory cap before it is allocated."""

from __future__ import annotations

import numpy as np

from ilpregions.backends.subspace import kernel
from ilpregions.backends.subspace.kernel import limbs_to_int
from ilpregions.core.errors import TooLargeError


class MemoryCapExceeded(TooLargeError):
    """A step would need more memory than allowed; raised before allocating it."""



def size_text(nbytes: int) -> str:
    return f"{nbytes / 2 ** 30:.2f} GiB" if nbytes >= 2 ** 30 else f"{nbytes / 2 ** 20:.1f} MiB"


#: States handled per compiled call: the deadline is checked (and the store grown) between calls.
CHUNK = 1 << 16
#: The hash table is grown (doubled or more) before its load passes this.
MAX_LOAD = 0.75


def table_size(rows: int) -> int:
    size = 16
    while size * MAX_LOAD < 1.5 * rows:
        size *= 2
    return size


class Store:
    """The states of a block: flat keys (W words each), counts (L limbs each), and their hash table.

    Every allocation goes through :meth:`_charge`, which refuses (before
    allocating) what would take the arrays alive past the memory cap.
    """

    def __init__(self, W: int, L: int, cap: int | None, where):
        self.W, self.L, self.cap, self.where = W, L, cap, where
        self.K = np.zeros(W, dtype=np.uint64)
        self.C = np.zeros(L, dtype=np.uint64)
        self.C[0] = 1
        self.n = 1
        self.table = np.zeros(table_size(1), dtype=np.uint64)
        kernel.insert_all(self.K, 1, W, self.table)
        self.extra = 0          # bytes of temporaries alive (the counts before a neuron, a new key array)
        self.peak = self.nbytes()

    def nbytes(self) -> int:
        return self.K.nbytes + self.C.nbytes + self.table.nbytes + self.extra

    def _charge(self, more: int, states: int) -> None:
        need = self.nbytes() + more
        if self.cap is not None and need > self.cap:
            raise MemoryCapExceeded(f"memory-cap: {self.where()} would need about {size_text(need)} for its "
                                    f"states ({states} states), over the cap of {size_text(self.cap)}")
        self.peak = max(self.peak, need)

    def reserve(self, rows: int) -> None:
        """Room for ``rows`` states in the store and the table (grown in place, by realloc)."""
        have = min(self.K.size // self.W, self.C.size // self.L)
        if rows > have:
            new = max(rows, have + have // 2)     # amortised: small layers stay small
            self._charge(8 * (new * (self.W + self.L) - self.K.size - self.C.size), rows)
            if new * self.W > self.K.size:
                self.K.resize(new * self.W, refcheck=False)
            if new * self.L > self.C.size:
                self.C.resize(new * self.L, refcheck=False)
        if rows > self.table.size * MAX_LOAD:
            size = table_size(2 * rows)   # room to triple before the next rebuild
            self._charge(8 * size, rows)
            self.table = np.zeros(size, dtype=np.uint64)
            kernel.insert_all(self.K, self.n, self.W, self.table)

    def counted(self, lo: int = 0, hi: int | None = None, C=None) -> int:
        acc = np.zeros(self.L + 1, dtype=np.uint64)
        C = self.C if C is None else C
        return limbs_to_int(kernel.total(C, lo, self.n if hi is None else hi, self.L, acc))


def limbs_for(bound: int) -> int:
    """63-bit limbs holding any count up to ``bound``."""
    return max(1, -(-max(1, bound).bit_length() // kernel.LIMB_BITS))
