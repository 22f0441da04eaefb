"""Inputs taken from SIPmath 3.0 libraries: ``dist = "sip"``.

A library written by hand in the standard's layout is checked against an independent
implementation of its recipes (integer HDR_2_0, a 2 x 2 Cholesky factor, the metalog
formula, the normal distribution of :mod:`statistics`); a run's own exported library is
imported back; runs with SIP inputs are reproducible across threads, chunks, resume and
dask; and every bad SIP input is refused with exit 2, naming the key path and the library.
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path
from statistics import NormalDist

import numpy as np
import pytest

from conftest import Z, interrupt_at
from mcinfra.cli import main
from mcinfra.config import load_config, parse_config
from mcinfra.sampling.engine import settings_from, simulate

RHO = 0.6
PRICES = [3.0, 1.0, 4.0, 1.0, 5.0, 9.0, 2.0, 6.0, 5.0, 3.0, 5.0, 8.0]
REVENUE = [4.6, 0.1, 0.02]  # lower bound 0
GROWTH = [0.1, 0.5, 0.05, 0.03]  # bounds -0.5 and 0.9
UNITS = [2.0, 0.3]  # unbounded
MARGIN = [-1.5, 0.2, 0.05]  # upper bound 1


def _hdr(name: str, entity: int, var_id: int, seed3: int, seed4: int) -> dict:
    return {
        "name": name,
        "function": "HDR_2_0",
        "arguments": {
            "counter": "PM_Index",
            "entity": entity,
            "varId": var_id,
            "seed3": seed3,
            "seed4": seed4,
        },
    }


def hand_library() -> dict:
    """A library as another tool writes it: the matrix's rows listed out of column order.

    Two SIPs share the stream hdr3, as SIPs of one variable in different units would.
    """
    return {
        "name": "Hand-written",
        "objectType": "sipModel",
        "libraryType": "SIPmath_3_0",
        "dateCreated": "2026-12-01",
        "provenance": "written by hand",
        "globalVariables": [
            {
                "name": "corr",
                "value": {
                    "columns": ["growth", "revenue"],
                    "rows": ["revenue", "growth"],
                    "matrix": [
                        {"row": "revenue", "col": "revenue", "value": 1},
                        {"row": "revenue", "col": "growth", "value": RHO},
                        {"row": "growth", "col": "growth", "value": 1},
                    ],
                },
            }
        ],
        "U01": {
            "rng": [
                _hdr("hdr1", 1, 1, 0, 0),
                _hdr("hdr2", 1, 2, 0, 0),
                _hdr("hdr3", 7, 3, 11, 5),
                {"name": "index", "function": "Index", "arguments": {"counter": "PM_Index"}},
            ],
            "copula": [
                {
                    "name": "Gaussian",
                    "function": "GaussianCopula",
                    "arguments": {
                        "correlationMatrix": {"type": "globalVariables", "value": "corr"},
                        "rng": ["hdr1", "hdr2"],
                    },
                    "copulaLayer": ["cl1", "cl2"],
                }
            ],
        },
        "sips": [
            {
                "name": "Revenue",
                "ref": {"source": "copula", "name": "Gaussian", "copulaLayer": "cl1"},
                "function": "Metalog_1_0",
                "arguments": {"aCoefficients": REVENUE, "lowerBound": 0},
            },
            {
                "name": "Growth",
                "ref": {"source": "copula", "name": "Gaussian", "copulaLayer": "cl2"},
                "function": "Metalog_1_0",
                "arguments": {"aCoefficients": GROWTH, "lowerBound": -0.5, "upperBound": 0.9},
            },
            {
                "name": "Units",
                "ref": {"source": "rng", "name": "hdr3"},
                "function": "Metalog_1_0",
                "arguments": {"aCoefficients": UNITS},
            },
            {
                "name": "Margin",
                "ref": {"source": "rng", "name": "hdr3"},
                "function": "Metalog_1_0",
                "arguments": {"aCoefficients": MARGIN, "upperBound": 1},
            },
            {
                "name": "Price",
                "ref": {"source": "rng", "name": "index"},
                "function": "SIP_Array",
                "arguments": {"type": "array", "value": PRICES},
            },
        ],
    }


CONFIG = """
[model]
name = "hand"
start_year = 2024
end_year = 2030

