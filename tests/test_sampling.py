"""The authors' sampling baseline: a lower bound that never exceeds the exact count."""

from __future__ import annotations

import json

import pytest

from helpers import MODELS
from ilpregions.services.regions import count_linear_regions, sample_patterns
from ilpregions.core.forward import he_normal_weights
from ilpregions.core.spec import ConvLayer, DenseLayer, MaxPoolLayer, Network

NETS = [
    Network((3, 3, 1), (ConvLayer(2, 2),)),
    Network((6, 1), (ConvLayer(3, 3),)),
    Network((6, 1), (ConvLayer(2, 3), MaxPoolLayer(2))),
    Network((1, 4, 1), (ConvLayer(2, (1, 2)), ConvLayer(3, (1, 2)))),
    Network((3, 1), (DenseLayer(4), DenseLayer(3))),
]


@pytest.mark.parametrize("net", NETS, ids=lambda n: "-".join(l.type for l in n.layers) + str(n.input_shape))
def test_sampler_never_exceeds_exact(net):
    for seed in range(2):
        exact = count_linear_regions(net, seed=seed)
        sampled = count_linear_regions(net, seed=seed, method="sample", samples=60_000)
        assert exact.exact and not sampled.exact
        assert 1 <= sampled.regions <= exact.regions


def test_sampler_misses_regions_of_the_paper_net():
    # The exact count is 255; 20,000 Gaussian inputs see fewer (regions far out or thin).
    net = Network((3, 3, 1), (ConvLayer(3, 2),))
    exact = count_linear_regions(net, seed=0).regions
    found, drawn = sample_patterns(net, he_normal_weights(net, 0), 20_000, seed=0)
    assert drawn == 20_000 and found < exact


def test_sampler_is_monotone_in_samples():
    net = Network((3, 3, 1), (ConvLayer(3, 2),))
    w = he_normal_weights(net, 1)
    a, _ = sample_patterns(net, w, 5_000, seed=0, batch=5_000)
    b, _ = sample_patterns(net, w, 20_000, seed=0, batch=5_000)
    assert a <= b


def test_cli_sample_json(cli):
    code, stdout, err = cli("regions", MODELS / "paper_3x3.toml", "--seed", "0", "--method", "sample",
                            "--samples", "20000", "--json")
    assert code == 0, err
    out = json.loads(stdout)
    assert out["exact"] is False and 1 <= int(out["regions"]) <= 255 and out["samples"] == 20000
