"""What-ifs: conditional probabilities over the same draws as a finished run."""

from __future__ import annotations

import numpy as np
import pytest

from mcinfra import RunSettings, load_config, simulate
from mcinfra.cli import main
from mcinfra.runs.diagnostics import prediction_indicators
from mcinfra.runs.whatif import conditional, load_run

GIVEN = 'input("channel.hyperscale_cloud.crossover") < 2025.5'


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("whatif") / "run"
    assert (
        main(
            [
                "run",
                "--draws",
                "6000",
                "--seed",
                "4",
                "--chunk-size",
                "2500",
                "--out",
                str(out),
                "--quiet",
                "--no-report",
            ]
        )
        == 0
    )
    return out


def test_conditional_counts_equal_the_same_draws_in_memory(run_dir):
    loaded, settings = load_run(run_dir)
    results, given = conditional(loaded, settings, GIVEN)
    ds = simulate(load_config(), RunSettings(draws=6000, seed=4, chunk_size=6000))
    mask = ds["inputs"].sel(input="channel.hyperscale_cloud.crossover").values < 2025.5
    indicators = prediction_indicators(ds, loaded.config)
    assert given.holds == mask.sum() and given.draws == 6000
    for r in results:
        assert r.overall.holds == indicators[r.id].sum()
        assert r.given.holds == np.count_nonzero(indicators[r.id] & mask)
        assert r.given.draws == mask.sum()


def test_whatif_command_prints_conditional_probabilities(run_dir, capsys):
    assert main(["whatif", str(run_dir), "--given", GIVEN, "--prediction", "P1"]) == 0
    out = capsys.readouterr().out
    assert "holds in" in out and "P1" in out and "P(given)" in out and "P2" not in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--given", 'input("channel.hyperscale.crossover") < 1'], "no input named"),
        (["--given", "network > 1"], "needs a year"),
        (
            ["--given", GIVEN, "--prediction", "P9"],
            "--prediction: no prediction named P9 in the run's config; its predictions are "
            "P1, P2, P3, P4, P5",
        ),
        (
            ["--given", GIVEN, "--prediction", "p3"],
            "no prediction named p3 in the run's config (did you mean 'P3'?); its predictions",
        ),
    ],
)
def test_bad_whatif_exits_2(run_dir, capsys, args, message):
    assert main(["whatif", str(run_dir), *args]) == 2
    assert message in capsys.readouterr().err


def test_edited_config_is_refused(run_dir, tmp_path, capsys):
    copy = tmp_path / "copy"
    copy.mkdir()
    (copy / "summary.json").write_text((run_dir / "summary.json").read_text())
    (copy / "config.toml").write_text((run_dir / "config.toml").read_text() + "\n# edited\n")
    assert main(["whatif", str(copy), "--given", GIVEN]) == 2
    assert "does not match the run's recorded hash" in capsys.readouterr().err
