"""The sanity figures every default run must reproduce (MODEL.md section 9), at 1e6 draws."""

from __future__ import annotations

import numpy as np
import pytest

from mcinfra import RunSettings, simulate
from mcinfra.stats.summary import partition_residual

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def million(default_config):
    return simulate(default_config, RunSettings(draws=1_000_000, seed=20241127, chunk_size=65_536))


def test_total_2024_median(million):
    median = np.median(million["value"].sel(segment="total", year=2024).values)
    assert abs(median / 135.81 - 1) < 0.005


def test_total_2030_median(million):
    median = np.median(million["value"].sel(segment="total", year=2030).values)
    assert abs(median / 394.46 - 1) < 0.03


def test_network_realised_cagr_median(million):
    network = million["value"].sel(segment="network")
    cagr = (network.sel(year=2030).values / network.sel(year=2024).values) ** (1 / 6) - 1
    assert abs(np.median(cagr) - 0.306) < 0.015


def test_north_america_share_2024(million):
    value = million["value"].sel(year=2024)
    share = value.sel(segment="north_america").values / value.sel(segment="total").values
    assert abs(np.median(share) - 0.362) < 1e-12


def test_partitions_sum_to_total_at_scale(million):
    assert partition_residual(million) < 1e-9
    assert np.isfinite(million["value"].values).all()
