"""What the terminal shows of a run: the summary table, predictions and crossovers.

Every printed number that carries an error goes through :func:`significant` or
:func:`interval`, so the digits shown are those the error supports and an interval's two
bounds never read the same while they differ.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mcinfra.report.data import DriverEffects

MAX_DECIMALS = 12  # beyond this, float noise, not information


def _money(value: float) -> str:
    return f"{value:,.3g}" if abs(value) < 100 else f"{value:,.0f}"


def summary_table(summary: dict) -> str:
    """A compact table: each series' first-year median, last-year median and 90 % range.

    The label column widens to the longest label, so long series names keep the columns
    aligned; the partition check is printed only for a model with partitions.
    """
    first, last = str(summary["model"]["start_year"]), str(summary["model"]["end_year"])
    unit = summary["model"]["unit"]
    labels = [
        s["label"] if s["kind"] in ("total", "adoption", "derived") else "  " + s["label"]
        for s in summary["series"]
    ]
    width = max([30, *(len(label) for label in labels)])
    ranges = [
        f"{_money(s[last]['p50'])} [{_money(s[last]['p05'])}, {_money(s[last]['p95'])}]"
        for s in summary["series"]
    ]
    range_width = max([32, *(len(text) for text in ranges)])
    head = (
        f"{'series':<{width}} {first + ' median':>12} "
        f"{last + ' median [5 %, 95 %]':>{range_width}} {'CAGR':>7}"
    )
    lines = [
        f"{summary['model']['title'] or summary['model']['name']} ({unit}; adoption series "
        f"as fractions), {summary['run']['draws']:,} draws, seed {summary['run']['seed']}",
        "",
        head,
        "-" * len(head),
    ]
    for s, label, shown in zip(summary["series"], labels, ranges, strict=True):
        cagr = s["cagr"]["p50"]
        lines.append(
            f"{label:<{width}} {_money(s[first]['p50']):>12} {shown:>{range_width}} "
            f"{'' if cagr is None else f'{100 * cagr:.1f} %':>7}"
        )
    if summary["source_figures"]:
        lines += [
            "",
            "source figures against the simulation (percentile = share of draws "
            "below the source figure):",
        ]
        names = [f["description"] or f["series"] for f in summary["source_figures"]]
        name_width = max([45, *(len(name) for name in names)])
        for f, name in zip(summary["source_figures"], names, strict=True):
            scale = 100 if f["kind"] in ("cagr", "share") else 1
            suffix = " %" if scale == 100 else ""
            lines.append(
                f"  {name:<{name_width}} source {f['source_value'] * scale:.4g}"
                f"{suffix}, median {f['simulated_median'] * scale:.4g}{suffix}, "
                f"percentile {100 * f['source_percentile']:.0f}"
            )
    timing = summary["timing"]
    rate = (
        f"sampling {timing['sampling_seconds']:.2f} s, "
        f"{timing['draws_per_second'] / 1e6:.2f} M draws/s"
    )
    if any(s.get("partition") for s in summary["series"]):
        error = summary["checks"]["partition_max_relative_error"]
        rate = f"partitions sum to the total within {error:.1e} (relative); {rate}"
    lines += ["", rate]
    return "\n".join(lines)


def _decimals(error: float) -> int:
    """Decimals that show one digit above the leading digit of ``error`` (4 without one)."""
    if not error > 0 or not math.isfinite(error):
        return 4
    return max(0, -math.floor(math.log10(error)) - 1)


def significant(value: float, error: float) -> str:
    """``value`` rounded to the digits its standard error supports.

    The last digit shown is the one just above the error's leading digit, so the shown
    digits are all meaningful: 0.17785 with standard error 0.0004 reads 0.178. A zero or
    non-finite error shows four decimals.
    """
    return f"{value:.{_decimals(error)}f}"


def interval(value: float, error: float, low: float, high: float) -> tuple[str, str, str]:
    """``value`` and its interval ``[low, high]`` as three strings with the same decimals.

    Starts from the digits :func:`significant` gives and adds digits until the two bounds
    read differently whenever they differ, so a printed interval never collapses to a point
    (0.41 with standard error 0.002 and interval [0.406, 0.414] reads 0.410 [0.406, 0.414],
    not 0.41 [0.41, 0.41]).

    Parameters
    ----------
    value : float
        The estimate.
    error : float
        Its standard error (zero or non-finite: start from four decimals).
    low, high : float
        The interval's bounds.

    Returns
    -------
    tuple of str
        ``value``, ``low`` and ``high`` formatted alike.
    """
    decimals = _decimals(error)
    while (
        low < high and decimals < MAX_DECIMALS and f"{low:.{decimals}f}" == f"{high:.{decimals}f}"
    ):
        decimals += 1
    return f"{value:.{decimals}f}", f"{low:.{decimals}f}", f"{high:.{decimals}f}"


def prediction_table(rows: list[dict], drivers: DriverEffects | None = None) -> str:
    """Terminal lines: each prediction's probability, standard error and 95 % interval.

    Each prediction's top driver follows: by Shapley effect where ``drivers`` (the run's
    ``drivers.json``, see :func:`mcinfra.report.data.read_drivers`) has the prediction,
    else by first-order index.
    """
    if not rows:
        return ""
    interval_name = (
        "95 % Student-t interval over the Sobol' replicates"
        if rows[0].get("std_error_method", "binomial") != "binomial"
        else "95 % Wilson interval"
    )
    covered = drivers is not None and any(row["id"] in drivers.targets for row in rows)
    measure = "Shapley effect" if covered else "first-order index"
    lines = [
        "",
        f"predictions (probability that each holds, Monte Carlo standard error, "
        f"{interval_name}; top driver by {measure}):",
    ]
    width = max(4, *(len(row["id"]) for row in rows))
    for row in rows:
        se = row["std_error"]
        p, low, high = interval(row["probability"], se, *row["ci95"])
        text = row["text"] if len(row["text"]) <= 70 else row["text"][:67] + "..."
        lines.append(f"  {row['id']:<{width}} P = {p} (se {se:.1g}) [{low}, {high}]  {text}")
        effect = drivers.top(row["id"]) if drivers is not None else None
        if effect is not None:
            lines.append(
                f"  {'':<{width}} top driver: {effect.player} (Shapley effect "
                f"{significant(effect.shapley, effect.std_error)}, se {effect.std_error:.1g})"
            )
            continue
        top = row["drivers"][0] if row["drivers"] else None
        if top is not None and top["first_order_index"] is not None:
            sign = "+" if (top["rank_correlation"] or 0) >= 0 else "-"
            lines.append(
                f"  {'':<{width}} top driver: {top['input']} (first-order index "
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
    label = max(14, *(len(row["entity"]) + 2 for row in rows))
    head = f"  {'by year':<{label}}" + "".join(f"{y:>{width}}" for y in years)
    head += f"{'after':>{width}}{'median':>9}"
    lines = ["", "crossover (probability the rising function leads by each year):", head]
    for row, line in zip(rows, cells, strict=True):
        median = row["median_continuous"]
        lines.append(
            f"  {row['entity']:<{label}}"
            + "".join(f"{cell:>{width}}" for cell in line)
            + (f"{median:>9.1f}" if median is not None else f"{'after':>9}")
        )
    return "\n".join(lines)
