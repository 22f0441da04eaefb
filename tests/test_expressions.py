"""Derived-series expressions: compiled programs evaluate correctly; hostile input is refused."""

from __future__ import annotations

import time

import numpy as np
import pytest

from conftest import MINIMAL
from mcinfra import RunSettings, parse_config, simulate
from mcinfra.errors import ConfigError
from mcinfra.language.expressions import SERIES, ExpressionProblem, compile_expression

DERIVED = (
    MINIMAL
    + """
[parameters]
k = 2.5

[derived.a]
expr = "total * k - 3"

[derived.b]
expr = "max(a, 250) / -(1 + min(k, 1))"

[derived.c]
expr = "b - a + 0.5 * total"
"""
)


def test_derived_series_follow_their_expressions():
    ds = simulate(parse_config(DERIVED), RunSettings(draws=500, seed=2, chunk_size=500))
    v = ds["value"]
    total = v.sel(segment="total")
    a = total * 2.5 - 3
    b = np.maximum(a, 250) / -(1 + 1)
    np.testing.assert_allclose(v.sel(segment="a"), a, rtol=1e-15)
    np.testing.assert_allclose(v.sel(segment="b"), b, rtol=1e-15)
    np.testing.assert_allclose(v.sel(segment="c"), b - a + 0.5 * total, rtol=1e-14)


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        ("__import__('os')", r"only min\(a, b\) and max\(a, b\) may be called"),
        ("total.__class__", "is not allowed"),
        ("(lambda: 1)()", "only min"),
        ("[x for x in total]", "is not allowed"),
        ("10**10**10", "is not allowed"),
        ("total if total else 1", "is not allowed"),
        ("'text'", "only numbers are allowed"),
        ("True", "only numbers are allowed"),
        ("min(total)", r"only min\(a, b\)"),
        ("total +", "syntax error"),
        ("(" * 500 + "total" + ")" * 500, "too deeply nested|syntax error|nests deeper"),
        ("-" * 500 + "total", "nests deeper"),
    ],
)
def test_hostile_expressions_are_refused_quickly(expr, message):
    started = time.perf_counter()
    with pytest.raises(ExpressionProblem, match=message):
        compile_expression(expr, {"total": (SERIES, 0)})
    assert time.perf_counter() - started < 1.0


def test_refusal_reaches_the_config_loader():
    text = DERIVED.replace('expr = "total * k - 3"', 'expr = "open(1, 2)"')
    with pytest.raises(ConfigError, match=r"derived\.a\.expr: only min"):
        parse_config(text)


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        ("total * * 2", r"syntax error at column 9: invalid syntax\n    total \* \* 2\n {12}\^$"),
        ("total +", r"syntax error at the end: invalid syntax\n    total \+\n {11}\^$"),
        (
            "(total +\n * 2)",
            r"syntax error at line 2, column 2: invalid syntax\n     \* 2\)\n {5}\^$",
        ),
        (
            "total + " * 20 + "$",  # a long line is cut to the part around the column
            r"syntax error at column 161: invalid syntax\n    \.\.\. \+ (total \+ )+\$\n {82}\^$",
        ),
    ],
)
def test_syntax_errors_show_the_expression_and_point_at_the_column(expr, message):
    with pytest.raises(ExpressionProblem, match=message):
        compile_expression(expr, {"total": (SERIES, 0)})
