"""LP relaxations and fast one-layer bounds on R_N.

Everything here is exact integer arithmetic except the choice of a tilt
parameter (made with floats, then applied exactly). The only solver used is
scipy's combinatorial max-flow, which solves the LP relaxation of K_N exactly
(see below); LP solvers proper are reached through the ``highs``/``cbc``
backends (``lp_max``) and are used by the tests as an independent check.

The LP relaxation of K_N
------------------------
{t ≥ 0 : t(J) ≤ g(J) ∀J} is a polymatroid. By max-flow/min-cut (the
continuous Hall theorem) it is exactly the projection onto t of the flow
polytope source → p (t_p) → pixel of S_p → sink (capacity d0): so an LP
over it is a max-flow, and with integral capacities the optimum is integral.

* **Exponent.** U = max Σ_p t_p without the d1 cap is the flow value with
  source capacities |S_p|; it must equal |∪S| = g(all) (the rank of the
  polymatroid). We compute the flow and check.
* **Per-position LP maxima.** max t_p over the relaxation with the d1 cap is
  min(d1, |S_p|): the singleton row caps it, and e_p·|S_p| is feasible.

Lower bound: the best box
-------------------------
K_N is down-closed, so for any c ∈ K_N the whole box {t ≤ c} lies in K_N and
R_N ≥ Π_p F(c_p) with F(c) = Σ_{i≤c} C(d1, i). We maximise Σ_p log F(c_p)
over the integer points of K_N ∩ {c ≤ caps}.

*Why the greedy below is optimal.* (1) The binomial row C(d1, ·) is
log-concave, and partial sums of a positive log-concave sequence are
log-concave, so log F is concave: the objective is separable concave, and
non-decreasing (flat beyond d1). (2) K_N ∩ box is the set of integer points
of an integral polymatroid (a polymatroid cut by a box is one). (3) For a
separable concave objective over an integral polymatroid the greedy
algorithm — repeatedly raise by one a coordinate of largest marginal gain
among those whose raise stays feasible — is optimal (Federgruen &
Groenevelt, Oper. Res. 34 (1986); Groenevelt, EJOR 54 (1991)).
All positions share one marginal-gain sequence Δ(k) = log F(k+1) − log F(k),
non-increasing in k, so the greedy works in *levels*: at level k it raises,
one by one, positions with c_p = k. A raise that fails now fails forever
(K_N is down-closed and c only grows), and the raisable subsets at one
level are the independent sets of a matroid (integral polymatroid ∩ unit
box), so "raise a maximal subset" = "raise one at a time"; a maximum flow in
the residual network finds a maximum one. A first phase jumps over the
levels at which every position can be raised (a binary search on the
uniform level; usually one or two flows). Hence the box
we report is an exact maximiser, not a heuristic.

Upper bound: a tree of exact blocks
-----------------------------------
For any family L of position sets, K_N ⊆ K_L := {t : t(B) ≤ g(B) ∀B ∈ L,
t_p ≤ caps_p}, so R_N ≤ Σ_{t∈K_L} Π_p C(d1, t_p). We take L laminar —
overlap components, split recursively into halves of the output grid (a k-d
tree) — with small leaf blocks counted *exactly* (every union row inside the
leaf, by enumerating its t-box). A laminar family counts exactly bottom-up
with generating polynomials in z (z marks Σ t): a node's polynomial is the
product of its children's, truncated at degree g(node). Identical blocks up
to translation are computed once. When a node's polynomial would get too
large (degree × coefficient size), the children below it are kept as "top
blocks" and only the component's own row t(comp) ≤ g(comp) links them,
through the Chernoff-type tilt Σ_{k≤U} [z^k] P(z) ≤ x^{-U} P(x) with
x = a/2^24 chosen numerically. Each block's b^{D}·G(x) is an exact integer;
their product and a^U are then carried with 64-bit mantissas, rounded up in
the numerator and down in the denominator, so the result is a rigorous
integer upper bound at a relative cost below 10^-15 (exact products of
millions of bits, and Python 3.11's quadratic division, would take seconds). On small
components the tree is one exact leaf and the bound *is* R_N.

The package, by job: :mod:`.network` (the max-flow), :mod:`.box` (the lower
bound and baselines), :mod:`.block_tree` and :mod:`.tilt` (the upper bound),
:mod:`.summary` (the entry point).

Examples
--------
>>> from ilpregions.core.spec import Network, ConvLayer
>>> from ilpregions.core.geometry import layer_instance
>>> b = one_layer_bounds(layer_instance(Network((5, 5, 1), (ConvLayer(9, 3),))))
>>> b.exponent, b.lower <= 803596022979526818736 <= b.upper
(25, True)
>>> [(x.name, x.kind) for x in b.bounds][:2]
[('best box in K_N', 'lower'), ('exact-block tree', 'upper')]
"""

from ilpregions.services.bounds._lp.box import (BASELINE_TERMS, best_box, box_value, global_binomial_bound,
                                              per_position_bound)
from ilpregions.services.bounds._lp.network import lp_exponent, position_lp_maxima
from ilpregions.services.bounds._lp.summary import OneLayerBounds, one_layer_bounds
from ilpregions.services.bounds._lp.tilt import block_tree_upper

__all__ = ["OneLayerBounds", "one_layer_bounds", "lp_exponent", "position_lp_maxima", "best_box",
           "box_value", "block_tree_upper", "per_position_bound", "global_binomial_bound", "BASELINE_TERMS"]
