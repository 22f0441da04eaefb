"""Sensitivity: closed-form indices, ranking, and exact merging over chunks."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from conftest import MINIMAL, Z
from mcinfra import RunSettings, parse_config, simulate
from mcinfra.cli import main
from mcinfra.config.validation import compile_predictions
from mcinfra.runs.diagnostics import prediction_indicators
from mcinfra.sampling.dataset import draw_last
from mcinfra.stats.reduction import Chunk
from mcinfra.stats.sensitivity import INDEX_BINS, SensitivityAccumulator

pytestmark = pytest.mark.statistical

TWO_NORMALS = (
    MINIMAL
    + """
[parameters]
a = { dist = "normal", mean = 0, sd = 1 }
b = { dist = "normal", mean = 0, sd = 1 }
c = { dist = "uniform", low = 0, high = 1 }

[predictions.sum_positive]
text = "a + b > 0"
expr = "a + b > 0"

[predictions.dominant]
text = "10 a + b > 0"
expr = "10 * a + b > 0"
"""
)


def accumulate(loaded, draws, chunk):
    ds = simulate(loaded, RunSettings(draws=draws, seed=21, chunk_size=draws))
    indicators = prediction_indicators(ds, loaded.config)
    names = list(ds.input.values)
    uncertain = [family != "fixed" for family in ds.family.values]
    scores = np.asarray(ndtri_of(draw_last(ds["input_rank"].values)))
    acc = SensitivityAccumulator(len(indicators), names, uncertain)
    stacked = np.stack(list(indicators.values()))
    for first in range(0, draws, chunk):
        acc.add(
            Chunk(
                first,
                scores=scores[:, first : first + chunk],
                indicators=stacked[:, first : first + chunk],
            )
        )
    return acc, list(indicators)


def ndtri_of(rank):
    from scipy.special import ndtri

    return ndtri(rank)


def test_closed_form_first_order_indices_and_rank_correlation():
    """Y = 1[X1 + X2 > 0], X iid N(0, 1): E[Y | X1] = Phi(X1) ~ U(0, 1), so
    S1 = Var(U) / Var(Y) = (1/12) / (1/4) = 1/3 and corr(u1, Y) = (1/12) / (sqrt(1/12) / 2)
    = 1/sqrt(3); the unused input c has S = 0 and correlation 0."""
    acc, names = accumulate(parse_config(TWO_NORMALS), 1_000_000, 1_000_000)
    drivers = {d.input: d for d in acc.drivers(names.index("sum_positive"))}
    for name in ("a", "b"):
        assert abs(drivers[name].first_order_index - 1 / 3) < 0.02
        assert abs(drivers[name].rank_correlation - 1 / np.sqrt(3)) < 0.01
    # An input Y does not depend on: its rank correlation has standard error 1/sqrt(n); its
    # bias-corrected index is (chi2(B-1) - (B-1)) * within-variance / total, with standard
    # deviation sqrt(2 (B-1)) / n for B equiprobable bins.
    n = 1_000_000
    assert abs(drivers["c"].rank_correlation) < Z / np.sqrt(n)
    assert abs(drivers["c"].first_order_index) < Z * np.sqrt(2 * (INDEX_BINS - 1)) / n


def test_one_dominant_input_ranks_first():
    """Y = 1[k a + b > 0]: E[Y | a] = Phi(k a) and E[Phi(k a)^2] = 1/4 + asin(k^2/(1+k^2))/(2 pi)
    (bivariate normal orthant), so S_a = (2/pi) asin(k^2/(1+k^2)): 0.9106 for k = 10, and
    S_b the same with k = 1/10: 0.0063 (k = 1 gives the 1/3 above)."""
    acc, names = accumulate(parse_config(TWO_NORMALS), 200_000, 200_000)
    drivers = acc.drivers(names.index("dominant"))
    assert [d.input for d in drivers[:2]] == ["a", "b"]
    for driver, k in zip(drivers[:2], (10.0, 0.1), strict=True):
        expected = 2 / np.pi * np.arcsin(k**2 / (1 + k**2))
        assert abs(driver.first_order_index - expected) < 0.02


def test_statistics_do_not_depend_on_chunking():
    loaded = parse_config(TWO_NORMALS)
    whole, _ = accumulate(loaded, 30_000, 30_000)
    pieces, _ = accumulate(loaded, 30_000, 777)
    np.testing.assert_array_equal(whole.counts, pieces.counts)
    np.testing.assert_array_equal(whole.hits, pieces.hits)
    assert whole.drivers(0) == pieces.drivers(0)


def test_bin_counts_equal_the_definition_for_many_predictions():
    # bin = floor(Phi(z) B), counted overall and where each prediction holds; 70
    # predictions need two groups of bit masks. Non-finite scores go to the end bins.
    from scipy.special import ndtr

    from mcinfra.stats.sensitivity import RANK_BINS

    rng = np.random.default_rng(5)
    scores = rng.standard_normal((3, 4000))
    scores[0, :4] = [np.nan, -np.inf, np.inf, 0.0]
    indicators = rng.random((70, 4000)) < 0.4
    acc = SensitivityAccumulator(70, ["x", "y", "z"], [True, True, True])
    acc.add(Chunk(0, scores=scores, indicators=indicators))
    with np.errstate(invalid="ignore"):
        position = ndtr(scores) * RANK_BINS
    bins = np.minimum(np.where(position > 0, position, 0).astype(np.int64), RANK_BINS - 1)
    for k in range(3):
        np.testing.assert_array_equal(acc.counts[k], np.bincount(bins[k], minlength=RANK_BINS))
        for p in (0, 61, 62, 69):
            expected = np.bincount(bins[k][indicators[p]], minlength=RANK_BINS)
            np.testing.assert_array_equal(acc.hits[k, :, p], expected)


def test_bin_counts_without_predictions_still_count_every_draw():
    rng = np.random.default_rng(6)
    scores = rng.standard_normal((2, 3000))
    acc = SensitivityAccumulator(0, ["x", "y"], [True, False])
    acc.add(Chunk(0, scores=scores, indicators=np.zeros((0, 3000), dtype=bool)))
    assert acc.hits.shape == (1, acc.counts.shape[1], 0)
    np.testing.assert_array_equal(acc.counts.sum(axis=1), [3000])


def test_run_writes_sensitivity_and_top_drivers(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["run", "--draws", "20000", "--out", str(out), "--quiet", "--no-report"]) == 0
    with (out / "sensitivity.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert {r["prediction"] for r in rows} == {"P1", "P2", "P3", "P4", "P5"}
    p1 = [r for r in rows if r["prediction"] == "P1"]
    assert p1[0]["input"].endswith(".crossover")  # P1 is about the crossover timing
    assert "top driver" in capsys.readouterr().out


def test_compiled_predictions_keep_config_order():
    loaded = parse_config(TWO_NORMALS)
    assert [p.id for p in compile_predictions(loaded.config)] == ["sum_positive", "dominant"]


def test_grid_cells_are_narrower_than_every_rank_bin():
    # rank_bin_counts steps at most one edge past a cell's left end
    from mcinfra.stats.sensitivity import GRID_CELLS_PER_UNIT, bin_lookup

    edges, cell_bin = bin_lookup()
    assert np.isnan(edges[-1]) and np.all(np.diff(edges[:-1]) > 1 / GRID_CELLS_PER_UNIT)
    assert cell_bin[0] == 0 and cell_bin[-1] == edges.size - 1


def test_parts_absorbed_and_restored_equal_one_pass():
    rng = np.random.default_rng(9)
    scores = rng.standard_normal((2, 5000))
    indicators = rng.random((7, 5000)) < scores[0] * 0.2 + 0.5
    whole = SensitivityAccumulator(7, ["x", "y"], [True, True])
    whole.add(Chunk(0, scores=scores, indicators=indicators))
    first, second = (SensitivityAccumulator(7, ["x", "y"], [True, True]) for _ in range(2))
    first.add(Chunk(0, scores=scores[:, :1234], indicators=indicators[:, :1234]))
    second.add(Chunk(1234, scores=scores[:, 1234:], indicators=indicators[:, 1234:]))
    first.absorb(1234, second.state())
    restored = SensitivityAccumulator(7, ["x", "y"], [True, True])
    restored.restore(first.state())
    for part in (first, restored):
        np.testing.assert_array_equal(part.counts, whole.counts)
        np.testing.assert_array_equal(part.hits, whole.hits)
    assert restored.drivers(3) == whole.drivers(3)
