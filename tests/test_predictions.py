"""Predictions: the language, exact counts, closed-form probabilities, Wilson coverage."""

from __future__ import annotations

import dataclasses
import json
import re
import time

import numpy as np
import pytest
from scipy import stats

from conftest import MINIMAL
from mcinfra import RunSettings, parse_config, simulate
from mcinfra.cli import main
from mcinfra.config import default_config_path
from mcinfra.kernels.growth import growth_factor
from mcinfra.language.predictions import PredictionError, Scope, compile_prediction
from mcinfra.report.terminal import crossover_table, significant
from mcinfra.runs.diagnostics import prediction_indicators
from mcinfra.stats.probability import ProbabilityEstimate, wilson_interval

SCOPE = Scope(
    series=("total", "network", "cloud_inference", "cloud_training"),
    years=tuple(range(2024, 2031)),
    parameters=("k",),
    rising="inference",
    falling="training",
)


@pytest.fixture(scope="module")
def default_run(default_config):
    return simulate(default_config, RunSettings(draws=50_000, seed=11, chunk_size=50_000))


def test_default_predictions_match_a_direct_numpy_evaluation(default_config, default_run):
    v = default_run["value"]

    def at(label, year):
        return v.sel(segment=label, year=year).values

    def cagr(label):
        return (at(label, 2030) / at(label, 2024)) ** (1 / 6) - 1

    expected = {
        "P1": (at("cloud_inference", 2026) > at("cloud_training", 2026))
        & (at("enterprises_inference", 2026) > at("enterprises_training", 2026)),
        "P2": np.all(
            [
                at("network", y) / at("network", y - 1) > at("total", y) / at("total", y - 1)
                for y in range(2025, 2029)
            ],
            axis=0,
        ),
        "P3": (at("custom_silicon", 2028) >= 0.20) & (at("custom_silicon", 2028) <= 0.25),
        "P4": (cagr("lpddr") > cagr("hbm")) & (at("hbm", 2030) > at("hbm", 2024)),
        "P5": cagr("enterprises") - cagr("hyperscalers") >= 0.02,
    }
    got = prediction_indicators(default_run, default_config.config)
    assert list(got) == ["P1", "P2", "P3", "P4", "P5"]
    for name, indicator in expected.items():
        np.testing.assert_array_equal(got[name], indicator, err_msg=name)
        assert 0 < indicator.sum() < indicator.size, name  # neither trivially true nor false


CLOSED_FORM = (
    MINIMAL
    + """
[predictions.half]
text = "the trend CAGR is above its mean"
expr = "total[2030] > 100 * 1.1 ** 6"

[predictions.tail]
text = "realised CAGR above 12 %"
expr = "cagr(total, 2024, 2030) > 0.12"
"""
)


@pytest.mark.statistical
def test_probabilities_match_closed_forms():
    text = CLOSED_FORM.replace("100 * 1.1 ** 6", str(100 * 1.1**6))
    loaded = parse_config(text)
    draws = 200_000
    ds = simulate(loaded, RunSettings(draws=draws, seed=3, chunk_size=draws))
    indicators = prediction_indicators(ds, loaded.config)
    truth = {"half": 0.5, "tail": stats.norm.sf((0.12 - 0.10) / 0.02)}
    for name, p in truth.items():
        estimate = ProbabilityEstimate(int(indicators[name].sum()), draws)
        assert abs(estimate.probability - p) < 4 * np.sqrt(p * (1 - p) / draws), name


@pytest.mark.statistical
def test_wilson_interval_covers_95_percent_of_small_runs():
    """2,000 runs of 100 draws, each an independent slice of one long run."""
    text = CLOSED_FORM.replace("100 * 1.1 ** 6", str(100 * 1.1**6))
    loaded = parse_config(text)
    runs, size = 2_000, 100
    ds = simulate(loaded, RunSettings(draws=runs * size, seed=9, chunk_size=runs * size))
    holds = prediction_indicators(ds, loaded.config)["tail"].reshape(runs, size).sum(axis=1)
    p = stats.norm.sf(1.0)
    covered = [low <= p <= high for low, high in (wilson_interval(int(h), size) for h in holds)]
    assert abs(np.mean(covered) - 0.95) < 0.02


