r"""Bounds on Theorem 1's count R_N that use locality: shrunk fields and capped strip products.

Pure set-system arithmetic (no solver, no I/O); the counts themselves come
from the frontier DP, which the services run on the instances built here.

* :func:`shrink_to_strips` -- **lower** side. Shrinking every field can only
  shrink K_N, so R_N is at least the count of any instance with fields
  S'_p ⊆ S_p. Cutting the positions into strips along one axis and giving
  every input pixel (all its channels) to exactly one strip makes the shrunk
  fields of different strips disjoint: the shrunk count is the product of
  the strips' counts, each small enough for the DP
  (docs/math.md#shrunk-fields).
* :func:`capped_product` -- **upper** side. Keeping only the union rows
  inside each strip enlarges K_N to a product of the strips' sets; the row
  of all positions still caps Σ t at U. So R_N ≤ Σ_{k≤U} [y^k] Π_i F_i(y),
  F_i the generating polynomial of strip i's weights
  (docs/math.md#capped-strip-product).
* :func:`kronecker_unpack` -- a polynomial's coefficients from its value at
  y = 2^B (how the DP returns F_i in one weight column).

Examples
--------
>>> from ilpregions.core.spec import Network, ConvLayer
>>> from ilpregions.core.geometry import layer_instance
>>> net = Network((4, 1), (ConvLayer(2, 2, shared=False),))
>>> shrunk = shrink_to_strips(layer_instance(net), net.layers[0], axis=0, height=2)
>>> shrunk.fields              # strips {0, 1} and {2} own pixels {0, 1} and {2, 3}
((0, 1), (1,), (2, 3))
>>> capped_product([([1, 2, 1], 2)], 3)     # (1 + y)^4 cut at degree 3
15
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from ilpregions.core.flow_network import incidence
from ilpregions.core.geometry import Theorem1Instance


def strip_owner(coords: np.ndarray, height: int, strips: int, stride: int, padding: int, dilation: int,
                kernel: int, offset: int = 0) -> np.ndarray:
    """The strip that owns each input coordinate (along one axis), for strips of ``height`` output lines.

    Output line j·height starts strip j. Its windows are centred at
    c(p) = p·s − P + δ(f−1)/2, so the boundary between strips j−1 and j is
    put half a stride before the centre of its first line, moved by
    ``offset`` input lines; the first and the last strip reach to the ends.
    Any rule is valid (docs/math.md#shrunk-fields); this one gives each strip
    the input lines its own windows are centred on.

    >>> strip_owner(np.arange(6), 1, 3, 2, 0, 1, 2).tolist()   # stride 2, kernel 2: pairs of lines
    [0, 0, 1, 1, 2, 2]
    """
    base = -2 * padding + dilation * (kernel - 1) - stride + 2 * offset      # 2·(boundary of strip 1) − 2hs
    owner = np.floor_divide(2 * np.asarray(coords, dtype=np.int64) - base, 2 * height * stride)
    return np.clip(owner, 0, max(strips - 1, 0))


def shrink_to_strips(inst: Theorem1Instance, layer, axis: int, height: int, offset: int = 0) -> Theorem1Instance:
    """``inst`` with each field cut to the pixels its strip owns (strips of ``height`` lines along ``axis``).

    Parameters
    ----------
    inst : Theorem1Instance
        The layer's set system (conv or local; the kind is ignored).
    layer : ConvLayer
        Its kernel, stride, padding and dilation (per axis).
    axis : int
        The output axis along which the positions are cut.
    height : int
        Output lines per strip (the last strip may be shorter).
    offset : int
        Input lines by which every strip boundary is moved (see :func:`strip_owner`).

    Returns
    -------
    Theorem1Instance
        A ``"local"`` instance on the same positions whose fields are subsets
        of the original ones; fields of different strips share no pixel.

    Examples
    --------
    >>> from ilpregions.core.spec import Network, ConvLayer
    >>> from ilpregions.core.geometry import layer_instance
    >>> net = Network((3, 3, 1), (ConvLayer(1, 2),))
    >>> shrink_to_strips(layer_instance(net), net.layers[0], axis=0, height=1).fields
    ((0, 1), (1, 2), (3, 4, 6, 7), (4, 5, 7, 8))
    """
    arcs = incidence(inst)
    grid = inst.output_spatial
    strips = -(-grid[axis] // height)
    line = np.unravel_index(arcs.position, grid)[axis]
    mine = np.minimum(line // height, strips - 1)
    coord = np.unravel_index(arcs.pixel, inst.input_spatial)[axis]
    owner = strip_owner(coord, height, strips, layer.stride[axis], layer.padding[axis], layer.dilation[axis],
                        layer.kernel[axis], offset)
    keep = owner == mine
    lengths = np.bincount(arcs.position[keep], minlength=inst.positions)
    kept = arcs.pixel[keep].tolist()
    bounds = np.concatenate(([0], np.cumsum(lengths))).tolist()
    fields = tuple(tuple(kept[a:b]) for a, b in zip(bounds, bounds[1:]))
    return Theorem1Instance(inst.input_spatial, inst.channels, inst.filters, grid, fields, "local")


def strip_slices(inst: Theorem1Instance, height: int) -> list[tuple[int, int]]:
    """Position ranges ``[start, stop)`` of the strips of ``height`` lines along the first output axis.

    Row-major order makes each strip one contiguous range of positions.

    >>> from ilpregions.core.spec import Network, ConvLayer
    >>> from ilpregions.core.geometry import layer_instance
    >>> strip_slices(layer_instance(Network((4, 3, 1), (ConvLayer(1, 2),))), 2)
    [(0, 4), (4, 6)]
    """
    rows = inst.output_spatial[0]
    width = inst.positions // max(rows, 1)
    return [(r * width, min(r + height, rows) * width) for r in range(0, rows, height)]


def kronecker_unpack(value: int, shift: int, length: int) -> list[int]:
    """Coefficients a_0..a_{length−1} of P with P(2^shift) = ``value`` and every 0 ≤ a_k < 2^shift.

    >>> kronecker_unpack(1 + 5 * 2 ** 8 + 3 * 2 ** 16, 8, 4)
    [1, 5, 3, 0]
    """
    mask = (1 << shift) - 1
    return [(value >> (shift * k)) & mask for k in range(length)]


def capped_product(factors: Sequence[tuple[Sequence[int], int]], cap: int) -> int:
    """Σ_{k≤cap} [y^k] Π_i P_i(y)^{m_i} for polynomials with non-negative integer coefficients.

    ``factors`` lists (coefficients of P_i, lowest degree first; m_i). Uses
    python-flint's truncated products when installed (GMP), else Kronecker
    substitution with Python integers: the same exact value.

    >>> capped_product([([1, 1], 3), ([1, 2], 1)], 2)   # (1+y)^3 (1+2y) = 1 + 5y + 9y² + …
    15
    """
    try:
        import flint
    except ImportError:
        return _capped_python(factors, cap)
    total = flint.fmpz_poly([1])
    for coefficients, multiplicity in factors:
        if multiplicity:
            power = flint.fmpz_poly(list(coefficients)).pow_trunc(int(multiplicity), cap + 1)
            total = total.mul_low(power, cap + 1)
    return int(sum(total.coeffs()[:cap + 1], flint.fmpz(0)))


def _capped_python(factors, cap: int) -> int:
    """:func:`capped_product` by Kronecker substitution: pack, multiply, truncate, unpack."""
    bits = 2 + sum(m * max(1, sum(c).bit_length()) for c, m in factors)   # > log2 of every coefficient
    mask = (1 << (bits * (cap + 1))) - 1
    total = 1
    for coefficients, multiplicity in factors:
        packed = sum(int(c) << (bits * k) for k, c in enumerate(coefficients[:cap + 1]))
        power, base, m = 1, packed, int(multiplicity)
        while m:   # square-and-multiply, truncated at degree cap after every product
            if m & 1:
                power = (power * base) & mask
            m >>= 1
            if m:   # (a square past the last bit would exceed the coefficient bound `bits`)
                base = (base * base) & mask
        total = (total * power) & mask
    return sum(kronecker_unpack(total, bits, cap + 1))


def capped_product_digits(factors: Sequence[tuple[int, int, int]], cap: int) -> float:
    """Estimated decimal digits of the packed operands of :func:`capped_product`, by arithmetic.

    ``factors`` lists (degree, log10 of the coefficient sum, multiplicity); the
    coefficients of the product are at most Π P_i(1)^{m_i}, so an operand has
    about (cap + 1) times that many digits (what decides the cost).

    >>> round(capped_product_digits([(2, math.log10(4), 2)], 3), 3)
    4.816
    """
    top = sum(m * max(log, 0.0) for _, log, m in factors)
    return (cap + 1) * max(top, 1.0)


__all__ = ["shrink_to_strips", "strip_owner", "strip_slices", "kronecker_unpack", "capped_product",
           "capped_product_digits"]
