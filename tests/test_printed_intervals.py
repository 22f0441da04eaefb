"""No printed interval collapses: its two bounds read differently whenever they differ.

Every place that prints a 95 % interval is run on one small set of runs (the default model
at 50,000 draws, where standard errors near 0.002 made bounds such as [0.41, 0.41] when
rounded to the error's digits) and every interval it prints is parsed back.
"""

from __future__ import annotations

import contextlib
import io
import math
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mcinfra.cli import main
from mcinfra.report.terminal import interval, significant

NUMBER = r"(-?\d+(?:\.\d+)?)"
BRACKETS = re.compile(rf"\[{NUMBER}, {NUMBER}\]")
WORDS = re.compile(rf"{NUMBER} to {NUMBER}")
DRAWS = "50000"


def _intervals(text: str, pattern: re.Pattern) -> list[tuple[str, str]]:
    return [(m.group(1), m.group(2)) for m in pattern.finditer(text)]


@pytest.fixture(scope="module")
def outputs(tmp_path_factory):
    """What every command prints or writes: {name: (text, interval pattern)}."""
    root = tmp_path_factory.mktemp("intervals")
    shown: dict[str, tuple[str, re.Pattern]] = {}

    def run(args):
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            assert main(args) == 0, err.getvalue()
        return out.getvalue()

    first, second = root / "a", root / "b"
    printed = run(["run", "--draws", DRAWS, "--out", str(first), "--quiet"])
    # the prediction lines; the series table's [5 %, 95 %] are ranges of the draws
    shown["run"] = ("\n".join(line for line in printed.splitlines() if "P = " in line), BRACKETS)
    run(["run", "--draws", DRAWS, "--seed", "2", "--out", str(second), "--quiet", "--no-report"])
    shown["report.md"] = ((first / "report.md").read_text(encoding="utf-8"), WORDS)
    shown["report.html"] = ((first / "report.html").read_text(encoding="utf-8"), WORDS)
    given_ = 'input("channel.hyperscale_cloud.crossover") < 2025.5'
    shown["whatif"] = (run(["whatif", str(first), "--given", given_]), BRACKETS)
    run(["compare", str(first), str(second), "--out", str(root / "compare")])
    shown["compare.html"] = ((root / "compare" / "compare.html").read_text(), WORDS)
    sweep = root / "sweep"
    run(["sweep", "--param", "total.cagr.mode", "--values", "0.18,0.2", "--draws", DRAWS,
         "--out", str(sweep), "--quiet"])  # fmt: skip
    shown["sweep.html"] = ((sweep / "sweep.html").read_text(encoding="utf-8"), WORDS)
    return shown


@pytest.mark.parametrize(
    ("name", "least"),
    [("run", 5), ("report.md", 10), ("report.html", 10), ("whatif", 6), ("compare.html", 10),
     ("sweep.html", 10)],
)  # fmt: skip
def test_no_printed_interval_collapses(outputs, name, least):
    text, pattern = outputs[name]
    found = _intervals(text, pattern)
    assert len(found) >= least, (name, found)  # the output's intervals were all found
    collapsed = [(low, high) for low, high in found if low == high]
    assert not collapsed, (name, collapsed)
    for low, high in found:
        assert float(low) < float(high), (name, low, high)
        assert len(low.partition(".")[2]) == len(high.partition(".")[2])  # same decimals


def test_the_reported_example_gets_the_digits_it_needs():
    assert significant(0.41, 0.002) == "0.41"
    assert interval(0.41, 0.002, 0.406, 0.414) == ("0.410", "0.406", "0.414")
    assert interval(0.6796, 0.003, 0.6787, 0.6803) == ("0.680", "0.679", "0.680")
    # bounds that already differ keep the digits the error supports
    assert interval(0.18, 0.003, 0.17, 0.186) == ("0.18", "0.17", "0.19")
    # no error (a probability of 0 or 1) still shows the interval apart
    assert interval(0.0, 0.0, 0.0, 3.8e-7) == ("0.0000000", "0.0000000", "0.0000004")


@given(
    p=st.floats(0.0, 1.0),
    error=st.floats(1e-9, 0.3) | st.just(0.0),
    spread=st.tuples(st.floats(1e-9, 0.5), st.floats(1e-9, 0.5)),
)
def test_interval_bounds_differ_whenever_they_differ(p, error, spread):
    low, high = max(0.0, p - spread[0]), min(1.0, p + spread[1])
    shown = interval(p, error, low, high)
    if low < high:
        assert shown[1] != shown[2]
    assert math.isclose(float(shown[0]), p, abs_tol=10 ** -(len(shown[0].partition(".")[2])))
    assert len({len(s.partition(".")[2]) for s in shown}) == 1
