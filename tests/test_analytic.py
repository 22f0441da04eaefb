"""Closed-form checks: the total's quantiles and the copula's rank correlations."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from conftest import MINIMAL, Z
from mcinfra import RunSettings, parse_config, simulate

pytestmark = pytest.mark.statistical


def test_total_quantiles_match_the_closed_form():
    """Fixed base B, g ~ N(mu, sigma), no shocks: T(H) = B (1 + g)^H, monotone in g.

    So the q-quantile of T(H) is B (1 + mu + sigma z_q)^H. The sample quantile of g has
    standard error sqrt(q (1 - q) / n) / phi(z_q) * sigma (asymptotic order statistics).
    """
    draws, base, mu, sigma, horizon = 200_000, 100.0, 0.10, 0.02, 6
    ds = simulate(parse_config(MINIMAL), RunSettings(draws=draws, seed=1, chunk_size=50_000))
    final = ds["value"].sel(segment="total", year=2030).values
    for q in (0.05, 0.25, 0.5, 0.75, 0.95):
        z = stats.norm.ppf(q)
        implied_g = (np.quantile(final, q) / base) ** (1 / horizon) - 1
        se = sigma * np.sqrt(q * (1 - q) / draws) / stats.norm.pdf(z)
        assert abs(implied_g - (mu + sigma * z)) < Z * se, q
    assert np.all(ds["value"].sel(segment="total", year=2024).values == base)


def test_shocks_are_unit_ar1_with_the_stated_autocorrelation():
    """With g fixed, growth factors give the shock series: check its sd and lag-1 correlation."""
    text = MINIMAL.replace('cagr = { dist = "normal", mean = 0.10, sd = 0.02 }', "cagr = 0.10")
    text = text.replace("shock = { sd = 0.0, phi = 0.0 }", "shock = { sd = 0.01, phi = 0.6 }")
    ds = simulate(parse_config(text), RunSettings(draws=100_000, seed=4, chunk_size=100_000))
    total = ds["value"].sel(segment="total").values
    shocks = (total[:, 1:] / total[:, :-1] - 1.10) / 0.01
    n = shocks.shape[0]
    for t in range(shocks.shape[1]):
        assert abs(shocks[:, t].std() - 1) < Z * np.sqrt(1 / (2 * n))
    r = np.corrcoef(shocks[:, 2], shocks[:, 3])[0, 1]
    assert abs(r - 0.6) < Z * (1 - 0.6**2) / np.sqrt(n)


COPULA = (
    MINIMAL
    + """
[parameters]
a = { dist = "normal", mean = 0, sd = 1 }
b = { dist = "triangular", min = 0, mode = 1, max = 5 }
c = { dist = "pert", min = 0, mode = 0.2, max = 1 }
d = { dist = "lognormal", median = 1, log_sd = 1 }

[[correlations]]
between = ["a", "b"]
rank = 0.6

[[correlations]]
between = ["a", "c"]
rank = -0.3

[[correlations]]
between = ["b", "d"]
rank = 0.5
"""
)


def test_copula_reproduces_requested_rank_correlations():
    ds = simulate(parse_config(COPULA), RunSettings(draws=1_000_000, seed=5, chunk_size=250_000))
    inputs = ds["inputs"]
    requested = {("a", "b"): 0.6, ("a", "c"): -0.3, ("b", "d"): 0.5, ("c", "d"): None}
    for (x, y), rank in requested.items():
        rho = stats.spearmanr(inputs.sel(input=x), inputs.sel(input=y)).statistic
        if rank is None:  # implied by the others through the Gaussian copula
            continue
        assert abs(rho - rank) < 0.01, (x, y, rho)


def test_uncorrelated_inputs_stay_independent():
    ds = simulate(parse_config(COPULA), RunSettings(draws=200_000, seed=6, chunk_size=200_000))
    inputs = ds["inputs"]
    rho = stats.spearmanr(inputs.sel(input="total.cagr"), inputs.sel(input="d")).statistic
    assert abs(rho) < Z / np.sqrt(200_000)