def test_wilson_interval_reference_values():
    # Wilson (1927); e.g. 0 of 10 gives [0, 0.2775], 5 of 10 gives [0.2366, 0.7634].
    assert wilson_interval(0, 10) == pytest.approx((0.0, 0.27753), abs=1e-5)
    assert wilson_interval(5, 10) == pytest.approx((0.23659, 0.76341), abs=1e-5)
    assert wilson_interval(10, 10) == pytest.approx((0.72247, 1.0), abs=1e-5)


def test_counts_are_identical_for_one_chunk_or_many(tmp_path, capsys):
    results = []
    for chunk in ("20000", "1337"):
        out = tmp_path / chunk
        assert (
            main(
                [
                    "run",
                    "--draws",
                    "20000",
                    "--chunk-size",
                    chunk,
                    "--out",
                    str(out),
                    "--quiet",
                    "--no-report",
                ]
            )
            == 0
        )
        summary = json.loads((out / "summary.json").read_text())
        results.append([(p["id"], p["holds"], p["draws"]) for p in summary["predictions"]])
    assert results[0] == results[1]
    out = capsys.readouterr().out
    assert "P1" in out and "95 % Wilson interval" in out


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        ("__import__('os')", "may be called"),
        ("total.__class__", "not allowed"),
        ("(lambda: 1)()", "may be called"),
        ("[x for x in total]", "not allowed"),
        ("10**10**10", "operator not allowed"),
        ("(" * 500 + "total[2026] > 1" + ")" * 500, "nested|nests deeper|syntax"),
        ("~" * 300 + "(total[2026] > 1)", "nests deeper"),
        ("total[2026]", "true or false"),
        ("total > 1", "needs a year"),
        ("totl[2026] > 1", "unknown series 'totl' \\(did you mean 'total'\\?\\)"),
        ("total[2035] > 1", "year outside the horizon 2024-2030"),
        ("yoy(total)[2024] > 1", "year outside the horizon 2025-2030"),
        ("total[2025:2028] > 1", "true or false"),
        ("all(total[2025:2028] > network[2025:2027])", "different years"),
        ("cagr(total, 2030, 2024) > 0", "first_year before last_year"),
        ("crossover_year(clod) < 2027", "unknown series 'clod'"),
        ("total[2026.5] > 1", "expected a year"),
        ("open('x') > 1", "may be called"),
    ],
)
def test_hostile_or_wrong_expressions_are_refused_quickly(expr, message):
    started = time.perf_counter()
    with pytest.raises(PredictionError, match=message):
        compile_prediction(expr, SCOPE)
    assert time.perf_counter() - started < 1.0


def test_language_features_evaluate_as_documented():
    from mcinfra.language.predictions import Context

    n = 6
    columns = {("total", y): np.full(n, 100.0 * 1.1 ** (y - 2024)) for y in range(2024, 2031)} | {
        ("network", y): np.arange(n) + 10.0 * (y - 2023) for y in range(2024, 2031)
    }
    columns |= {("cloud_inference", y): np.full(n, float(y - 2024)) for y in range(2024, 2031)}
    columns |= {("cloud_training", y): np.arange(n, dtype=float) for y in range(2024, 2031)}
    context = Context(
        column=lambda label, year: columns[(label, year)],
        parameter=lambda name: np.linspace(0, 1, n),
    )

    def holds(expr):
        return compile_prediction(expr, SCOPE).holds(context)

    np.testing.assert_array_equal(
        holds("crossover_year(cloud) == 2024 + network[2024] - 10"), np.ones(n, bool)
    )
    np.testing.assert_array_equal(holds("between(k, 0.2, 0.61)"), [0, 1, 1, 1, 0, 0])
    np.testing.assert_array_equal(holds("~(k > 0.5) | (network[2024] == 15)"), [1, 1, 1, 0, 0, 1])
    np.testing.assert_array_equal(holds("any(network[2025:2030] > 74)"), [0, 0, 0, 0, 0, 1])
    np.testing.assert_array_equal(holds("all(yoy(total)[2025:2030] > 1.0999)"), np.ones(n, bool))
    np.testing.assert_array_equal(holds("0 < k <= 0.61"), [0, 1, 1, 1, 0, 0])
    # one value per draw against an (inclusive) year range: network[y] = d + 10 (y - 2023),
    # k = d / 5
    np.testing.assert_array_equal(holds("all(network[2025:2027] > 19 + 5 * k)"), [1, 1, 1, 1, 1, 1])
    np.testing.assert_array_equal(
        holds("any(between(network[2025:2026], 20 + 2 * k, 23))"), [1, 1, 1, 1, 0, 0]
    )
    np.testing.assert_array_equal(holds("all(network[2024:2026] > 8 + 10 * k)"), [1, 1, 0, 0, 0, 0])


