"""The quantile sketch: guaranteed relative error, exact merging, and runs that use it."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import xarray as xr
from hypothesis import given
from hypothesis import strategies as st

from mcinfra.cli import main
from mcinfra.stats.reduction import Chunk
from mcinfra.stats.sketch import (
    RELATIVE_ACCURACY,
    QuantileSketch,
    bucket_representatives,
    fraction_bits,
)


def _exact(data: np.ndarray, ranks) -> np.ndarray:
    ordered = np.sort(data, axis=1)[:, ranks]
    return np.where(np.abs(ordered) < 2.0**-1022, 0.0, ordered)  # the sketch's zero bucket


def _relative_error(got: np.ndarray, exact: np.ndarray) -> float:
    finite = np.isfinite(exact) & (exact != 0)
    assert np.array_equal(got[~finite], exact[~finite])  # zeros and infinities are exact
    if not finite.any():
        return 0.0
    return float(np.max(np.abs(got[finite] - exact[finite]) / np.abs(exact[finite])))


def _sketch_of(data: np.ndarray, parts: int = 1) -> QuantileSketch:
    sketch = QuantileSketch(data.shape[0])
    for part in np.array_split(np.arange(data.shape[1]), parts):
        sketch.count(np.ascontiguousarray(data[:, part]))
    return sketch


def test_every_order_statistic_within_the_stated_relative_error():
    rng = np.random.default_rng(0)
    n = 50_001
    data = np.stack(
        [
            rng.lognormal(3.0, 2.0, n),  # heavy right tail
            rng.standard_normal(n),  # both signs, values near zero
            rng.standard_cauchy(n) * 1e200,  # extreme magnitudes
            np.where(rng.random(n) < 0.2, 0.0, rng.uniform(1e-300, 1e-290, n)),  # tiny and zero
        ]
    )
    data[2, :4] = [np.inf, -np.inf, np.finfo(float).max, -np.finfo(float).max]
    data[3, :2] = [5e-324, -1e-310]  # subnormals count as zero
    ranks = np.unique(np.r_[0, 1, 2, np.linspace(0, n - 1, 301).astype(int), n - 2, n - 1])
    got = _sketch_of(data).order_statistics(range(4), ranks)
    assert _relative_error(got, _exact(data, ranks)) <= RELATIVE_ACCURACY


@given(
    st.lists(st.floats(allow_nan=False, allow_infinity=True, width=64), min_size=1, max_size=200),
    st.integers(1, 5),
)
def test_property_any_values_any_chunking(values, parts):
    data = np.array([values])
    ranks = np.arange(data.shape[1])
    one = _sketch_of(data)
    got = one.order_statistics([0], ranks)
    assert _relative_error(got, _exact(data, ranks)) <= RELATIVE_ACCURACY
    split = _sketch_of(data, parts)
    np.testing.assert_array_equal(split.order_statistics([0], ranks), got)


def test_chunks_and_merges_give_identical_counts():
    rng = np.random.default_rng(1)
    data = rng.lognormal(0.0, 1.5, (3, 20_000)) * np.where(rng.random((3, 20_000)) < 0.3, -1, 1)
    whole = _sketch_of(data)
    merged = _sketch_of(data[:, :7_001])
    merged.merge(_sketch_of(data[:, 7_001:], parts=3))
    for row in range(3):
        for a, b in zip(whole.distribution(row), merged.distribution(row), strict=True):
            np.testing.assert_array_equal(a, b)
    restored = QuantileSketch.from_state(merged.state())
    ranks = np.arange(0, 20_000, 97)
    np.testing.assert_array_equal(
        restored.order_statistics(range(3), ranks), whole.order_statistics(range(3), ranks)
    )


@pytest.mark.parametrize("accuracy", [1e-3, 1e-2, 0.3, 1e-6])
def test_bucket_representatives_are_within_the_accuracy_of_both_edges(accuracy):
    shift = 52 - fraction_bits(accuracy)
    rng = np.random.default_rng(2)
    edges = np.r_[2.0**-1022, 1.0, 1.5, np.finfo(float).max, rng.lognormal(0, 200, 10_000)]
    edges = edges[(edges >= 2.0**-1022) & (edges <= np.finfo(float).max)]
    buckets = edges.view(np.int64) >> shift
    m = 52 - shift
    exponent = (buckets >> m) - 1023
    low = 1.0 + (buckets & ((1 << m) - 1)) / 2.0**m  # edges over 2**exponent
    high = low + 2.0**-m
    assert np.array_equal(np.ldexp(low, exponent), (buckets << shift).view(np.float64))
    assert np.all(np.ldexp(low, exponent) <= edges)  # each value lies in its bucket
    assert np.all(np.ldexp(edges, -exponent) < high)
    representative = bucket_representatives(buckets, shift)
    assert np.all(np.isfinite(representative))
    scaled = np.ldexp(representative, -exponent)
    assert np.all((scaled - low) / low <= accuracy)
    assert np.all((high - scaled) / high <= accuracy)
    # the coarsest fraction that meets the accuracy: one bit fewer would not
    assert 1 / (2.0 ** (m + 1) + 1) <= accuracy < (1 / (2.0**m + 1) if m else 1)


def test_rows_outside_the_sketch_are_refused():
    sketch = QuantileSketch(2)
    with pytest.raises(ValueError, match="outside"):
        sketch.count(np.ones((2, 3)), first_row=1)


@pytest.fixture(scope="module")
def exact_and_sketch(tmp_path_factory):
    root = tmp_path_factory.mktemp("sketch_runs")
    runs = {}
    for method, chunk in (("exact", 3000), ("sketch", 3000), ("sketch", 1111)):
        out = root / f"{method}-{chunk}"
        args = ["run", "--draws", "20000", "--chunk-size", str(chunk), "--quiet"]
        assert main([*args, "--no-report", "--quantiles", method, "--out", str(out)]) == 0
        runs[(method, chunk)] = out
    return runs


def test_sketch_run_matches_exact_within_relative_accuracy(exact_and_sketch):
    exact = xr.open_dataset(exact_and_sketch[("exact", 3000)] / "quantiles.nc")
    sketch = xr.open_dataset(exact_and_sketch[("sketch", 3000)] / "quantiles.nc")
    assert sketch.attrs["relative_accuracy"] == RELATIVE_ACCURACY
    a, b = exact["value"].values, sketch["value"].values
    assert np.all(np.abs(b - a) <= RELATIVE_ACCURACY * np.abs(a))
    # Interval bounds are bucket edges: outside the exact bounds, by at most a bucket's width.
    low, high = exact["ci95_low"].values, exact["ci95_high"].values
    assert np.all(sketch["ci95_low"].values <= low) and np.all(sketch["ci95_high"].values >= high)
    width = 2.0 ** -fraction_bits(RELATIVE_ACCURACY)
    assert np.all(low - sketch["ci95_low"].values <= width * np.abs(low))
    assert np.all(sketch["ci95_high"].values - high <= width * np.abs(high))
    summaries = [
        json.loads((exact_and_sketch[k] / "summary.json").read_text())
        for k in (("exact", 3000), ("sketch", 3000))
    ]
    assert summaries[0]["quantiles"]["method"] == "exact"
    assert summaries[1]["quantiles"] == {"method": "sketch", "relative_accuracy": 1e-3}
    assert summaries[0]["predictions"] == summaries[1]["predictions"]
    for a, b in zip(summaries[0]["source_figures"], summaries[1]["source_figures"], strict=True):
        assert a["source_percentile"] == b["source_percentile"]  # exact counts in both
        # A CAGR's median is read from the growth ratio r, sketched within relative a:
        # 1 + CAGR = r^(1/H) then moves by a factor (1 + e)^(1/H), |e| <= a, i.e. by at
        # most a (1 + CAGR) / H; 1.001e-3 (1 + |CAGR|) bounds it for any horizon H >= 1,
        # with the extra 1e-6 for rounding.
        scale = 1 + abs(a["source_value"]) if a["kind"] == "cagr" else abs(a["simulated_median"])
        assert abs(a["simulated_median"] - b["simulated_median"]) <= 1.001e-3 * scale
    for a, b in zip(summaries[0]["series"], summaries[1]["series"], strict=True):
        for key in ("p05", "p50", "p95"):
            assert abs(a["2030"][key] - b["2030"][key]) <= 1e-3 * abs(a["2030"][key])
            assert abs(a["cagr"][key] - b["cagr"][key]) <= 1.001e-3 * (1 + abs(a["cagr"][key]))


def test_sketch_run_does_not_depend_on_chunk_size(exact_and_sketch):
    files = [
        (exact_and_sketch[("sketch", chunk)] / "quantiles.csv").read_bytes()
        for chunk in (3000, 1111)
    ]
    assert files[0] == files[1]


def test_exact_quantiles_that_cannot_fit_are_refused(tmp_path, capsys):
    out = tmp_path / "huge"
    code = main(["run", "--draws", "1e9", "--quantiles", "exact", "--out", str(out)])
    assert code == 2
    assert "exact quantiles would hold" in capsys.readouterr().err
    assert not out.exists()


def test_sketch_run_memory_does_not_grow_with_draws(tmp_path):
    import tracemalloc

    from mcinfra.config import load_config
    from mcinfra.runs.pipeline import run_to_directory
    from mcinfra.sampling.engine import settings_from

    loaded = load_config()
    peaks = []
    for draws in (20_000, 160_000):
        settings = settings_from(loaded, draws=draws, chunk_size=10_000)
        tracemalloc.start()
        run_to_directory(loaded, settings, tmp_path / str(draws), quantiles="sketch")
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
    # 8x the draws: the exact columns alone would add 140 MB; chunk buffers and sketch stay
    assert peaks[1] < 1.25 * peaks[0], peaks


def test_values_beyond_a_rows_pages_are_counted_when_they_come():
    # later chunks reach new octaves on both sides and both signs, and only some rows do
    rng = np.random.default_rng(4)
    first = rng.uniform(1.0, 2.0, (3, 500))
    later = first.copy()
    later[0, :3] = [1e-9, 1e9, -5.0]
    later[2, :2] = [0.0, np.nan]
    sketch = _sketch_of(first)
    sketch.count(later)
    whole = _sketch_of(np.concatenate([first, later], axis=1))
    for row in range(3):
        for a, b in zip(sketch.distribution(row), whole.distribution(row), strict=True):
            np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(sketch.special, whole.special)
    assert sketch.distribution(0)[1].sum() == 1000 and sketch.special[2].sum() == 2


def test_values_within_a_spare_page_of_a_rows_range_need_no_second_pass(monkeypatch):
    # A row's pages reach SPARE_PAGES beyond its values (one page is one octave at the
    # default accuracy), so a later chunk's tails up to a factor 2 further out are counted
    # in the first pass; the second (count_new_pages) is only for values beyond that.
    from mcinfra.stats import sketch as module

    assert module.SPARE_PAGES == 1 and module.QuantileSketch(1).shift == 52 - module.PAGE_SHIFT
    rng = np.random.default_rng(12)
    first = rng.lognormal(0.0, 0.3, (3, 2_000))
    low, high = first.min(axis=1), first.max(axis=1)
    later = rng.uniform(low[:, None] / 2, 2 * high[:, None], (3, 2_000))
    later[:, 0], later[:, 1] = low / 2, np.nextafter(2 * high, 0.0)  # the spare pages' ends
    sketch = _sketch_of(first)
    with monkeypatch.context() as patch:
        patch.setattr(module.kernels, "count_new_pages", _no_second_pass)
        sketch.count(later)
    whole = _sketch_of(np.concatenate([first, later], axis=1))
    for row in range(3):
        for a, b in zip(sketch.distribution(row), whole.distribution(row), strict=True):
            np.testing.assert_array_equal(a, b)
    beyond = later.copy()
    beyond[:, 0] = low / 4
    with monkeypatch.context() as patch, pytest.raises(AssertionError, match="second pass"):
        patch.setattr(module.kernels, "count_new_pages", _no_second_pass)
        _sketch_of(first).count(beyond)


def _no_second_pass(*args):
    raise AssertionError("second pass")


def test_ratios_counted_in_cache_match_the_ratios_numpy_divides():
    # Fresh rows, values beyond a row's pages in later chunks, both signs, 0/0, x/0 and NaN.
    rng = np.random.default_rng(5)
    data = rng.lognormal(0.0, 0.5, (5, 3_000))
    data[1] *= np.where(rng.random(3_000) < 0.4, -1.0, 1.0)
    data[2, 2_500:] *= 1e12  # later values far beyond the first chunk's pages
    data[3, 2_600:2_610] = 0.0
    data[4, 2_700] = np.nan
    top, bottom = np.array([0, 1, 2, 3, 4, 3]), np.array([1, 0, 4, 0, 0, 3])
    streamed, reference = QuantileSketch(8), QuantileSketch(8)
    for part in np.array_split(np.arange(data.shape[1]), 3):
        chunk = np.ascontiguousarray(data[:, part])
        streamed.add_ratios(chunk, top, bottom, first_row=2)
        with np.errstate(divide="ignore", invalid="ignore"):
            reference.count(chunk[top] / chunk[bottom], first_row=2)
    for row in range(2, 8):
        for a, b in zip(streamed.distribution(row), reference.distribution(row), strict=True):
            np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(streamed.special, reference.special)
    assert streamed.special[7].tolist() == [0, 0, 0, 10]  # 0/0: NaN ten times
    assert streamed.special[4].tolist() == [0, 0, 0, 1]  # NaN / x


def test_rows_counted_through_an_index_match_the_rows_themselves():
    # Row indirection (repeats and reordering included) across chunks whose later values
    # need new pages: the same counts as adding the selected rows directly.
    rng = np.random.default_rng(8)
    data = rng.lognormal(0.0, 1.0, (3, 4_000))
    data[2, 3_000:] *= 1e9
    rows = np.array([2, 0, 2, 1])
    indexed, direct = QuantileSketch(4), QuantileSketch(4)
    for part in np.array_split(np.arange(data.shape[1]), 4):
        chunk = np.ascontiguousarray(data[:, part])
        indexed.count(chunk, rows=rows)
        direct.count(chunk[rows])
    for row in range(4):
        for a, b in zip(indexed.distribution(row), direct.distribution(row), strict=True):
            np.testing.assert_array_equal(a, b)


def test_copied_series_read_the_sketch_of_their_original(default_plan):
    # The default model's sums of one member: every quantile, ratio and source figure of a
    # copy equals what sketching its (identical) values separately gives, with fewer rows.
    from mcinfra.kernels.random import seed_key
    from mcinfra.sampling.engine import simulate_streams
    from mcinfra.stats.sketch import SketchColumns

    copies = default_plan.copies
    assert copies["hyperscalers"] == "hyperscale_cloud" and len(copies) == 6
    labels = [s.label for s in default_plan.series]
    shared = SketchColumns(labels, default_plan.years, copies=copies)
    separate = SketchColumns(labels, default_plan.years)
    n = 3_000
    values = np.empty((len(labels), len(default_plan.years), n))
    inputs = np.empty((len(default_plan.inputs), n))
    for first in (0, n):
        out = (values, inputs, inputs.copy())
        simulate_streams(seed_key(3), first, n, default_plan.kernel, out, 0)
        shared.add(Chunk(first, values))
        separate.add(Chunk(first, values))
    years = len(default_plan.years)
    assert shared.sketch.n_rows == separate.sketch.n_rows - len(copies) * (years + 1)
    keys = list(separate.index)
    last, first_year = default_plan.years[-1], default_plan.years[0]
    pairs = [((label, last), (label, first_year)) for label in labels]
    ranks = [0, 1, 2_999, 5_998, 5_999]
    np.testing.assert_array_equal(
        shared.order_statistics(keys + pairs, ranks), separate.order_statistics(keys + pairs, ranks)
    )


@pytest.fixture(scope="module")
def sketch_and_exact_200k(tmp_path_factory):
    """quantiles.csv rows of the same 200,000-draw run with each quantile method."""
    root = tmp_path_factory.mktemp("sketch_200k")
    rows = {}
    for method in ("sketch", "exact"):
        out = root / method
        args = ["run", "--draws", "200000", "--quiet", "--no-report", "--quantiles", method]
        assert main([*args, "--out", str(out)]) == 0
        with open(out / "quantiles.csv", newline="") as handle:
            rows[method] = list(csv.DictReader(handle))
    return rows


def test_sketch_intervals_contain_the_exact_intervals_in_every_row(sketch_and_exact_200k):
    # Each sketch bound is the edge of the bucket holding the exact order statistic, so the
    # sketch's interval holds the exact one; its value stays within the stated accuracy.
    sketch, exact = sketch_and_exact_200k["sketch"], sketch_and_exact_200k["exact"]
    assert len(sketch) == len(exact) > 2000
    width = 2.0 ** -fraction_bits(RELATIVE_ACCURACY)  # a bucket's relative width
    for s, e in zip(sketch, exact, strict=True):
        assert (s["segment"], s["year"], s["quantile"]) == (e["segment"], e["year"], e["quantile"])
        value, low, high = (float(s[k]) for k in ("value", "ci95_low", "ci95_high"))
        exact_value, exact_low, exact_high = (
            float(e[k]) for k in ("value", "ci95_low", "ci95_high")
        )
        assert low <= exact_low and exact_high <= high, s
        assert abs(value - exact_value) <= RELATIVE_ACCURACY * abs(exact_value), s
        assert exact_low - low <= width * abs(exact_low) and high - exact_high <= width * abs(
            exact_high
        )
        assert low < high or exact_low == exact_high == 0.0, s  # never zero width


def test_sketch_interval_bounds_of_zero_negative_and_infinite_values():
    # Zero holds every |x| < 2**-1022; a negative bucket of magnitudes [l, u) holds (-u, -l].
    sketch = QuantileSketch(1)
    values = np.array([[-3.0, -0.0, 0.0, 5e-324, 1.0, 2.5, np.inf, -np.inf]])
    sketch.count(values)
    ranks = np.arange(values.size)
    low = sketch.order_statistics([0], ranks, edge=-1)[0]
    high = sketch.order_statistics([0], ranks, edge=1)[0]
    ordered = np.sort(values[0])
    assert np.all(low <= ordered) and np.all(ordered <= high)
    assert low[0] == high[0] == -np.inf and low[-1] == high[-1] == np.inf
    assert low[2] == -(2.0**-1022) and high[2] == 2.0**-1022
    m = fraction_bits(RELATIVE_ACCURACY)  # buckets of 2**-m of their octave
    assert low[1] == -(3.0 + 2.0 ** (1 - m)) and high[1] == -3.0  # 3 opens its bucket
    assert low[5] == 1.0 and high[5] == 1.0 + 2.0**-m


def test_zeros_beside_the_smallest_normal_count_as_zero():
    # |x| < 2**-1022 counts as zero even where a row's pages reach down to 2**-1022.
    sketch = QuantileSketch(1)
    sketch.count(np.array([[0.0, 2.0**-1022, -0.0, 4e-320]]))
    got = sketch.order_statistics([0], [0, 1, 2, 3])[0]
    assert np.array_equal(got[:3], [0.0, 0.0, 0.0]) and got[3] > 2.0**-1022
    assert sketch.special[0, 1] == 3


def test_coarse_accuracies_are_refused():
    with pytest.raises(ValueError, match=r"relative accuracy 0\.01 is coarser than the sketch"):
        QuantileSketch(1, 0.01)
