"""The run summary (``summary.json``) and its compact terminal table."""

from __future__ import annotations

import numpy as np
from scipy.special import ndtri

from mcinfra.config import LoadedConfig
from mcinfra.sampling.dataset import SCHEMA_VERSION
from mcinfra.sampling.engine import RunSettings
from mcinfra.sampling.plan import Plan
from mcinfra.sampling.qmc import replicate_estimate
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


def prediction_rows(counter, replicates=None) -> list[dict]:
    """The ``predictions`` list of ``summary.json``: one object per prediction.

    With ``replicates`` (:class:`mcinfra.run.reductions.ReplicateCounts` of a Sobol' run) the
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
