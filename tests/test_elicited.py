"""Judgement as analysts state it: metalogs, percentile parameters and mixtures of sources."""

from __future__ import annotations

import contextlib
import math
import tomllib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from pydantic import TypeAdapter
from scipy import stats
from scipy.optimize import brentq
from scipy.special import ndtri

from conftest import MINIMAL, Z
from mcinfra.cli import main
from mcinfra.config import load_config, parse_config
from mcinfra.model import metalog
from mcinfra.model.distributions import POINT_TOLERANCE, InputSpec
from mcinfra.sampling.engine import RunSettings, simulate
from test_fuzz import FUZZ, HOSTILE, _check, _mutate, _paths, _to_toml

SPEC = TypeAdapter(InputSpec)
ELICITED = Path(__file__).resolve().parents[1] / "configs" / "ai_infrastructure_elicited.toml"
Y = np.concatenate(
    [np.logspace(-9, -1, 17), np.linspace(0.05, 0.95, 19), 1 - np.logspace(-1, -9, 17)]
)


def test_two_term_metalog_from_quartiles_is_a_logistic():
    x1, x2 = 0.18, 0.27
    curve = metalog.fit(np.array([0.25, 0.75]), np.array([x1, x2]), 2)
    logistic = stats.logistic(loc=(x1 + x2) / 2, scale=(x2 - x1) / (2 * math.log(3)))
    np.testing.assert_allclose(curve.quantile(Y), logistic.ppf(Y), rtol=1e-12, atol=1e-14)


def test_three_terms_from_p10_p50_p90_reproduce_the_points_and_the_closed_form():
    x10, x50, x90 = 0.24, 0.30, 0.38
    spec = SPEC.validate_python(
        {"dist": "metalog", "quantiles": [[0.1, x10], [0.5, x50], [0.9, x90]]}
    )
    np.testing.assert_allclose(
        spec.value_at_score(ndtri(np.array([0.1, 0.5, 0.9]))), [x10, x50, x90], rtol=1e-14
    )
    r = math.log(9)
    expected = [x50, (x90 - x10) / (2 * r), (x90 + x10 - 2 * x50) / (0.8 * r)]
    np.testing.assert_allclose(spec.a, expected, rtol=1e-12)
    assert spec.terms == 3
    text = spec.describe()
    assert text.startswith("metalog(a=[0.3, ") and text.endswith("from P10=0.24, P50=0.3, P90=0.38")


def test_bounded_and_semi_bounded_forms_against_closed_forms():
    mu, s, low, high = 0.4, 0.3, 2.0, 9.0
    ratio = Y / (1 - Y)
    lower = metalog.MetalogCurve((mu, s), lower=low)
    fisk = stats.fisk(c=1 / s, loc=low, scale=math.exp(mu))  # log-logistic
    np.testing.assert_allclose(lower.quantile(Y), low + math.exp(mu) * ratio**s, rtol=1e-12)
    central = Y < 0.999  # beyond, 1 - y of a rounded y decides the last digits
    np.testing.assert_allclose(lower.quantile(Y[central]), fisk.ppf(Y[central]), rtol=1e-12)
    upper = metalog.MetalogCurve((mu, s), upper=high)
    np.testing.assert_allclose(upper.quantile(Y), high - math.exp(-mu) * ratio ** (-s), rtol=1e-12)
    both = metalog.MetalogCurve((mu, s), lower=low, upper=high)
    m = mu + s * np.log(ratio)
    keelin = (low + high * np.exp(m)) / (1 + np.exp(m))
    np.testing.assert_allclose(both.quantile(Y), keelin, rtol=1e-12)
    # A fit through points taken from the bounded form recovers it.
    refit = metalog.fit(Y[20:23], both.quantile(Y[20:23]), 2, low, high)
    np.testing.assert_allclose(refit.a, (mu, s), rtol=1e-10)


