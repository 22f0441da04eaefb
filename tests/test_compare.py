"""``mcinfra compare``: differences between runs, with common random numbers."""

from __future__ import annotations

import json
import math

import pytest

from mcinfra.cli import main

# slower network and enterprise cloud growth: moves P2 (network above market) and P5
CHANGES = [
    "--set",
    "partitions.offering.segments.network.cagr.mean=0.27",
    "--set",
    "partitions.channel.segments.enterprise_cloud.cagr.mean=0.21",
]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("compare")
    made = {}
    for name, extra in (
        ("base", []),
        ("slower", CHANGES),
        ("other_seed", [*CHANGES, "--seed", "99"]),
    ):
        out = root / name
        args = ["run", "--draws", "20000", "--quiet", "--no-report", "--out", str(out)]
        assert main([*args, *extra]) == 0
        made[name] = out
    return root, made


def _compare(root, dirs, name):
    out = root / name
    assert main(["compare", *map(str, dirs), "--out", str(out)]) == 0
    return out, json.loads((out / "compare.json").read_text())


def test_a_run_compared_with_itself_differs_by_exactly_zero(runs, capsys):
    root, made = runs
    _, result = _compare(root, [made["base"], made["base"]], "self")
    assert result["differences"]
    for d in result["differences"]:
        assert d["paired"] and d["difference"] == 0.0 and d["std_error"] == 0.0


def test_common_random_numbers_shrink_the_standard_error(runs, capsys):
    root, made = runs
    out, result = _compare(root, [made["base"], made["slower"], made["other_seed"]], "crn")
    by = {(d["run"], d["prediction"]): d for d in result["differences"]}
    base = {p["id"]: p for p in result["runs"][0]["predictions"]}
    slower = {p["id"]: p for p in result["runs"][1]["predictions"]}
    for pid in ("P2", "P5"):  # predictions that hold in some draws and not in others
        paired = by[(str(made["slower"]), pid)]
        assert paired["paired"]
        assert paired["std_error"] < paired["std_error_independent"]
        # the paired difference is the difference of the two runs' own counts
        assert paired["difference"] == pytest.approx(
            slower[pid]["probability"] - base[pid]["probability"], abs=1e-12
        )
        independent = by[(str(made["other_seed"]), pid)]
        assert not independent["paired"]
        other = result["runs"][2]["predictions"]
        se_other = next(p["std_error"] for p in other if p["id"] == pid)
        assert independent["std_error"] == pytest.approx(
            math.hypot(base[pid]["std_error"], se_other)
        )
    page = (out / "compare.html").read_text()
    assert "<svg" in page and "common random numbers" in page
    assert 'src="http' not in page and 'href="http' not in page  # self-contained
    assert (out / "compare.csv").read_text().startswith("run,prediction,probability")


def test_compare_refuses_to_overwrite_and_bad_runs(runs, tmp_path, capsys):
    _, made = runs
    out = tmp_path / "c"
    assert main(["compare", str(made["base"]), str(made["slower"]), "--out", str(out)]) == 0
    assert main(["compare", str(made["base"]), str(made["slower"]), "--out", str(out)]) == 2
    assert "use --force" in capsys.readouterr().err
    assert main(["compare", str(made["base"]), str(tmp_path), "--out", str(tmp_path / "d")]) == 2
    assert "not a finished mcinfra run" in capsys.readouterr().err
