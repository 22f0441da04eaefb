"""Crossover year and continuous crossover of the function split."""

from __future__ import annotations

import json

import numpy as np
import pytest

from mcinfra import RunSettings, simulate
from mcinfra.cli import main
from mcinfra.sampling.dataset import draw_last
from mcinfra.stats.crossover import CONTINUOUS_ACCURACY, CrossoverCounter, crossover_times
from mcinfra.stats.reduction import Chunk

YEARS = [2024, 2025, 2026, 2027]


def test_crossover_times_on_known_paths():
    # Draw 0 crosses between 2025 and 2026 where log(r/f) goes from -1 to +1: at 2025.5.
    # Draw 1 leads from the start; draw 2 never crosses; draw 3 ties in 2027 (counts).
    rising = np.array(
        [[1.0, 2.0, 1.0, 1.0], [1.0, 2.0, 1.0, 1.0], [np.e, 2.0, 1.0, 1.0], [np.e, 2.0, 1.0, 2.0]]
    )
    falling = np.array(
        [[np.e, 1.0, 5.0, 3.0], [np.e, 1.0, 5.0, 3.0], [1.0, 1.0, 5.0, 3.0], [1.0, 1.0, 5.0, 2.0]]
    )
    year, continuous = crossover_times(rising, falling, YEARS)
    np.testing.assert_array_equal(year, [2026.0, 2024.0, np.inf, 2027.0])
    assert continuous[0] == 2025.5 and continuous[1] == 2024.0 and continuous[2] == np.inf
    assert 2026 < continuous[3] <= 2027


def _reference_offsets(rising, falling):
    """The continuous crossover in years after the first, draw by draw, with numpy's log."""
    out = []
    for r, f in zip(rising.T, falling.T, strict=True):
        hit = np.flatnonzero(r >= f)
        if hit.size == 0:
            out.append(np.inf)
        elif hit[0] == 0:
            out.append(0.0)
        else:
            t = hit[0]
            with np.errstate(divide="ignore", invalid="ignore"):
                now, before = np.log(r[t] / f[t]), np.log(r[t - 1] / f[t - 1])
                fraction = -before / (now - before) if now > before else 1.0
            fraction = min(max(fraction, 0.0), 1.0) if fraction == fraction else 1.0
            out.append(t - 1 + fraction)
    return np.array(out)


def test_continuous_crossover_matches_the_definition_with_zero_and_infinite_series():
    rng = np.random.default_rng(12)
    n = 3000  # spans several of the kernel's blocks of draws
    rising = np.exp(rng.normal(0.0, 1.0, (4, n)) + np.arange(4)[:, None] * 0.8 - 1.5)
    falling = np.ones((4, n))
    rising[:, :50] = 0.0  # a rising series that is exactly zero: never crosses
    rising[0, 50:60] = falling[0, 50:60] = 0.0  # 0 >= 0 in the first year
    falling[2, 60:70] = 0.0  # crosses in 2026 against a zero falling series: log(inf)
    rising[1, 70:80], falling[1, 70:80] = 0.0, 1.0  # zero before, crossing after
    rising[2, 70:80] = 2.0
    falling[1, 80:90] = np.nan
    year, continuous = crossover_times(rising, falling, YEARS)
    expected = _reference_offsets(rising, falling)
    # The fraction -b / (a - b) has a >= 0 > b, so a - b does not cancel: each log within
    # 1 ulp of numpy's moves it by at most about 4 * 2**-52 (9e-16). The calendar year
    # returned, 2024 + offset, is rounded to half an ulp of a number in [1024, 2048)
    # (2**-43, 1.14e-13), and subtracting 2024 again is exact: 1.15e-13 in all.
    np.testing.assert_allclose(continuous - YEARS[0], expected, rtol=0, atol=1.15e-13)
    assert np.array_equal(np.isinf(continuous), np.isinf(expected))
    crossed = np.isfinite(year)
    assert np.array_equal(crossed, np.isfinite(expected))
    offset = year[crossed] - YEARS[0]  # the crossing year bounds its interpolation
    assert np.all((offset - 1 <= expected[crossed]) & (expected[crossed] <= offset))


def test_crossovers_need_consecutive_years():
    with pytest.raises(ValueError, match="consecutive years"):
        crossover_times(np.ones((2, 3)), np.ones((2, 3)), [2024, 2026])


def test_counts_match_the_per_draw_definition(default_config, tmp_path, capsys):
    ds = simulate(default_config, RunSettings(draws=5000, seed=8, chunk_size=5000))
    values = draw_last(ds["value"].values)
    labels = list(ds.segment.values)
    years = [int(y) for y in ds.year.values]
    counter = CrossoverCounter(["total", "cloud"], "inference", "training", labels, years)
    counter.add(Chunk(0, values[:, :, :1234]))
    counter.add(Chunk(1234, values[:, :, 1234:]))
    cloud = ds["value"].sel(segment="cloud_inference") >= ds["value"].sel(segment="cloud_training")
    first = np.where(cloud.values.any(axis=1), cloud.values.argmax(axis=1), len(years))
    np.testing.assert_array_equal(counter.counts[1], np.bincount(first, minlength=len(years) + 1))
    rows = counter.rows()
    assert rows[1]["entity"] == "cloud"
    assert 2024 <= rows[1]["median_continuous"] <= 2030

    out = tmp_path / "run"
    assert (
        main(["run", "--draws", "5000", "--seed", "8", "--out", str(out), "--quiet", "--no-report"])
        == 0
    )
    summary = json.loads((out / "summary.json").read_text())
    assert [c["entity"] for c in summary["crossovers"]] == ["total", "cloud", "enterprises"]
    by_year = summary["crossovers"][1]["probability_by_year"]
    assert by_year["2030"] + summary["crossovers"][1]["after_horizon"] == 1.0
    assert np.isclose(by_year["2026"], np.mean(first <= 2))
    assert "crossover (probability" in capsys.readouterr().out


@pytest.mark.parametrize("draws", [20_001, 20_000])  # one middle draw, and two
def test_median_continuous_is_within_its_stated_accuracy(default_config, draws):
    # The sketch's median moves from the exact sample median by at most
    # CONTINUOUS_ACCURACY * (median - first year) years, as docs/model.md section 15 says.
    ds = simulate(default_config, RunSettings(draws=draws, seed=4, chunk_size=7000))
    values = draw_last(ds["value"].values)
    labels = list(ds.segment.values)
    years = [int(y) for y in ds.year.values]
    counter = CrossoverCounter(["total", "cloud"], "inference", "training", labels, years)
    for first in range(0, draws, 7000):
        counter.add(Chunk(first, np.ascontiguousarray(values[:, :, first : first + 7000])))
    for row, entity in zip(counter.rows(), ("total", "cloud"), strict=True):
        rising = values[labels.index(f"{entity}_inference")]
        falling = values[labels.index(f"{entity}_training")]
        exact = float(np.median(crossover_times(rising, falling, years)[1]))
        bound = CONTINUOUS_ACCURACY * (exact - years[0])
        assert abs(row["median_continuous"] - exact) <= bound * (1 + 1e-9)
        assert bound < 0.006
