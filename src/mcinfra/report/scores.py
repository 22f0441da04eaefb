"""The files of ``mcinfra score``: scores.csv, scores.json and a self-contained scores.html.

Everything here formats or draws numbers computed by :mod:`mcinfra.runs.score` (the PIT
histogram's counts included); nothing is estimated here.
"""

from __future__ import annotations

import csv
import html
import itertools
from pathlib import Path

from mcinfra.io.run_directory import write_json
from mcinfra.report.build import _STYLE, _svg, _table_html
from mcinfra.report.figures import BLACK, CYCLE, _figure, _grid, _layout, _styled, _wrap

SCORES_JSON = "scores.json"
SCORES_CSV = "scores.csv"
SCORES_HTML = "scores.html"
HEADER = ["run", "actual", "PIT", "in 50 %", "in 90 %", "in 98 %", "CRPS (exact)", "log score"]
CSV_COLUMNS = [
    "run", "expression", "actual", "pit", "in_50", "in_90", "in_98", "crps", "log_score",
    "bandwidth", "draws", "effective_draws",
]  # fmt: skip


def _number(value: float | None, digits: int = 4) -> str:
    return "not defined" if value is None else f"{value:.{digits}g}"


def score_rows(result: dict) -> list[list[str]]:
    """The table's rows, one per run and actual, as printed and shown in scores.html."""
    return [
        [
            row["run"],
            f"{row['expression']} = {row['actual']:g}",
            f"{row['pit']:.4f}",
            *("in" if row[f"in_{level}"] else "out" for level in (50, 90, 98)),
            _number(row["crps"]),
            _number(row["log_score"]),
        ]
        for row in result["scores"]
    ]


def write_scores(result: dict, out: Path) -> None:
    """Write scores.json, scores.csv and scores.html into the directory ``out``."""
    out = Path(out)
    write_json(out / SCORES_JSON, result)
    with (out / SCORES_CSV).open("w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(CSV_COLUMNS)
        for row in result["scores"]:
            writer.writerow(["" if row[c] is None else _csv_cell(row[c]) for c in CSV_COLUMNS])
    methods = result["methods"]
    figure = pit_histograms(result["pit_histogram"], [run["path"] for run in result["runs"]])
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>mcinfra scores</title><style>{_STYLE}</style></head><body>",
        "<h1>Calibration scores</h1>",
        "<ol>",
        *(
            f"<li>{html.escape(run['path'])}: {html.escape(run['model'])}, {run['draws']:,} "
            f"draws, seed {run['seed']}{', weighted draws' if run['weighted'] else ''}</li>"
            for run in result["runs"]
        ),
        "</ol>",
        "<h2>Scores</h2>",
        _table_html(HEADER, score_rows(result)),
        "<ul>",
        *(
            f"<li><b>{html.escape(name)}</b>: {html.escape(text)}</li>"
            for name, text in methods.items()
        ),
        "</ul>",
        "<h2>PIT histogram</h2>",
        "<p>A calibrated forecaster's PIT values are uniform: across many actuals each bin "
        "holds about the same count (the dashed line).</p>",
        f"<figure>{_svg(figure)}</figure>",
        "</body></html>",
    ]
    (out / SCORES_HTML).write_text("\n".join(parts), encoding="utf-8")


def _csv_cell(value) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return repr(value)
    return str(value)


@_styled
def pit_histograms(histogram: dict, runs: list[str]):
    """One panel per run: its actuals' PIT counts per bin, and the count uniformity expects."""
    from matplotlib.ticker import MaxNLocator

    edges = histogram["edges"]
    fig = _figure((3.6 * min(len(runs), 3), 2.8 * -(-len(runs) // 3) + 0.4))
    axes = _grid(fig, -(-len(runs) // 3), min(len(runs), 3), len(runs))
    widths = [high - low for low, high in itertools.pairwise(edges)]
    for i, (ax, run) in enumerate(zip(axes, runs, strict=True)):
        counts = histogram["counts"][run]
        ax.bar(
            edges[:-1], counts, width=widths, align="edge", color=CYCLE[i % len(CYCLE)],
            edgecolor="white", linewidth=0.8,
        )  # fmt: skip
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax.axhline(histogram["uniform"][run], color=BLACK, linestyle="--", linewidth=1)
        ax.set_xlim(0, 1)
        ax.set_title(_wrap(run, 44))
        ax.set_xlabel("PIT")
        ax.set_ylabel("actuals")
        ax.grid(axis="y", alpha=0.3)
    fig.suptitle(
        "PIT of each actual under each run's forecast\n"
        "dashed: the count per bin if the forecasts were calibrated",
        fontsize=9,
    )
    _layout(fig)
    return fig
