"""The run summary (``summary.json``) and its compact terminal table."""

from __future__ import annotations

import math

import numpy as np
from scipy.special import ndtri

from mcinfra.config import LoadedConfig
from mcinfra.engine import RunSettings
from mcinfra.plan import Plan
from mcinfra.qmc import replicate_estimate
from mcinfra.results import SCHEMA_VERSION
from mcinfra.stats.summary import Columns

_PROVENANCE_KEYS = (
    "config_sha256",
    "seed",
    "draws",
    "chunk_size",
    "sampling_method",
    "random_numbers",
    "mcinfra_version",
    "numba_version",
    "numpy_version",
    "scipy_version",
    "xarray_version",
    "python_version",
    "created_utc",
)


def run_summary(
    columns: Columns,
    plan: Plan,
    loaded: LoadedConfig,
    settings: RunSettings,
    attrs: dict,
    partition_error: float,
    sampling_seconds: float,
) -> dict:
    """Everything ``summary.json`` holds (schema version 1; see docs/outputs.md)."""
    model = loaded.config.model
    first, last = plan.years[0], plan.years[-1]
    labels = [s.label for s in plan.series]
    ends = columns.quantiles([(label, year) for label in labels for year in (first, last)])
    cagr = columns.growth_quantiles([((label, first), (label, last)) for label in labels])
    series = []
    for i, info in enumerate(plan.series):
        entry = {
            "label": info.label,
            "kind": info.kind,
            "partition": info.partition,
            "unit": info.unit,
        }
        for j, year in enumerate((first, last)):
            low, median, high = ends[2 * i + j]
            entry[str(year)] = {"p05": float(low), "p50": float(median), "p95": float(high)}
        entry["cagr"] = {
            key: _finite(value) for key, value in zip(("p05", "p50", "p95"), cagr[i], strict=True)
        }
        series.append(entry)
    return {
        "schema_version": SCHEMA_VERSION,
        "model": {
            "name": model.name,
            "title": model.title,
            "unit": model.unit,
            "start_year": model.start_year,
            "end_year": model.end_year,
        },
        "run": {key: attrs[key] for key in _PROVENANCE_KEYS}
        | {
            "config_origin": loaded.origin,
            "config_overrides": list(loaded.overrides),
            "threads": settings.threads,
            "replicates": settings.replicates if settings.method == "sobol" else None,
        },
        "timing": {
            "sampling_seconds": sampling_seconds,
            "draws_per_second": settings.draws / sampling_seconds,
        },
        "checks": {"partition_max_relative_error": partition_error},
        "series": series,
        "source_figures": columns.figure_rows(loaded.config.source_figures),
    }


def _finite(value: float) -> float | None:
    return float(value) if np.isfinite(value) else None


def _money(value: float) -> str:
    return f"{value:,.3g}" if abs(value) < 100 else f"{value:,.0f}"


def summary_table(summary: dict) -> str:
    """A compact table: each series' first-year median, last-year median and 90 % range."""
    first, last = str(summary["model"]["start_year"]), str(summary["model"]["end_year"])
    unit = summary["model"]["unit"]
    head = f"{'series':<30} {first + ' median':>12} {last + ' median [5 %, 95 %]':>32} {'CAGR':>7}"
    lines = [
        f"{summary['model']['title'] or summary['model']['name']} ({unit}; adoption series "
        f"as fractions), {summary['run']['draws']:,} draws, seed {summary['run']['seed']}",
        "",
        head,
        "-" * len(head),
    ]
    for s in summary["series"]:
        a, b = s[first], s[last]
        label = s["label"] if s["kind"] in ("total", "adoption", "derived") else "  " + s["label"]
        cagr = s["cagr"]["p50"]
        lines.append(
            f"{label:<30} {_money(a['p50']):>12} "
            f"{_money(b['p50']) + ' [' + _money(b['p05']) + ', ' + _money(b['p95']) + ']':>32} "
            f"{'' if cagr is None else f'{100 * cagr:.1f} %':>7}"
        )
    if summary["source_figures"]:
        lines += [
            "",
            "source figures against the simulation (percentile = share of draws "
            "below the source figure):",
        ]
        for f in summary["source_figures"]:
            scale = 100 if f["kind"] in ("cagr", "share") else 1
            suffix = " %" if scale == 100 else ""
            lines.append(
                f"  {f['description'] or f['series']:<45} source {f['source_value'] * scale:.4g}"
                f"{suffix}, median {f['simulated_median'] * scale:.4g}{suffix}, "
                f"percentile {100 * f['source_percentile']:.0f}"
            )
    checks = summary["checks"]
    timing = summary["timing"]
    lines += [
        "",
        f"partitions sum to the total within {checks['partition_max_relative_error']:.1e} "
        f"(relative); sampling {timing['sampling_seconds']:.2f} s, "
        f"{timing['draws_per_second'] / 1e6:.2f} M draws/s",
    ]
    return "\n".join(lines)