[sampling]
draws = 12
seed = 7

[total]
base = { dist = "sip", library = "LIB", name = "Revenue" }
cagr = { dist = "sip", library = "LIB", name = "Growth" }
shock = { sd = 0.0, phi = 0.0 }

[parameters]
units = { dist = "sip", library = "LIB", name = "Units" }
price = { dist = "sip", library = "LIB", name = "Price" }
margin = { dist = "sip", library = "LIB", name = "Margin" }
"""


@pytest.fixture
def hand(tmp_path) -> Path:
    """The hand-written library beside a config that uses all four of its SIPs."""
    (tmp_path / "hand.SIPmath").write_text(json.dumps(hand_library(), indent=1))
    config = tmp_path / "hand.toml"
    config.write_text(CONFIG.replace("LIB", "hand.SIPmath"))
    return config


# An independent implementation of the standard's recipes ----------------------------------


def hdr(counter: int, entity: int, var_id: int, seed3: int, seed4: int) -> float:
    """HDR_2_0 as the standard writes it, in Python's unbounded integers."""
    s1 = (
        counter * 2499997 + var_id * 1800451 + entity * 2000371 + seed3 * 1796777 + seed4 * 2299603
    ) % 7450589
    s2 = (
        counter * 2246527 + var_id * 2399993 + entity * 2100869 + seed3 * 1918303 + seed4 * 1624729
    ) % 7450987
    t1 = ((999999999999989 % (s1 * 4658 + 7450581)) * 383) % 99991
    t2 = ((999999999999989 % (s2 * 7580 + 7560584)) * 17669) % 7440893
    return (((t1 * 7440893 + t2) * 1343) % 2**32 + 0.5) / 2**32


def metalog(a: list[float], y: float, lower: float | None = None, upper: float | None = None):
    """Keelin's metalog quantile function, term by term, and its bounded forms."""
    logit, c = math.log(y / (1 - y)), y - 0.5
    basis = [1.0, logit, c * logit, c, c * c, c * c * logit]
    m = sum(coefficient * b for coefficient, b in zip(a, basis, strict=False))
    if lower is not None and upper is not None:
        return (lower + upper * math.exp(m)) / (1 + math.exp(m))
    if lower is not None:
        return lower + math.exp(m)
    if upper is not None:
        return upper - math.exp(-m)
    return m


def expected_draw(d: int) -> dict[str, tuple[float, float]]:
    """Draw d's inputs: (value, rank) of each SIP input, from trial d + 1."""
    normal = NormalDist()
    counter = d + 1
    z1 = normal.inv_cdf(hdr(counter, 1, 1, 0, 0))
    z2 = normal.inv_cdf(hdr(counter, 1, 2, 0, 0))
    # The Cholesky factor of [[1, rho], [rho, 1]] in the matrix's row order (revenue first).
    x_revenue, x_growth = z1, RHO * z1 + math.sqrt(1 - RHO * RHO) * z2
    u_revenue, u_growth = normal.cdf(x_revenue), normal.cdf(x_growth)
    u_units = hdr(counter, 7, 3, 11, 5)
    price = PRICES[d]
    rank = (sum(p < price for p in PRICES) + 0.5 * sum(p == price for p in PRICES)) / len(PRICES)
    return {
        "total.base": (metalog(REVENUE, u_revenue, lower=0.0), u_revenue),
        "total.cagr": (metalog(GROWTH, u_growth, -0.5, 0.9), u_growth),
        "units": (metalog(UNITS, u_units), u_units),
        "margin": (metalog(MARGIN, u_units, upper=1.0), u_units),
        "price": (price, rank),
    }


