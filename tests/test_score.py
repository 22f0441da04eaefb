"""Calibration scoring: PIT, central bands, CRPS and log score of runs against actuals."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy import stats

import mcinfra
from conftest import MINIMAL, Z
from mcinfra import RunSettings, parse_config, simulate
from mcinfra.cli import main
from mcinfra.report.scores import HEADER
from mcinfra.runs.score import Forecast, load_forecast, parse_actual, score_forecasts
from mcinfra.stats import scoring

DRAWS, SEED, CHUNK = 200_000, 3, 30_000
MEAN, SD = 110.0, 2.0  # total[2025] = 100 (1 + g), g ~ N(0.10, 0.02): exactly N(110, 2)


def normal_crps(y: float, mean: float, sd: float) -> float:
    """CRPS of N(mean, sd) at y: s [z (2 Phi(z) - 1) + 2 phi(z) - 1 / sqrt(pi)]."""
    z = (y - mean) / sd
    return sd * (z * (2 * stats.norm.cdf(z) - 1) + 2 * stats.norm.pdf(z) - 1 / math.sqrt(math.pi))


def normal_mean_distance(x: np.ndarray, mean: float, sd: float) -> np.ndarray:
    """E|x - X'| for X' ~ N(mean, sd): s [z (2 Phi(z) - 1) + 2 phi(z)]."""
    z = (x - mean) / sd
    return sd * (z * (2 * stats.norm.cdf(z) - 1) + 2 * stats.norm.pdf(z))


def crps_standard_error(x, y, mean, sd, weights=None) -> float:
    """Monte Carlo error of the CRPS estimate from its influence |x - y| - E|x - X'|."""
    influence = np.abs(x - y) - normal_mean_distance(x, mean, sd)
    if weights is None:
        return float(np.std(influence) / math.sqrt(x.size))
    centred = influence - np.sum(weights * influence)
    return float(math.sqrt(np.sum(weights**2 * centred**2)))


def brute_force_crps(x, y, w=None) -> float:
    w = np.full(x.size, 1 / x.size) if w is None else w / w.sum()
    spread = np.sum(w[:, None] * w[None, :] * np.abs(x[:, None] - x[None, :]))
    return float(np.sum(w * np.abs(x - y)) - spread / 2)


@pytest.fixture(scope="module")
def normal_run(tmp_path_factory):
    """A finished run of MINIMAL (its total[2025] exactly normal)."""
    directory = tmp_path_factory.mktemp("score")
    config = directory / "mini.toml"
    config.write_text(MINIMAL, encoding="utf-8")
    out = directory / "run"
    args = ["run", str(config), "--draws", str(DRAWS), "--seed", str(SEED)]
    args += ["--chunk-size", str(CHUNK), "--out", str(out), "--quiet", "--no-report"]
    assert main(args) == 0
    return out


@pytest.fixture(scope="module")
def normal_draws():
    """The same draws of total[2025] as ``normal_run``, in memory."""
    settings = RunSettings(draws=DRAWS, seed=SEED, chunk_size=DRAWS)
    ds = simulate(parse_config(MINIMAL), settings)
    return ds["value"].sel(segment="total", year=2025).values


# -- the statistics on arrays --------------------------------------------------------------


def sorted_forecast(values, weights=None) -> scoring.SortedForecast:
    weights = None if weights is None else scoring.normalised(weights, len(values))
    return scoring.sort_forecast(np.asarray(values, dtype=float), weights)


def test_pit_splits_ties_in_half():
    forecast = sorted_forecast([3.0, 2.0, 1.0, 2.0])
    assert scoring.pit(forecast, 2.0) == 0.5
    assert scoring.pit(forecast, 3.0) == 0.875
    assert scoring.pit(forecast, 0.5) == 0.0 and scoring.pit(forecast, 4.0) == 1.0
    weighted = sorted_forecast([1.0, 2.0, 2.0, 3.0], [0.1, 0.2, 0.3, 0.4])
    assert scoring.pit(weighted, 2.0) == pytest.approx(0.1 + 0.5 / 2)
    assert scoring.score(np.array([1.0, 2.0, 2.0, 3.0]), 2.0).pit == 0.5