@pytest.mark.parametrize("bounds", [(None, None), (0.0, None), (None, 1.0), (0.0, 1.0)])
def test_metalog_slope_and_density_match_finite_differences(bounds):
    curve = metalog.MetalogCurve((0.5, 0.1, 0.05, 0.02, 0.01), *bounds)
    z, h = np.linspace(-6, 6, 25), 1e-5
    numeric = (curve.value_at_score(z + h) - curve.value_at_score(z - h)) / (2 * h)
    np.testing.assert_allclose(curve.score_slope(z), numeric, rtol=1e-6)
    y = np.linspace(0.02, 0.98, 25)
    numeric = 2 * h / (curve.quantile(y + h) - curve.quantile(y - h))
    np.testing.assert_allclose(curve.density(y), numeric, rtol=1e-6)


def test_feasibility_check_agrees_with_the_three_term_closed_form():
    # Four terms with a4 = 0 is the three-term metalog: the general proof must agree.
    assert metalog.is_feasible((0.0, 1.0, 1.6670, 0.0))
    assert not metalog.is_feasible((0.0, 1.0, 1.6673, 0.0))
    assert metalog.is_feasible((0.0, 1.0, -1.6670))
    assert not metalog.is_feasible((0.0, 1.0, 1.6672))
    assert not metalog.is_feasible((0.0, -1.0))


def test_feasibility_check_never_passes_a_decreasing_quantile_function():
    rng = np.random.default_rng(3)
    y = np.concatenate(
        [np.logspace(-12, -1, 400), np.linspace(0.1, 0.9, 4000), 1 - np.logspace(-1, -12, 400)]
    )
    y = np.unique(y)
    passed = 0
    for _ in range(300):
        terms = int(rng.integers(4, 9))
        a = np.concatenate([[0.0, 1.0], rng.normal(0, 1.2, terms - 2)])
        if metalog.is_feasible(a):
            passed += 1
            assert np.all(np.diff(metalog.MetalogCurve(tuple(a)).quantile(y)) > 0), a
    assert passed > 10  # the check is not refusing everything


POINTS = {
    "normal": ({"dist": "normal", "mean": 0.2, "sd": 0.04}, [0.1, 0.9]),
    "lognormal": ({"dist": "lognormal", "median": 135.8, "log_sd": 0.3}, [0.05, 0.95]),
    "uniform": ({"dist": "uniform", "low": 0.25, "high": 0.55}, [0.2, 0.7]),
    "truncnormal": ({"dist": "truncnormal", "mean": 0.1, "sd": 0.2, "low": 0.0}, [0.1, 0.9]),
    "truncnormal-both": (
        {"dist": "truncnormal", "mean": 0.5, "sd": 0.3, "low": 0.0, "high": 1.0},
        [0.25, 0.75],
    ),
    "triangular": (
        {"dist": "triangular", "min": 2024.6, "mode": 2025.5, "max": 2027.5},
        [0.1, 0.5, 0.9],
    ),
    "pert": ({"dist": "pert", "min": 0.12, "mode": 0.1945, "max": 0.28}, [0.1, 0.5, 0.9]),
    "pert-shape": (
        {"dist": "pert", "min": 0.0, "mode": 0.3, "max": 1.0, "shape": 6.0},
        [0.05, 0.5, 0.95],
    ),
    "beta": ({"dist": "beta", "alpha": 2.0, "beta": 5.0, "low": 1.0, "high": 3.0}, [0.1, 0.9]),
}


