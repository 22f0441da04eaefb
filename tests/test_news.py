"""The news of an updated run: its report, and comparing it with its prior."""

from __future__ import annotations

import csv
import json
import math
import multiprocessing
import os

import pytest
from scipy import special

from mcinfra.cli import main
from mcinfra.report.terminal import interval
from test_startup import NOT_FOR_A_REPORT, _loaded, _modules_after

OBSERVE = [
    "total[2025] ~ lognormal(median=158, log_sd=0.03)",
    "network[2025] ~ t(df=4, loc=18.5, scale=0.8)",
]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A finished run of the default model and its update, with the report."""
    base = tmp_path_factory.mktemp("news")
    prior, updated = base / "run", base / "run-updated"
    assert main(["run", "--draws", "6000", "--seed", "5", "--out", str(prior), "--quiet",
                 "--no-report"]) == 0  # fmt: skip
    args = ["update", str(prior), "--quiet"]
    for text in OBSERVE:
        args += ["--observe", text]
    assert main(args) == 0
    return prior, updated


def _rows(path):
    return list(csv.DictReader(path.read_text(encoding="utf-8").splitlines()))


def test_update_json_records_the_prior_run_and_each_measurement_range(runs):
    prior, updated = runs
    recorded = json.loads((updated / "update.json").read_text())
    summary = json.loads((prior / "summary.json").read_text())
    for key in ("seed", "draws", "chunk_size", "config_sha256", "config_overrides"):
        assert recorded["run"][key] == summary["run"][key]
    total, network = recorded["observations"]
    assert (total["series"], total["year"], total["central"]) == ("total", 2025, 158.0)
    spread = math.exp(1.959963984540054 * 0.03)
    assert total["interval95"] == pytest.approx([158 / spread, 158 * spread], rel=1e-15)
    half = special.stdtrit(4, 0.975) * 0.8
    assert network["interval95"] == pytest.approx([18.5 - half, 18.5 + half], rel=1e-15)
    assert (updated / "prior_quantiles.csv").read_bytes() == (prior / "quantiles.csv").read_bytes()


def test_report_shows_prior_and_posterior_observations_moved_inputs_and_diagnostics(runs):
    _, updated = runs
    page = (updated / "report.html").read_text(encoding="utf-8")
    markdown = (updated / "report.md").read_text(encoding="utf-8")
    recorded = json.loads((updated / "update.json").read_text())
    for name in ("news_predictions", "news_fan_observed", "news_fan_offering", "news_inputs"):
        assert f"<figure id='{name}'>" in page
        assert (updated / "figures" / f"{name}.svg").is_file()
        assert f"![{name}](figures/{name}.svg)" in markdown
    assert (updated / "figures" / "news_fan_observed.png").is_file()
    for row in _rows(updated / "predictions.csv"):
        prior = interval(*(float(row[k]) for k in (
            "prior", "prior_std_error", "prior_ci95_low", "prior_ci95_high")))  # fmt: skip
        posterior = interval(*(float(row[k]) for k in (
            "posterior", "std_error", "ci95_low", "ci95_high")))  # fmt: skip
        cells = [row["id"], prior[0], f"{prior[1]} to {prior[2]}", posterior[0],
                 f"{posterior[1]} to {posterior[2]}"]  # fmt: skip
        assert all(f"<td>{cell}</td>" in page for cell in cells), (row["id"], cells)
    for text in OBSERVE:
        assert f"<td>{text}</td>" in page and text in markdown
    assert f"{recorded['effective_draws']:,.0f}" in page
    assert f"{recorded['pareto_khat']:.2f}" in page
    assert f"threshold {recorded['pareto_khat_threshold']:.2f}" in page
    # the moved inputs, largest |median shift| first, as the update computed the shift
    inputs = [r for r in _rows(updated / "inputs.csv") if r["prior_p95"] != r["prior_p05"]]
    ranked = sorted(inputs, key=lambda r: -abs(float(r["median_shift"])))[:10]
    section = page[page.index("Inputs the news moved most") :]
    positions = [section.index(f"<td>{r['input']}</td>") for r in ranked]
    assert positions == sorted(positions)
    shift = float(ranked[0]["median_shift"])
    sd = (float(ranked[0]["prior_p95"]) - float(ranked[0]["prior_p05"])) / 3.2897072539029444
    moved = float(ranked[0]["posterior_median"]) - float(ranked[0]["prior_median"])
    assert shift == pytest.approx(moved / sd, rel=1e-12)


def test_report_command_rebuilds_the_news_report_the_same(runs, capsys):
    _, updated = runs
    page = (updated / "report.html").read_bytes()
    figure = (updated / "figures" / "news_fan_observed.svg").read_bytes()
    (updated / "report.html").unlink()
    assert main(["report", str(updated), "--quiet"]) == 0
    assert "wrote" in capsys.readouterr().out
    assert (updated / "report.html").read_bytes() == page
    assert (updated / "figures" / "news_fan_observed.svg").read_bytes() == figure


def test_report_of_an_updated_run_reads_files_only(runs):
    _, updated = runs
    modules = _modules_after(
        f"from mcinfra.cli import main\nassert main(['report', {str(updated)!r}, '--quiet']) == 0"
    )
    assert _loaded(modules, NOT_FOR_A_REPORT) == []


@pytest.mark.skipif(
    "fork" not in multiprocessing.get_all_start_methods() or len(os.sched_getaffinity(0)) < 2,
    reason="the figures are drawn in this process without fork or a second core",
)
def test_an_update_draws_its_report_on_workers_forked_before_it_samples(runs, tmp_path):
    # As a run does: forked before numba starts its threads, the workers import matplotlib.
    prior, _ = runs
    out = tmp_path / "updated"
    args = ["update", str(prior), "--observe", OBSERVE[0], "--out", str(out), "--quiet"]
    modules = _modules_after(f"from mcinfra.cli import main\nassert main({args!r}) == 0")
    assert (out / "report.html").is_file() and (out / "figures" / "news_fan_observed.svg").is_file()
    assert _loaded(modules, ("matplotlib",)) == []


def test_compare_accepts_an_updated_run_beside_its_prior(runs, tmp_path, capsys):
    prior, updated = runs
    out = tmp_path / "compare"
    assert main(["compare", str(prior), str(updated), "--out", str(out)]) == 0
    result = json.loads((out / "compare.json").read_text())
    first, second = result["runs"]
    assert "updated" not in first and second["updated"] is True
    assert second["observations"] == OBSERVE
    posterior = {r["id"]: r for r in _rows(updated / "predictions.csv")}
    before = {p["id"]: p for p in first["predictions"]}
    for p in second["predictions"]:
        row = posterior[p["id"]]
        assert p["probability"] == float(row["posterior"])
        assert p["ci95"] == [float(row["ci95_low"]), float(row["ci95_high"])]
    for d in result["differences"]:
        a, b = before[d["prediction"]], posterior[d["prediction"]]
        assert d["paired"] is False
        assert d["difference"] == float(b["posterior"]) - a["probability"]
        assert d["std_error"] == math.hypot(a["std_error"], float(b["std_error"]))
    page = (out / "compare.html").read_text()
    assert "updated with " + "; ".join(OBSERVE) in page
    assert "effective draws" in page


def test_score_of_an_old_updated_directory_reads_its_prior_run(runs, tmp_path):
    """An update.json without ``run`` (older updates) is read through ``prior_run``."""
    import shutil

    _, updated = runs
    legacy = tmp_path / "legacy"
    shutil.copytree(updated, legacy)
    recorded = json.loads((legacy / "update.json").read_text())
    del recorded["run"]
    (legacy / "update.json").write_text(json.dumps(recorded))
    import mcinfra

    new = mcinfra.score(updated, ["total[2025]=158.2"])["scores"][0]
    old = mcinfra.score(legacy, ["total[2025]=158.2"])["scores"][0]
    assert {k: v for k, v in new.items() if k != "run"} == {
        k: v for k, v in old.items() if k != "run"
    }
