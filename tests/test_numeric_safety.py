"""Extreme but legal parameters never produce NaN or infinity in any output; values past
double precision are refused."""

# ruff: noqa: E501 (config lines are clearer whole)

from __future__ import annotations

import json
import tomllib

import numpy as np
import tomli_w
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mcinfra.cli import main
from mcinfra.config import default_config_path, parse_config
from mcinfra.runs.pipeline import run_to_directory
from mcinfra.sampling.engine import RunSettings, simulate

DEFAULT = default_config_path().read_text()

TOTAL_CAGR = 'cagr = { dist = "pert", min = 0.12, mode = 0.1945, max = 0.28,'
SHOCK = "shock = { sd = 0.04, phi = 0.4,"
STEEPNESS = 'steepness = { dist = "uniform", low = 0.25, high = 0.55,'
CROSSOVER = 'crossover = { dist = "triangular", min = 2024.6, mode = 2025.5, max = 2027.5,'
ADOPTION = 'initial_share = { dist = "triangular", min = 0.07, mode = 0.10, max = 0.14,'
RATE = 'logit_rate = { dist = "normal", mean = 0.22, sd = 0.10,'
SHARES = ("share = 0.63\n", "share = 0.05\n")  # compute, storage


@st.composite
def extreme_configs(draw):
    low = draw(st.floats(-0.95, 0.5))
    high = low + draw(st.floats(1e-3, 5.0))
    mode = low + draw(st.floats(0.0, 1.0)) * (high - low)
    steep_low = draw(st.floats(1e-6, 50.0))
    steep_high = steep_low * (1.0 + draw(st.floats(0.01, 1e5)))
    start = draw(st.floats(1900.0, 2200.0))
    initial_low = draw(st.sampled_from([1e-12, 1e-6, 0.5, 0.999]))
    initial_high = initial_low + 0.5 * (1.0 - initial_low)
    storage = draw(st.sampled_from([1e-12, 1e-6, 0.05]))
    text = (
        DEFAULT.replace(TOTAL_CAGR, f'cagr = {{ dist = "pert", min = {low!r}, mode = {mode!r}, max = {high!r},')
        .replace(SHOCK, f"shock = {{ sd = {draw(st.floats(0.0, 1.0))!r}, phi = {draw(st.floats(-0.99, 0.99))!r},", 1)
        .replace(STEEPNESS, f'steepness = {{ dist = "uniform", low = {steep_low!r}, high = {steep_high!r},', 1)
        .replace(CROSSOVER, f'crossover = {{ dist = "triangular", min = {start!r}, mode = {start + 1!r}, max = {start + 2!r},')
        .replace(ADOPTION, f'initial_share = {{ dist = "triangular", min = {initial_low!r}, mode = {initial_low!r}, max = {initial_high!r},')
        .replace(RATE, f'logit_rate = {{ dist = "normal", mean = {draw(st.floats(-50, 50))!r}, sd = {draw(st.floats(1e-3, 30))!r},')
        .replace(SHARES[0], f"share = {0.68 - storage!r}\n")
        .replace(SHARES[1], f"share = {storage!r}\n")
    )  # fmt: skip
    return text


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(extreme_configs())
def test_extreme_legal_parameters_give_finite_outputs(text):
    loaded = parse_config(text)
    ds = simulate(loaded, RunSettings(draws=2_000, seed=3, chunk_size=2_000))
    assert np.isfinite(ds["value"].values).all()
    assert np.isfinite(ds["inputs"].values).all()
    shares = ds["value"].sel(segment=ds["kind"] == "adoption").values
    assert ((shares >= 0) & (shares <= 1)).all()


def test_extreme_run_writes_finite_summaries(tmp_path):
    text = (
        DEFAULT.replace(TOTAL_CAGR, 'cagr = { dist = "pert", min = -0.95, mode = -0.9, max = 3.0,')
        .replace(STEEPNESS, 'steepness = { dist = "uniform", low = 100.0, high = 1e6,', 1)
        .replace(RATE, 'logit_rate = { dist = "normal", mean = 40.0, sd = 20.0,')
    )  # fmt: skip
    out = tmp_path / "run"
    run_to_directory(parse_config(text), RunSettings(20_000, 1, 5_000), out, quantiles="sketch")
    summary = json.loads((out / "summary.json").read_text())  # written with allow_nan=False
    assert summary["run"]["draws"] == 20_000


def test_values_beyond_double_precision_are_refused(tmp_path, capsys):
    # A base near 1e154 makes the default model's hbm (memory x total_training / total)
    # overflow: the run is refused with the series named, and nothing is written.
    tree = tomllib.loads(default_config_path().read_text())
    tree["total"]["base"] = 1.2e154
    config = tmp_path / "huge.toml"
    config.write_text(tomli_w.dumps(tree))
    out = tmp_path / "out"
    args = ["run", str(config), "--draws", "300", "--quiet", "--no-report", "--out", str(out)]
    assert main(args) == 2
    assert "series 'hbm' is not finite in 2030" in capsys.readouterr().err
    assert not out.exists() and not list(tmp_path.glob(".out*"))