def test_band_flags_count_the_draws_at_or_beyond_the_actual():
    forecast = sorted_forecast(np.arange(100.0)[::-1])  # 90 %: 5 draws at or below, 5 above

    def inside(actual, level):
        return scoring.in_band(forecast, actual, level)

    assert inside(4.0, 0.9) and not inside(3.5, 0.9)
    assert inside(95.0, 0.9) and not inside(95.5, 0.9)
    assert inside(24.0, 0.5) and not inside(23.0, 0.5)
    assert inside(75.0, 0.5) and not inside(75.5, 0.5)
    assert inside(0.0, 0.98) and not inside(-0.5, 0.98)


def test_band_flags_are_symmetric_and_agree_weighted():
    rng = np.random.default_rng(1)
    values = rng.integers(0, 30, 500).astype(float)  # many ties
    forecast, mirrored = sorted_forecast(values), sorted_forecast(-values)
    equal = sorted_forecast(values, np.ones(values.size))
    for actual in np.arange(-1.0, 31.0, 0.5):
        for level in scoring.BANDS:
            inside = scoring.in_band(forecast, actual, level)
            assert inside == scoring.in_band(mirrored, -actual, level)
            assert inside == scoring.in_band(equal, actual, level)


def test_crps_is_the_pairwise_sum_for_any_values_and_weights():
    rng = np.random.default_rng(2)
    for n in (1, 2, 7, 300):
        x = np.round(rng.normal(50, 10, n), 0)  # rounded: ties
        w = rng.uniform(0, 1, n)
        for y in (x[0], 30.0, 71.5):
            plain, weighted = (
                scoring.crps(sorted_forecast(x), y),
                scoring.crps(sorted_forecast(x, w), y),
            )
            assert plain == pytest.approx(brute_force_crps(x, y), abs=1e-9)
            assert weighted == pytest.approx(brute_force_crps(x, y, w), abs=1e-9)


def test_crps_of_one_draw_is_the_distance_and_of_infinite_draws_undefined():
    assert scoring.crps(sorted_forecast([3.0]), 5.5) == 2.5
    assert scoring.crps(sorted_forecast([2021.0, np.inf]), 2025.0) is None
    assert scoring.score(np.array([-np.inf, 1.0]), 0.0).crps is None


def test_weighted_scores_match_the_closed_forms_of_the_target_normal():
    """Draws of N(0, 1) weighted by the density ratio N(mu, 1) / N(0, 1) = exp(mu x - mu^2 / 2)."""
    rng = np.random.default_rng(3)
    x, mu = rng.standard_normal(400_000), 0.7
    weights = np.exp(mu * x - mu**2 / 2)
    w = weights / weights.sum()
    for y in (-0.8, 0.9, 2.6):
        result = scoring.score(x, y, weights)
        p = stats.norm.cdf(y - mu)
        indicator = (x < y).astype(float)
        se_pit = math.sqrt(np.sum(w**2 * (indicator - p) ** 2))
        assert abs(result.pit - p) < Z * se_pit
        se = crps_standard_error(x, y, mu, 1.0, w)
        assert abs(result.crps - normal_crps(y, mu, 1.0)) < Z * se
    assert result.effective_draws == pytest.approx(1 / np.sum(w**2))
    assert result.effective_draws < x.size


def test_log_score_is_the_kernel_density_of_a_normal_forecast():
    """A Gaussian kernel density of N(m, s) draws has mean N(m, s^2 + h^2) at each point."""
    rng = np.random.default_rng(4)
    x = rng.normal(MEAN, SD, 200_000)
    for y in (107.0, 110.5, 114.0):
        value, h = scoring.log_score(sorted_forecast(x), y)
        assert h == pytest.approx(0.9 * min(np.std(x), stats.iqr(x) / 1.349) * x.size**-0.2)
        kernel = stats.norm.pdf((y - x) / h) / h
        density = kernel.mean()
        se_log = kernel.std() / math.sqrt(x.size) / density  # delta method
        expected = -stats.norm.logpdf(y, MEAN, math.sqrt(SD**2 + h**2))
        assert abs(value - expected) < Z * se_log


