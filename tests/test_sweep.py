"""``mcinfra sweep``: one run per value, common random numbers, a curve per prediction."""

from __future__ import annotations

import json

from mcinfra.cli import main

PARAM = "partitions.offering.segments.network.cagr.mean"


def test_sweep_runs_each_value_with_the_same_seed(tmp_path, capsys):
    out = tmp_path / "sweep"
    args = ["sweep", "--param", PARAM, "--values", "0.20,0.30,0.40", "--draws", "4000"]
    assert main([*args, "--quiet", "--out", str(out)]) == 0
    result = json.loads((out / "sweep.json").read_text())
    assert [p["value"] for p in result["points"]] == ["0.20", "0.30", "0.40"]
    assert len({p["seed"] for p in result["points"]}) == 1
    for i, point in enumerate(result["points"]):
        run = json.loads((out / f"run_{i:02d}" / "summary.json").read_text())["run"]
        assert run["config_overrides"] == [f"{PARAM}={point['value']}"]
    # common random numbers: faster network growth raises network's yearly growth in every
    # draw, so P2 (network above market) can only gain draws from one value to the next
    p2 = [next(r for r in p["predictions"] if r["id"] == "P2")["holds"] for p in result["points"]]
    assert p2[0] < p2[1] < p2[2]
    page = (out / "sweep.html").read_text()
    assert "<svg" in page and PARAM in page
    assert (out / "sweep.csv").read_text().startswith("value,run,prediction")
    # The table's header keeps a long key path apart from the ids, each column aligned.
    header, *rows, wrote = capsys.readouterr().out.splitlines()
    assert header.split() == [PARAM, "P1", "P2", "P3", "P4", "P5"]
    assert [row.split()[0] for row in rows] == ["0.20", "0.30", "0.40"]
    ends = [header.index(f"P{i}") + 2 for i in range(1, 6)]
    for row in rows:
        assert all(row[end - 1] != " " and row[end : end + 1] in ("", " ") for end in ends)
    assert wrote.startswith(f"wrote {out}/")


def test_sweep_validates_every_value_before_running(tmp_path, capsys):
    out = tmp_path / "sweep"
    args = ["sweep", "--param", "total.cagr.mode", "--values", "0.15,0.9", "--draws", "500"]
    assert main([*args, "--out", str(out)]) == 2
    assert "total.cagr: mode must lie in [min, max]" in capsys.readouterr().err
    assert not out.exists()
    assert main(["sweep", "--param", "total.cagr.mod", "--values", "0.15", "--out", str(out)]) == 2
    assert "did you mean 'mode'" in capsys.readouterr().err


def test_sweep_takes_input_names_and_its_messages_name_param(tmp_path, capsys):
    out = tmp_path / "sweep"
    args = ["sweep", "--param", "offering.network.cagr.mean", "--values", "0.25", "--draws", "500"]
    assert main([*args, "--quiet", "--out", str(out)]) == 0
    run = json.loads((out / "run_00" / "summary.json").read_text())["run"]
    assert run["config_overrides"] == [f"{PARAM}=0.25"]  # the full key path is recorded
    capsys.readouterr()
    bad = ["sweep", "--param", "offering.netwrk.cagr.mean", "--values", "0.25"]
    assert main([*bad, "--out", str(tmp_path / "bad")]) == 2
    err = capsys.readouterr().err
    assert "--param 'offering.netwrk.cagr.mean': no key offering and no input named" in err
    assert "(did you mean 'offering.network.cagr.mean'?)" in err
    assert "--set" not in err and not (tmp_path / "bad").exists()
