"""The files of ``mcinfra compare``: compare.json, compare.csv and a self-contained compare.html.

Everything here formats or draws numbers computed by :mod:`mcinfra.runs.compare` and read from
each run's quantiles.nc; nothing is estimated here.
"""

from __future__ import annotations

import csv
import html
from pathlib import Path

from mcinfra.errors import UsageError
from mcinfra.io.run_directory import QUANTILES_CSV, read_rows, write_json
from mcinfra.report.build import _STYLE, _svg, _table_html
from mcinfra.report.data import QuantileCube
from mcinfra.report.figures import CYCLE, fan_charts, sweep_chart
from mcinfra.report.terminal import interval, significant

SERIES = ("total", "network", "total_inference", "total_training", "enterprises", "cloud")


def difference_text(d: dict) -> str:
    """A difference rounded to its standard error (exact when the error is zero)."""
    return (
        f"{d['difference']:g}"
        if d["std_error"] == 0
        else significant(d["difference"], d["std_error"])
    )


def _fan_panels(result: dict) -> list[dict]:
    """One panel per series that every run has, each run's fan overlaid."""
    tables = [read_quantiles(Path(run["path"]) / QUANTILES_CSV) for run in result["runs"]]
    common = [s for s in SERIES if all(s in t.segments for t in tables)]
    if not common:
        common = [tables[0].segments[0]]
    panels = []
    for series in common:
        fans = []
        for i, table in enumerate(tables):
            values = table.series(series)
            quantiles = {q: values[:, k] for k, q in enumerate(table.probs)}
            fans.append((f"run {i + 1}", quantiles, CYCLE[i % len(CYCLE)]))
        panels.append({"title": series, "years": tables[0].years, "fans": fans})
    return panels


def read_quantiles(path: Path) -> QuantileCube:
    """A ``quantiles.csv`` (of a run or an updated run) as a :class:`QuantileCube`."""
    try:
        return QuantileCube.from_rows(read_rows(path))
    except (OSError, KeyError, ValueError) as exc:
        raise UsageError(f"{path}: not a table of quantiles: {exc}") from None


def _describe(run: dict) -> str:
    edits = "; ".join(run["config_overrides"])
    text = run["model"] + (f" ({edits})" if edits else "")
    if run.get("updated"):
        text += f" updated with {'; '.join(run['observations'])}"
    return text


def _label(run: dict, index: int) -> str:
    return f"{index + 1}: {_describe(run)}"


def _rows(result: dict) -> list[list[str]]:
    """Table rows: each run's probability, and its difference to the first run."""
    differences = {(d["run"], d["prediction"]): d for d in result["differences"]}
    rows = []
    for i, run in enumerate(result["runs"]):
        for p in run["predictions"]:
            probability, low, high = interval(p["probability"], p["std_error"], *p["ci95"])
            row = [_label(run, i), p["id"], probability, f"{low} to {high}"]
            d = differences.get((run["path"], p["id"]))
            if d is None:
                row += ["baseline", "", ""]
            else:
                row += [
                    difference_text(d),
                    f"{d['std_error']:.2g}",
                    f"{d['std_error_independent']:.2g}" + (" (paired)" if d["paired"] else ""),
                ]
            rows.append(row)
    return rows


HEADER = [
    "run",
    "prediction",
    "probability",
    "95 % interval",
    "difference to run 1",
    "its standard error",
    "SE if independent",
]


def write_comparison(result: dict, out: Path) -> None:
    """Write compare.json, compare.csv and compare.html into the directory ``out``."""
    write_json(out / "compare.json", result)
    differences = {(d["run"], d["prediction"]): d for d in result["differences"]}
    with (out / "compare.csv").open("w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(
            ["run", "prediction", "probability", "std_error", "ci95_low", "ci95_high",
             "difference", "difference_std_error", "independent_std_error", "paired"]
        )  # fmt: skip
        for run in result["runs"]:
            for p in run["predictions"]:
                d = differences.get((run["path"], p["id"]))
                extra = (
                    ["", "", "", ""]
                    if d is None
                    else [repr(d["difference"]), repr(d["std_error"]),
                          repr(d["std_error_independent"]), str(d["paired"]).lower()]
                )  # fmt: skip
                writer.writerow(
                    [run["path"], p["id"], repr(p["probability"]), repr(p["std_error"]),
                     repr(p["ci95"][0]), repr(p["ci95"][1]), *extra]
                )  # fmt: skip
    figure = fan_charts(_fan_panels(result), "Runs compared", unit="", columns=2)
    paired = any(d["paired"] for d in result["differences"])
    note = (
        "Runs with the same seed and draws share their random numbers (common random "
        "numbers): their differences are estimated from paired draws, with the standard "
        "error in the last but one column; the last column is what independent runs would "
        "give."
        if paired
        else "Runs with different seeds are independent: a difference's standard error is "
        "the root of the sum of the squared errors."
    )
    if any(run.get("updated") for run in result["runs"]):
        note += (
            " An updated run shows its posterior probabilities, each with its 95 % interval "
            "from the effective draws; its differences take the independent error, an upper "
            "bound beside its prior, whose draws it shares."
        )
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>mcinfra comparison</title><style>{_STYLE}</style></head><body>",
        "<h1>Runs compared</h1>",
        "<ol>",
        *(
            f"<li>{html.escape(run['path'])}: {html.escape(_describe(run))}, "
            f"{run['draws']:,} draws, seed {run['seed']}"
            + (
                f", {run['effective_draws']:,.0f} effective draws"
                if run.get("effective_draws")
                else ""
            )
            + "</li>"
            for run in result["runs"]
        ),
        "</ol>",
        "<h2>Predictions</h2>",
        f"<p>{html.escape(note)}</p>",
        _table_html(HEADER, _rows(result)),
        "<h2>Fan charts</h2>",
        f"<figure>{_svg(figure)}</figure>",
        "</body></html>",
    ]
    (out / "compare.html").write_text("\n".join(parts), encoding="utf-8")


def write_sweep(result: dict, out: Path) -> None:
    """Write sweep.json, sweep.csv and sweep.html (probability against the swept value)."""
    write_json(out / "sweep.json", result)
    with (out / "sweep.csv").open("w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(
            ["value", "run", "prediction", "probability", "std_error", "ci95_low", "ci95_high"]
        )
        for point in result["points"]:
            for p in point["predictions"]:
                writer.writerow(
                    [point["value"], point["run"], p["id"], repr(p["probability"]),
                     repr(p["std_error"]), repr(p["ci95"][0]), repr(p["ci95"][1])]
                )  # fmt: skip
    figure = sweep_chart(result)
    body = []
    for point in result["points"]:
        for p in point["predictions"]:
            probability, low, high = interval(p["probability"], p["std_error"], *p["ci95"])
            body.append([point["value"], point["run"], p["id"], probability, f"{low} to {high}"])
    extra = "; ".join(result["overrides"])
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>mcinfra sweep</title><style>{_STYLE}</style></head><body>",
        f"<h1>Sweep of {html.escape(result['param'])}</h1>",
        f"<p>{len(result['points'])} runs, one per value, all with seed "
        f"{result['points'][0]['seed']} (common random numbers: each probability moves only "
        f"because the value moved){html.escape('; also --set ' + extra if extra else '')}.</p>",
        f"<figure>{_svg(figure)}</figure>",
        _table_html(["value", "run", "prediction", "probability", "95 % interval"], body),
        "</body></html>",
    ]
    (out / "sweep.html").write_text("\n".join(parts), encoding="utf-8")
