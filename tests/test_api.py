"""``mcinfra.run(...)``: the answers of a run in memory, equal to the command line's."""

from __future__ import annotations

import csv
import doctest
import json
import subprocess
import sys

import numpy as np
import pytest

import mcinfra
from conftest import MINIMAL
from mcinfra.cli import main
from mcinfra.errors import ConfigError, McinfraError, UsageError
from mcinfra.runs.summary import RunSummary

FILES = ("predictions.csv", "sensitivity.csv", "quantiles.csv")
DRAWS, SEED, CHUNK = 30_000, 11, 7_000


def _cli(out, *args) -> dict:
    argv = ["run", *args, "--no-report", "--quiet", "--out", str(out)]
    assert main(argv) == 0
    return json.loads((out / "summary.json").read_text())


@pytest.fixture(scope="module")
def result():
    return mcinfra.run(draws=DRAWS, seed=SEED, chunk_size=CHUNK)


@pytest.fixture(scope="module")
def cli_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "run"
    _cli(out, "--draws", str(DRAWS), "--seed", str(SEED), "--chunk-size", str(CHUNK))
    return out


def test_the_api_counts_equal_the_command_lines(result, cli_run, tmp_path, capsys):
    summary = json.loads((cli_run / "summary.json").read_text())
    assert result.predictions["holds"].values.tolist() == [
        p["holds"] for p in summary["predictions"]
    ]
    assert result.summary["predictions"] == summary["predictions"]
    assert result.summary["series"] == summary["series"]
    assert result.summary["crossovers"] == summary["crossovers"]
    written = result.write(tmp_path / "api", report=False)
    assert written == tmp_path / "api"
    for name in FILES:
        assert (written / name).read_bytes() == (cli_run / name).read_bytes(), name
    assert sorted(p.name for p in written.iterdir()) == sorted(p.name for p in cli_run.iterdir())
    assert (written / "config.toml").read_text() == (cli_run / "config.toml").read_text()
    on_disk = json.loads((written / "summary.json").read_text())
    assert list(on_disk) == list(summary)
    assert on_disk["timing"]["total_seconds"] >= on_disk["timing"]["sampling_seconds"]


def test_sketch_quantiles_write_the_command_lines_files(tmp_path):
    args = ("--draws", "12000", "--seed", "5", "--chunk-size", "5000", "--quantiles", "sketch")
    _cli(tmp_path / "cli", *args)
    api = mcinfra.run(draws=12_000, seed=5, chunk_size=5_000, quantiles="sketch")
    written = api.write(tmp_path / "api", report=False)
    for name in FILES:
        assert (written / name).read_bytes() == (tmp_path / "cli" / name).read_bytes(), name


def test_edits_and_stopping_rule_count_as_on_the_command_line(tmp_path):
    edit = "total.cagr.mode=0.18"
    cli = _cli(tmp_path / "cli", "--draws", "4000", "--seed", "2", "--set", edit)
    api = mcinfra.run(draws=4_000, seed=2, set={"total.cagr.mode": 0.18})
    assert api.summary["run"]["config_overrides"] == [edit]
    assert api.summary["predictions"] == cli["predictions"]
    as_strings = mcinfra.run(draws=4_000, seed=2, set=[edit])
    assert as_strings.summary["predictions"] == cli["predictions"]

    args = ("--target-se", "0.02", "--max-draws", "20000", "--chunk-size", "500")
    cli = _cli(tmp_path / "sequential", "--seed", "2", *args)
    api = mcinfra.run(seed=2, target_se=0.02, draws=20_000, chunk_size=500)
    assert api.summary["sequential"] == cli["sequential"]
    assert api.summary["sequential"]["draws_used"] < 20_000
    assert api.summary["predictions"] == cli["predictions"]


def test_a_loaded_config_runs_like_its_file(result):
    loaded = mcinfra.load_config()
    again = mcinfra.run(loaded, draws=DRAWS, seed=SEED, chunk_size=CHUNK)
    assert again.summary["predictions"] == result.summary["predictions"]
    edited = mcinfra.run(loaded, draws=2_000, seed=SEED, set={"total.cagr.mode": 0.18})
    assert edited.summary["run"]["config_overrides"] == ["total.cagr.mode=0.18"]


