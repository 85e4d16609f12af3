"""Regions of one conv/local/dense layer, exactly, for any biases.

The count is :func:`ilpregions.theory.arrangement.count_arrangement`: the
no-broken-circuit sets of the coned arrangement, with ranks over GF(p)
whose every pruning dependency is certified over Q (docs/math.md#regions-of-one-layer).
For generic biases it equals the number of independent subsets of the
neurons' normals (Zaslavsky); parallel, repeated and concurrent hyperplanes,
and thin slabs between nearly equal ones, are counted exactly too.
"""

from __future__ import annotations

import numpy as np

from ilpregions.theory.arrangement import ArrangementCount, count_arrangement


def count_one_layer(rows: np.ndarray, deadline: float | None = None, progress: bool = False) -> ArrangementCount:
    """Regions of the layer whose neurons have rows ``[w | b]``, exactly.

    Parameters
    ----------
    rows : numpy.ndarray, shape (neurons, inputs + 1)
        Each neuron's weights and bias.
    deadline : float, optional
        ``time.perf_counter()`` value; past it the count so far is a lower bound.
    progress : bool
        A bar on stderr (search nodes, regions so far), shown after a second.

    Returns
    -------
    ArrangementCount

    Raises
    ------
    TooLargeError
        A block of neurons too large for the search, refused by arithmetic first.

    Examples
    --------
    >>> count_one_layer(np.random.default_rng(0).normal(size=(5, 4))).regions  # Pascanu: Σ_{i≤3} C(5, i)
    26
    """
    from ilpregions.core.progress import Progress

    with Progress("regions (rank search)", unit="node", enabled=progress) as bar:
        def tick(nodes: int, found: int) -> None:
            bar.update(nodes)
            bar.set_postfix(regions=found)
        return count_arrangement(rows, deadline, tick)


__all__ = ["count_one_layer"]
