"""The run summary: ``summary.json``'s content, built in one place from a run's reductions."""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass
from typing import Any

from mcinfra.config import LoadedConfig
from mcinfra.config.sips import recorded_libraries
from mcinfra.errors import UsageError
from mcinfra.io.run_directory import json_number
from mcinfra.model.special_values import special_value
from mcinfra.sampling.dataset import SCHEMA_VERSION
from mcinfra.sampling.engine import RunSettings
from mcinfra.sampling.plan import Plan
from mcinfra.sampling.qmc import replicate_estimate

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


@dataclass
class RunSummary:
    """Everything ``summary.json`` holds (schema version 1; see docs/outputs.md).

    One attribute per top-level key of the file, in the file's order. ``sequential`` is
    None for a run without a target standard error (the file then has no such key).

    Examples
    --------
    >>> summary = RunSummary.from_dict(result.summary)  # doctest: +SKIP
    >>> summary.to_dict() == result.summary  # doctest: +SKIP
    True
    """

    schema_version: int
    model: dict[str, Any]
    run: dict[str, Any]
    timing: dict[str, float]
    checks: dict[str, float]
    series: list[dict[str, Any]]
    source_figures: list[dict[str, Any]]
    predictions: list[dict[str, Any]]
    crossovers: list[dict[str, Any]]
    convergence: dict[str, Any]
    quantiles: dict[str, Any]
    sequential: dict[str, Any] | None = None

    _ORDER = (
        "schema_version",
        "model",
        "run",
        "timing",
        "checks",
        "series",
        "source_figures",
        "predictions",
        "crossovers",
        "convergence",
        "sequential",
        "quantiles",
    )

    def to_dict(self) -> dict[str, Any]:
        """The JSON object of ``summary.json`` (a deep copy: editing it leaves this intact)."""
        out = {}
        for key in self._ORDER:
            value = getattr(self, key)
            if value is not None or key != "sequential":
                out[key] = copy.deepcopy(value)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunSummary:
        """Read the object :meth:`to_dict` gives (e.g. a loaded ``summary.json``).

        Raises
        ------
        UsageError
            When a required key is missing or an unknown one is present.
        """
        names = {f.name for f in dataclasses.fields(cls)}
        required = {f.name for f in dataclasses.fields(cls) if f.default is dataclasses.MISSING}
        missing = sorted(required - set(data))
        unknown = sorted(set(data) - names)
        if missing or unknown:
            problems = [f"lacks {', '.join(missing)}"] if missing else []
            problems += [f"has unknown {', '.join(unknown)}"] if unknown else []
            raise UsageError(f"not a run summary: it {' and '.join(problems)}")
        return cls(**{key: copy.deepcopy(value) for key, value in data.items()})


def run_summary(
    reductions,
    plan: Plan,
    loaded: LoadedConfig,
    settings: RunSettings,
    attrs: dict,
    sampling_seconds: float,
    sequential: dict[str, Any] | None = None,
) -> RunSummary:
    """The summary of a finished run from its reductions.

    Parameters
    ----------
    reductions : mcinfra.runs.reductions.Reductions
        Every reduction of the run, all draws absorbed.
    plan, loaded : the run's compiled plan and configuration.
    settings : RunSettings
        The settings, with ``draws`` the number of draws made.
    attrs : dict
        Provenance (:func:`mcinfra.sampling.dataset.provenance`).
    sampling_seconds : float
        Time spent drawing, summed over every part of a resumed run.
    sequential : dict, optional
        With a target standard error: ``target_std_error``, ``max_draws``, ``draws_used``
        and ``target_met``.
    """
    columns = reductions.columns
    counter = reductions.counter
    model = loaded.config.model
    first, last = plan.years[0], plan.years[-1]
    labels = [s.label for s in plan.series]
    ends = columns.quantiles([(label, year) for label in labels for year in (first, last)])
    cagr = columns.growth_quantiles([((label, first), (label, last)) for label in labels])
    series = []
    for i, info in enumerate(plan.series):
        entry: dict[str, Any] = {
            "label": info.label,
            "kind": info.kind,
            "partition": info.partition,
            "unit": info.unit,
        }
        for j, year in enumerate((first, last)):
            low, median, high = ends[2 * i + j]
            entry[str(year)] = {"p05": float(low), "p50": float(median), "p95": float(high)}
        levels = ("p05", "p50", "p95")
        entry["cagr"] = {key: json_number(v) for key, v in zip(levels, cagr[i], strict=True)}
        series.append(entry)
    checkpoints = list(counter.history)
    if not checkpoints or checkpoints[-1][0] != counter.draws:
        checkpoints.append((counter.draws, [int(h) for h in counter.holds]))
    crossovers = reductions.crossovers
    return RunSummary(
        schema_version=SCHEMA_VERSION,
        model={
            "name": model.name,
            "title": model.title,
            "unit": model.unit,
            "start_year": model.start_year,
            "end_year": model.end_year,
        },
        run={key: attrs[key] for key in _PROVENANCE_KEYS}
        | {
            "config_origin": loaded.origin,
            "config_overrides": list(loaded.overrides),
            "sip_libraries": recorded_libraries(loaded.libraries),
            "threads": settings.threads,
            "replicates": settings.replicates if settings.method == "sobol" else None,
        },
        timing={
            "sampling_seconds": sampling_seconds,
            "draws_per_second": settings.draws / sampling_seconds,
        },
        checks={"partition_max_relative_error": reductions.check.worst},
        series=series,
        source_figures=columns.figure_rows(loaded.config.source_figures),
        predictions=prediction_rows(counter, reductions.replicates),
        crossovers=crossovers.rows() if crossovers is not None else [],
        convergence={
            "draws": [d for d, _ in checkpoints],
            "holds": {
                p.id: [h[i] for _, h in checkpoints] for i, p in enumerate(counter.predictions)
            },
        },
        sequential=sequential,
        quantiles={
            "method": "exact" if reductions.exact else "sketch",
            "relative_accuracy": 0.0 if reductions.exact else columns.relative_accuracy,
        },
    )


def prediction_rows(counter, replicates=None) -> list[dict]:
    """The ``predictions`` list of ``summary.json``: one object per prediction.

    With ``replicates`` (:class:`mcinfra.runs.reductions.ReplicateCounts` of a Sobol' run) the
    standard errors come from the spread of the replicates' estimates and the intervals
    from Student's t; otherwise from the binomial formula and Wilson intervals.
    """
    rows = []
    estimates = counter.estimates()
    # Simultaneous intervals (Bonferroni): all m intervals cover their probabilities together
    # with probability >= 95 %, as needed when several predictions are checked at once.
    alpha_all = 0.05 / max(len(estimates), 1)
    z_all = float(-special_value("ndtri", alpha_all / 2))
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
                "first_order_index": json_number(d.first_order_index),
                "rank_correlation": json_number(d.rank_correlation),
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


def sensitivity_rows(counter) -> list[tuple[str, str, float, float]]:
    """The rows of ``sensitivity.csv``: (prediction, input, first-order index, rank correlation).

    Every prediction, in config order, and every uncertain input, largest index first.
    """
    return [
        (prediction.id, d.input, d.first_order_index, d.rank_correlation)
        for i, prediction in enumerate(counter.predictions)
        for d in counter.sensitivity.drivers(i)
    ]