def test_predictions_dataset_holds_the_csv_numbers(result):
    ds = result.predictions
    rows = result.summary["predictions"]
    assert (
        list(ds["prediction"].values) == [r["id"] for r in rows] == ["P1", "P2", "P3", "P4", "P5"]
    )
    assert set(ds.data_vars) == {
        "probability",
        "std_error",
        "ci95_low",
        "ci95_high",
        "holds",
        "draws",
        "text",
        "expression",
    }
    np.testing.assert_array_equal(ds["probability"], ds["holds"] / ds["draws"])
    assert (ds["draws"] == DRAWS).all()
    assert (ds["ci95_low"] < ds["probability"]).all() and (
        ds["probability"] < ds["ci95_high"]
    ).all()
    assert ds["ci95_low"].values.tolist() == [r["ci95"][0] for r in rows]
    assert ds["text"].sel(prediction="P3").item() == rows[2]["text"]
    assert ds["expression"].sel(prediction="P1").item() == rows[0]["expression"]
    assert ds.attrs["seed"] == SEED and ds.attrs["draws"] == DRAWS


def test_quantiles_dataset_is_quantiles_nc(result, cli_run):
    xr = pytest.importorskip("xarray")
    ds = result.quantiles
    assert ds["value"].dims == ("segment", "year", "quantile")
    assert set(ds.data_vars) == {"value", "ci95_low", "ci95_high"}
    with xr.open_dataset(cli_run / "quantiles.nc", engine="scipy") as written:
        for name in ds.data_vars:
            np.testing.assert_array_equal(ds[name].values, written[name].values)
    total = ds["value"].sel(segment="total", year=2024, quantile=0.5).item()
    assert total == pytest.approx(135.81, rel=0.01)