DATACENTRE = (
    MINIMAL
    + """
[partitions.product]
shock = { sd = 0.0, phi = 0.0 }
[partitions.product.segments.power]
share = 0.6
cagr = 0.12
[partitions.product.segments.cooling]
share = 0.4
cagr = 0.07

[predictions.G1]
text = "power beats cooling"
expr = "power[2030] > cooling[2030]"
"""
)
"""A second market: its own series (power, cooling) and no function split."""


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        ("power > 1", r"series 'power' needs a year, e.g\. power\[2030\]: 'power' at column 1"),
        (
            "power[2030]",
            r"a prediction must be true or false for each draw, and 'power\[2030\]' is a "
            r"number: compare the value with another, e\.g\. power\[2030\] > 0",
        ),
        (
            "power[2026:2028]",
            r"'power\[2026:2028\]' is a year range: compare the values and reduce the year "
            r"range, e\.g\. all\(power\[2026:2028\] > 0\)",
        ),
        (
            "cooling[2026:2028] > 1",
            r"reduce the year range with all\(\.\.\.\) or any\(\.\.\.\), e\.g\. "
            r"all\(cooling\[2026:2028\] > 1\)",
        ),
        ("yoy(power)", r"yoy needs a year: yoy\(power\)\[2030\]"),
        ("yoy(power, cooling)[2030] > 1", r"yoy takes one series: yoy\(power\)\[2030\]"),
        ("all(power[2030] > 1)", r"e\.g\. all\(yoy\(power\)\[2025:2030\] > 1\.1\)"),
        ("power[2026:] > 1", r"a year range is written first:last, e\.g\. 2025:2030"),
        (
            "power[2030] & cooling[2030] > 1",
            r"& combines comparisons, each in parentheses, e\.g\. \(power\[2030\] > 1\) & "
            r"\(total\[2030\] > 1\)",
        ),
        (
            "crossover_year(cloud) < 2027",
            r"crossover_year needs a function split \(\[function_split\]\) and this model has "
            r"none; 'cloud' is no series either",
        ),
    ],
)
def test_messages_use_the_models_own_series_and_years(
    write_config, tmp_path, capsys, expr, message
):
    path = write_config(DATACENTRE.replace("power[2030] > cooling[2030]", expr.replace('"', "'")))
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert re.search(message, err), err
    assert "network" not in err and "2026]" not in err.split(": ", 2)[-1].split("'")[0]


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        (
            "power[2030] > 1 and cooling[2030] > 1",
            r"'and' is not allowed: use &, with each side in parentheses: "
            r"\(power\[2030\] > 1\) & \(cooling\[2030\] > 1\)",
        ),
        (
            "power[2030] > 1 or cooling[2030] > 1 or total[2030] > 3",
            r"'or' is not allowed: use \|, with each side in parentheses: \(power\[2030\] > 1\) "
            r"\| \(cooling\[2030\] > 1\) \| \(total\[2030\] > 3\)",
        ),
        (
            "not power[2030] > 1",
            r"'not' is not allowed: use ~, with its comparison in parentheses: "
            r"~\(power\[2030\] > 1\)",
        ),
        (
            "power[2030] > > 3",
            r"syntax error at column 15: invalid syntax\n    power\[2030\] > > 3\n {18}\^$",
        ),
    ],
)
def test_words_and_syntax_errors_point_at_the_fix(expr, message):
    scope = Scope(series=("total", "power", "cooling"), years=tuple(range(2024, 2031)))
    with pytest.raises(PredictionError, match=message):
        compile_prediction(expr, scope)


