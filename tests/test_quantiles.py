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
    table = quantile_table(Columns(keys, data), keys).to_dataset()
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
    table = quantile_table(Columns(keys, data), keys, probs=(0.5,)).to_dataset()
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


def test_quantiles_nc_is_what_xarray_itself_writes(tmp_path):
    from mcinfra.io.run_directory import write_quantiles

    keys = [("total", 2024), ("total", 2025), ("north_america", 2024)]
    data = np.random.default_rng(2).lognormal(0, 1, (3, 999))
    table = quantile_table(Columns(keys, data), keys)
    write_quantiles(tmp_path, table)
    expected = table.to_dataset()
    expected.to_netcdf(tmp_path / "by_xarray.nc", engine="scipy")
    with (
        xr.open_dataset(tmp_path / "quantiles.nc", engine="scipy") as ours,
        xr.open_dataset(tmp_path / "by_xarray.nc", engine="scipy") as theirs,
    ):
        xr.testing.assert_identical(ours, theirs)
        xr.testing.assert_identical(ours.load(), expected)
    frame = expected.to_dataframe().dropna().reset_index()
    rows = (tmp_path / "quantiles.csv").read_text().splitlines()[1:]
    assert len(rows) == len(frame) == 3 * 9  # north_america 2025 was not tabulated
    assert rows[0].split(",")[:3] == ["total", "2024", "0.01"]


def test_netcdf_attributes_beyond_32_bits_survive(tmp_path):
    # netCDF 3 has no 64-bit integers: a draw count past 2**31 is stored as a double.
    from mcinfra.io.run_directory import write_netcdf3

    coords = {"segment": ["a", "bb"], "year": [2024], "quantile": [0.5]}
    write_netcdf3(tmp_path / "q.nc", coords, {"value": np.ones((2, 1, 1))}, {"draws": 3 * 2**31})
    with xr.open_dataset(tmp_path / "q.nc", engine="scipy") as table:
        assert table.attrs["draws"] == 3 * 2**31
        assert list(table.segment.values) == ["a", "bb"]


def _netcdf3_by_scipy(path, coords, variables, attrs):
    """The same table through ``scipy.io.netcdf_file``, the writer xarray's scipy engine uses."""
    from scipy.io import netcdf_file

    with netcdf_file(path, "w", version=1) as handle:
        for name, labels in coords.items():
            handle.createDimension(name, len(labels))
        for name, labels in coords.items():
            if all(isinstance(label, str) for label in labels):
                encoded = [label.encode("utf-8") for label in labels]
                width = max(1, *(len(label) for label in encoded))
                handle.createDimension(f"string{width}", width)
                variable = handle.createVariable(name, "c", (name, f"string{width}"))
                variable[:] = np.array(encoded, dtype=f"S{width}").view("S1").reshape(-1, width)
                variable._Encoding = b"utf-8"
            elif all(isinstance(label, int) for label in labels):
                variable = handle.createVariable(name, "i", (name,))
                variable[:] = np.asarray(labels, dtype=np.int32)
            else:
                variable = handle.createVariable(name, "d", (name,))
                variable[:] = np.asarray(labels, dtype=np.float64)
                variable._FillValue = np.nan
        for name, array in variables.items():
            variable = handle.createVariable(name, "d", tuple(coords))
            variable._FillValue = np.nan
            variable[:] = array
        for key, value in attrs.items():
            setattr(handle, key, value)


@pytest.mark.parametrize(
    ("coords", "attrs", "scipy_attrs"),
    [
        (
            {"segment": ["total", "héllo", "b"], "year": [2024, 2025], "quantile": [0.05, 0.5]},
            {"draws": 1000, "interval": "order statistics", "relative_accuracy": 0.001},
            {"draws": np.int32(1000), "interval": b"order statistics", "relative_accuracy": 0.001},
        ),
        (
            {"segment": ["abcde"], "year": [1]},
            {"draws": 3 * 2**31, "flag": True, "empty": "", "scale": np.float64(2.5)},
            {"draws": np.float64(3 * 2**31), "flag": True, "empty": b"", "scale": np.float64(2.5)},
        ),
        ({"quantile": [0.1, 0.9]}, {}, {}),
    ],
)
def test_netcdf_bytes_equal_scipys_writer(tmp_path, coords, attrs, scipy_attrs):
    # The file is encoded without importing scipy.io; its bytes must not change.
    from mcinfra.io.run_directory import write_netcdf3

    shape = tuple(len(labels) for labels in coords.values())
    values = np.random.default_rng(3).normal(size=shape)
    values.flat[0] = np.nan
    variables = {"value": values, "ci95_low": values - 1.0}
    write_netcdf3(tmp_path / "ours.nc", coords, variables, attrs)
    _netcdf3_by_scipy(tmp_path / "scipy.nc", coords, variables, scipy_attrs)
    assert (tmp_path / "ours.nc").read_bytes() == (tmp_path / "scipy.nc").read_bytes()


def test_netcdf_refuses_an_attribute_it_cannot_type(tmp_path):
    from mcinfra.io.run_directory import write_netcdf3

    with pytest.raises(TypeError, match=r"unsupported type: \[1, 2\]"):
        write_netcdf3(tmp_path / "q.nc", {"quantile": [0.5]}, {}, {"pair": [1, 2]})
