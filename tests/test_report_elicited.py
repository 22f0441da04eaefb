"""Inputs given by percentiles: the run's elicited.csv, and the report's figure and residuals."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
import pytest
from scipy.special import ndtri

import mcinfra
from conftest import MINIMAL, boxes_fit_apart
from mcinfra.cli import main
from mcinfra.report import figures

ELICITED = Path(__file__).resolve().parents[1] / "configs" / "ai_infrastructure_elicited.toml"
COLUMNS = ["input", "component", "kind", "p", "x", "fitted", "residual"]
# a metalog of 3 terms fitted by least squares to 5 points: residuals that are not zero
LEAST_SQUARES = [[0.05, 0.05], [0.25, 0.09], [0.5, 0.1], [0.75, 0.12], [0.95, 0.2]]


@pytest.fixture(scope="module")
def elicited_run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("elicited") / "run"
    args = ["run", str(ELICITED), "--draws", "2000", "--chunk-size", "1000", "--quiet"]
    assert main([*args, "--out", str(out)]) == 0
    return out


def _rows(run_dir: Path) -> list[dict]:
    with open(run_dir / "elicited.csv", newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        assert reader.fieldnames == COLUMNS
        return list(reader)


def _fitted(rows: list[dict], name: str, component: str = "") -> tuple[list[dict], list[dict]]:
    mine = [r for r in rows if r["input"] == name and r["component"] == component]
    return [r for r in mine if r["kind"] == "point"], [r for r in mine if r["kind"] == "curve"]


def test_every_input_given_by_percentiles_has_its_points_and_fitted_cdf(elicited_run):
    rows = _rows(elicited_run)
    fits = {(r["input"], r["component"]) for r in rows}
    assert fits == {
        ("total.base", "components.0"),
        ("total.base", "components.1"),
        ("total.cagr", ""),
        ("offering.memory.cagr", ""),
        ("offering.network.cagr", ""),
        ("offering.storage.cagr", ""),
        ("channel.hyperscale_cloud.crossover", ""),
        ("channel.hyperscale_cloud.steepness", ""),
        ("hbm_fraction_training", ""),
    }
    points, curve = _fitted(rows, "offering.network.cagr")
    assert [(float(r["p"]), float(r["x"])) for r in points] == [
        (0.1, 0.24),
        (0.5, 0.3),
        (0.9, 0.38),
    ]
    probabilities = np.array([float(r["p"]) for r in curve])
    values = np.array([float(r["fitted"]) for r in curve])
    assert probabilities[0] == pytest.approx(0.001) and probabilities[-1] == pytest.approx(0.999)
    assert np.all(np.diff(probabilities) > 0) and np.all(np.diff(values) > 0)
    assert all(r["x"] == "" and r["residual"] == "" for r in curve)
    # the curve runs through the points: its value at each point's probability is the point's
    for r in points:
        between = np.interp(float(r["p"]), probabilities, values)
        assert between == pytest.approx(float(r["x"]), abs=0.01)


def test_residuals_vanish_where_the_points_determine_the_parameters(elicited_run):
    for r in _rows(elicited_run):
        if r["kind"] == "point":
            fitted, x, residual = float(r["fitted"]), float(r["x"]), float(r["residual"])
            assert residual == fitted - x
            assert abs(residual) <= 1e-10 * max(1.0, abs(x)), r


def _metalog_basis(p: np.ndarray) -> np.ndarray:
    """The unbounded 3-term metalog basis (Keelin 2016), written out here."""
    logit = np.log(p / (1 - p))
    return np.stack([np.ones_like(p), logit, (p - 0.5) * logit], axis=1)


def test_a_least_squares_metalog_shows_its_residuals(write_config, tmp_path):
    points = ", ".join(f"[{p}, {x}]" for p, x in LEAST_SQUARES)
    text = MINIMAL.replace(
        'cagr = { dist = "normal", mean = 0.10, sd = 0.02 }',
        f'cagr = {{ dist = "metalog", terms = 3, quantiles = [{points}] }}',
    )
    out = tmp_path / "run"
    assert main(["run", str(write_config(text)), "--quiet", "--no-report", "--out", str(out)]) == 0
    points_rows, _ = _fitted(_rows(out), "total.cagr")
    p, x = np.array(LEAST_SQUARES).T
    basis = _metalog_basis(p)
    coefficients = np.linalg.lstsq(basis, x, rcond=None)[0]
    expected = basis @ coefficients - x
    residuals = np.array([float(r["residual"]) for r in points_rows])
    assert np.max(np.abs(expected)) > 1e-3  # five points, three terms: no exact fit
    np.testing.assert_allclose(residuals, expected, atol=1e-9)


def test_a_config_without_percentiles_writes_no_elicited_file(write_config, tmp_path):
    out = tmp_path / "run"
    assert (
        main(["run", str(write_config(MINIMAL)), "--quiet", "--no-report", "--out", str(out)]) == 0
    )
    assert not (out / "elicited.csv").exists()


def test_a_run_written_through_the_api_writes_the_elicited_file(elicited_run, tmp_path):
    result = mcinfra.run(ELICITED, draws=2000, chunk_size=1000)
    written = result.write(tmp_path / "api", report=False)
    assert (written / "elicited.csv").read_bytes() == (elicited_run / "elicited.csv").read_bytes()


def test_the_curve_reaches_every_elicited_point(write_config, tmp_path):
    text = MINIMAL.replace(
        'cagr = { dist = "normal", mean = 0.10, sd = 0.02 }',
        'cagr = { dist = "normal", quantiles = [[0.0001, 0.02], [0.5, 0.1]] }',
    )
    out = tmp_path / "run"
    assert main(["run", str(write_config(text)), "--quiet", "--no-report", "--out", str(out)]) == 0
    _, curve = _fitted(_rows(out), "total.cagr")
    assert float(curve[0]["p"]) == pytest.approx(0.0001)
    assert float(curve[0]["fitted"]) == pytest.approx(0.02, abs=1e-12)
    assert math.isclose(-float(ndtri(float(curve[0]["p"]))), float(ndtri(float(curve[-1]["p"]))))


RESIDUALS = "fit residual at each point (fitted quantile minus elicited value)"


def test_the_report_shows_each_fitted_cdf_with_its_points(elicited_run):
    from mcinfra.report import build
    from mcinfra.report.data import load_report_data

    page = (elicited_run / "report.html").read_text(encoding="utf-8")
    assert "<figure id='elicited'>" in page and "<h2>Elicited inputs</h2>" in page
    assert (elicited_run / "figures" / "elicited.svg").is_file()
    assert "![elicited](figures/elicited.svg)" in (elicited_run / "report.md").read_text()
    data = load_report_data(elicited_run)
    rows = data.summary["predictions"]
    for row in rows:
        row["shown"] = "0.5"
    plan = {name: job for name, _, job in build._figure_plan(data, rows, log=False)}
    builder, (panels,) = plan["elicited"]
    assert builder == "elicited_cdfs"
    titles = [panel["title"] for panel in panels]
    assert titles[:3] == ["total.base (components.0)", "total.base (components.1)", "total.cagr"]
    network = panels[titles.index("offering.network.cagr")]
    assert network["points"] == ([0.24, 0.3, 0.38], [0.1, 0.5, 0.9])
    values, probabilities = network["curve"]
    assert len(values) == len(probabilities) == 61
    fig = figures.elicited_cdfs(panels)
    assert len(fig.axes) == len(panels) == 9


def test_the_assumptions_table_gives_the_residual_at_each_point(elicited_run):
    markdown = (elicited_run / "report.md").read_text(encoding="utf-8")
    section = markdown[markdown.index("## Assumptions") :]
    header = section.splitlines()[2]
    assert header.endswith(f"| {RESIDUALS} |")
    network = next(
        line for line in section.splitlines() if line.startswith("| offering.network.cagr ")
    )
    cell = network.rstrip(" |").rsplit("| ", 1)[1]
    assert cell.startswith("P10 ") and ", P50 " in cell and ", P90 " in cell
    for shown in cell.replace("P10 ", "").replace("P50 ", "").replace("P90 ", "").split(", "):
        assert abs(float(shown)) < 1e-12
    base = next(line for line in section.splitlines() if line.startswith("| total.base "))
    assert "components.0: P10 " in base and "; components.1: P5 " in base
    software = next(
        line for line in section.splitlines() if line.startswith("| offering.software.cagr ")
    )
    assert software.endswith("|  |")  # an input given by parameters has no residual
    assert RESIDUALS in (elicited_run / "report.html").read_text(encoding="utf-8")


def test_a_report_without_elicited_inputs_has_no_such_figure_or_column(tmp_path):
    out = tmp_path / "run"
    assert (
        main(["run", "--draws", "2000", "--chunk-size", "1000", "--quiet", "--out", str(out)]) == 0
    )
    page = (out / "report.html").read_text(encoding="utf-8")
    assert "elicited" not in page.lower() and RESIDUALS not in page
    assert not (out / "figures" / "elicited.svg").exists()


def test_a_broken_elicited_file_exits_2_naming_it(elicited_run, tmp_path, capsys):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(elicited_run, copy)
    (copy / "report.html").unlink()
    text = (copy / "elicited.csv").read_text(encoding="utf-8")
    (copy / "elicited.csv").write_text(text.replace(",point,", ",dot,", 1), encoding="utf-8")
    assert main(["report", str(copy), "--quiet"]) == 2
    err = capsys.readouterr().err
    message = f"{copy / 'elicited.csv'}: not a table of elicited points: kind 'dot' is neither"
    assert message in err and "Traceback" not in err
    assert not (copy / "report.html").exists()


def test_the_elicited_figure_keeps_its_labels_on_its_canvas_and_apart(elicited_run):
    from mcinfra.report import build
    from mcinfra.report.data import load_report_data

    data = load_report_data(elicited_run)
    plan = {name: job for name, _, job in build._figure_plan(data, [], log=False)}
    builder, args = plan["elicited"]
    boxes_fit_apart(getattr(figures, builder)(*args))