@pytest.mark.parametrize("case", POINTS, ids=str)
def test_percentile_parameters_reproduce_the_points(case):
    truth_table, probabilities = POINTS[case]
    truth = SPEC.validate_python(truth_table)
    values = truth.value_at_score(ndtri(np.array(probabilities)))
    table = {k: v for k, v in truth_table.items() if k not in truth.solved_keys}
    table["quantiles"] = [[p, float(x)] for p, x in zip(probabilities, values, strict=True)]
    spec = SPEC.validate_python(table)
    got = spec.value_at_score(ndtri(np.array(probabilities)))
    assert np.max(np.abs(got - values)) <= POINT_TOLERANCE * spec.scale
    solved = spec.model_dump(by_alias=True)
    for key in truth.solved_keys:
        if truth_table.get(key) is not None:
            assert solved[key] == pytest.approx(truth_table[key], rel=1e-7), key
    assert " from P" in spec.describe()


def test_closed_forms_are_exact():
    spec = SPEC.validate_python({"dist": "lognormal", "quantiles": [[0.1, 0.15], [0.9, 0.25]]})
    z = float(ndtri(0.9))
    assert spec.log_sd == pytest.approx(math.log(0.25 / 0.15) / (2 * z), rel=1e-15)
    assert spec.median() == pytest.approx(math.sqrt(0.15 * 0.25), rel=1e-15)
    median = math.sqrt(0.15 * 0.25)
    assert spec.describe() == (
        f"lognormal(median={median:g}, log_sd={spec.log_sd:g}) from P10=0.15, P90=0.25"
    )
    uniform = SPEC.validate_python({"dist": "uniform", "quantiles": [[0.25, 1.0], [0.75, 2.0]]})
    assert (uniform.low, uniform.high) == (0.5, 2.5)


MIXTURE = {
    "dist": "mixture",
    "weights": [0.3, 0.7],
    "components": [
        {"dist": "normal", "mean": 0.1, "sd": 0.03},
        {"dist": "metalog", "quantiles": [[0.1, 0.15], [0.5, 0.2], [0.9, 0.3]]},
    ],
}


def test_mixture_inverse_cdf_matches_a_root_of_its_cdf():
    spec = SPEC.validate_python(MIXTURE)
    p = np.array([1e-9, 1e-6, 1e-3, 0.05, 0.3, 0.5, 0.7, 0.95, 0.999, 1 - 1e-6])
    x = spec.value_at_score(ndtri(p))
    for probability, value in zip(p, x, strict=True):
        root = brentq(lambda v, q=probability: spec.cdf(v) - q, -50, 50, xtol=1e-15, rtol=1e-15)
        assert abs(value - root) <= 1e-8 * spec.scale
        assert spec.cdf(value) == pytest.approx(probability, rel=1e-9)
    components = [SPEC.validate_python(c) for c in MIXTURE["components"]]
    for value in x:
        expected = sum(
            w * c.cdf(value) for w, c in zip(MIXTURE["weights"], components, strict=True)
        )
        assert spec.cdf(value) == pytest.approx(expected, rel=1e-12)


def _sampled_input(table: dict, name: str, draws: int, seed: int) -> np.ndarray:
    text = MINIMAL.replace(
        'cagr = { dist = "normal", mean = 0.10, sd = 0.02 }', f"cagr = {_inline(table)}"
    )
    ds = simulate(parse_config(text), RunSettings(draws=draws, seed=seed, chunk_size=250_000))
    return ds["inputs"].sel(input=name).values


def _inline(value) -> str:
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_inline(v)}" for k, v in value.items()) + " }"
    if isinstance(value, list):
        return "[" + ", ".join(_inline(v) for v in value) + "]"
    return f'"{value}"' if isinstance(value, str) else repr(value)


def test_mixture_sample_moments_within_monte_carlo_error():
    table = {
        "dist": "mixture",
        "weights": [0.4, 0.6],
        "components": [
            {"dist": "normal", "mean": 0.12, "sd": 0.04},
            {"dist": "normal", "quantiles": [[0.1, 0.15], [0.9, 0.25]]},
        ],
    }
    sd2 = 0.05 / float(ndtri(0.9))
    mean = 0.4 * 0.12 + 0.6 * 0.2
    variance = 0.4 * (0.04**2 + 0.12**2) + 0.6 * (sd2**2 + 0.2**2) - mean**2
    draws = 1_000_000
    x = _sampled_input(table, "total.cagr", draws, seed=11)
    assert abs(x.mean() - mean) <= Z * math.sqrt(variance / draws)
    fourth = 0.4 * _normal_central4(0.12 - mean, 0.04) + 0.6 * _normal_central4(0.2 - mean, sd2)
    assert abs(x.var() - variance) <= Z * math.sqrt((fourth - variance**2) / draws)


