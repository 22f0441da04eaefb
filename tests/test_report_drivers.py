"""The report and the terminal show a run's Shapley effects (drivers.csv, drivers.json)."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest

from conftest import boxes_fit_apart
from mcinfra.cli import main
from mcinfra.report import build, figures
from mcinfra.report.data import load_report_data, read_drivers
from mcinfra.report.terminal import prediction_table

Z95 = 1.959963984540054
# Hand-written effects: P1's largest is not its largest first-order index in sensitivity.csv
# (channel.enterprise_on_prem.crossover), so a report that used the latter would show it.
EFFECTS = {
    "P1": [
        ("channel.enterprise_on_prem.crossover", 0.31, 0.004, 0.74, -0.64),
        ("channel_crossovers", 0.52, 0.006, None, None),
        ("shocks", 0.12, 0.003, None, None),
        ("total.cagr", 0.05, 0.002, 0.01, 0.05),
    ],
    "P2": [
        ("offering.network.cagr", 0.83, 0.007, 0.08, 0.20),
        ("shocks", 0.17, 0.004, None, None),
    ],
    "total[2030]": [
        ("total.cagr", 0.71, 0.005, 0.70, 0.83),
        ("total.base", 0.2, 0.004, 0.21, 0.45),
        ("shocks", 0.09, 0.002, None, None),
    ],
}


def _document() -> dict:
    return {
        "method": "shapley-random-permutation",
        "seed": 20241127,
        "permutations": 4000,
        "outer": 1,
        "inner": 3,
        "evaluations": 1_200_000,
        "target_se": 0.01,
        "seconds": 12.5,
        "targets": [
            {
                "target": target,
                "variance": 0.14,
                "players": [
                    {
                        "player": player,
                        "shapley": shapley,
                        "std_error": se,
                        "first_order": first,
                        "rank_correlation": rank,
                    }
                    for player, shapley, se, first, rank in players
                ],
            }
            for target, players in EFFECTS.items()
        ],
    }


def _write_drivers(run_dir: Path, json_file: bool = True, csv_file: bool = True) -> None:
    if json_file:
        (run_dir / "drivers.json").write_text(json.dumps(_document()), encoding="utf-8")
    if csv_file:
        with open(run_dir / "drivers.csv", "w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(
                ["target", "player", "shapley", "std_error", "first_order", "rank_correlation"]
            )
            for target, players in EFFECTS.items():
                for player, shapley, se, first, rank in players:
                    cells = ["" if v is None else repr(v) for v in (first, rank)]
                    writer.writerow([target, player, repr(shapley), repr(se), *cells])


@pytest.fixture(scope="module")
def plain_run(tmp_path_factory) -> Path:
    """A real run of the default model, without a report and without drivers."""
    out = tmp_path_factory.mktemp("drivers") / "run"
    args = ["run", "--draws", "4000", "--chunk-size", "1000", "--out", str(out), "--quiet"]
    assert main([*args, "--no-report"]) == 0
    return out


@pytest.fixture(scope="module")
def shapley_run(plain_run, tmp_path_factory) -> Path:
    """The same run with hand-written drivers.csv and drivers.json, and its report."""
    out = tmp_path_factory.mktemp("drivers") / "shapley"
    shutil.copytree(plain_run, out)
    _write_drivers(out)
    assert main(["report", str(out), "--quiet"]) == 0
    return out


def _plan(run_dir: Path) -> dict[str, tuple]:
    data = load_report_data(run_dir)
    rows = data.summary["predictions"]
    for row in rows:
        row["shown"] = "0.5"
    return {name: (title, job) for name, title, job in build._figure_plan(data, rows, log=False)}


def test_tornados_show_shapley_effects_with_95_percent_intervals(shapley_run):
    plan = _plan(shapley_run)
    builder, (target, effects) = plan["tornado_P1"][1]
    assert builder == "shapley_tornado" and target == "P1"
    assert [e["player"] for e in effects] == [
        "channel_crossovers",
        "channel.enterprise_on_prem.crossover",
        "shocks",
        "total.cagr",
    ]
    assert effects[0]["shapley"] == 0.52
    assert effects[0]["interval"] == pytest.approx(Z95 * 0.006)
    assert effects[0]["rank_correlation"] is None and effects[1]["rank_correlation"] == -0.64
    # a prediction the drivers file does not cover keeps its first-order chart
    assert plan["tornado_P5"][1][0] == "tornado"


def test_the_chart_says_which_measure_it_shows(shapley_run, plain_run):
    _, (builder, args) = _plan(shapley_run)["tornado_P1"]
    fig = getattr(figures, builder)(*args)
    (ax,) = fig.axes
    assert "Shapley effect" in ax.get_title() and "Shapley effect" in ax.get_xlabel()
    assert "95 % interval" in ax.get_xlabel()
    bars = sorted(ax.patches, key=lambda bar: bar.get_y())[::-1]  # top bar first
    assert [bar.get_width() for bar in bars] == [0.52, 0.31, 0.12, 0.05]
    whiskers = ax.collections[0].get_segments()  # one horizontal segment per effect
    spans = sorted(((seg[1][0] - seg[0][0]) / 2 for seg in whiskers), reverse=True)
    assert spans == pytest.approx(sorted(Z95 * s for s in (0.006, 0.004, 0.003, 0.002))[::-1])
    _, (builder, args) = _plan(plain_run)["tornado_P1"]
    (ax,) = getattr(figures, builder)(*args).axes
    assert "first-order index" in ax.get_xlabel() and "Shapley" not in ax.get_title()


def test_a_numeric_target_gets_its_own_chart(shapley_run):
    title, (builder, (target, effects)) = _plan(shapley_run)["tornado_expression_1"]
    assert builder == "shapley_tornado" and target == "total[2030]"
    assert title == "total[2030]: drivers" and effects[0]["player"] == "total.cagr"
    page = (shapley_run / "report.html").read_text(encoding="utf-8")
    assert "<figure id='tornado_expression_1'>" in page
    assert (shapley_run / "figures" / "tornado_expression_1.svg").is_file()


HOW_TO_READ = (
    "How to read the driver charts: each bar is a Shapley effect, the share of the target's "
    "variance that the input accounts for, its interactions with the other inputs (correlated "
    "ones included) shared fairly among them, so the effects of one target sum to one. For a "
    "prediction the target is its 0/1 indicator, whose variance is p(1 - p): an effect of 0.4 "
    'means the input accounts for 40 % of that variance. "shocks" is the share due to the '
    "year-to-year noise. Whiskers show each effect's 95 % interval (1.96 standard errors "
    "either side). Estimated from 4,000 random permutations of the players (seed 20241127)."
)


def test_the_report_says_how_to_read_a_share_of_variance(shapley_run, plain_run, tmp_path):
    markdown = (shapley_run / "report.md").read_text(encoding="utf-8")
    assert HOW_TO_READ in markdown
    page = (shapley_run / "report.html").read_text(encoding="utf-8")
    assert HOW_TO_READ.replace('"', "&quot;").replace("'", "&#x27;") in page
    copy = tmp_path / "plain"
    shutil.copytree(plain_run, copy)
    assert main(["report", str(copy), "--quiet"]) == 0
    assert "How to read the driver charts" not in (copy / "report.md").read_text()


def test_the_top_driver_is_the_largest_shapley_effect(shapley_run):
    markdown = (shapley_run / "report.md").read_text(encoding="utf-8")
    summary = markdown[markdown.index("## Executive summary") : markdown.index("## Predictions")]
    assert "top driver: channel_crossovers (Shapley effect 0.52)." in summary
    assert "top driver: offering.network.cagr (Shapley effect 0.83)." in summary
    table = markdown[markdown.index("## Predictions") : markdown.index("## Figures")]
    assert "| channel_crossovers (Shapley effect 0.52) |" in table
    # P3 has no Shapley effects: its top driver stays the first-order one
    data = load_report_data(shapley_run)
    p3 = next(r for r in data.summary["predictions"] if r["id"] == "P3")
    assert f"top driver: {p3['drivers'][0]['input']}." in summary


def test_the_terminal_names_the_largest_shapley_effect(shapley_run, plain_run):
    rows = json.loads((shapley_run / "summary.json").read_text())["predictions"]
    printed = prediction_table(rows, read_drivers(shapley_run))
    assert "top driver by Shapley effect" in printed
    assert "top driver: channel_crossovers (Shapley effect 0.52, se 0.006)" in printed
    p3 = next(r for r in rows if r["id"] == "P3")
    assert f"top driver: {p3['drivers'][0]['input']} (first-order index" in printed
    assert read_drivers(plain_run) is None
    assert "top driver by first-order index" in prediction_table(rows, None)
    expressions_only = read_drivers(shapley_run)
    assert expressions_only is not None
    for prediction in ("P1", "P2"):
        del expressions_only.targets[prediction]
    assert "top driver by first-order index" in prediction_table(rows, expressions_only)


def test_drivers_csv_alone_is_read_like_drivers_json(plain_run, tmp_path):
    copy = tmp_path / "csv"
    shutil.copytree(plain_run, copy)
    _write_drivers(copy, json_file=False)
    from_csv = read_drivers(copy)
    _write_drivers(copy)
    from_json = read_drivers(copy)
    assert from_csv is not None and from_json is not None
    assert from_csv.targets.keys() == from_json.targets.keys()
    for target, effects in from_json.targets.items():
        assert from_csv.targets[target].players == effects.players
    assert from_csv.settings == {} and from_json.settings["permutations"] == 4000


@pytest.mark.parametrize(
    ("name", "content", "problem"),
    [
        ("drivers.json", "{", "Expecting property name"),
        ("drivers.json", '{"method": "x"}', "missing 'targets'"),
        (
            "drivers.json",
            '{"targets": [{"target": "P1", "players": [{"player": "a", "shapley": "high", '
            '"std_error": 0.1}]}]}',
            "could not convert string to float: 'high'",
        ),
        ("drivers.csv", "target,player,shapley\nP1,a,0.5\n", "missing 'std_error'"),
        (
            "drivers.csv",
            "target,player,shapley,std_error,first_order,rank_correlation\nP1,a,nan,0.1,,\n",
            "not a finite number: 'nan'",
        ),
    ],
)
def test_a_broken_drivers_file_exits_2_naming_it(
    plain_run, tmp_path, capsys, name, content, problem
):
    copy = tmp_path / "broken"
    shutil.copytree(plain_run, copy)
    (copy / name).write_text(content, encoding="utf-8")
    assert main(["report", str(copy), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert f"{copy / name}: not a table of Shapley effects: {problem}" in err
    assert "Traceback" not in err
    assert not (copy / "report.html").exists()


@pytest.mark.parametrize("labels", [["1", "2"], ["a much longer label of an input " * 2, "b"]])
def test_a_shapley_tornado_fits_labels_of_any_length(labels):
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    effects = [
        {"player": s, "shapley": 0.5, "interval": 0.02, "rank_correlation": None} for s in labels
    ]
    fig = figures.shapley_tornado("a long expression " * 4, effects)
    fig.set_dpi(figures.PNG_DPI)
    with figures.style():
        box = fig.get_tightbbox(FigureCanvasAgg(fig).get_renderer())
    width, height = fig.get_size_inches()
    assert box.x0 >= 0 and box.y0 >= 0 and box.x1 <= width and box.y1 <= height


def test_run_prints_the_shapley_top_driver_of_its_directory(shapley_run, capsys):
    from mcinfra.cli import _print_summary

    summary = json.loads((shapley_run / "summary.json").read_text())
    _print_summary(summary, shapley_run)
    printed = capsys.readouterr().out
    assert "top driver: channel_crossovers (Shapley effect 0.52, se 0.006)" in printed


def test_every_shapley_chart_keeps_its_labels_on_its_canvas(shapley_run):
    for _, (builder, args) in _plan(shapley_run).values():
        if builder == "shapley_tornado":
            boxes_fit_apart(getattr(figures, builder)(*args))