def test_crossover_year_names_an_unknown_series_and_the_valid_ones():
    series = ("total", "total_inference", "total_training", "cloud_inference", "cloud_training")
    scope = dataclasses.replace(SCOPE, series=(*series, "network"))
    message = r"unknown series 'storage'; crossover_year takes one of total, cloud: "
    with pytest.raises(PredictionError, match=message):
        compile_prediction("crossover_year(storage) < 2027", scope)
    message = r"'network' has no inference/training split; crossover_year takes one of total, cl"
    with pytest.raises(PredictionError, match=message):
        compile_prediction("crossover_year(network) < 2027", scope)


def test_bad_prediction_in_config_exits_2_naming_the_key(write_config, capsys, tmp_path):
    text = (
        default_config_path()
        .read_text()
        .replace(
            'expr = "between(custom_silicon[2028], 0.20, 0.25)"',
            'expr = "between(custom_silicon[2031], 0.20, 0.25)"',
        )
    )
    status = main(["run", str(write_config(text)), "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert status == 2
    assert "predictions.P3.expr: year outside the horizon 2024-2030: '2031' at column" in err
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize(
    ("value", "error", "shown"),
    [
        (0.17785, 0.0004, "0.178"),
        (0.996655, 6e-5, "0.9967"),
        (0.5, 0.02, "0.5"),
        (1.0, 0.0, "1.0000"),
    ],
)
def test_probabilities_are_shown_with_supported_digits(value, error, shown):
    assert significant(value, error) == shown


def test_crossover_table_columns_stay_apart_at_any_draw_count():
    # At 1e7 draws a probability of 0 or 1 carries 7 decimals: wider than the default column.
    rows = [
        {
            "entity": "total",
            "probability_by_year": {"2024": 0.0, "2025": 0.99945, "2026": 1.0},
            "after_horizon": 0.0,
            "median_continuous": 2026.2,
        }
    ]
    header, line = crossover_table(rows, 10_000_000).splitlines()[-2:]
    cells = line.split()
    assert cells[:5] == ["total", "0.0000000", "0.99945", "1.0000000", "0.0000000"]
    assert cells[-1] == "2026.2"
    # right-aligned under their year: every cell ends where its heading ends
    ends = [m.end() for m in re.finditer(r"\S+", line)][1:5]
    assert ends == [header.index(y) + len(y) for y in ("2024", "2025", "2026", "after")]


STEEP_DECLINE = (
    MINIMAL.replace(
        'cagr = { dist = "normal", mean = 0.10, sd = 0.02 }',
        'cagr = { dist = "normal", mean = -0.6, sd = 0.05 }',
    ).replace("shock = { sd = 0.0, phi = 0.0 }", "shock = { sd = 0.4, phi = 0.0 }")
    + """
[predictions.floor]
text = "no year loses more than the floor allows"
expr = "all(yoy(total)[2025:2030] >= 0.05)"
"""
)


def test_yoy_reads_floored_growth_factors_back_at_or_above_the_floor():
    # The total grows by max(1 + g + s e, 0.05); in a steep decline about a fifth of the
    # year-steps are floored, and V(y) / V(y - 1) rounds below 0.05 in some of them.
    loaded = parse_config(STEEP_DECLINE)
    floor = loaded.config.model.growth_factor_floor
    ds = simulate(loaded, RunSettings(draws=20_000, seed=1, chunk_size=7000))
    total = ds["value"].sel(segment="total").values  # (draw, year)
    quotient = total[:, 1:] / total[:, :-1]
    floored = np.abs(quotient - floor) <= 4 * np.spacing(floor)
    assert floored.mean() > 0.1 and (quotient < floor).sum() > 100
    assert prediction_indicators(ds, loaded.config)["floor"].all()
    # yoy is the factor the model applied, within an ulp or two of the quotient.
    factors = growth_factor(total[:, 1:], total[:, :-1])
    assert np.all(factors[floored] >= floor)
    assert np.all(np.abs(factors - quotient) <= 2 * np.spacing(quotient))
