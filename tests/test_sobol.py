"""Quasi-Monte Carlo (``sampling.method = "sobol"``): scrambled Sobol' replicates.

Tolerances: a Sobol' estimate's error comes from its replicates (R = 16 independent
scrambles), so agreement with plain Monte Carlo is checked within 4 joint standard errors,
sqrt(se_mc^2 + se_sobol^2). With the Sobol' part estimated on 15 degrees of freedom the
statistic is at worst Student t with 15 of them: P(|t| > 4) = 1.2e-3 per prediction, 6e-3
for the five, and the seeds are fixed, so a pass is deterministic. The efficiency checks
(ratios of standard errors) keep a margin below what these seeds measure, stated at each.
"""

from __future__ import annotations

import html
import json
import math

import numpy as np
import pytest

from mcinfra import simulate
from mcinfra.cli import main
from mcinfra.config import load_config
from mcinfra.errors import UsageError
from mcinfra.runs.pipeline import run_to_directory
from mcinfra.sampling.engine import RunSettings, chunk_bounds, settings_from
from mcinfra.sampling.qmc import SobolNormals, replicate_estimate, replicate_size, sobol_normals

SOBOL = ('sampling.method="sobol"',)


@pytest.fixture(scope="module")
def sobol_config():
    return load_config(None, SOBOL)


def test_normals_depend_only_on_the_point():
    whole = sobol_normals(5, 2, 7, 0, 1024)
    pieces = ((0, 3), (3, 700), (700, 1024))
    parts = np.vstack([sobol_normals(5, 2, 7, a, b - a) for a, b in pieces])
    np.testing.assert_array_equal(whole, parts)
    np.testing.assert_array_equal(whole, sobol_normals(5, 2, 7, 0, 1024))
    assert not np.array_equal(whole, sobol_normals(5, 3, 7, 0, 1024))  # replicates differ
    assert not np.array_equal(whole, sobol_normals(6, 2, 7, 0, 1024))  # seeds differ
    assert whole.flags.c_contiguous and np.isfinite(whole).all()


def test_continued_engines_equal_fresh_ones_in_any_call_order():
    # Consecutive calls continue the object's engine; any other call builds a fresh one.
    fresh = sobol_normals(5, 2, 7, 0, 1024)
    source = SobolNormals(5, 7)
    pieces = {
        700: source.normals(2, 700, 324),  # a jump back: fresh engine
        0: source.normals(2, 0, 3),  # fresh
        3: source.normals(2, 3, 297),  # continues the engine of the call before
    }
    source.normals(9, 0, 16)  # another replicate in between
    pieces[300] = source.normals(2, 300, 400)  # fresh again
    np.testing.assert_array_equal(np.vstack([pieces[f] for f in sorted(pieces)]), fresh)


def test_sources_keep_their_own_engines():
    # Two interleaved sources (compare's two models) each continue their own engine.
    a, b = SobolNormals(5, 7), SobolNormals(6, 7)
    got_a = np.vstack([a.normals(0, 0, 100), b.normals(0, 0, 50), a.normals(0, 100, 100)][::2])
    np.testing.assert_array_equal(got_a, sobol_normals(5, 0, 7, 0, 200))
    assert a._position == 200 and b._position == 50


def test_each_coordinate_is_a_balanced_normal_sample():
    # A scrambled net of 2**k points puts exactly one point in each of the 2**k equal
    # intervals of every coordinate, so sorted Phi(z) fall one per interval.
    from scipy.special import ndtr

    z = sobol_normals(11, 0, 20, 0, 4096)
    cells = np.floor(np.sort(ndtr(z), axis=0) * 4096)
    np.testing.assert_array_equal(cells, np.arange(4096)[:, None] * np.ones((1, 20)))