def prediction_rows(counter, replicates=None) -> list[dict]:
    """The ``predictions`` list of ``summary.json``: one object per prediction.

    With ``replicates`` (:class:`mcinfra.reductions.ReplicateCounts` of a Sobol' run) the
    standard errors come from the spread of the replicates' estimates and the intervals
    from Student's t; otherwise from the binomial formula and Wilson intervals.
    """
    rows = []
    estimates = counter.estimates()
    # Simultaneous intervals (Bonferroni): all m intervals cover their probabilities together
    # with probability >= 95 %, as needed when several predictions are checked at once.
    alpha_all = 0.05 / max(len(estimates), 1)
    z_all = float(-ndtri(alpha_all / 2))
    for i, (prediction, estimate) in enumerate(zip(counter.predictions, estimates, strict=True)):
        if replicates is None:
            se, method = estimate.std_error, "binomial"
            low, high = estimate.interval()
            simultaneous = list(estimate.interval(z_all))
        else:
            p, se, dof = replicate_estimate(
                replicates.complete(estimate.draws)[:, i], replicates.size
            )
            method = f"replicates ({dof + 1} scrambled Sobol' sets, Student t)"
            low, high = _t_interval(p, se, dof, 0.05)
            simultaneous = list(_t_interval(p, se, dof, alpha_all))
        drivers = [
            {
                "input": d.input,
                "first_order_index": _finite(d.first_order_index),
                "rank_correlation": _finite(d.rank_correlation),
            }
            for d in counter.sensitivity.drivers(i)[:TOP_DRIVERS]
        ]
        rows.append(
            {
                "id": prediction.id,
                "text": prediction.text,
                "expression": prediction.expr,
                "probability": estimate.probability,
                "std_error": se,
                "std_error_method": method,
                "ci95": [low, high],
                "ci95_simultaneous": simultaneous,
                "holds": estimate.holds,
                "draws": estimate.draws,
                "drivers": drivers,
            }
        )
    return rows


TOP_DRIVERS = 3


def _t_interval(p: float, se: float, dof: int, alpha: float) -> tuple[float, float]:
    """Two-sided 1 - alpha Student-t interval around ``p``, clipped to [0, 1]."""
    from scipy.special import stdtrit

    half = float(stdtrit(dof, 1 - alpha / 2)) * se
    return max(0.0, p - half), min(1.0, p + half)


def write_sensitivity_csv(path, counter) -> None:
    """``sensitivity.csv``: every prediction and uncertain input, largest index first."""
    import csv

    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["prediction", "input", "first_order_index", "rank_correlation"])
        for i, prediction in enumerate(counter.predictions):
            for d in counter.sensitivity.drivers(i):
                writer.writerow(
                    [prediction.id, d.input, repr(d.first_order_index), repr(d.rank_correlation)]
                )


def write_prediction_csv(path, rows: list[dict]) -> None:
    """``predictions.csv``: id, probability, std_error, ci95_low, ci95_high, holds, draws, text."""
    import csv

    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            [
                "id",
                "probability",
                "std_error",
                "ci95_low",
                "ci95_high",
                "holds",
                "draws",
                "text",
                "expression",
            ]
        )
        for row in rows:
            writer.writerow(
                [
                    row["id"],
                    repr(row["probability"]),
                    repr(row["std_error"]),
                    repr(row["ci95"][0]),
                    repr(row["ci95"][1]),
                    row["holds"],
                    row["draws"],
                    row["text"],
                    row["expression"],
                ]
            )