def _normal_central4(shift: float, sd: float) -> float:
    """E[(X - m)^4] for X normal with mean m + shift and sd ``sd``."""
    return shift**4 + 6 * shift**2 * sd**2 + 3 * sd**4


def test_sampled_metalog_quantiles_within_monte_carlo_error():
    table = {"dist": "metalog", "quantiles": [[0.1, 0.14], [0.5, 0.19], [0.9, 0.26]], "lower": -0.5}
    spec = SPEC.validate_python(table)
    draws = 1_000_000
    x = np.sort(_sampled_input(table, "total.cagr", draws, seed=12))
    for p in (0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99):
        exact = float(spec.value_at_score(np.array([ndtri(p)]))[0])
        below = np.searchsorted(x, exact) / draws
        assert abs(below - p) <= Z * math.sqrt(p * (1 - p) / draws), p


def test_elicited_scenario_validates_and_runs(tmp_path, capsys):
    assert main(["validate", str(ELICITED)]) == 0
    out = tmp_path / "run"
    status = main(
        ["run", str(ELICITED), "--draws", "2000", "--quiet", "--no-report", "--out", str(out)]
    )
    assert status == 0, capsys.readouterr().err
    config = load_config(ELICITED).config
    base = config.total.base.describe()
    assert base.startswith("mixture(0.6 lognormal(median=") and "from P5=47, P95=190" in base
    assert "from P10=0.14, P50=0.19, P90=0.26" in config.total.cagr.describe()


