"""The DP partitioned on Dask (LocalCluster, threads, 127.0.0.1) equals the single-process count."""

from __future__ import annotations

import json

import pytest

from ilpregions.backends.dp import distributed, hashstep
from ilpregions.backends.dp import engine as dp
from ilpregions.core.geometry import layer_instance
from ilpregions.core.spec import ConvLayer, Network

#: (input, kernel, d1, stride, padding, dilation): 21 geometries with at least
#: 9 states at the peak (fewer cannot fill 4 partitions); channels, padding,
#: stride, dilation and a 3-D input among them. The quick suite runs QUICK[0].
QUICK = [((3, 4, 1), 2, 4, 1, 0, 1), ((4, 4, 1), 2, 4, 1, 0, 1)]
MORE = [
    ((5, 5, 1), 3, 9, 1, 0, 1), ((5, 5, 1), 2, 4, 1, 0, 1), ((6, 5, 1), 2, 3, 1, 0, 1),
    ((4, 6, 3), 2, 6, 1, 0, 1), ((7, 7, 1), 2, 4, 1, 0, 2), ((5, 5, 1), (3, 2), 7, 1, 0, 1),
    ((6, 4, 2), (2, 2), 2, 1, 1, 1), ((5, 6, 1), 3, 9, 1, 0, 1), ((8, 3, 1), 2, 4, 1, 0, 1),
    ((4, 4, 4), 2, 8, 1, 0, 1), ((4, 4, 1), 2, 3, 1, 1, 1), ((9, 9, 1), 3, 6, 2, 0, 1),
    ((8, 8, 1), 3, 4, 2, 1, 1), ((5, 5, 3), 2, 6, 1, 0, 1), ((4, 5, 2), 2, 5, 1, 1, 1),
    ((7, 6, 1), 2, 4, 1, 0, 2), ((4, 4, 3, 1), 2, 4, 1, 0, 1), ((6, 6, 1), 3, 9, 1, 0, 1),
    ((9, 9, 1), 3, 9, 2, 1, 1),
]


@pytest.fixture(scope="module")
def client():
    dask_distributed = pytest.importorskip("distributed")
    cluster = dask_distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                            host="127.0.0.1", protocol="tcp", dashboard_address=None)
    client = dask_distributed.Client(cluster)
    try:
        yield client
    finally:
        client.close()
        cluster.close()


def _instance(geometry):
    shape, kernel, d1, stride, padding, dilation = geometry
    return layer_instance(Network(shape, (ConvLayer(d1, kernel, stride, padding, dilation, shared=False),)))


def _check(client, monkeypatch, geometry, memory_cap=48 * 2 ** 10):
    monkeypatch.setattr(distributed, "DISTRIBUTE_AT", 0)  # every stage on the cluster
    inst = _instance(geometry)
    alone = dp.count(inst)
    # A small cap per task: the larger stages need several partitions.
    spread = dp.count(inst, scheduler=client, memory_cap=memory_cap)
    assert spread.regions == alone.regions and spread.t_vectors == alone.t_vectors
    return spread.details


def test_small_cap_forces_four_partitions(client, monkeypatch):
    details = _check(client, monkeypatch, QUICK[0], memory_cap=4 * 2 ** 10)
    assert details["dask_workers"] == 2 and details["dask_steps"] > 0
    assert details["dask_max_partitions"] >= 4


def _cap_for_four_partitions(geometry) -> int:
    """A per-task cap under which the widest stage needs at least 4 partitions
    (the runner's own sizing rule, :meth:`DaskRunner._partitions_for`)."""
    out = dp.count(_instance(geometry))
    width = -(-out.details["max_family"] // 8) * 8
    k = 8  # residue columns: an upper bound for these small counts
    per_row = hashstep.row_bytes(width, k) + width + 4 * k
    return 2 * distributed.GROWTH * out.details["peak_states"] * per_row // 5


@pytest.mark.slow
@pytest.mark.parametrize("geometry", QUICK + MORE)
def test_dask_equals_single_process(client, monkeypatch, geometry):
    details = _check(client, monkeypatch, geometry, memory_cap=_cap_for_four_partitions(geometry))
    assert details["dask_max_partitions"] >= 4


def test_cli_scheduler_address(client, cli, monkeypatch):
    monkeypatch.setattr(distributed, "DISTRIBUTE_AT", 0)
    address = client.scheduler.address
    assert address.startswith("tcp://127.0.0.1:")
    code, out, err = cli("count", "models/paper_3x3.toml", "--json", "--quiet", "--scheduler", address)
    assert code == 0, err
    data = json.loads(out)
    assert data["regions"] == "256" and data["dask_workers"] == 2


def test_cli_workers_need_the_dp_backend(cli):
    code, out, err = cli("count", "models/paper_3x3.toml", "--backend", "cpsat", "--workers", "2")
    assert code == 2 and "--workers: needs the dp backend" in err
