"""Exact linear-region counts of one concrete network, over all of R^n.

A *region* is a non-empty open set of inputs on which every ReLU's sign and
every max-pooling argmax is constant (for pooling after a ReLU, the argmax is
taken among the window's active entries; a window whose entries are all
inactive outputs 0 and makes no choice). On each region the network is one
affine map.

``method="exact"`` enumerates the regions as the leaves of a tree: the
decisions (neurons layer by layer, then pooling windows) are taken one at a
time, and a child is kept when its cell is non-empty. Non-emptiness is
decided, cheapest first, by

1. **rank tests**: if the new neuron's normal is not in the span of the
   normals already constraining the cell, the hyperplane cuts the cell, so
   both children exist and a point of each is written down directly;
2. **witness points**: a point strictly inside the cell lies on one side, and
   inputs sampled beforehand whose pattern shares the child's prefix are
   points of that child (each is re-checked against the cell's rows);
3. **an LP** (HiGHS) otherwise, in homogeneous coordinates so that it is
   scale-free and sees unbounded cells: with x = y / y0, maximise t subject
   to ``a_i . (y, y0) >= t`` for every unit-normalised row a_i, ``y0 >= t``,
   ``-1 <= y <= 1``, ``0 <= y0 <= 1``, ``t <= 1``. The cell is non-empty iff
   t* > 0; a cell reaching out to infinity keeps a positive t* however far
   away it lies, so nothing is lost to a bounding box.

For a single conv/local/dense layer the count is exact for any biases: the
no-broken-circuit sets of the coned arrangement (for generic biases, the
independent subsets of the neurons' normals; Zaslavsky;
docs/math.md#regions-of-one-layer), over ranks mod p whose every pruning
dependency is certified over Q (:mod:`ilpregions.theory.arrangement`).

``method="sample"`` is the authors' baseline (Xiong et al. 2020): count the
distinct patterns of Gaussian inputs. It is a lower bound.

Examples
--------
>>> from ilpregions.core.spec import Network, ConvLayer
>>> net = Network((4, 1), (ConvLayer(filters=2, kernel=2, shared=False),))
>>> count_linear_regions(net, seed=0).regions
55
>>> count_linear_regions(net, seed=0, method="lp").regions
55

This module is the package's front: other packages and the CLI import only
the names below. Its private helpers, by job: ``_cell`` (a cell's rows and
its witness tests; the cell LP is the ``highs`` backend's), ``_exact`` (the
exact re-decision of cells), ``_tree`` (the LP tree), ``_rank`` (the exact
one-layer count), ``_sampler`` (the baseline) and ``_count`` (the entry point).
"""

from __future__ import annotations

from ilpregions.services.regions._count import METHODS, RegionsResult, count_linear_regions
from ilpregions.services.regions._rank import count_one_layer
from ilpregions.services.regions._sampler import sample_patterns

__all__ = ["RegionsResult", "count_linear_regions", "count_one_layer", "sample_patterns", "METHODS"]