def test_draws_0_to_2_follow_the_standard_for_a_library_written_by_hand(hand):
    loaded = load_config(hand)
    draws = simulate(loaded, settings_from(loaded, draws=12, chunk_size=5))
    for d in range(3):
        for name, (value, rank) in expected_draw(d).items():
            got = draws["inputs"].sel(input=name).values[d]
            assert got == pytest.approx(value, rel=1e-12, abs=1e-14), (d, name)
            got_rank = draws["input_rank"].sel(input=name).values[d]
            assert got_rank == pytest.approx(rank, rel=1e-12), (d, name)
    # The total's first year is its base, and the stored array is replayed in order.
    assert np.array_equal(draws["value"].sel(segment="total", year=2024).values,
                          draws["inputs"].sel(input="total.base").values)  # fmt: skip
    assert draws["inputs"].sel(input="price").values.tolist() == PRICES


def test_sip_inputs_after_a_tabulated_input_read_their_own_values(hand):
    # A tabulated family (pert) among the inputs before the SIP inputs.
    pert = '{ dist = "pert", min = 0.05, mode = 0.1, max = 0.2 }'
    text = hand.read_text().replace(
        'cagr = { dist = "sip", library = "hand.SIPmath", name = "Growth" }', f"cagr = {pert}"
    )
    hand.write_text(text)
    loaded = load_config(hand)
    draws = simulate(loaded, settings_from(loaded, draws=12, chunk_size=12))
    for d in range(12):
        for name in ("units", "price"):
            value, _ = expected_draw(d)[name]
            got = draws["inputs"].sel(input=name).values[d]
            assert got == pytest.approx(value, rel=1e-12), (d, name)


