"""The report of an updated run: what the news changed, prior beside posterior.

Everything is read from the updated run directory's files (``update.json``,
``predictions.csv``, ``quantiles.csv``, ``prior_quantiles.csv``, ``inputs.csv``,
``crossovers.csv``, ``config.toml``); every number shown was computed by
:mod:`mcinfra.runs.update`. Figures are drawn by :mod:`mcinfra.report.figures`, on the
run report's drawing workers (:func:`mcinfra.report.build.draw_figures`).
"""

from __future__ import annotations

import hashlib
import html
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from mcinfra.errors import UsageError
from mcinfra.io.run_directory import CONFIG, QUANTILES_CSV, read_rows
from mcinfra.report.build import draw_figures, drawing_workers
from mcinfra.report.data import QuantileCube
from mcinfra.report.figures import POSTERIOR_COLOUR, PRIOR_COLOUR
from mcinfra.report.terminal import interval, significant

UPDATE_JSON = "update.json"
PRIOR_QUANTILES = "prior_quantiles.csv"
MOVED_INPUTS = 10  # inputs shown in the chart of the inputs the news moved most
_SD_OF_RANGE90 = 1.6448536269514722  # half a normal's central 90 % range, in its SDs


@dataclass
class NewsData:
    """An updated run's files, read for the report."""

    update: dict
    predictions: list[dict]  # predictions.csv rows, numbers as floats, with ``text``
    posterior: QuantileCube
    prior: QuantileCube | None  # None without prior_quantiles.csv
    inputs: list[dict]  # inputs.csv rows, numbers as floats
    crossovers: list[dict]  # crossovers.csv rows
    title: str
    unit: str
    partitions: dict[str, list[str]]  # partition: its segments' and groups' labels


def _floats(row: dict, keep: tuple[str, ...]) -> dict:
    return {k: (v if k in keep else float(v)) for k, v in row.items()}


def load_news_data(run_dir: Path) -> NewsData:
    """Read what the report of an updated run shows (see the module docstring)."""
    from mcinfra.config.loading import parse_config
    from mcinfra.config.solved import config_text_of
    from mcinfra.config.structure import list_series

    run_dir = Path(run_dir)
    try:
        update = json.loads((run_dir / UPDATE_JSON).read_text(encoding="utf-8"))
        text = (run_dir / CONFIG).read_text(encoding="utf-8")
        predictions = [_floats(r, ("id",)) for r in read_rows(run_dir / "predictions.csv")]
        posterior = QuantileCube.from_rows(read_rows(run_dir / QUANTILES_CSV))
        inputs = [_floats(r, ("input",)) for r in read_rows(run_dir / "inputs.csv")]
        crossovers = read_rows(run_dir / "crossovers.csv")
        prior_file = run_dir / PRIOR_QUANTILES
        prior = QuantileCube.from_rows(read_rows(prior_file)) if prior_file.is_file() else None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise UsageError(f"{run_dir} is not an updated mcinfra run: {exc}") from None
    if inputs and "median_shift" not in inputs[0]:
        raise UsageError(
            f"{run_dir}/inputs.csv has no median_shift column: run mcinfra update again"
        )
    run = update.get("run", {})
    recorded = hashlib.sha256(config_text_of(text).encode()).hexdigest()
    loaded = parse_config(
        text,
        origin=str(run_dir / CONFIG),
        overrides=tuple(run.get("config_overrides", ())),
        relations=recorded != run.get("config_sha256"),
    )
    config = loaded.config
    texts = {ident: spec.text for ident, spec in config.predictions.items()}
    for row in predictions:
        row["text"] = texts.get(row["id"], "")
    partitions = {
        name: [
            s.label
            for s in list_series(config)
            if s.partition == name and s.kind in ("segment", "group")
        ]
        for name in config.partitions
    }
    return NewsData(
        update,
        predictions,
        posterior,
        prior,
        inputs,
        crossovers,
        config.model.title or config.model.name,
        config.model.unit,
        partitions,
    )