def test_sensitivity_dataset_is_sensitivity_csv(result, cli_run):
    ds = result.sensitivity
    assert ds["first_order"].dims == ("prediction", "input")
    assert "total.base" in ds["input"].values
    with open(cli_run / "sensitivity.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == ds["first_order"].size  # every (prediction, uncertain input)
    for row in rows:
        cell = ds.sel(prediction=row["prediction"], input=row["input"])
        assert repr(cell["first_order"].item()) == row["first_order_index"]
        assert repr(cell["rank_correlation"].item()) == row["rank_correlation"]
    top = result.summary["predictions"][0]["drivers"][0]
    assert ds["first_order"].sel(prediction="P1").idxmax().item() == top["input"]


def test_crossover_dataset_is_the_summarys(result):
    ds = result.crossover
    rows = result.summary["crossovers"]
    assert (
        list(ds["entity"].values)
        == [r["entity"] for r in rows]
        == [
            "total",
            "cloud",
            "enterprises",
        ]
    )
    assert list(ds["year"].values) == list(range(2024, 2031))
    for row in rows:
        cell = ds.sel(entity=row["entity"])
        assert cell["probability_by_year"].values.tolist() == list(
            row["probability_by_year"].values()
        )
        assert cell["median_year"].item() == row["median_year"]
        assert cell["median_continuous"].item() == row["median_continuous"]
        assert cell["after_horizon"].item() == row["after_horizon"]


def test_a_model_without_predictions_or_split_gives_empty_datasets(write_config):
    result = mcinfra.run(write_config(MINIMAL), draws=2_000)
    assert result.predictions.sizes["prediction"] == 0
    assert result.sensitivity.sizes == {"prediction": 0, "input": 1}
    assert result.crossover.sizes == {"entity": 0, "year": 7}
    assert result.summary["predictions"] == [] and result.summary["crossovers"] == []


def test_summary_round_trips_through_run_summary(result, cli_run):
    summary = result.summary
    assert RunSummary.from_dict(summary).to_dict() == summary
    assert list(RunSummary.from_dict(summary).to_dict()) == list(summary)
    on_disk = json.loads((cli_run / "summary.json").read_text())
    assert json.dumps(RunSummary.from_dict(on_disk).to_dict()) == json.dumps(on_disk)
    summary["predictions"].clear()  # a copy: the result keeps its own
    assert len(result.summary["predictions"]) == 5
    assert "sequential" not in summary
    with pytest.raises(UsageError, match="not a run summary: it lacks predictions"):
        RunSummary.from_dict({k: v for k, v in on_disk.items() if k != "predictions"})
    with pytest.raises(UsageError, match="has unknown colour"):
        RunSummary.from_dict(on_disk | {"colour": "blue"})


def test_write_refuses_to_overwrite_like_the_command_line(result, tmp_path):
    out = tmp_path / "run"
    result.write(out, report=False)
    first = (out / "summary.json").read_text()
    with pytest.raises(UsageError, match=r"already holds a run; use --force to replace it"):
        result.write(out, report=False)
    result.write(out, report=False, force=True)
    assert (out / "summary.json").is_file() and first
    other = tmp_path / "notes"
    other.mkdir()
    (other / "keep.txt").write_text("mine")
    with pytest.raises(UsageError, match="is not empty and holds no run; refusing to replace"):
        result.write(other, report=False, force=True)
    assert [p.name for p in other.iterdir()] == ["keep.txt"]
    assert not list(tmp_path.glob(".*partial*"))  # nothing left behind


def test_write_draws_the_report(tmp_path):
    result = mcinfra.run(draws=2_000, seed=1)
    out = result.write(tmp_path / "run")
    assert (out / "report.html").is_file() and (out / "report.md").is_file()
    assert any((out / "figures").glob("*.svg"))


def test_a_written_run_is_a_run_for_the_other_commands(tmp_path, capsys):
    from mcinfra.runs.whatif import load_run

    result = mcinfra.run(draws=3_000, seed=4, chunk_size=1_000, set={"total.cagr.mode": 0.18})
    out = result.write(tmp_path / "run", report=False)
    loaded, settings = load_run(out)
    assert loaded.overrides == ("total.cagr.mode=0.18",)
    assert (settings.draws, settings.seed, settings.chunk_size) == (3_000, 4, 1_000)
    assert main(["whatif", str(out), "--given", "total[2030] > 0"]) == 0
    assert "holds in 3,000 of 3,000 draws" in capsys.readouterr().out


def test_progress_says_when_the_kernels_compile(monkeypatch, capsys):
    import mcinfra.runs.pipeline

    monkeypatch.setattr(mcinfra.runs.pipeline, "kernels_cached", lambda normals=False: False)
    mcinfra.run(draws=200, progress=True)
    assert "mcinfra: compiling the kernels" in capsys.readouterr().err
    mcinfra.run(draws=200)
    assert capsys.readouterr().err == ""


def test_sobol_and_sketch_options(tmp_path):
    sobol = mcinfra.run(draws=2**12, seed=3, method="sobol", replicates=4)
    assert sobol.summary["run"]["sampling_method"] == "sobol"
    assert sobol.summary["run"]["replicates"] == 4
    assert sobol.summary["predictions"][0]["std_error_method"].startswith("replicates (4 ")
    sketch = mcinfra.run(draws=3_000, seed=3, quantiles="sketch")
    assert sketch.summary["quantiles"]["method"] == "sketch"


@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        ({"draws": 0}, UsageError, r"draws must be a positive whole number, got 0"),
        ({"draws": 2.5}, UsageError, r"draws must be a positive whole number, got 2\.5"),
        ({"chunk_size": -3}, UsageError, r"chunk_size must be a positive whole number, got -3"),
        ({"threads": "2"}, UsageError, r"threads must be a positive whole number, got '2'"),
        ({"seed": -1}, UsageError, r"seed must be in \[0, 2\*\*64\), got -1"),
        ({"seed": 1.5}, UsageError, r"seed must be a whole number in \[0, 2\*\*64\), got 1\.5"),
        ({"quantiles": "median"}, UsageError, r"quantiles must be 'auto', 'exact' or 'sketch'"),
        ({"target_se": 0.7}, UsageError, r"target_se must be a standard error in \(0, 0\.5\)"),
        (
            {"set": {"total.cagr.mod": 0.2}},
            ConfigError,
            r"total\.cagr: unknown key 'mod' \(did you mean 'mode'\?\)",
        ),
        ({"set": {"total.nothing": 1}}, ConfigError, r"total: unknown key 'nothing'"),
        (
            {"set": {"totl.cagr": 0.2}},
            ConfigError,
            r"no key totl .*\(did you mean 'total\.cagr'\?\)",
        ),
        ({"set": {"total.cagr.mode": 0.9}}, ConfigError, r"total\.cagr: mode must lie in"),
        ({"set": ["total.cagr.mode"]}, UsageError, r"expected 'KEY.PATH=VALUE' items"),
        ({"set": {"total.cagr.mode": object()}}, UsageError, r"cannot write <object"),
        ({"method": "lhs"}, McinfraError, r"sampling\.method"),
        (
            {"method": "sobol", "target_se": 0.01, "draws": 1024},
            UsageError,
            r"Sobol' run .* needs all",
        ),
        ({"config": 42}, UsageError, r"config must be a TOML file's path or a loaded config"),
        ({"config": "no/such/market.toml"}, ConfigError, r"no/such/market\.toml"),
    ],
)
def test_bad_arguments_are_refused_clearly(options, error, message):
    options = dict(options)
    config = options.pop("config", None)
    with pytest.raises(error, match=message):
        mcinfra.run(config, **({"draws": 100} | options))