def test_the_library_path_is_relative_to_the_config_and_recorded_absolute(hand, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    loaded = load_config(hand)
    assert f'library = "{tmp_path / "hand.SIPmath"}"' in loaded.text
    # The recorded text loads from anywhere, and to the same inputs.
    again = parse_config(loaded.text, origin=str(elsewhere / "config.toml"))
    first = simulate(loaded, settings_from(loaded, draws=12))
    second = simulate(again, settings_from(again, draws=12))
    assert np.array_equal(first["inputs"].values, second["inputs"].values)
    assert loaded.config.total.base.describe() == (
        f"sip(library='{tmp_path / 'hand.SIPmath'}', name='Revenue')"
    )


def test_a_scenario_finds_the_library_beside_the_config_it_extends(hand, tmp_path):
    scenarios = tmp_path / "scenarios"
    scenarios.mkdir()
    scenario = scenarios / "low.toml"
    scenario.write_text('extends = "../hand.toml"\n[total.cagr]\nname = "Revenue"\n')
    loaded = load_config(scenario)
    assert loaded.config.total.base.library == str(tmp_path / "hand.SIPmath")
    assert loaded.config.total.cagr.library == str(tmp_path / "hand.SIPmath")
    assert loaded.config.total.cagr.name == "Revenue"


def test_a_config_naming_its_libraries_by_absolute_paths_keeps_its_text(hand, tmp_path):
    config = tmp_path / "absolute.toml"
    config.write_text(CONFIG.replace("LIB", str(tmp_path / "hand.SIPmath")))
    assert load_config(config).text == config.read_text()


def _hand_run_settings(loaded, **changes):
    return settings_from(loaded, **({"draws": 12, "chunk_size": 12} | changes))


def test_sip_inputs_are_reproducible_across_threads_and_chunks(hand):
    loaded = load_config(hand)
    reference = simulate(loaded, _hand_run_settings(loaded, threads=1))
    for changes in ({"threads": 2}, {"chunk_size": 5}, {"chunk_size": 1, "threads": 2}):
        other = simulate(loaded, _hand_run_settings(loaded, **changes))
        for variable in ("value", "inputs", "input_rank"):
            assert np.array_equal(reference[variable].values, other[variable].values), changes


def test_a_sobol_run_ignores_its_coordinates_for_sip_inputs(hand):
    loaded = load_config(hand)
    sobol = load_config(hand, ('sampling.method="sobol"', "sampling.replicates=2"))
    mc = simulate(loaded, settings_from(loaded, draws=8, chunk_size=3))
    qmc = simulate(sobol, settings_from(sobol, draws=8, chunk_size=3))
    assert np.array_equal(mc["inputs"].values, qmc["inputs"].values)


def test_a_run_longer_than_a_stored_array_is_refused(hand, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["run", str(hand), "--draws", "13", "--quiet", "--out", str(out)]) == 2
    assert capsys.readouterr().err == (
        f"mcinfra: error: parameters.price: SIP 'Price' of the SIPmath library "
        f"{tmp_path / 'hand.SIPmath'} holds 12 trials, fewer than the run's 13 draws "
        "(draw d takes trial d + 1); run at most 12 draws\n"
    )
    assert not out.exists()
    assert not list(tmp_path.glob(".out*"))


def test_whatif_and_resume_read_the_library_of_the_recorded_config(hand, tmp_path):
    from mcinfra.runs.pipeline import run_to_directory

    loaded = load_config(hand)
    settings = settings_from(loaded, draws=12, chunk_size=3)
    whole = tmp_path / "whole"
    run_to_directory(loaded, settings, whole, quantiles="exact")

    out = tmp_path / "resumed"
    with pytest.raises(KeyboardInterrupt):
        run_to_directory(
            loaded, settings, out, quantiles="exact", progress=interrupt_at(6), checkpoint_seconds=0
        )
    assert main(["run", "--resume", str(out), "--quiet"]) == 0
    for name in ("predictions.csv", "sensitivity.csv", "quantiles.csv"):
        assert (whole / name).read_bytes() == (out / name).read_bytes(), name
    assert main(["whatif", str(whole), "--given", "total[2030] > 300"]) == 0


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _edit_library(library: Path) -> None:
    """Change one stored trial of the hand-written library (same SIPs, other draws)."""
    data = json.loads(library.read_text())
    data["sips"][-1]["arguments"]["value"] = [*PRICES[:-1], 7.0]
    library.write_text(json.dumps(data, indent=1))


def test_a_run_records_the_hash_of_each_library_it_read(hand, tmp_path):
    library = (tmp_path / "hand.SIPmath").resolve()
    assert load_config(hand).libraries == ((str(library), _sha256(library)),)
    assert load_config().libraries == ()
    out = tmp_path / "out"
    assert main(["run", str(hand), "--no-report", "--quiet", "--out", str(out)]) == 0
    run = json.loads((out / "summary.json").read_text())["run"]
    assert run["sip_libraries"] == [{"path": str(library), "sha256": _sha256(library)}]


def test_a_changed_library_is_refused_by_what_reads_the_run_again(hand, tmp_path, capsys):
    from mcinfra.runs.pipeline import run_to_directory

    library = (tmp_path / "hand.SIPmath").resolve()
    recorded = _sha256(library)
    loaded = load_config(hand)
    settings = settings_from(loaded, draws=12, chunk_size=3)
    whole, out = tmp_path / "whole", tmp_path / "resumed"
    run_to_directory(loaded, settings, whole, quantiles="exact")
    with pytest.raises(KeyboardInterrupt):
        run_to_directory(
            loaded, settings, out, quantiles="exact", progress=interrupt_at(6), checkpoint_seconds=0
        )
    original = library.read_bytes()
    _edit_library(library)
    capsys.readouterr()
    changed = (
        f"the SIPmath library {library} is not the file the run read (sha256 {recorded[:16]}"
        f"... recorded, {_sha256(library)[:16]}... here); restore the file the run read, or "
        "start a new run\n"
    )
    observe = ["--observe", "total[2024] ~ normal(mean=120, sd=5)"]
    for args, what in [
        (["run", "--resume", str(out), "--quiet"], f"resuming {out}"),
        (["whatif", str(whole), "--given", "total[2030] > 300"], str(whole)),
        (["update", str(whole), *observe, "--out", str(tmp_path / "updated")], str(whole)),
    ]:
        assert main(args) == 2, args
        assert capsys.readouterr().err == f"mcinfra: error: {what}: {changed}", args
    assert not out.exists() and not (tmp_path / "updated").exists()
    library.write_bytes(original)  # the file the run read: the run goes on as before
    assert main(["run", "--resume", str(out), "--quiet"]) == 0
    for name in ("predictions.csv", "sensitivity.csv", "quantiles.csv"):
        assert (whole / name).read_bytes() == (out / name).read_bytes(), name


def test_a_dask_worker_refuses_a_library_other_than_the_clients(hand, tmp_path):
    from mcinfra.errors import UsageError
    from mcinfra.runs.distributed import WorkerCache

    loaded = load_config(hand)
    _edit_library(tmp_path / "hand.SIPmath")
    with pytest.raises(UsageError, match=r"dask worker: the SIPmath library .* is not the file"):
        WorkerCache().plan(loaded.text, loaded.origin, loaded.libraries)


def test_saved_draws_hold_the_sip_inputs(hand, tmp_path):
    import xarray as xr

    out = tmp_path / "saved"
    args = ["run", str(hand), "--chunk-size", "5", "--save-draws", "--no-report", "--quiet"]
    assert main([*args, "--out", str(out)]) == 0
    loaded = load_config(hand)
    drawn = simulate(loaded, settings_from(loaded, draws=12))
    with xr.open_zarr(out / "draws.zarr") as saved:
        for variable in ("inputs", "input_rank", "value"):
            assert np.array_equal(saved[variable].values, drawn[variable].values), variable


def test_an_update_re_streams_the_sip_inputs_with_their_library_correlation(hand, tmp_path):
    import csv

    text = hand.read_text().replace(
        'price = { dist = "sip", library = "hand.SIPmath", name = "Price" }\n', ""
    )
    hand.write_text(text)
    run, updated = tmp_path / "run", tmp_path / "updated"
    assert (
        main(["run", str(hand), "--draws", "2000", "--no-report", "--quiet", "--out", str(run)])
        == 0
    )
    observe = "total[2024] ~ normal(mean=120, sd=5)"
    assert main(["update", str(run), "--observe", observe, "--out", str(updated)]) == 0
    lines = (updated / "inputs.csv").read_text().splitlines()
    rows = {r["input"]: r for r in csv.DictReader(lines)}
    # Conjugate normal on the base's scale: about 118.5 (prior median 99.5, sd about 18).
    assert 115 < float(rows["total.base"]["posterior_median"]) < 122
    # The library correlates growth with revenue (0.6): observing revenue moves growth too.
    growth = rows["total.cagr"]
    assert float(growth["posterior_median"]) > float(growth["prior_median"]) + 0.1


def test_sip_inputs_run_the_same_on_a_dask_cluster(hand, tmp_path, two_worker_client):
    from mcinfra.runs.pipeline import run_to_directory

    loaded = load_config(hand)
    settings = settings_from(loaded, draws=12, chunk_size=4)
    local, remote = tmp_path / "local", tmp_path / "remote"
    run_to_directory(loaded, settings, local, quantiles="exact")
    run_to_directory(loaded, settings, remote, quantiles="exact", client=two_worker_client)
    for name in ("predictions.csv", "sensitivity.csv", "quantiles.csv"):
        assert (local / name).read_bytes() == (remote / name).read_bytes(), name


# Export, then import ----------------------------------------------------------------------

EXPORTED = ("total.base", "total.cagr", "offering.storage.cagr", "custom_silicon.logit_rate")


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """A default run of 4,000 draws and its library exported with --metalog."""
    folder = tmp_path_factory.mktemp("exported")
    run = folder / "run"
    assert main(["run", "--draws", "4000", "--quiet", "--no-report", "--out", str(run)]) == 0
    library = folder / "run.SIPmath"
    assert main(["export", str(run), "--metalog", "--out", str(library)]) == 0
    return run, library


def _importing(library: Path, names: dict[str, str]) -> tuple[str, ...]:
    """--set edits replacing each input by the SIP of the library named after it."""
    return tuple(
        f'{name}={{ dist = "sip", library = "{library}", name = "{sip}" }}'
        for name, sip in names.items()
    )


def test_stored_trials_imported_back_are_the_run_draws(exported):
    _, library = exported
    default = load_config()
    original = simulate(default, settings_from(default, draws=4000))
    loaded = load_config(None, _importing(library, {name: name for name in EXPORTED}))
    imported = simulate(loaded, settings_from(loaded, draws=4000, chunk_size=999))
    for name in EXPORTED:
        assert np.array_equal(
            imported["inputs"].sel(input=name).values, original["inputs"].sel(input=name).values
        ), name


def test_metalog_sips_imported_back_keep_the_inputs_marginals(exported):
    _, library = exported
    document = json.loads(library.read_text())
    fit_error = {
        s["name"]: s["metadata"]["fitMaxError"]
        for s in document["sips"]
        if s["function"] == "Metalog_1_0"
    }
    default = load_config()
    specs = {info.name: info.spec for info in _inputs(default)}
    names = {name: f"{name}.metalog" for name in EXPORTED}
    loaded = load_config(None, _importing(library, names))
    n = 100_000
    imported = simulate(loaded, settings_from(loaded, draws=n))
    probabilities = np.array([0.05, 0.25, 0.5, 0.75, 0.95])
    for name in EXPORTED:
        spec = specs[name]
        values = np.sort(imported["inputs"].sel(input=name).values)
        at = spec.value_at_score(_scores(probabilities))
        share_below = np.searchsorted(values, at, side="right") / n
        # The imported marginal is the metalog fitted to the input: its CDF at the input's
        # quantiles is p up to the Monte Carlo error and the fit's error times the density.
        allowed = Z * np.sqrt(probabilities * (1 - probabilities) / n)
        allowed += spec.density(at) * fit_error[names[name]] + 1e-12
        assert np.all(np.abs(share_below - probabilities) <= allowed), name


def _scores(probabilities: np.ndarray) -> np.ndarray:
    return np.array([NormalDist().inv_cdf(p) for p in probabilities])


def _inputs(loaded):
    from mcinfra.config.structure import list_inputs

    return list_inputs(loaded.config)


# Refusals ---------------------------------------------------------------------------------


def _refused(tmp_path, capsys, config: Path) -> str:
    out = tmp_path / "out"
    status = main(["run", str(config), "--draws", "10", "--quiet", "--out", str(out)])
    err = capsys.readouterr().err
    assert status == 2, err
    assert not out.exists()
    return err


def _with_library(tmp_path, library: dict | str, config: str = CONFIG) -> Path:
    text = library if isinstance(library, str) else json.dumps(library)
    (tmp_path / "lib.SIPmath").write_text(text)
    path = tmp_path / "c.toml"
    path.write_text(config.replace("LIB", "lib.SIPmath"))
    return path


def test_a_missing_library_is_refused(tmp_path, capsys):
    path = tmp_path / "c.toml"
    path.write_text(CONFIG.replace("LIB", "missing.SIPmath"))
    err = _refused(tmp_path, capsys, path)
    assert (
        f"  - total.base: SIPmath library {tmp_path / 'missing.SIPmath'}: cannot read it: "
        "No such file or directory\n"
    ) in err
    assert "total.cagr" in err and "parameters.units" in err  # every input named


def test_an_unknown_sip_is_refused_with_a_suggestion(tmp_path, capsys):
    config = CONFIG.replace('name = "Units"', 'name = "Unit"')
    err = _refused(tmp_path, capsys, _with_library(tmp_path, hand_library(), config))
    assert err == (
        f"mcinfra: error: invalid configuration {tmp_path / 'c.toml'}: parameters.units: "
        f"SIPmath library {tmp_path / 'lib.SIPmath'}: sips: no SIP named 'Unit' (did you mean "
        "'Units'?); its SIPs are Revenue, Growth, Units, Margin, Price\n"
    )


def test_an_unsupported_sip_function_is_refused(tmp_path, capsys):
    library = hand_library()
    library["sips"][2]["function"] = "Normal_1_0"
    err = _refused(tmp_path, capsys, _with_library(tmp_path, library))
    assert (
        f"  - parameters.units: SIPmath library {tmp_path / 'lib.SIPmath'}: sips[2].function: "
        'unsupported SIP function "Normal_1_0"; mcinfra evaluates SIP_Array and Metalog_1_0\n'
    ) in err


def test_an_unsupported_random_number_generator_is_refused(tmp_path, capsys):
    library = hand_library()
    library["U01"]["rng"][2]["function"] = "MersenneTwister"
    err = _refused(tmp_path, capsys, _with_library(tmp_path, library))
    assert (
        f"  - total.base: SIPmath library {tmp_path / 'lib.SIPmath'}: U01.rng[2].function: "
        'unsupported random number generator "MersenneTwister"; mcinfra generates HDR_2_0 '
        "and Index\n"
    ) in err


def test_a_malformed_library_is_refused(tmp_path, capsys):
    err = _refused(tmp_path, capsys, _with_library(tmp_path, '{"name": "x", "sips": [}'))
    assert (
        f"  - total.base: SIPmath library {tmp_path / 'lib.SIPmath'}: not valid JSON: "
        "Expecting value (line 1, column 24)\n"
    ) in err


def test_an_infeasible_metalog_sip_is_refused(tmp_path, capsys):
    library = hand_library()
    library["sips"][2]["arguments"]["aCoefficients"] = [2.0, -0.3]
    err = _refused(tmp_path, capsys, _with_library(tmp_path, library))
    assert err == (
        f"mcinfra: error: invalid configuration {tmp_path / 'c.toml'}: parameters.units: "
        f"SIPmath library {tmp_path / 'lib.SIPmath'}: SIP 'Units': its metalog (aCoefficients "
        "[2, -0.3]) is not a distribution: its quantile function is not increasing everywhere "
        "on (0, 1)\n"
    )


def test_a_sip_input_in_the_correlations_is_refused(tmp_path, capsys):
    config = CONFIG + '\n[[correlations]]\nbetween = ["units", "total.cagr"]\nrank = 0.3\n'
    err = _refused(tmp_path, capsys, _with_library(tmp_path, hand_library(), config))
    library = tmp_path / "lib.SIPmath"
    assert err == (
        f"mcinfra: error: invalid configuration {tmp_path / 'c.toml'}:\n"
        f"  - correlations[0].between: 'units' is SIP 'Units' of the SIPmath library {library}: "
        "its dependence on other inputs comes from that library's trials, so it cannot be in "
        "[[correlations]]\n"
        f"  - correlations[0].between: 'total.cagr' is SIP 'Growth' of the SIPmath library "
        f"{library}: its dependence on other inputs comes from that library's trials, so it "
        "cannot be in [[correlations]]\n"
    )


def test_a_sip_cannot_be_a_mixture_component(tmp_path, capsys):
    config = CONFIG.replace(
        'units = { dist = "sip", library = "LIB", name = "Units" }',
        'units = { dist = "mixture", weights = [0.5, 0.5], components = [{ dist = "sip", '
        'library = "LIB", name = "Units" }, { dist = "normal", mean = 2.0, sd = 0.3 }] }',
    )
    err = _refused(tmp_path, capsys, _with_library(tmp_path, hand_library(), config))
    assert (
        "parameters.units: components[0] is a SIP: its trials come from its library, so it "
        "cannot be a component of a mixture; make it an input of its own\n"
    ) in err


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ('{ dist = "sip", name = "Units" }', "parameters.units.library: required key is missing"),
        ('{ dist = "sip", library = "LIB" }', "parameters.units.name: required key is missing"),
        (
            '{ dist = "sip", library = "LIB", name = "Units", sd = 1 }',
            "parameters.units: unknown key 'sd'",
        ),
        ('{ dist = "sip", library = "", name = "Units" }', "parameters.units.library: String"),
    ],
)
def test_malformed_sip_tables_are_refused(tmp_path, capsys, table, message):
    config = CONFIG.replace('{ dist = "sip", library = "LIB", name = "Units" }', table)
    err = _refused(tmp_path, capsys, _with_library(tmp_path, hand_library(), config))
    assert message in err


def test_a_config_read_for_its_structure_names_its_sips_without_reading_them(hand, tmp_path):
    text = load_config(hand).text
    (tmp_path / "hand.SIPmath").unlink()  # a finished run's report needs no library
    spec = parse_config(text, relations=False).config.total.base
    assert not spec.resolved
    assert spec.describe() == f"sip(library='{tmp_path / 'hand.SIPmath'}', name='Revenue')"
    with pytest.raises(ValueError, match="its library has not been read"):
        spec.support()
