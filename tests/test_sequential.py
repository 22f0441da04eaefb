"""Sequential stopping: draw chunks until every prediction's standard error meets a target."""

from __future__ import annotations

import json
import math

import pytest

from mcinfra.cli import main
from mcinfra.runs.pipeline import stopping_error


def test_stopping_error_is_laplace_smoothed():
    assert stopping_error(0, 100) > 0
    assert stopping_error(50, 100) == pytest.approx(math.sqrt(0.5 * 0.5 / 100))


def test_run_stops_at_the_first_chunk_meeting_the_target(tmp_path, capsys):
    out = tmp_path / "seq"
    assert (
        main(
            [
                "run",
                "--target-se",
                "0.004",
                "--chunk-size",
                "5000",
                "--out",
                str(out),
                "--quiet",
                "--no-report",
            ]
        )
        == 0
    )
    summary = json.loads((out / "summary.json").read_text())
    sequential = summary["sequential"]
    used = sequential["draws_used"]
    assert sequential["target_met"] and used % 5000 == 0
    assert summary["run"]["draws"] == used
    for p in summary["predictions"]:
        assert p["draws"] == used
        assert stopping_error(p["holds"], used) < 0.004
    assert "target standard error 0.004 met after" in capsys.readouterr().out
    # One chunk fewer would not have met the target: its draws are the first used - 5000
    # of this run (same seed), so their exact counts decide.
    shorter = tmp_path / "shorter"
    assert (
        main(["run", "--draws", str(used - 5000), "--out", str(shorter), "--quiet", "--no-report"])
        == 0
    )
    earlier = json.loads((shorter / "summary.json").read_text())["predictions"]
    assert any(stopping_error(p["holds"], used - 5000) >= 0.004 for p in earlier)


def test_cap_is_reported_when_the_target_is_not_met(tmp_path, capsys):
    out = tmp_path / "capped"
    assert (
        main(
            [
                "run",
                "--target-se",
                "0.0001",
                "--max-draws",
                "3000",
                "--out",
                str(out),
                "--quiet",
                "--no-report",
            ]
        )
        == 0
    )
    sequential = json.loads((out / "summary.json").read_text())["sequential"]
    assert sequential == {
        "target_std_error": 0.0001,
        "max_draws": 3000,
        "draws_used": 3000,
        "target_met": False,
    }
    assert "NOT met" in capsys.readouterr().out


def test_max_draws_needs_target_se(tmp_path, capsys):
    assert main(["run", "--max-draws", "1000", "--out", str(tmp_path / "o")]) == 2
    assert "--max-draws caps a run with --target-se" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_validate_estimates_draws_for_a_target(capsys):
    assert main(["validate", "--target-se", "0.001"]) == 0
    out = capsys.readouterr().out
    assert "draws needed for a standard error below 0.001" in out
    lines = [line for line in out.splitlines() if line.strip().startswith("P3")]
    draws = int(lines[0].split()[-2].replace(",", ""))
    assert 150_000 < draws < 260_000  # P3 is near 0.26: 0.26 * 0.74 / 1e-6 = 192,400


def test_draws_beside_target_se_is_refused_with_the_cap_to_use(tmp_path, capsys):
    out = tmp_path / "o"
    assert main(["run", "--draws", "1e6", "--target-se", "0.01", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert (
        "--draws 1000000 and --target-se cannot be combined: --target-se draws until every "
        "standard error is below its target; cap it with --max-draws (default 10,000,000)"
    ) in err
    assert not out.exists()
    with pytest.raises(SystemExit):
        main(["run", "--help"])
    shown = " ".join(capsys.readouterr().out.split())  # the help text, unwrapped
    assert "(sampling.draws; accepts 1e6); not with --target-se, whose cap is --max-draws" in shown
    assert "up to --max-draws draws (sampling.draws is not used; --draws is refused)" in shown
