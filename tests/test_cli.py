"""The command line: what run and validate write and print, and that every flag counts."""

from __future__ import annotations

import json

import numpy as np
import pytest
import xarray as xr

from mcinfra import RunSettings, load_config, simulate
from mcinfra.cli import build_parser, main


@pytest.fixture(scope="module")
def small_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "small"
    status = main(
        [
            "run",
            "--draws",
            "3000",
            "--seed",
            "5",
            "--chunk-size",
            "1000",
            "--out",
            str(out),
            "--save-draws",
            "--quiet",
            "--no-report",
        ]
    )
    assert status == 0
    return out


def test_run_writes_summary_config_and_draws(small_run):
    assert sorted(p.name for p in small_run.iterdir()) == [
        "config.toml",
        "draws.zarr",
        "predictions.csv",
        "quantiles.csv",
        "quantiles.nc",
        "sensitivity.csv",
        "summary.json",
    ]
    summary = json.loads((small_run / "summary.json").read_text())
    assert summary["schema_version"] == 1
    assert [p["id"] for p in summary["predictions"]] == ["P1", "P2", "P3", "P4", "P5"]
    for p in summary["predictions"]:
        assert p["ci95"][0] <= p["probability"] <= p["ci95"][1] and p["std_error"] > 0
        assert len(p["drivers"]) == 3 and "first_order_index" in p["drivers"][0]
    assert summary["run"]["draws"] == 3000 and summary["run"]["seed"] == 5
    assert summary["checks"]["partition_max_relative_error"] < 1e-9
    labels = [s["label"] for s in summary["series"]]
    assert labels[0] == "total" and "network" in labels and "lpddr" in labels
    assert {f["series"] for f in summary["source_figures"]} == {"total", "network", "north_america"}
    assert (small_run / "config.toml").read_text() == load_config().text


def test_saved_draws_open_with_plain_xarray_and_equal_the_api(small_run):
    saved = xr.open_zarr(small_run / "draws.zarr")
    direct = simulate(load_config(), RunSettings(draws=3000, seed=5, chunk_size=3000))
    np.testing.assert_array_equal(saved["value"].values, direct["value"].values)
    np.testing.assert_array_equal(saved["inputs"].values, direct["inputs"].values)
    assert list(saved.segment.values) == list(direct.segment.values)
    assert saved.attrs["config_sha256"] == direct.attrs["config_sha256"]
    assert saved["value"].encoding["chunks"][0] == 1000


def test_run_prints_medians_ranges_and_source_figures(tmp_path, capsys):
    assert (
        main(["run", "--draws", "2000", "--out", str(tmp_path / "r"), "--quiet", "--no-report"])
        == 0
    )
    out = capsys.readouterr().out
    assert "2030 median [5 %, 95 %]" in out
    assert "network" in out and "custom_silicon" in out
    assert "North America revenue share, 2024" in out
    assert "partitions sum to the total" in out


def test_out_holding_a_run_needs_force_and_is_replaced_atomically(tmp_path, capsys):
    out = tmp_path / "r"
    args = ["run", "--draws", "500", "--out", str(out), "--quiet", "--no-report"]
    assert main([*args, "--seed", "1"]) == 0
    before = (out / "summary.json").read_bytes()
    assert main([*args, "--seed", "2"]) == 2
    assert "already holds a run; use --force" in capsys.readouterr().err
    assert (out / "summary.json").read_bytes() == before  # untouched
    assert main([*args, "--seed", "2", "--force"]) == 0
    assert json.loads((out / "summary.json").read_text())["run"]["seed"] == 2
    assert [p.name for p in tmp_path.iterdir()] == ["r"]


def test_default_output_is_replaced_without_force(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for seed in ("1", "2"):
        assert main(["run", "--draws", "500", "--seed", seed, "--quiet", "--no-report"]) == 0
    summary = tmp_path / "reports" / "ai_infrastructure" / "summary.json"
    assert json.loads(summary.read_text())["run"]["seed"] == 2


def test_a_directory_that_is_not_a_run_is_never_replaced(tmp_path, capsys):
    precious = tmp_path / "documents"
    precious.mkdir()
    (precious / "thesis.txt").write_text("years of work")
    args = ["run", "--draws", "500", "--out", str(precious), "--quiet", "--force"]
    assert main(args) == 2
    assert "holds no run; refusing" in capsys.readouterr().err
    assert (precious / "thesis.txt").read_text() == "years of work"


def test_unwritable_output_exits_2(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    status = main(
        ["run", "--draws", "100", "--out", str(blocker / "run"), "--quiet", "--no-report"]
    )
    assert status == 2
    assert "cannot write to output directory" in capsys.readouterr().err


def test_validate_prints_coherence_gap_and_inference_share(capsys):
    assert main(["validate"]) == 0
    out = capsys.readouterr().out
    assert "coherence gap per partition" in out
    for partition in ("offering", "channel", "region"):
        assert partition in out
    assert "inference share in 2024" in out and "hyperscale_cloud" in out


def test_validate_shows_no_partition_heading_for_a_model_without_partitions(write_config, capsys):
    from conftest import MINIMAL

    assert main(["validate", str(write_config(MINIMAL))]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[1].startswith("model 'mini': 2024-2030, 1 series, 2 inputs")
    assert "coherence gap" not in out and "share in 2024" not in out
    assert out.strip().count("\n") == 1  # the verdict and the model line, nothing after


@pytest.mark.parametrize(
    ("flag", "value", "attribute", "expected"),
    [
        ("--draws", "2e6", "draws", 2_000_000),
        ("--seed", "17", "seed", 17),
        ("--chunk-size", "4096", "chunk_size", 4096),
        ("--threads", "1", "threads", 1),
    ],
)
def test_every_flag_reaches_the_run_settings(flag, value, attribute, expected):
    from mcinfra.sampling.engine import settings_from

    args = build_parser().parse_args(["run", flag, value])
    settings = settings_from(
        load_config(),
        draws=args.draws,
        seed=args.seed,
        chunk_size=args.chunk_size,
        threads=args.threads,
    )
    assert getattr(settings, attribute) == expected
    default = settings_from(load_config())
    assert getattr(default, attribute) != expected


def test_version(capsys):
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out.startswith("mcinfra ")


@pytest.mark.parametrize(
    "args, message",
    [
        (["run", "--target-se", "0.5"], "a standard error must be in (0, 0.5), got 0.5"),
        (["drivers", "DIR", "--target-se", "1"], "a standard error must be in (0, 1), got 1"),
        (["drivers", "DIR", "--target-se", "x"], "expected a number, got 'x'"),
    ],
)
def test_a_standard_error_outside_its_range_is_refused(args, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args(args)
    assert exit_info.value.code == 2
    assert f"argument --target-se: {message}\n" in capsys.readouterr().err