def test_run_is_the_api_function():
    import mcinfra.runs.api

    assert mcinfra.run is mcinfra.runs.api.run
    assert mcinfra.run(draws=200, seed=1).summary["run"]["draws"] == 200


def test_the_docstring_examples_run():
    import mcinfra.runs.api

    failures, tried = doctest.testmod(mcinfra.runs.api, optionflags=doctest.ELLIPSIS)
    assert tried >= 3 and failures == 0


def test_importing_and_writing_without_reading_answers_skips_xarray(tmp_path):
    code = (
        "import sys, mcinfra\n"
        "before = sorted(m for m in ('xarray', 'pandas') if m in sys.modules)\n"
        "mcinfra.run(draws=300, seed=1).write(sys.argv[1], report=False)\n"
        "after = sorted(m for m in ('xarray', 'pandas') if m in sys.modules)\n"
        "print(before, after)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "run")],
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout.strip().splitlines()[-1] == "[] []"
    assert (tmp_path / "run" / "quantiles.nc").is_file()


def test_the_run_directory_reads_back_what_it_wrote(result, tmp_path):
    from mcinfra.io import run_directory as rd

    out = result.write(tmp_path / "run", report=False)
    text, summary = rd.read_run(out)
    assert text == result.loaded.text and summary == json.loads((out / rd.SUMMARY).read_text())
    state = {"counter/holds": np.arange(5, dtype=np.int64)}
    rd.save_checkpoint(tmp_path / rd.CHECKPOINT, state, 7_000, 1.5)
    loaded, done, seconds = rd.load_checkpoint(tmp_path / rd.CHECKPOINT)
    assert (done, seconds) == (7_000, 1.5)
    np.testing.assert_array_equal(loaded["counter/holds"], state["counter/holds"])
    assert set(loaded) == set(state)


def test_an_unfinished_directory_is_refused_cleanly(tmp_path, capsys):
    from mcinfra.io.run_directory import find_interrupted, read_run

    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "config.toml").write_text("")
    (broken / "summary.json").write_text("{}")
    with pytest.raises(UsageError, match=r"broken is not a finished mcinfra run: 'run'"):
        read_run(broken)
    assert main(["whatif", str(broken), "--given", "total[2030] > 0"]) == 2
    assert "broken is not a finished mcinfra run" in capsys.readouterr().err
    with pytest.raises(UsageError, match=r"no interrupted run of .*gone to resume"):
        find_interrupted(tmp_path / "gone")
