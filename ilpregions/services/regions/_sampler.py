"""The authors' baseline (Xiong et al. 2020): count the distinct activation
patterns of Gaussian inputs. A lower bound on the number of regions."""

from __future__ import annotations

import time
from typing import Mapping

import numpy as np

from ilpregions.core.forward import decisions, stages
from ilpregions.core.spec import Network

#: The Gaussian scales of the sampler (the authors used N(0, v^2) with v up to 13).
SAMPLE_SCALES = (1.0, 2.0, 4.0, 8.0, 13.0)


def sample_patterns(network: Network, weights: Mapping[str, np.ndarray], samples: int, seed: int | None = 0,
                    deadline: float | None = None, batch: int = 65536) -> tuple[int, int]:
    """Distinct activation patterns over Gaussian inputs: a lower bound on the number of regions.

    Inputs are N(0, v^2 I) with v cycling over :data:`SAMPLE_SCALES` batch by
    batch (the authors' baseline, Xiong et al. 2020).

    Parameters
    ----------
    network : Network
        The architecture.
    weights : mapping of str to ndarray
        Its weights (checked).
    samples : int
        Inputs to draw.
    seed : int, optional
        Seed of the draws (None: fresh entropy).
    deadline : float, optional
        A ``time.perf_counter()`` value; drawing stops past it.
    batch : int
        Inputs per batch.

    Returns
    -------
    patterns : int
        Distinct activation patterns seen.
    drawn : int
        Inputs drawn.

    Examples
    --------
    >>> from ilpregions.core.forward import he_normal_weights
    >>> from ilpregions.core.spec import ConvLayer, Network
    >>> net = Network((3, 3, 1), (ConvLayer(2, 2),))
    >>> found, drawn = sample_patterns(net, he_normal_weights(net, 1), 1000, seed=0)
    >>> found <= 255, drawn
    (True, 1000)
    """
    stage_list = stages(network, weights)
    n = int(np.prod(network.input_shape))
    rng = np.random.default_rng(None if seed is None else seed + 7919)
    seen: set[bytes] = set()
    drawn, k = 0, 0
    while drawn < samples:
        if deadline is not None and time.perf_counter() > deadline:
            break
        size = min(batch, samples - drawn)
        X = rng.normal(0.0, SAMPLE_SCALES[k % len(SAMPLE_SCALES)], size=(size, n))
        k += 1
        codes, _ = decisions(stage_list, X)
        codes = np.ascontiguousarray(codes.astype(np.int16))
        view = codes.view(np.dtype((np.void, codes.shape[1] * codes.itemsize))).ravel()
        seen.update(v.tobytes() for v in np.unique(view))
        drawn += size
    return len(seen), drawn


__all__ = ["sample_patterns", "SAMPLE_SCALES"]
