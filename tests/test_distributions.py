"""Every family's inverse CDF against scipy, and parameter rules."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import TypeAdapter, ValidationError
from scipy.special import ndtri

from mcinfra.kernels import inputs as codes
from mcinfra.kernels.inputs import input_values
from mcinfra.model.distributions import InputSpec, build_table, table_params

SPEC = TypeAdapter(InputSpec)
U = np.concatenate(
    [np.logspace(-12, -1, 56), np.linspace(0.01, 0.99, 99), 1 - np.logspace(-1, -12, 56)]
)

CASES = [
    {"dist": "uniform", "low": 0.25, "high": 0.55},
    {"dist": "normal", "mean": 0.306, "sd": 0.035},
    {"dist": "truncnormal", "mean": 0.2, "sd": 0.1, "low": 0.0},
    {"dist": "truncnormal", "mean": 0.0, "sd": 1.0, "low": 1.5, "high": 3.0},
    {"dist": "truncnormal", "mean": 5.0, "sd": 2.0, "high": 4.0},
    {"dist": "lognormal", "median": 135.81, "log_sd": 0.05},
    {"dist": "lognormal", "mean": 2.0, "sd": 3.0},
    {"dist": "triangular", "min": 2024.6, "mode": 2025.5, "max": 2027.5},
    {"dist": "triangular", "min": 0.0, "mode": 0.0, "max": 1.0},
    {"dist": "triangular", "min": 0.0, "mode": 1.0, "max": 1.0},
    {"dist": "pert", "min": 0.12, "mode": 0.1945, "max": 0.28},
    {"dist": "pert", "min": 0.0, "mode": 0.9, "max": 1.0, "shape": 8.0},
    {"dist": "beta", "alpha": 0.5, "beta": 0.7},
    {"dist": "beta", "alpha": 30.0, "beta": 0.2, "low": -1.0, "high": 3.0},
]


def kernel_ppf(spec, u):
    code, params = spec.pack()
    coef = np.zeros((1, 4))
    if code == codes.TABULATED:
        coef = build_table(spec)
        params = table_params(coef.shape[0])
    out = np.empty_like(u)
    input_values(code, params.reshape(1, 4), 0, coef, ndtri(u), out)
    return out


@pytest.mark.parametrize("case", CASES, ids=lambda c: c["dist"] + str(sorted(c.items())))
def test_inverse_cdf_matches_scipy_including_tails(case):
    spec = SPEC.validate_python(case)
    frozen = spec.frozen()
    # scipy's own most accurate path: ppf below the median, isf of the complement above.
    reference = np.where(U <= 0.5, frozen.ppf(U), frozen.isf(1 - U))
    if spec.family == "truncnormal":  # scipy's truncnorm loses digits in far tails
        reference = spec.value_at_score(ndtri(U))
    tolerance = 1e-8 * spec.scale + 1e-13 * np.abs(reference)
    np.testing.assert_array_less(np.abs(kernel_ppf(spec, U) - reference), tolerance)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c["dist"] + str(sorted(c.items())))
def test_closed_forms_match_scipy(case):
    # cdf and median are computed without scipy.stats (start-up time); scipy is the reference.
    # Both are double-precision evaluations of the same functions, so they differ by rounding:
    # measured at most 2.8e-16 of the scale for medians and 3.7e-15 for cdf values; 1e-12
    # leaves room for other parameters, without admitting a wrong formula.
    spec = SPEC.validate_python(case)
    frozen = spec.frozen()
    assert spec.median() == pytest.approx(float(frozen.median()), abs=1e-12 * spec.scale)
    low, high = spec.support()
    points = frozen.ppf(np.array([1e-9, 0.01, 0.3, 0.5, 0.8, 0.999]))
    for x in [*points, low - spec.scale, high + spec.scale]:
        if np.isfinite(x):
            assert spec.cdf(float(x)) == pytest.approx(float(frozen.cdf(x)), abs=1e-12), x
    if spec.score_slope(np.zeros(1)) is not None:  # tabulated families: G'(z) = phi / f(G)
        z = np.linspace(-6, 6, 25)
        # Central differences with step h err by rounding, eps |G| / h (about 2e-11 of the
        # scale here), plus truncation, G''' h^2 / 6: measured at most 1.5e-10 of the scale
        # over these cases, inside atol = 1e-9 x scale (rtol only adds slack for steep tails).
        step = 1e-5
        numeric = (spec.value_at_score(z + step) - spec.value_at_score(z - step)) / (2 * step)
        np.testing.assert_allclose(spec.score_slope(z), numeric, rtol=1e-5, atol=1e-9 * spec.scale)


def test_fixed_number_is_a_fixed_input():
    spec = SPEC.validate_python(3.5)
    assert spec.is_fixed and spec.median() == 3.5
    np.testing.assert_array_equal(kernel_ppf(spec, U), 3.5)


def test_table_error_is_verified_at_build():
    spec = SPEC.validate_python({"dist": "pert", "min": 0.0, "mode": 0.3, "max": 1.0})
    coef = build_table(spec)
    z = np.linspace(-8.4, 8.4, 10_001)
    out = np.empty_like(z)
    input_values(codes.TABULATED, table_params(coef.shape[0]).reshape(1, 4), 0, coef, z, out)
    assert np.max(np.abs(out - spec.value_at_score(z))) < 1e-10 * spec.scale


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ({"dist": "normal", "mean": 0, "sd": 0}, r"sd must be positive \(got sd=0"),
        ({"dist": "uniform", "low": 1, "high": 1}, "low must be below high"),
        ({"dist": "triangular", "min": 2, "mode": 1, "max": 1}, "min must be below max"),
        ({"dist": "triangular", "min": 0, "mode": -1, "max": 1}, r"mode must lie in \[min, max\]"),
        ({"dist": "pert", "min": 0.3, "mode": 0.2, "max": 0.4}, r"mode must lie in \[min, max\]"),
        ({"dist": "pert", "min": 0, "mode": 0.5, "max": 1, "shape": 0}, "shape must be positive"),
        ({"dist": "lognormal", "median": 1}, "log_sd is required"),
        ({"dist": "lognormal", "median": 1, "log_sd": 1, "sd": 1}, "give either"),
        ({"dist": "lognormal", "mean": -1, "sd": 1}, "mean must be positive"),
        ({"dist": "beta", "alpha": 0, "beta": 1}, "alpha must be positive"),
        ({"dist": "truncnormal", "mean": 0, "sd": 1, "low": 50}, "almost no probability"),
        ({"dist": "normal", "mean": 0, "sd": float("nan")}, "finite number"),
        ({"dist": "normal", "mean": "0.1", "sd": 1}, "valid number"),
        ({"dist": "gaussian", "mean": 0, "sd": 1}, "expected a number or a table"),
    ],
)
def test_bad_parameters_are_refused(case, message):
    with pytest.raises(ValidationError, match=message):
        SPEC.validate_python(case)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c["dist"] + str(sorted(c.items())))
def test_support_without_scipy_equals_scipys(case):
    spec = SPEC.validate_python(case)
    assert spec.support() == tuple(float(x) for x in spec.frozen().support())