BAD = {
    "probabilities out of order": (
        '{ dist = "normal", quantiles = [[0.9, 0.1], [0.1, 0.2]] }',
        "total.cagr: quantiles: the probabilities must increase from point to point (got P90=0.1, "
        "P10=0.2)",
    ),
    "values out of order": (
        '{ dist = "normal", quantiles = [[0.1, 0.2], [0.9, 0.1]] }',
        "total.cagr: quantiles: the values must increase with the probabilities (got P10=0.2, "
        "P90=0.1)",
    ),
    "probability outside (0, 1)": (
        '{ dist = "normal", quantiles = [[0.0, 0.1], [0.9, 0.2]] }',
        "total.cagr: quantiles[0]: the probability must lie strictly between 0 and 1 (got 0.0)",
    ),
    "too many points": (
        '{ dist = "normal", quantiles = [[0.1, 0.1], [0.5, 0.15], [0.9, 0.2]] }',
        "total.cagr: quantiles: expected exactly 2 [probability, value] pairs (got [[0.1, 0.1], "
        "[0.5, 0.15], [0.9, 0.2]])",
    ),
    "not a pair": (
        '{ dist = "normal", quantiles = [[0.1, 0.1, 3], [0.9, 0.2]] }',
        "total.cagr: quantiles[0]: expected a [probability, value] pair of finite numbers (got "
        "[0.1, 0.1, 3])",
    ),
    "points and parameters": (
        '{ dist = "normal", mean = 0.1, quantiles = [[0.1, 0.1], [0.9, 0.2]] }',
        "total.cagr: give either quantiles or the parameters, not both (got quantiles and mean)",
    ),
    "lognormal points not positive": (
        '{ dist = "lognormal", quantiles = [[0.1, -0.1], [0.9, 0.2]] }',
        "total.cagr: quantiles of a lognormal must be positive values (got P10=-0.1, P90=0.2)",
    ),
    "truncnormal without bounds": (
        '{ dist = "truncnormal", quantiles = [[0.1, 0.1], [0.9, 0.2]] }',
        "total.cagr: quantiles of a truncnormal need low and/or high; without bounds use dist = "
        "'normal'",
    ),
    "points outside the bounds": (
        '{ dist = "beta", quantiles = [[0.1, 0.1], [0.9, 1.2]] }',
        "total.cagr: quantiles: every value must lie strictly inside the bounds (low=0, high=1; "
        "got P10=0.1, P90=1.2)",
    ),
    "no triangular has these points": (
        '{ dist = "triangular", quantiles = [[0.1, 0.15], [0.5, 0.18], [0.9, 0.25]] }',
        "total.cagr: quantiles: no triangular distribution has these percentiles (P10=0.15, "
        "P50=0.18, P90=0.25)",
    ),
    "metalog with neither points nor coefficients": (
        '{ dist = "metalog", lower = 0 }',
        "total.cagr: give either quantiles (percentile points) or the coefficients a",
    ),
    "metalog with too many terms": (
        '{ dist = "metalog", quantiles = [[0.1, 0.1], [0.9, 0.2]], terms = 3 }',
        "total.cagr: terms must lie in 2..16 and not exceed the number of points, 2 (got terms=3)",
    ),
    "metalog terms not a number": (
        '{ dist = "metalog", quantiles = [[0.1, 0.1], [0.9, 0.2]], terms = "2" }',
        "total.cagr: terms must be a whole number (got '2')",
    ),
    "metalog terms with coefficients": (
        '{ dist = "metalog", a = [0.1, 0.02], terms = 2 }',
        "total.cagr: terms goes with quantiles; with a, the terms are its length",
    ),
    "metalog bounds crossed": (
        '{ dist = "metalog", quantiles = [[0.1, 0.1], [0.9, 0.2]], lower = 1, upper = 0 }',
        "total.cagr: lower must be below upper (got lower=1.0, upper=0.0)",
    ),
    "metalog bound not a number": (
        '{ dist = "metalog", quantiles = [[0.1, 0.1], [0.9, 0.2]], lower = "0" }',
        "total.cagr: lower must be a finite number (got '0')",
    ),
    "metalog points outside bounds": (
        '{ dist = "metalog", quantiles = [[0.1, 0.1], [0.9, 0.2]], upper = 0.15 }',
        "total.cagr: quantiles: every value must lie strictly inside the bounds (upper=0.15; got "
        "P10=0.1, P90=0.2)",
    ),
    "metalog coefficient not a number": (
        '{ dist = "metalog", a = [0.1, "x"] }',
        "total.cagr.a[1]: Input should be a valid number (got 'x')",
    ),
    "metalog one coefficient": (
        '{ dist = "metalog", a = [0.1] }',
        "total.cagr.a: Tuple should have at least 2 items after validation, not 1",
    ),
    "infeasible metalog coefficients": (
        '{ dist = "metalog", a = [0.1, 0.02, 0.05] }',
        "total.cagr: the metalog with a=[0.1, 0.02, 0.05] is not a distribution: its quantile "
        "function is not increasing everywhere on (0, 1); check the coefficients",
    ),
    "infeasible four-term fit": (
        '{ dist = "metalog", quantiles = [[0.1, 0.1], [0.4, 0.101], [0.6, 0.3], [0.9, 0.301]] }',
        "total.cagr: the 4-term metalog fitted to P10=0.1, P40=0.101, P60=0.3, P90=0.301 is not "
        "a distribution",
    ),
    "mixture weights not summing to one": (
        '{ dist = "mixture", weights = [0.5, 0.6], components = [0.1, { dist = "normal", mean = '
        "0.1, sd = 0.02 }] }",
        "total.cagr: weights must sum to 1 (got 0.5, 0.6; sum 1.1)",
    ),
    "mixture weight count": (
        '{ dist = "mixture", weights = [1.0], components = [{ dist = "normal", mean = 0.1, sd = '
        '0.02 }, { dist = "normal", mean = 0.2, sd = 0.02 }] }',
        "total.cagr: give one weight per component (2 components, 1 weights)",
    ),
    "mixture negative weight": (
        '{ dist = "mixture", weights = [1.5, -0.5], components = [{ dist = "normal", mean = 0.1, '
        'sd = 0.02 }, { dist = "normal", mean = 0.2, sd = 0.02 }] }',
        "total.cagr: weights[1] must be positive (got -0.5)",
    ),
    "mixture with a fixed component": (
        '{ dist = "mixture", weights = [0.5, 0.5], components = [0.1, { dist = "normal", mean = '
        "0.1, sd = 0.02 }] }",
        "total.cagr: components[0] is a fixed number, a point mass: a mixture's components must "
        "be continuous distributions",
    ),
    "mixture with one component": (
        '{ dist = "mixture", weights = [1.0], components = [{ dist = "normal", mean = 0.1, sd = '
        "0.02 }] }",
        "total.cagr.components: Tuple should have at least 2 items after validation, not 1",
    ),
    "mixture component with a bad key": (
        '{ dist = "mixture", weights = [0.5, 0.5], components = [{ dist = "normal", mean = 0.1, '
        'sdd = 0.02 }, { dist = "normal", mean = 0.2, sd = 0.02 }] }',
        "total.cagr.components[0]: unknown key 'sdd' (did you mean 'sd'?)",
    ),
    "mixture of sources far apart": (
        '{ dist = "mixture", weights = [0.4, 0.6], components = [{ dist = "normal", mean = 0.05, '
        'sd = 0.02 }, { dist = "normal", mean = 0.2, sd = 0.04 }] }',
        "to 1e-10 of its scale; the distribution is too extreme to sample accurately; a mixture "
        "whose components are far apart, or one nearly a point, has a gap or step in its inverse "
        "CDF that the table cannot follow: use closer or wider components",
    ),
    "mixture with a near point mass": (
        '{ dist = "mixture", weights = [0.5, 0.5], components = [{ dist = "normal", mean = 0.1, '
        'sd = 1e-9 }, { dist = "normal", mean = 0.2, sd = 0.02 }] }',
        "total.cagr: cannot tabulate the inverse CDF of mixture(0.5 normal(mean=0.1, sd=1e-09); "
        "0.5 normal(mean=0.2, sd=0.02)) to 1e-10 of its scale",
    ),
}