def test_replicates_integrate_better_than_plain_monte_carlo():
    # E[exp(a . z)] = exp(|a|^2 / 2) over the first three coordinates.
    a = np.array([0.3, 0.2, 0.1])
    exact = math.exp(a @ a / 2)
    size, replicates = 4096, 16
    estimates = np.array(
        [np.exp(sobol_normals(3, r, 3, 0, size) @ a).mean() for r in range(replicates)]
    )
    mean = estimates.mean()
    se = estimates.std(ddof=1) / math.sqrt(replicates)
    assert abs(mean - exact) < 4 * se
    mc_se = math.sqrt((math.exp(2 * (a @ a)) - exact**2) / (size * replicates))
    assert se < mc_se / 5  # measured: 98x smaller at this seed and size


def test_replicate_size_rules():
    assert replicate_size(16 * 4096, 16) == 4096
    for draws in (1_000_000, 16 * 3000, 8):
        with pytest.raises(ValueError, match="power of two"):
            replicate_size(draws, 16)
    with pytest.raises(ValueError, match=r"raise sampling\.replicates"):
        replicate_size(2 * 2**33, 2)
    with pytest.raises(ValueError, match="at most 21,201 normals"):
        sobol_normals(1, 0, 30_000, 0, 4)


def test_replicate_estimate():
    p, se, dof = replicate_estimate(np.array([10, 12, 14, 12]), 100)
    assert p == pytest.approx(0.12) and dof == 3
    assert se == pytest.approx(np.std([0.10, 0.12, 0.14, 0.12], ddof=1) / 2)


def test_chunks_never_span_replicates():
    settings = RunSettings(draws=4 * 1024, seed=1, chunk_size=1000, method="sobol", replicates=4)
    bounds = list(chunk_bounds(settings))
    assert bounds[0] == (0, 1000) and bounds[1] == (1000, 1024) and bounds[2] == (1024, 2024)
    assert bounds[-1][1] == 4096
    assert all(a // 1024 == (b - 1) // 1024 for a, b in bounds)
    assert list(chunk_bounds(settings, 2048)) == [b for b in bounds if b[0] >= 2048]


@pytest.mark.parametrize("chunk_size", [100, 256])  # within and at the 256-draw replicates
@pytest.mark.parametrize("threads", [1, 2])
def test_sobol_runs_are_bit_identical_for_any_chunking_and_threads(
    sobol_config, chunk_size, threads
):
    settings = settings_from(sobol_config, draws=8 * 512, seed=3, chunk_size=chunk_size)
    reference = simulate(sobol_config, settings_from(sobol_config, 8 * 512, 3, 8 * 512))
    ds = simulate(sobol_config, RunSettings(**{**settings.__dict__, "threads": threads}))
    np.testing.assert_array_equal(ds["value"].values, reference["value"].values)
    np.testing.assert_array_equal(ds["inputs"].values, reference["inputs"].values)
    assert ds.attrs["sampling_method"] == "sobol"


@pytest.fixture(scope="module")
def runs(tmp_path_factory, sobol_config):
    out = tmp_path_factory.mktemp("sobol")
    mc = load_config()
    run_to_directory(mc, settings_from(mc, draws=2**16, seed=5), out / "mc")
    qmc = settings_from(sobol_config, draws=16 * 4096, seed=5)
    run_to_directory(sobol_config, qmc, out / "qmc")
    return {name: json.loads((out / name / "summary.json").read_text()) for name in ("mc", "qmc")}


def test_sobol_reproduces_monte_carlo_probabilities_within_joint_error(runs):
    mc = {p["id"]: p for p in runs["mc"]["predictions"]}
    for p in runs["qmc"]["predictions"]:
        joint = math.hypot(p["std_error"], mc[p["id"]]["std_error"])
        assert abs(p["probability"] - mc[p["id"]]["probability"]) < 4 * joint, p["id"]


def test_sobol_errors_come_from_replicates(runs):
    rows = runs["qmc"]["predictions"]
    assert runs["qmc"]["run"]["sampling_method"] == "sobol"
    assert runs["qmc"]["run"]["replicates"] == 16
    for p in rows:
        assert p["std_error_method"].startswith("replicates (16")
        low, high = p["ci95"]
        assert low <= p["probability"] <= high
        assert p["ci95_simultaneous"][0] <= low and high <= p["ci95_simultaneous"][1]
    # P1 depends smoothly on a few inputs: its replicate error is well below the binomial one.
    p1 = next(p for p in rows if p["id"] == "P1")
    binomial = math.sqrt(p1["probability"] * (1 - p1["probability"]) / p1["draws"])
    assert p1["std_error"] < binomial / 2  # measured: 4.5x smaller (0.00033 against 0.0015)


def test_sobol_misuse_exits_2(tmp_path, capsys):
    args = ["run", "--set", SOBOL[0], "--no-report", "--quiet"]
    assert main([*args, "--draws", "1000000", "--out", str(tmp_path / "a")]) == 2
    err = capsys.readouterr().err
    assert "power of two" in err and "16 x 65,536 = 1,048,576" in err
    assert main([*args, "--target-se", "0.01", "--out", str(tmp_path / "b")]) == 2
    assert "--target-se" in capsys.readouterr().err
    assert main(["validate", "--set", 'sampling.method="halton"']) == 2
    assert "sampling.method" in capsys.readouterr().err
    assert main(["validate", "--set", SOBOL[0]]) == 2  # the file's 1,000,000 draws
    assert "sampling.draws (or --draws)" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())
    with pytest.raises(UsageError, match="power of two"):
        RunSettings(draws=1000, seed=1, chunk_size=10, method="sobol")