def test_log_score_is_not_defined_without_a_density():
    rng = np.random.default_rng(5)
    indicator = (rng.uniform(size=1000) < 0.3).astype(float)
    assert scoring.log_score(sorted_forecast(indicator), 1.0) == (None, None)
    years = rng.integers(2025, 2031, 1000).astype(float)
    assert scoring.score(years, 2027.0).log_score is None
    assert scoring.log_score(sorted_forecast([1.0, 2.0, np.inf]), 1.5) == (None, None)
    far = scoring.score(rng.normal(size=1000), 60.0).log_score
    assert far is not None and math.isfinite(far) and far > 1000  # no underflow to inf


def test_weights_are_checked():
    values = np.arange(3.0)
    for bad, message in (
        (np.array([1.0, -1.0, 1.0]), "non-negative"),
        (np.zeros(3), "must not all be zero"),
        (np.ones(2), "expected 3 weights"),
        (np.array([1.0, np.nan, 1.0]), "finite"),
    ):
        with pytest.raises(ValueError, match=message):
            scoring.score(values, 1.0, bad)


def test_pit_histogram_counts_one_in_the_last_bin():
    edges, counts, uniform = scoring.pit_histogram([0.0, 0.05, 0.1, 0.55, 1.0], bins=10)
    assert edges[0] == 0.0 and edges[-1] == 1.0 and len(edges) == 11
    assert counts == [2, 1, 0, 0, 0, 1, 0, 0, 0, 1] and uniform == 0.5


# -- a run's draws -------------------------------------------------------------------------


@pytest.mark.statistical
def test_crps_and_pit_of_a_normal_run_match_the_closed_form(normal_run, normal_draws):
    actuals = ["total[2025]=107.4", "total[2025]=110.8", "total[2025]=114.4"]
    result = mcinfra.score(normal_run, actuals)
    for row, text in zip(result["scores"], actuals, strict=True):
        y = float(text.split("=")[1])
        z = (y - MEAN) / SD
        p = stats.norm.cdf(z)
        assert abs(row["pit"] - p) < Z * math.sqrt(p * (1 - p) / DRAWS)
        se = crps_standard_error(normal_draws, y, MEAN, SD)
        assert abs(row["crps"] - normal_crps(y, MEAN, SD)) < Z * se
        # the run's re-streamed draws are the draws in memory, bit for bit
        exact = scoring.score(normal_draws, y)
        assert (row["pit"], row["crps"], row["log_score"]) == (
            exact.pit,
            exact.crps,
            exact.log_score,
        )
        assert row["in_50"] == (abs(z) < 0.6745)
        assert row["in_90"] == (abs(z) < 1.6449) and row["in_98"] == (abs(z) < 2.3263)
        assert row["draws"] == row["effective_draws"] == DRAWS


@pytest.mark.statistical
def test_a_weighted_run_is_scored_against_its_reweighted_distribution(normal_run, normal_draws):
    """Log-weights ln N(x; 112, 2) - ln N(x; 110, 2) turn the run's N(110, 2) into N(112, 2)."""
    shifted = 112.0

    def log_weight(context, n):
        x = context.column("total", 2025)
        return stats.norm.logpdf(x, shifted, SD) - stats.norm.logpdf(x, MEAN, SD)

    plain = load_forecast(normal_run)
    forecast = Forecast(plain.label, plain.loaded, plain.settings, plain.summary, log_weight)
    actuals = [parse_actual("total[2025]=111.3"), parse_actual("total[2025]=115.9")]
    result = score_forecasts([forecast], actuals)
    weights = np.exp(
        stats.norm.logpdf(normal_draws, shifted, SD) - stats.norm.logpdf(normal_draws, MEAN, SD)
    )
    w = weights / weights.sum()
    assert result["runs"][0]["weighted"] is True
    for row, actual in zip(result["scores"], actuals, strict=True):
        y = actual.value
        p = stats.norm.cdf((y - shifted) / SD)
        se_pit = math.sqrt(np.sum(w**2 * ((normal_draws < y) - p) ** 2))
        assert abs(row["pit"] - p) < Z * se_pit
        se = crps_standard_error(normal_draws, y, shifted, SD, w)
        assert abs(row["crps"] - normal_crps(y, shifted, SD)) < Z * se
        assert row["effective_draws"] == pytest.approx(1 / np.sum(w**2))


