"""Crossover year and continuous crossover of the function split."""

from __future__ import annotations

import json

import numpy as np

from mcinfra import RunSettings, simulate
from mcinfra.cli import main
from mcinfra.results import draw_last
from mcinfra.stats.crossover import CrossoverCounter, crossover_times

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


def test_counts_match_the_per_draw_definition(default_config, tmp_path, capsys):
    ds = simulate(default_config, RunSettings(draws=5000, seed=8, chunk_size=5000))
    values = draw_last(ds["value"].values)
    labels = list(ds.segment.values)
    years = [int(y) for y in ds.year.values]
    counter = CrossoverCounter(["total", "cloud"], "inference", "training", labels, years)
    counter.add(0, values[:, :, :1234])
    counter.add(1234, values[:, :, 1234:])
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