@pytest.mark.parametrize("case", BAD, ids=str)
def test_bad_elicited_input_is_refused(case, tmp_path, capsys):
    value, message = BAD[case]
    text = MINIMAL.replace('cagr = { dist = "normal", mean = 0.10, sd = 0.02 }', f"cagr = {value}")
    path = tmp_path / "bad.toml"
    path.write_text(text)
    out = tmp_path / "out"
    status = main(["run", str(path), "--draws", "100", "--quiet", "--no-report", "--out", str(out)])
    err = capsys.readouterr().err
    assert status == 2
    assert message in err, err
    assert "Traceback" not in err
    assert not out.exists()


def test_a_scenario_switching_to_percentiles_replaces_the_table(tmp_path):
    scenario = tmp_path / "s.toml"
    scenario.write_text(
        'extends = "ai_infrastructure.toml"\n'
        "[total]\ncagr = { quantiles = [[0.1, 0.15], [0.5, 0.19], [0.9, 0.25]] }\n"
    )
    cagr = load_config(scenario).config.total.cagr
    assert cagr.dist == "pert" and cagr.quantiles == ((0.1, 0.15), (0.5, 0.19), (0.9, 0.25))
    assert cagr.source == ""  # the base's table is replaced whole, its source included


ELICITED_TREE = tomllib.loads(load_config(ELICITED).text)
ELICITED_PATHS = [
    path
    for path, _ in _paths(ELICITED_TREE)
    if any(key in path for key in ("quantiles", "components", "weights", "a", "terms", "lower"))
]


