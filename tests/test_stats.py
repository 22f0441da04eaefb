"""Exact quantiles by counting select, and the streaming partition check."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from mcinfra import RunSettings, simulate
from mcinfra.kernels.select import growth_quantiles
from mcinfra.stats.reduction import Chunk
from mcinfra.stats.summary import Columns, PartitionCheck, partition_residual

PROBS = np.array([0.0, 0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99, 1.0])


def quantiles(data, probs=PROBS):
    rows = np.arange(data.shape[0], dtype=np.int64)
    out = np.empty((rows.size, probs.size))
    growth_quantiles(np.ascontiguousarray(data), rows, rows, 0.0, probs, out)
    return out


@pytest.mark.parametrize(
    "data",
    [
        np.random.default_rng(1).random((4, 100_001)),
        np.random.default_rng(2).lognormal(0, 8, (4, 50_000)),  # nearly all in one bucket
        np.round(np.random.default_rng(3).random((4, 20_000)), 2),  # heavy ties
        np.full((2, 1000), 3.5),
        np.random.default_rng(4).standard_normal((3, 1)),
        # a range so narrow that its width is subnormal (found by hypothesis in CI)
        np.array([[1e-308, 1.0000000000000002e-308, 1e-308, 3.0]]),
        np.array([[1e-308, 1.0000000000000002e-308, 1e-308]]),
    ],
    ids=[
        "uniform",
        "heavy-tailed",
        "ties",
        "constant",
        "single",
        "wide-and-tiny",
        "subnormal",
    ],
)
def test_counting_select_equals_numpy_quantile(data):
    np.testing.assert_array_equal(quantiles(data), np.quantile(data, PROBS, axis=1).T)


@pytest.mark.parametrize("at", [0, 7, 99])
@pytest.mark.parametrize("special", [np.nan, np.inf, -np.inf])
def test_order_statistics_with_a_non_finite_value_are_numpys_sort(special, at):
    """A column that cannot be bucketed is sorted outright, NaN last as numpy sorts."""
    from mcinfra.kernels.select import order_statistics

    data = np.random.default_rng(5).standard_normal((2, 100))
    data[1, at] = special
    ranks = np.arange(100, dtype=np.int64)
    out = np.empty((2, 100))
    order_statistics(data, np.array([0, 1]), ranks, out)
    np.testing.assert_array_equal(out, np.sort(data, axis=1))


def test_order_statistics_of_no_draws_are_nan():
    from mcinfra.kernels.select import order_statistics

    out = np.zeros((1, 2))
    order_statistics(np.empty((1, 0)), np.array([0]), np.array([0, 0]), out)
    assert np.isnan(out).all()


@settings(max_examples=300, deadline=None)
@given(
    arrays(
        np.float64,
        st.integers(1, 400),
        # numpy's reference overflows (b - a) when values span more than the float range
        elements=st.floats(min_value=-1e307, max_value=1e307),
    )
)
def test_counting_select_property(values):
    np.testing.assert_array_equal(quantiles(values[None, :])[0], np.quantile(values, PROBS))


def test_growth_quantiles_are_cagr_quantiles():
    rng = np.random.default_rng(5)
    start, end = rng.uniform(1, 2, 10_000), rng.uniform(2, 5, 10_000)
    data = np.stack([start, end])
    out = np.empty((1, PROBS.size))
    growth_quantiles(data, np.array([1]), np.array([0]), 1 / 6, PROBS, out)
    expected = np.quantile((end / start) ** (1 / 6) - 1, PROBS)
    # Each growth rate is within (1.5 |y| + 2.5) 2**-52 of pow's, relative to the growth
    # factor (y = log(ratio) / 6 < 0.27 here, tests/test_special.py); order statistics and
    # their interpolation keep that bound. Near zero growth it dwarfs a relative tolerance.
    bound = (1.5 * np.log(5.0) / 6 + 2.5) * 2.0**-52 * (1.0 + expected)
    assert np.all(np.abs(out[0] - expected) <= bound)


def test_columns_and_partition_check_agree_with_the_dataset(default_config):
    ds = simulate(default_config, RunSettings(draws=4000, seed=1, chunk_size=4000))
    columns = Columns.from_dataset(ds, [("total", 2030), ("network", 2024)])
    np.testing.assert_array_equal(
        columns[("total", 2030)], ds["value"].sel(segment="total", year=2030).values
    )
    expected = np.quantile(ds["value"].sel(segment="network", year=2024).values, [0.05, 0.5])
    np.testing.assert_array_equal(columns.quantiles([("network", 2024)], (0.05, 0.5))[0], expected)
    assert partition_residual(ds) < 1e-12
    broken = ds["value"].values.copy()
    broken[17, 3, 2] *= 1.001  # network, 2026 in draw 17
    check = PartitionCheck(list(ds.kind.values), list(ds.partition.values))
    check.add(Chunk(0, np.moveaxis(broken, 0, -1)))
    assert abs(check.worst - 0.001 * broken[17, 3, 2] / 1.001 / broken[17, 0, 2]) < 1e-12


def test_partition_gap_is_the_largest_over_blocks_and_ignores_nan():
    from mcinfra.kernels.select import partition_gap

    rng = np.random.default_rng(21)
    n = 2 * 1024 + 77  # three blocks of the kernel, the last one short
    segments = rng.uniform(1.0, 2.0, (5, 3, n))
    values = np.concatenate([segments[:3].sum(axis=0, keepdims=True), segments])
    values[1:4] *= 1.0 + rng.uniform(-1e-6, 1e-6, (3, 3, n))  # partition (1, 2, 3)
    values[4, 1, 2100] = np.nan  # one NaN in the other partition (4, 5): ignored
    part_ptr, rows = np.array([0, 3, 5]), np.array([1, 2, 3, 4, 5])
    with np.errstate(invalid="ignore"):
        gaps = [np.abs(values[r].sum(axis=0) / values[0] - 1.0) for r in ([1, 2, 3], [4, 5])]
    assert partition_gap(values, part_ptr, rows) == np.nanmax(gaps)
    # a partition without rows sums to zero: a gap of 1, whatever came before it
    assert partition_gap(values, np.array([0, 3, 3]), rows[:3]) == 1.0
