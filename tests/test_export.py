"""``mcinfra export``: a run's draws as a SIPmath 3.0 library, trial i = draw i - 1."""

from __future__ import annotations

import json
import math
import os

import numpy as np
import pytest
import xarray as xr

from mcinfra import load_config
from mcinfra.cli import main
from mcinfra.config.structure import list_inputs
from mcinfra.runs import export
from mcinfra.runs.diagnostics import prediction_indicators
from mcinfra.sipmath.library import ArraySip
from mcinfra.sipmath.reading import read_library
from mcinfra.sipmath.trials import library_trials

DRAWS = 3000


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("export") / "run"
    args = ["run", "--draws", str(DRAWS), "--seed", "11", "--chunk-size", "700", "--out"]
    assert main([*args, str(out), "--save-draws", "--quiet", "--no-report"]) == 0
    return out


@pytest.fixture(scope="module")
def draws(run_dir):
    with xr.open_zarr(run_dir / "draws.zarr") as saved:
        return saved.load()


def uncertain_inputs() -> list[str]:
    return [i.name for i in list_inputs(load_config().config) if not i.spec.is_fixed]


def test_every_sip_is_the_runs_draws_in_draw_order(run_dir, draws, tmp_path, capsys):
    out = tmp_path / "run.SIPmath"
    assert (
        main(["export", str(run_dir), "--format", "sipmath", "--predictions", "--out", str(out)])
        == 0
    )
    assert f"wrote {out} (" in capsys.readouterr().out
    library = read_library(out)
    segments = ["total", "compute", "memory", "network", "storage", "software"]
    segments += ["hyperscale_cloud", "enterprise_cloud", "enterprise_on_prem", "public_sector"]
    segments += ["north_america", "europe", "asia_pacific", "rest_of_world"]
    config = load_config().config
    predictions = list(config.predictions)
    assert [s.name for s in library.sips] == (
        uncertain_inputs() + [f"{label}[2030]" for label in segments] + predictions
    )
    for sip in library.sips:
        assert isinstance(sip, ArraySip) and sip.values.size == DRAWS  # a run under the cap
    for name in uncertain_inputs():
        expected = draws["inputs"].sel(input=name).values
        assert library.sip(name).values.tobytes() == expected.tobytes(), name
    for label in segments:
        expected = draws["value"].sel(segment=label, year=2030).values
        assert library.sip(f"{label}[2030]").values.tobytes() == expected.tobytes(), label
    for name, holds in prediction_indicators(draws, config).items():
        np.testing.assert_array_equal(library.sip(name).values, holds.astype(float))
        assert set(np.unique(library.sip(name).values)) <= {0.0, 1.0}
    # trial i is draw i - 1
    trial = library_trials(library, ["total.cagr"], 5, 1)[0, 0]
    assert trial == draws["inputs"].sel(input="total.cagr").values[4]


def test_chosen_trials_series_and_years(run_dir, draws, tmp_path):
    out = tmp_path / "few.SIPmath"
    args = ["export", str(run_dir), "--trials", "1000", "--series", "total, network"]
    assert main([*args, "--years", "2026,2030", "--out", str(out)]) == 0
    library = read_library(out)
    cells = ["total[2026]", "total[2030]", "network[2026]", "network[2030]"]
    assert [s.name for s in library.sips] == [*uncertain_inputs(), *cells]
    expected = draws["value"].sel(segment="network", year=2026).values[:1000]
    assert library.sip("network[2026]").values.tobytes() == expected.tobytes()


def test_the_default_caps_the_trials(run_dir, draws, tmp_path, monkeypatch):
    monkeypatch.setattr(export, "DEFAULT_TRIALS", 500)
    library, trials = export.export_sipmath(run_dir, tmp_path / "capped.SIPmath", series="total")
    assert trials == 500 and library.sips[-1].name == "total[2030]"
    expected = draws["value"].sel(segment="total", year=2030).values[:500]
    assert read_library(tmp_path / "capped.SIPmath").sip("total[2030]").values.tobytes() == (
        expected.tobytes()
    )


def test_metadata_and_provenance(run_dir, tmp_path):
    out = tmp_path / "meta.SIPmath"
    assert (
        main(["export", str(run_dir), "--trials", "999", "--series", "total", "--out", str(out)])
        == 0
    )
    document = json.loads(out.read_text())
    assert list(document) == [
        "name",
        "objectType",
        "libraryType",
        "dateCreated",
        "version",
        "provenance",
        "globalVariables",
        "U01",
        "sips",
    ]
    assert (document["objectType"], document["libraryType"]) == ("sipModel", "SIPmath_3_0")
    assert document["U01"] == {
        "rng": [{"name": "index", "function": "Index", "arguments": {"counter": "PM_Index"}}],
        "copula": [],
    }
    summary = json.loads((run_dir / "summary.json").read_text())
    provenance = document["provenance"]
    assert provenance.startswith("mcinfra ")
    assert f"config sha256 {summary['run']['config_sha256']}" in provenance
    assert "seed 11;" in provenance and f"{DRAWS} draws" in provenance
    sip = document["sips"][-1]
    assert sip["name"] == "total[2030]"
    assert sip["ref"] == {"source": "rng", "name": "index"}
    assert sip["function"] == "SIP_Array" and sip["arguments"]["type"] == "array"
    values = np.array(sip["arguments"]["value"])
    metadata = sip["metadata"]
    assert list(metadata) == ["min", "mean", "max", *(f"P{p}" for p in range(5, 100, 5))]
    assert metadata["min"] == values.min() and metadata["max"] == values.max()
    assert metadata["mean"] == math.fsum(values) / 999
    for p in range(5, 100, 5):
        assert metadata[f"P{p}"] == np.percentile(values, p)
    # linear interpolation between order statistics (Excel's PERCENTILE.INC)
    ordered = np.sort(values)
    position = 0.05 * 998
    low = math.floor(position)
    assert metadata["P5"] == pytest.approx(
        ordered[low] + (position - low) * (ordered[low + 1] - ordered[low]), rel=1e-15
    )