def test_scores_do_not_depend_on_threads_or_chunk_size(normal_run, tmp_path):
    other = tmp_path / "run"
    config = normal_run / "config.toml"
    args = ["run", str(config), "--draws", str(DRAWS), "--seed", str(SEED)]
    assert main([*args, "--chunk-size", "7777", "--out", str(other), "--quiet", "--no-report"]) == 0
    actuals = {"total[2025]": 111.0, 'input("total.cagr") * 2': 0.25}
    one = mcinfra.score([normal_run], actuals, threads=1)
    two = mcinfra.score([normal_run], actuals, threads=2)
    rechunked = mcinfra.score([other], actuals)
    strip = lambda rows: [{k: v for k, v in r.items() if k != "run"} for r in rows]  # noqa: E731
    assert strip(one["scores"]) == strip(two["scores"]) == strip(rechunked["scores"])


# -- the command line ----------------------------------------------------------------------


def test_score_command_prints_the_table_and_writes_its_files(normal_run, tmp_path, capsys):
    out = tmp_path / "scores"
    args = ["score", str(normal_run), "--actual", "total[2025]=111.5"]
    args += ["--actual", "cagr(total, 2024, 2030)=0.09", "--out", str(out)]
    assert main(args) == 0
    printed = capsys.readouterr().out
    header = printed.splitlines()[0]
    assert header.startswith("run") and header.split("  ")[-1] == "log score"
    assert all(f"  {cell}" in header for cell in HEADER[1:])
    assert "CRPS exact from every draw (200,000 draws)" in printed
    assert f"wrote {out}/ (scores.csv, scores.json, scores.html)" in printed
    assert sorted(p.name for p in out.iterdir()) == ["scores.csv", "scores.html", "scores.json"]
    data = json.loads((out / "scores.json").read_text())
    assert len(data["scores"]) == 2 and data["methods"]["crps"].startswith("exact")
    pits = [r["pit"] for r in data["scores"]]
    assert data["pit_histogram"]["counts"][str(normal_run)] == scoring.pit_histogram(pits)[1]
    lines = (out / "scores.csv").read_text().splitlines()
    assert lines[0] == (
        "run,expression,actual,pit,in_50,in_90,in_98,crps,log_score,bandwidth,draws,effective_draws"
    )
    assert len(lines) == 3
    page = (out / "scores.html").read_text()
    assert "<svg" in page and "CRPS (exact)" in page and "Silverman" in page
    assert main(args) == 2  # an earlier scoring is replaced only with --force
    assert "already holds a scoring; use --force" in capsys.readouterr().err
    assert main([*args, "--force"]) == 0


def test_actuals_files_give_the_scores_of_the_options(normal_run, tmp_path, capsys):
    toml = tmp_path / "actuals.toml"
    toml.write_text(
        '[[actuals]]\nexpression = "total[2025]"\nvalue = 108.25\n\n'
        '[[actuals]]\nexpression = "total[2030] / total[2024]"\nvalue = 1.8\n'
    )
    table = tmp_path / "actuals.csv"
    table.write_text('expression,value\ntotal[2025],108.25\n"total[2030] / total[2024]",1.8\n')
    options = ["--actual", "total[2025]=108.25", "--actual", "total[2030] / total[2024]=1.8"]
    printed = []
    for given in (["--actuals", str(toml)], ["--actuals", str(table)], options):
        assert main(["score", str(normal_run), *given]) == 0
        printed.append(capsys.readouterr().out)
    assert printed[0] == printed[1] == printed[2]
    both = ["--actuals", str(toml), "--actual", "total[2026]=120", "--actuals", str(table)]
    assert main(["score", str(normal_run), *both]) == 0
    rows = capsys.readouterr().out.splitlines()[1:6]
    from_files = ["total[2025] = 108.25", "total[2030] / total[2024] = 1.8"]
    expected = ["total[2026] = 120", *from_files, *from_files]  # the options' actuals first
    assert all(f" {a}  " in row for a, row in zip(expected, rows, strict=True))