def test_whatif_and_pairing_need_plain_monte_carlo(tmp_path, capsys, sobol_config):
    from mcinfra.runs.compare import compare_runs

    run = tmp_path / "qmc"
    args = ["--set", SOBOL[0], "--draws", "2048", "--no-report", "--quiet"]
    assert main(["run", *args, "--out", str(run)]) == 0
    assert "95 % Student-t interval over the Sobol' replicates" in capsys.readouterr().out
    assert main(["run", *args, "--out", str(tmp_path / "qmc2")]) == 0
    assert main(["whatif", str(run), "--given", 'input("offering.network.cagr") > 0.3']) == 2
    assert "plain Monte Carlo" in capsys.readouterr().err
    differences = compare_runs([run, tmp_path / "qmc2"])["differences"]
    assert differences and not any(d["paired"] for d in differences)
    assert all(d["difference"] == 0 for d in differences)
    assert main(["report", str(run)]) == 0
    assert "scrambled Sobol' points in 16 independent replicates" in html.unescape(
        (run / "report.html").read_text()
    )


def test_threads_do_not_change_sobol_normals():
    one = sobol_normals(9, 1, 30, 77, 3 * 4096 + 5)
    np.testing.assert_array_equal(one, sobol_normals(9, 1, 30, 77, 3 * 4096 + 5, workers=2))


def _module_state() -> dict:
    """Pickled module-level containers of every loaded mcinfra module outside report/."""
    import pickle
    import sys

    state = {}
    for name, module in list(sys.modules.items()):
        if name.split(".")[0] != "mcinfra" or name.startswith("mcinfra.report"):
            continue
        for attr, value in vars(module).items():
            if not attr.startswith("__") and isinstance(value, dict | list | set | np.ndarray):
                state[(name, attr)] = pickle.dumps(value)
    return state


def test_runs_leave_no_module_level_state(sobol_config):
    # Each run owns what it keeps (the Sobol' engines included): no module-level container
    # changes when a run is made.
    settings = settings_from(sobol_config, draws=4 * 1024, chunk_size=1000)
    simulate(sobol_config, settings)  # loads every module a run uses
    before = _module_state()
    simulate(sobol_config, settings_from(sobol_config, draws=4 * 512, seed=8, chunk_size=300))
    simulate(load_config(), RunSettings(draws=3000, seed=2, chunk_size=700))
    assert _module_state() == before