def significant(value: float, error: float) -> str:
    """``value`` rounded to the digits its standard error supports.

    The last digit shown is the one just above the error's leading digit, so the shown
    digits are all meaningful: 0.17785 with standard error 0.0004 reads 0.178.
    """
    import math

    if not error > 0 or not math.isfinite(error):
        return f"{value:.4f}"
    decimals = max(0, -math.floor(math.log10(error)) - 1)
    return f"{value:.{decimals}f}"


def prediction_table(rows: list[dict]) -> str:
    """Terminal lines: each prediction's probability, standard error and 95 % interval."""
    if not rows:
        return ""
    interval = (
        "95 % Student-t interval over the Sobol' replicates"
        if rows[0].get("std_error_method", "binomial") != "binomial"
        else "95 % Wilson interval"
    )
    lines = [
        "",
        f"predictions (probability that each holds, Monte Carlo standard error, {interval}; "
        "top driver by first-order index):",
    ]
    for row in rows:
        se = row["std_error"]
        low, high = row["ci95"]
        text = row["text"] if len(row["text"]) <= 70 else row["text"][:67] + "..."
        lines.append(
            f"  {row['id']:<4} P = {significant(row['probability'], se)} "
            f"(se {se:.1g}) [{significant(low, se)}, {significant(high, se)}]  {text}"
        )
        top = row["drivers"][0] if row["drivers"] else None
        if top is not None and top["first_order_index"] is not None:
            sign = "+" if (top["rank_correlation"] or 0) >= 0 else "-"
            lines.append(
                f"       top driver: {top['input']} (first-order index "
                f"{top['first_order_index']:.2f}, rank correlation {sign}"
                f"{abs(top['rank_correlation']):.2f})"
            )
    return "\n".join(lines)


def crossover_table(rows: list[dict], draws: int) -> str:
    """Terminal lines: P(crossover by each year), after the horizon, and medians.

    Probabilities carry the digits their Monte Carlo error supports (see :func:`significant`).
    """
    if not rows:
        return ""

    def shown(p: float) -> str:
        return significant(p, math.sqrt(max(p * (1 - p), 0.25 / draws) / draws))

    years = list(rows[0]["probability_by_year"])
    cells = [
        [shown(p) for p in row["probability_by_year"].values()] + [shown(row["after_horizon"])]
        for row in rows
    ]
    # Columns widen with the digits: a probability of 0 over 1e7 draws reads 0.0000000.
    width = max(8, 2 + max(len(cell) for line in cells for cell in line))
    head = f"  {'by year':<14}" + "".join(f"{y:>{width}}" for y in years)
    head += f"{'after':>{width}}{'median':>9}"
    lines = ["", "crossover (probability the rising function leads by each year):", head]
    for row, line in zip(rows, cells, strict=True):
        median = row["median_continuous"]
        lines.append(
            f"  {row['entity']:<14}"
            + "".join(f"{cell:>{width}}" for cell in line)
            + (f"{median:>9.1f}" if median is not None else f"{'after':>9}")
        )
    return "\n".join(lines)


def write_quantiles(directory, table) -> None:
    """``quantiles.csv`` and ``quantiles.nc``: every tabulated series, year and quantile.

    ``table`` is a :class:`mcinfra.stats.quantiles.QuantileTable`.
    """
    import csv

    from mcinfra.output import write_netcdf3

    with open(directory / "quantiles.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["segment", "year", "quantile", "value", "ci95_low", "ci95_high"])
        for s, segment in enumerate(table.segments):
            for t, year in enumerate(table.years):
                for q, prob in enumerate(table.probs):
                    cells = (
                        table.value[s, t, q],
                        table.ci95_low[s, t, q],
                        table.ci95_high[s, t, q],
                    )
                    if not any(math.isnan(c) for c in cells):
                        writer.writerow([segment, year, prob, *(repr(float(c)) for c in cells)])
    write_netcdf3(directory / "quantiles.nc", table.coords, table.variables, table.attrs)