def _fans(data: NewsData, label: str) -> list[tuple[str, dict, str]]:
    def cube(q: QuantileCube) -> dict:
        values = q.series(label)
        return {p: values[:, k] for k, p in enumerate(q.probs)}

    fans = []
    if data.prior is not None and label in data.prior.segments:
        fans.append(("prior", cube(data.prior), PRIOR_COLOUR))
    fans.append(("posterior", cube(data.posterior), POSTERIOR_COLOUR))
    return fans


def _panel(data: NewsData, label: str) -> dict:
    observed = [
        (o["year"], o["central"], *o["interval95"], f"observed {o['central']:g}, 95 % error")
        for o in data.update["observations"]
        if o.get("series") == label and "central" in o
    ]
    return {
        "title": label,
        "years": data.posterior.years,
        "fans": _fans(data, label),
        "observed": observed,
    }


# What the posterior bands hold: a share of the draws' weight, not of the draws.
WEIGHT = "the weight (posterior) or of the draws (prior)"


def figure_plan(data: NewsData, log: bool = False) -> list[tuple[str, str, tuple]]:
    """(name, title, (builder, args)) of every figure of the report, in the page's order.

    ``builder`` names a function of :mod:`mcinfra.report.figures` (see
    :func:`mcinfra.report.build.draw_figures`).
    """
    plan: list[tuple[str, str, tuple]] = []
    if data.predictions:
        plan.append(
            ("news_predictions", "Predictions: prior and posterior",
             ("prior_posterior_chart", (data.predictions,)))
        )  # fmt: skip
    observed = [o["series"] for o in data.update["observations"] if o.get("series")]
    labels = list(dict.fromkeys(["total", *observed]))
    labels = [label for label in labels if label in data.posterior.segments]
    fan_title = f"Total and observed series: posterior over prior ({data.unit})"
    plan.append(
        ("news_fan_observed", fan_title,
         ("fan_charts",
          ([_panel(data, label) for label in labels], fan_title, data.unit, log, 3, WEIGHT)))
    )  # fmt: skip
    for name, members in data.partitions.items():
        members = [label for label in members if label in data.posterior.segments]
        if members:
            title = f"Partition {name}: posterior over prior ({data.unit})"
            plan.append(
                (f"news_fan_{name}", title,
                 ("fan_charts",
                  ([_panel(data, label) for label in members], title, data.unit, log, 3, WEIGHT)))
            )  # fmt: skip
    moved = moved_inputs(data.inputs)
    if moved:
        plan.append(("news_inputs", "Inputs the news moved most", ("moved_inputs_chart", (moved,))))
    return plan


def moved_inputs(inputs: list[dict], count: int = MOVED_INPUTS) -> list[dict]:
    """The ``count`` inputs with the largest |median_shift|, largest first, for the chart.

    Each gets ``prior_range`` and ``posterior_range``: (p05, median, p95) in the prior's
    SDs from its median (the SD read from the prior's 90 % range, as ``median_shift``).
    """
    varying = [i for i in inputs if i["prior_p95"] > i["prior_p05"]]
    ranked = sorted(varying, key=lambda i: -abs(i["median_shift"]))[:count]
    shown = []
    for i in ranked:
        sd = (i["prior_p95"] - i["prior_p05"]) / (2 * _SD_OF_RANGE90)
        centre = i["prior_median"]
        scale = [(i[f"{side}_{k}"] - centre) / sd for side in ("prior", "posterior")
                 for k in ("p05", "median", "p95")]  # fmt: skip
        shown.append(i | {"prior_range": scale[:3], "posterior_range": scale[3:]})
    return shown


def build_news_report(
    run_dir: Path,
    log: bool = False,
    notify: Callable[[str], None] | None = None,
    png: bool = False,
    workers=None,
) -> list[Path]:
    """Write report.html, report.md and figures/*.svg of an updated run; return them.

    Parameters are those of :func:`mcinfra.report.build.build_report`; without ``png``
    only the observed series' fan chart is also written as PNG.
    """
    if workers is not None:
        return _build(Path(run_dir), log, notify, png, workers)
    with drawing_workers() as started:
        return _build(Path(run_dir), log, notify, png, started)


