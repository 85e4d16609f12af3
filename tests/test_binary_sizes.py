"""scip and cpsat-binary refuse a binary model by arithmetic before building it (issue 13)."""

from __future__ import annotations

import time

import pytest

from ilpregions.core.errors import TooLargeError
from ilpregions.core.sizes import BYTES_PER_BINARY_VARIABLE, MAX_BINARY_VARIABLES, check_binary_model

SPEC = 'input = [3, 3, 1]\n[[layers]]\ntype = "conv"\nfilters = {filters}\nkernel = 2\n'


@pytest.mark.parametrize("backend", ["scip", "cpsat-binary"])
def test_a_billion_filters_are_refused_before_any_model(cli, tmp_path, backend):
    spec = tmp_path / "m.toml"
    spec.write_text(SPEC.format(filters=10 ** 9))
    start = time.perf_counter()
    code, out, err = cli("count", spec, "--backend", backend, "--time-limit", "5", "--memory-cap", "1")
    assert code == 2 and out == "" and err.count("\n") == 1
    assert f"{backend}: 4000000000 binary variables" in err and f"limit of {MAX_BINARY_VARIABLES}" in err
    assert time.perf_counter() - start < 5


@pytest.mark.parametrize("backend", ["scip", "cpsat-binary"])
def test_memory_cap_is_respected(cli, tmp_path, backend):
    spec = tmp_path / "m.toml"
    spec.write_text(SPEC.format(filters=100_000))     # 400,000 variables: under the count limit
    code, out, err = cli("count", spec, "--backend", backend, "--memory-cap", "0.1")
    assert code == 2 and err.count("\n") == 1
    assert f"{400_000 * BYTES_PER_BINARY_VARIABLE} bytes estimated" in err and "memory_cap" in err


def test_check_binary_model_arithmetic():
    assert check_binary_model(4, 250_000) == MAX_BINARY_VARIABLES
    with pytest.raises(TooLargeError, match="over the limit of 1000000"):
        check_binary_model(4, 250_001)
    with pytest.raises(TooLargeError, match="bytes estimated"):
        check_binary_model(4, 3, memory_cap=4 * 3 * BYTES_PER_BINARY_VARIABLE - 1)
