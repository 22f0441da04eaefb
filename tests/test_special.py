"""The sampler's branch-free exp and normal CDF against 50-digit mpmath references."""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest

from mcinfra.kernels.growth import growth_rate
from mcinfra.kernels.jit import elementwise
from mcinfra.kernels.special import exp, log, lower_tail

mpmath.mp.dps = 50


_exp_all = elementwise(exp)
_phi_all = elementwise(lower_tail)


def _apply(kernel, values):
    values = np.asarray(values, dtype=np.float64)
    out = np.empty_like(values)
    kernel(values, out)
    return out


def _reference(function, values):
    return np.array([float(function(mpmath.mpf(float(v)))) for v in values])


def test_exp_within_two_ulp_over_the_whole_range():
    rng = np.random.default_rng(3)
    x = np.concatenate([np.linspace(-708.0, 709.7, 1201), rng.uniform(-30, 30, 800), [0.0, 1.0]])
    ours, exact = _apply(_exp_all, x), _reference(mpmath.exp, x)
    # 2 ulp: the Taylor truncation (r**14 / 14! < 0.8 ulp at |r| = ln 2 / 2), the rounding
    # of Estrin's scheme (about 0.5 ulp: the last sums dominate, every other term is scaled
    # by r**2 <= 0.12 or less) and the reference's own rounding (0.5 ulp). Measured: at
    # most 2 ulp.
    assert np.all(np.abs(ours - exact) <= 2 * np.spacing(exact))


def test_exp_subnormal_results_are_rounded_once():
    x = np.linspace(-745.1, -708.4, 997)  # every result below 2**-1022
    ours, exact = _apply(_exp_all, x), _reference(mpmath.exp, x)
    # On the subnormal grid (spacing 2**-1074): the polynomial's 2 ulp of relative error is
    # far below one step, the single rounding of the scaled result gives half a step and the
    # reference's own rounding another half. Measured: at most 1 step.
    assert np.all(np.abs(ours - exact) <= 2.0**-1074)


def test_exp_limits_and_special_values():
    x = [-np.inf, -1e300, -746.0, -745.2, 709.8, 710.0, 1e300, np.inf, -0.0]
    assert list(_apply(_exp_all, x)) == [0.0, 0.0, 0.0, 0.0, np.inf, np.inf, np.inf, np.inf, 1.0]
    assert math.isnan(_apply(_exp_all, [np.nan])[0])


def test_lower_tail_relative_accuracy_down_to_underflow():
    z = np.concatenate([np.linspace(-38.4, 0.0, 1601), -np.geomspace(1e-300, 1.0, 101)])
    ours, exact = _apply(_phi_all, z), _reference(mpmath.ncdf, z)
    tiny = exact < 2.2250738585072014e-308
    # Normal range, relative: exp's 2 ulp, the polynomial's rounding (its coefficients'
    # magnitudes sum to 1.003: about 1 ulp) and four products and divisions (0.5 ulp each)
    # sum to 5 ulp (1.1e-15) only if every error takes its bound with the same sign.
    # Measured: 3 ulp (6.7e-16) over these 1,702 points; 1e-15 is 4.5 ulp.
    assert np.all(np.abs(ours[~tiny] / exact[~tiny] - 1) <= 1e-15)
    # Subnormal results, absolute: three roundings on the 2**-1074 grid (two of them scaled
    # down by 0.5 erfcx < 0.02), the last one and the reference's: under 1.1 steps. Two
    # steps; measured: at most 1 step.
    assert np.all(np.abs(ours[tiny] - exact[tiny]) <= 2 * 2.0**-1074)


def test_lower_tail_upper_half_is_one_minus_the_tail():
    z = np.linspace(0.0, 9.0, 901)
    ours, exact = _apply(_phi_all, z), _reference(mpmath.ncdf, z)
    # The tail (at most 0.5) is good to 1e-15 relative, so 5e-16 absolute, and 1 - tail and
    # the reference each round by half an ulp of [0.5, 1) (5.6e-17): 6.2e-16 a priori.
    # Measured: 2.2e-16; the test holds that, to catch a regression the bound would miss.
    assert np.all(np.abs(ours - exact) <= 2.3e-16)


@pytest.mark.parametrize(
    ("z", "expected"), [(-np.inf, 0.0), (-40.0, 0.0), (np.inf, 1.0), (0.0, 0.5)]
)
def test_lower_tail_special_values(z, expected):
    assert _apply(_phi_all, [z])[0] == expected


def test_lower_tail_nan():
    assert math.isnan(_apply(_phi_all, [np.nan])[0])


_log_all = elementwise(log)


def test_log_within_one_ulp_from_subnormals_to_the_largest_double():
    rng = np.random.default_rng(4)
    x = np.concatenate(
        [
            np.exp2(rng.uniform(-1074, 1024, 1500)),  # every octave, subnormals included
            rng.uniform(0.5, 2.0, 800),  # around 1, where log is small
            1.0 + rng.uniform(-1e-6, 1e-6, 200),
            [np.sqrt(2.0), np.nextafter(np.sqrt(2.0), 0), np.sqrt(0.5), 5e-324, 1.7e308, 2.0],
        ]
    )
    x = x[np.isfinite(x) & (x > 0)]
    ours, exact = _apply(_log_all, x), _reference(mpmath.log, x)
    # 1 ulp: fdlibm's reduction (f exact, s rounded once, the correction s (f**2 / 2 + R)
    # small against f) keeps the error below 1 ulp before the reference's own rounding of
    # at most 0.5 ulp; the series truncation is below 1e-18. Measured: at most 1 ulp.
    assert np.all(np.abs(ours - exact) <= np.spacing(np.abs(exact)))
    assert _apply(_log_all, [1.0])[0] == 0.0


def test_log_special_values():
    got = _apply(_log_all, [0.0, -0.0, np.inf, -1.0, -np.inf, np.nan])
    assert list(got[:3]) == [-np.inf, -np.inf, np.inf]
    assert np.isnan(got[3:]).all()


def test_growth_rates_agree_with_pow_and_keep_its_special_cases():
    rng = np.random.default_rng(6)
    end, start = rng.lognormal(0.0, 1.0, 20_000), rng.lognormal(0.0, 1.0, 20_000)
    for years in (2, 3, 6, 10):
        got = growth_rate(end, start, years)
        power = (end / start) ** (1.0 / years)
        y = np.log(end / start) / years
        # exp(y) with y = log(r) / years: log's 1 ulp scaled by 1 / years plus the product's
        # rounding put y off by at most 1.5 |y| 2**-52, which exp turns into as much relative
        # error; exp's own 2 ulp and pow's 0.5 ulp add 2.5 2**-52. Measured: up to 0.92 of
        # this bound (over 2 years), 0.45 over 3 to 10.
        bound = (1.5 * np.abs(y) + 2.5) * 2.0**-52 * power
        assert np.all(np.abs(got - (power - 1.0)) <= bound)
    one_year = growth_rate(np.array([3.0, -2.0]), np.array([2.0, 1.0]), 1)
    assert list(one_year) == [0.5, -3.0]  # exactly ratio - 1, negative ratios included
    special = growth_rate(np.array([0.0, 1.0, -1.0, np.nan, 1.0]), np.array([1, 0, 1, 1, -0.0]), 6)
    assert special[0] == -1.0 and special[1] == np.inf
    assert np.isnan(special[2:]).all()  # negative ratios and NaN, as pow gives