def _build(run_dir: Path, log: bool, notify, png: bool, workers) -> list[Path]:
    """:func:`build_news_report`, its figures drawn by ``workers`` (or here when None)."""
    data = load_news_data(run_dir)
    for row in data.predictions:
        row["shown_prior"] = significant(row["prior"], row.get("prior_std_error", 0.0))
        row["shown_posterior"] = significant(row["posterior"], row["std_error"])
    plan = figure_plan(data, log)
    svgs, written = draw_figures(
        plan, run_dir / "figures", png or ("news_fan_observed",), notify, workers
    )
    if notify is not None:
        notify("report: writing report.html and report.md")
    (run_dir / "report.html").write_text(_html(data, svgs), encoding="utf-8")
    (run_dir / "report.md").write_text(_markdown(data, list(svgs)), encoding="utf-8")
    return [run_dir / "report.html", run_dir / "report.md", *written]


def _lead(data: NewsData) -> str:
    update, run = data.update, data.update.get("run", {})
    khat = update["pareto_khat"]
    khat_text = "not estimated (too few large weights)" if khat is None else f"{khat:.2f}"
    seed = f", seed {run['seed']}" if "seed" in run else ""
    return (
        f"The run {update['prior_run'] or '(in memory)'} ({update['draws']:,} draws{seed}) "
        f"updated with {len(update['observations'])} observation(s): each draw is weighted by "
        f"the likelihood of the observations given its values. Effective draws "
        f"{update['effective_draws']:,.0f} ({update['effective_share']:.1%} of the draws); "
        f"Pareto k-hat {khat_text} (warning above {update['pareto_khat_threshold']:.2f})."
    )


def _observation_table(data: NewsData) -> tuple[list[str], list[list[str]]]:
    header = ["observation", "quantity", "error model", "figure", "95 % of its error"]
    body = []
    for o in data.update["observations"]:
        low, high = o.get("interval95", ["", ""])
        parameters = ", ".join(f"{k}={v:g}" for k, v in o["parameters"].items())
        body.append(
            [o["text"], o["quantity"], f"{o['error']}({parameters})",
             f"{o.get('central', ''):g}" if "central" in o else "",
             f"{low:.4g} to {high:.4g}" if "central" in o else ""]
        )  # fmt: skip
    return header, body


def _diagnostics_table(data: NewsData) -> tuple[list[str], list[list[str]]]:
    update = data.update
    khat = update["pareto_khat"]
    threshold = update["pareto_khat_threshold"]
    if khat is None:
        verdict = "not estimated"
    else:
        verdict = "above: unreliable" if khat > threshold else "below: reliable"
    header = ["diagnostic", "value", "reading"]
    body = [
        ["draws", f"{update['draws']:,}", "of the prior run, re-streamed bit for bit"],
        ["effective draws (ESS = 1 / sum w~^2)", f"{update['effective_draws']:,.0f}",
         "the posterior's errors are those of this many independent draws"],
        ["effective share", f"{update['effective_share']:.2%}", "ESS / draws"],
        ["Pareto k-hat of the largest weights", "n/a" if khat is None else f"{khat:.2f}",
         f"threshold {threshold:.2f} = min(1 - 1 / log10 S, 0.7): {verdict}"],
    ]  # fmt: skip
    body += [["warning", w, ""] for w in update.get("warnings", [])]
    return header, body


def _prediction_table(data: NewsData) -> tuple[list[str], list[list[str]]]:
    header = ["id", "prediction", "prior", "prior 95 %", "posterior", "posterior 95 %",
              "effective draws"]  # fmt: skip
    body = []
    for r in data.predictions:
        prior = interval(
            r["prior"], r.get("prior_std_error", 0.0),
            r.get("prior_ci95_low", r["prior"]), r.get("prior_ci95_high", r["prior"]),
        )  # fmt: skip
        posterior = interval(r["posterior"], r["std_error"], r["ci95_low"], r["ci95_high"])
        body.append(
            [r["id"], r["text"], prior[0], f"{prior[1]} to {prior[2]}", posterior[0],
             f"{posterior[1]} to {posterior[2]}", f"{r['effective_draws']:,.0f}"]
        )  # fmt: skip
    return header, body