@pytest.mark.parametrize(
    ("actual", "message"),
    [
        (
            "total[2025] > 100=1",
            "--actual 'total[2025] > 100=1': expected a number for each draw, and "
            "'total[2025] > 100' is true or false: write the quantity itself, e.g. total[2030]",
        ),
        ("network[2025]=3", "--actual 'network[2025]=3': unknown series 'network': 'network'"),
        ("total[2035]=3", "year outside the horizon 2024-2030: '2035' at column 7"),
        ("total[2025.5]=3", "expected a year (a whole number): '2025.5' at column 7"),
        (
            "total[2025:2027]=3",
            "'total[2025:2027]' is a year range: name one year, e.g. total[2030]",
        ),
        ("total[2025]", "--actual 'total[2025]': an actual is written EXPRESSION=VALUE"),
        ("total[2025]>=110", "an actual is written EXPRESSION=VALUE, e.g. 'total[2025]=158.2'"),
        ("total[2025]=abc", "--actual 'total[2025]=abc': the value 'abc' is not a number"),
        ("total[2025]=inf", "the value 'inf' is not a finite number"),
        ("=3", "an actual is written EXPRESSION=VALUE"),
    ],
)
def test_bad_actual_exits_2_and_writes_nothing(normal_run, tmp_path, capsys, actual, message):
    out = tmp_path / "scores"
    assert main(["score", str(normal_run), "--actual", actual, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not out.exists() and list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("a.toml", "[[actuals]]\nexpresion = 'total[2025]'\nvalue = 1\n",
         "actuals[0]: unknown key 'expresion' (did you mean 'expression'?)"),
        ("a.toml", "[[actuals]]\nexpression = 'total[2025]'\n", "actuals[0]: missing key 'value'"),
        ("a.toml", "[[actuals]]\nexpression = 'total[2025]'\nvalue = '1'\n",
         "actuals[0]: value must be a number, got '1'"),
        ("a.toml", "[actual]\nx = 1\n", "unknown key 'actual' (did you mean 'actuals'?)"),
        ("a.toml", "[[actuals]\n", "TOML syntax error"),
        ("a.toml", "", "holds no actual"),
        ("a.csv", "expr,value\ntotal[2025],1\n",
         "the first row must be 'expression,value', got 'expr,value'"),
        ("a.csv", "expression,value\ntotal[2025],1,2\n",
         "a.csv, line 2: expected two cells, expression and value"),
        ("a.csv", "expression,value\ntotal[2025],x\n", "a.csv, line 2: the value 'x' is not"),
        ("a.csv", "expression,value\ntotal[2040],1\n", "a.csv, line 2: year outside the horizon"),
        ("a.json", "{}", "must be a .toml or .csv file"),
    ],
)  # fmt: skip
def test_bad_actuals_file_exits_2(normal_run, tmp_path, capsys, name, text, message):
    path = tmp_path / name
    path.write_text(text)
    out = tmp_path / "scores"
    assert main(["score", str(normal_run), "--actuals", str(path), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not out.exists()


def test_score_needs_an_actual_and_a_run(normal_run, tmp_path, capsys):
    assert main(["score", str(normal_run)]) == 2
    assert "no actual to score against: give --actual EXPRESSION=VALUE or --actuals" in (
        capsys.readouterr().err
    )
    assert main(["score", str(tmp_path), "--actual", "total[2025]=1"]) == 2
    assert f"{tmp_path} is not a finished mcinfra run" in capsys.readouterr().err
    assert main(["score", str(normal_run), str(normal_run), "--actual", "total[2025]=1"]) == 2
    assert f"run directory {normal_run} is given twice" in capsys.readouterr().err
    missing = tmp_path / "none.csv"
    assert main(["score", str(normal_run), "--actuals", str(missing)]) == 2
    assert f"--actuals: cannot read {missing}" in capsys.readouterr().err


def test_an_expression_without_a_number_in_some_draw_is_refused(normal_run, capsys):
    args = ["score", str(normal_run), "--actual", "(total[2025] - total[2025]) / 0=1"]
    assert main(args) == 2
    assert "is not a number in 200,000 draws of run" in capsys.readouterr().err


def test_a_run_too_large_to_hold_is_refused_before_drawing(normal_run, monkeypatch, capsys):
    import mcinfra.runs.score as score_module

    monkeypatch.setattr(score_module, "MAX_SCORE_BYTES", 2**20)
    args = ["score", str(normal_run), "--actual", "total[2025]=1", "--actual", "total[2026]=1"]
    assert main(args) == 2
    assert (
        f"run {normal_run}: scoring 2 actual(s) of its 200,000 draws needs 0.0 GiB of memory "
        "(limit 0 GiB): every draw's value is held to compute the CRPS exactly; score fewer "
        "actuals at a time"
    ) in capsys.readouterr().err


@pytest.mark.parametrize(
    ("log_weight", "message"),
    [
        (math.nan, "a draw's weight is not a number"),
        (-math.inf, "the draws' weights are all zero or infinite"),
        (math.inf, "the draws' weights are all zero or infinite"),
    ],
)
def test_unusable_weights_are_refused(normal_run, log_weight, message):
    from mcinfra.errors import UsageError

    plain = load_forecast(normal_run)
    forecast = Forecast(
        plain.label, plain.loaded, plain.settings, plain.summary,
        lambda context, n: np.full(n, log_weight),
    )  # fmt: skip
    with pytest.raises(UsageError, match=message):
        score_forecasts([forecast], [parse_actual("total[2025]=110")])


@pytest.mark.statistical
def test_an_updated_run_is_scored_under_its_normal_posterior(normal_run, normal_draws, tmp_path):
    """N(110, 2) observed as 113 with additive N(0, 2) error: the posterior is N(111.5, 2^0.5)."""
    updated = tmp_path / "updated"
    observe = "total[2025] ~ normal(mean=113, sd=2)"
    assert main(["update", str(normal_run), "--observe", observe, "--out", str(updated),
                 "--no-report"]) == 0  # fmt: skip
    mean, sd = (MEAN + 113.0) / 2, SD / math.sqrt(2)
    actuals = ["total[2025]=111.1", "total[2025]=114.0"]
    out = tmp_path / "scores"
    args = ["score", str(normal_run), str(updated), "--out", str(out)]
    assert main([*args, *(a for text in actuals for a in ("--actual", text))]) == 0
    result = json.loads((out / "scores.json").read_text())
    assert [r["weighted"] for r in result["runs"]] == [False, True]
    assert result["runs"][1]["observations"] == [observe]
    weights = np.exp(-0.5 * ((113.0 - normal_draws) / SD) ** 2)
    w = weights / weights.sum()
    rows = [r for r in result["scores"] if r["run"] == str(updated)]
    plain = [r for r in result["scores"] if r["run"] == str(normal_run)]
    for row, before, text in zip(rows, plain, actuals, strict=True):
        y = float(text.split("=")[1])
        p = stats.norm.cdf((y - mean) / sd)
        se_pit = math.sqrt(np.sum(w**2 * ((normal_draws < y) - p) ** 2))
        assert abs(row["pit"] - p) < Z * se_pit
        se = crps_standard_error(normal_draws, y, mean, sd, w)
        assert abs(row["crps"] - normal_crps(y, mean, sd)) < Z * se
        assert row["effective_draws"] == pytest.approx(1 / np.sum(w**2), rel=1e-9)
        # the run itself, scored beside its update, keeps its equal weights
        assert before["pit"] == scoring.score(normal_draws, y).pit