@FUZZ
@given(
    st.lists(
        st.tuples(
            st.sampled_from(ELICITED_PATHS),
            st.sampled_from(["replace", "replace", "remove", "rename", "duplicate"]),
            HOSTILE,
        ),
        min_size=1,
        max_size=2,
    )
)
# found by the fuzzer: a component's quantile at 1e308 overflowed to a warning, not a refusal
@example([(("total", "base", "components", 1, "quantiles", 1, 1), "replace", 1e308)])
def test_mutated_elicited_inputs_run_or_are_refused_cleanly(tmp_path, capsys, mutations):
    tree = ELICITED_TREE
    for path, action, value in mutations:
        with contextlib.suppress(KeyError, IndexError, TypeError):  # path already removed
            tree = _mutate(tree, path, action, value)
    _check(_to_toml(tree), tmp_path, capsys)


@pytest.mark.parametrize(
    "table",
    [
        {"dist": "normal", "mean": 0.2, "sd": 0.04},
        {"dist": "lognormal", "median": 135.8, "log_sd": 0.3},
        {"dist": "metalog", "quantiles": [[0.1, 0.14], [0.5, 0.19], [0.9, 0.26]], "lower": -0.5},
    ],
    ids=lambda t: t["dist"],
)
def test_component_probabilities_and_density_match_the_quantile_function(table):
    spec = SPEC.validate_python(table)
    z = np.linspace(-8, 8, 33)
    x = spec.value_at_score(z)
    below, above = spec.probabilities(x)
    np.testing.assert_allclose(below, stats.norm.cdf(z), rtol=1e-9)
    np.testing.assert_allclose(above, stats.norm.sf(z), rtol=1e-9)
    h = 1e-6
    slope = (spec.value_at_score(z + h) - spec.value_at_score(z - h)) / (2 * h)
    np.testing.assert_allclose(spec.density(x), stats.norm.pdf(z) / slope, rtol=1e-6)


def test_a_mixture_keeps_its_rank_correlation_in_the_copula():
    pooled = {
        "dist": "mixture",
        "weights": [0.6, 0.4],
        "components": [
            {"dist": "lognormal", "quantiles": [[0.1, 125.0], [0.9, 148.0]]},
            {"dist": "lognormal", "quantiles": [[0.05, 47.0], [0.95, 190.0]]},
        ],
    }
    text = MINIMAL.replace("base = 100.0", f"base = {_inline(pooled)}")
    text += '\n[[correlations]]\nbetween = ["total.base", "total.cagr"]\nrank = 0.6\n'
    draws = 200_000
    ds = simulate(parse_config(text), RunSettings(draws=draws, seed=13, chunk_size=100_000))
    base = ds["inputs"].sel(input="total.base").values
    cagr = ds["inputs"].sel(input="total.cagr").values
    rho = stats.spearmanr(base, cagr).statistic
    # Standard error of a Spearman coefficient near 0.6: about (1 - rho^2) / sqrt(n).
    assert abs(rho - 0.6) <= Z * (1 - 0.6**2) / math.sqrt(draws)


def test_fewer_terms_than_points_is_the_least_squares_fit():
    p = np.array([0.05, 0.25, 0.5, 0.75, 0.95])
    x = np.array([0.1, 0.16, 0.2, 0.25, 0.35])
    curve = metalog.fit(p, x, 3)
    residual = x - curve.quantile(p)
    # Least squares: the residual is orthogonal to every basis function.
    np.testing.assert_allclose(metalog.basis(p, 3).T @ residual, 0.0, atol=1e-14)
    assert np.max(np.abs(residual)) > 1e-4  # three terms cannot pass through five points