def _input_table(data: NewsData) -> tuple[list[str], list[list[str]]]:
    header = ["input", "prior median (p05 to p95)", "posterior median (p05 to p95)",
              "median shift (prior SDs)"]  # fmt: skip
    body = []
    for i in moved_inputs(data.inputs):
        body.append(
            [i["input"],
             f"{i['prior_median']:.4g} ({i['prior_p05']:.4g} to {i['prior_p95']:.4g})",
             f"{i['posterior_median']:.4g} ({i['posterior_p05']:.4g} to "
             f"{i['posterior_p95']:.4g})",
             f"{i['median_shift']:+.2f}"]
        )  # fmt: skip
    return header, body


def _crossover_table(data: NewsData) -> tuple[list[str], list[list[str]]]:
    header = ["entity", "year", "prior P(crossed by year)", "posterior", "its standard error"]
    body = [
        [c["entity"], c["year"], f"{float(c['prior']):.4f}",
         significant(float(c["posterior"]), float(c["std_error"])),
         f"{float(c['std_error']):.2g}"]
        for c in data.crossovers
    ]  # fmt: skip
    return header, body


_SHIFT = (
    "Shift: (posterior median - prior median) / prior SD, the SD read from the prior's "
    "90 % range as (p95 - p05) / 3.29, a normal's; inputs ranked by its size."
)


def _html(data: NewsData, svgs: dict[str, tuple[str, str]]) -> str:
    from mcinfra.report.build import _STYLE, _table_html

    def figure(name: str) -> list[str]:
        if name not in svgs:
            return []
        return [f"<figure id='{name}'>{svgs[name][1]}</figure>"]

    prior_note = (
        "Orange: the prior run's bands; blue: the posterior's (bands hold 50 %, 90 % and "
        "98 % of the weight). Squares with bars: observed figures with the central 95 % of "
        "their measurement error."
        if data.prior is not None
        else "The prior run's quantiles were not copied (no prior_quantiles.csv): "
        "the posterior alone is shown."
    )
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>{html.escape(data.title)}: updated, mcinfra report</title>",
        f"<style>{_STYLE}</style></head><body>",
        f"<h1>{html.escape(data.title)}: the news</h1>",
        f"<p>{html.escape(_lead(data))}</p>",
        "<h2>Observations</h2>",
        _table_html(*_observation_table(data)),
        "<h2>Diagnostics</h2>",
        _table_html(*_diagnostics_table(data)),
        "<h2>Predictions</h2>",
        _table_html(*_prediction_table(data)),
        *figure("news_predictions"),
        "<h2>Fan charts</h2>",
        f"<p>{html.escape(prior_note)}</p>",
        *[part for name in svgs if name.startswith("news_fan") for part in figure(name)],
        "<h2>Inputs the news moved most</h2>",
        f"<p>{html.escape(_SHIFT)}</p>",
        _table_html(*_input_table(data)),
        *figure("news_inputs"),
    ]
    if data.crossovers:
        parts += ["<h2>Crossovers</h2>", _table_html(*_crossover_table(data))]
    parts.append("</body></html>")
    return re.sub(r"\n\s*\n", "\n", "\n".join(parts))


def _markdown(data: NewsData, names: list[str]) -> str:
    from mcinfra.report.build import _table_markdown as table

    parts = [
        f"# {data.title}: the news",
        "",
        _lead(data),
        "",
        "## Observations",
        "",
        table(*_observation_table(data)),
        "",
        "## Diagnostics",
        "",
        table(*_diagnostics_table(data)),
        "",
        "## Predictions",
        "",
        table(*_prediction_table(data)),
        "",
        "## Inputs the news moved most",
        "",
        _SHIFT,
        "",
        table(*_input_table(data)),
        "",
    ]
    if data.crossovers:
        parts += ["## Crossovers", "", table(*_crossover_table(data)), ""]
    parts += ["## Figures", "", *[f"![{n}](figures/{n}.svg)" for n in names], ""]
    return "\n".join(parts)
