"""Quantile tables: exact values, order-statistic intervals, and the files a run writes."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from mcinfra.cli import main
from mcinfra.stats.quantiles import QUANTILES, quantile_table
from mcinfra.stats.summary import Columns


def test_values_equal_numpy_and_intervals_bracket_them():
    rng = np.random.default_rng(0)
    data = rng.lognormal(0, 1, (3, 20_001))
    keys = [("a", 2024), ("a", 2025), ("b", 2024)]
    table = quantile_table(Columns(keys, data), keys)
    np.testing.assert_array_equal(
        table.value.sel(segment="a", year=2025), np.quantile(data[1], QUANTILES)
    )
    assert (table.ci95_low <= table.value).sel(segment="a").all()
    assert (table.value <= table.ci95_high).sel(segment="a").all()
    assert np.isnan(table.value.sel(segment="b", year=2025)).all()


@pytest.mark.statistical
def test_median_interval_covers_the_true_median_about_95_percent():
    rng = np.random.default_rng(1)
    runs, n = 1_000, 401
    data = rng.standard_normal((runs, n))
    keys = [("x", i) for i in range(runs)]
    table = quantile_table(Columns(keys, data), keys, probs=(0.5,))
    low = table.ci95_low.values.ravel()
    high = table.ci95_high.values.ravel()
    covered = np.mean((low <= 0) & (high >= 0))
    # rounded outwards, so at least nominal; 1,000 runs give a standard error near 0.007
    assert 0.93 <= covered <= 0.99


def test_run_writes_quantile_files(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["run", "--draws", "4000", "--out", str(out), "--quiet", "--no-report"]) == 0
    table = xr.open_dataset(out / "quantiles.nc")
    assert table.sizes == {"segment": 42, "year": 7, "quantile": 9}
    assert np.isfinite(table.value).all()
    lines = (out / "quantiles.csv").read_text().splitlines()
    assert lines[0] == "segment,year,quantile,value,ci95_low,ci95_high"
    assert len(lines) == 1 + 42 * 7 * 9
    table.close()