def test_force_replaces_an_existing_library(run_dir, tmp_path):
    out = tmp_path / "again.SIPmath"
    out.write_text("old")
    assert main(["export", str(run_dir), "--trials", "10", "--out", str(out), "--force"]) == 0
    assert read_library(out).sip("total[2030]").values.size == 10


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--trials", "3001"], "--trials 3,001 is more than the run's 3,000 draws"),
        (
            ["--series", "netwrk"],
            "--series: no series named 'netwrk' in the run (did you mean 'network'?); its "
            "series are total, compute,",
        ),
        (["--series", " , "], "--series needs at least one value, got ' , '"),
        (["--years", "2031"], "--years: 2031 is not a year of the run (2024-2030)"),
        (["--years", "2030,next"], "--years: expected a year such as 2030, got 'next'"),
    ],
)
def test_bad_options_exit_2_and_write_nothing(run_dir, tmp_path, capsys, args, message):
    assert main(["export", str(run_dir), *args, "--out", str(tmp_path / "lib.SIPmath")]) == 2
    assert message in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--trials", "0"], "--trials: expected a positive whole number, got '0'"),
        (["--format", "csv"], "argument --format: invalid choice: 'csv'"),
    ],
)
def test_malformed_options_exit_2_and_write_nothing(run_dir, tmp_path, capsys, args, message):
    with pytest.raises(SystemExit) as exited:
        main(["export", str(run_dir), *args, "--out", str(tmp_path / "lib.SIPmath")])
    assert exited.value.code == 2
    assert message in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_bad_targets_exit_2_and_write_nothing(run_dir, tmp_path, capsys):
    existing = tmp_path / "there.SIPmath"
    existing.write_text("keep")
    assert main(["export", str(run_dir), "--out", str(existing)]) == 2
    assert f"--out {existing} already exists; use --force to replace it" in capsys.readouterr().err
    assert existing.read_text() == "keep"
    assert main(["export", str(run_dir), "--out", str(tmp_path)]) == 2
    assert "is a directory; name the library file to write" in capsys.readouterr().err
    missing = tmp_path / "no" / "lib.SIPmath"
    assert main(["export", str(run_dir), "--out", str(missing)]) == 2
    assert f"--out {missing}: no directory {missing.parent}" in capsys.readouterr().err
    assert main(["export", str(tmp_path), "--out", str(tmp_path / "x.SIPmath")]) == 2
    assert f"{tmp_path} is not a finished mcinfra run" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["there.SIPmath"]


def test_sobol_runs_export_their_own_points(tmp_path):
    from mcinfra.sampling.engine import settings_from, simulate

    run = tmp_path / "sobol"
    args = ["run", "--draws", "1024", "--seed", "3", "--chunk-size", "100", "--quiet"]
    assert main([*args, "--set", 'sampling.method="sobol"', "--no-report", "--out", str(run)]) == 0
    out = tmp_path / "sobol.SIPmath"
    assert (
        main(["export", str(run), "--trials", "150", "--series", "total", "--out", str(out)]) == 0
    )
    library = read_library(out)
    assert "(sobol)" in library.provenance
    loaded = load_config(overrides=('sampling.method="sobol"',))
    direct = simulate(loaded, settings_from(loaded, draws=1024, seed=3, chunk_size=1024))
    expected = direct["value"].sel(segment="total", year=2030).values[:150]
    assert library.sip("total[2030]").values.tobytes() == expected.tobytes()


def test_a_failed_write_leaves_the_file_as_it_was(tmp_path, monkeypatch):
    from mcinfra.io import run_directory

    target = tmp_path / "lib.SIPmath"
    target.write_text("before")

    def broken(source, destination):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(run_directory.os, "replace", broken)
    with pytest.raises(OSError, match="No space left"):
        run_directory.write_text_atomically(target, "after")
    assert target.read_text() == "before"
    assert [p.name for p in tmp_path.iterdir()] == ["lib.SIPmath"]
    monkeypatch.undo()
    run_directory.write_text_atomically(target, "after")
    assert target.read_text() == "after"
    umask = os.umask(0)
    os.umask(umask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~umask  # as open() makes it, not mkstemp
