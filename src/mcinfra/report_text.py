"""The run summary (``summary.json``) and its compact terminal table."""

from __future__ import annotations

import numpy as np
import xarray as xr

from mcinfra.config import LoadedConfig
from mcinfra.engine import RunSettings
from mcinfra.kernels.select import growth_quantiles
from mcinfra.results import SCHEMA_VERSION, SEGMENT, YEAR, draw_last
from mcinfra.stats.summary import TABLE_PROBS, partition_residual, quantiles, source_figure_rows

_PROVENANCE_KEYS = (
    "config_sha256",
    "seed",
    "draws",
    "chunk_size",
    "random_numbers",
    "mcinfra_version",
    "numba_version",
    "numpy_version",
    "scipy_version",
    "xarray_version",
    "python_version",
    "created_utc",
)


def realised_cagr_quantiles(ds: xr.Dataset, probs=TABLE_PROBS) -> np.ndarray:
    """Quantiles (segment, prob) of each series' realised CAGR from the first to last year."""
    values = draw_last(ds["value"].values)
    n_series, n_years = values.shape[0], values.shape[1]
    out = np.empty((n_series, len(probs)))
    growth_quantiles(
        values,
        np.arange(n_series, dtype=np.int64),
        np.full(n_series, n_years - 1, dtype=np.int64),
        np.zeros(n_series, dtype=np.int64),
        1.0 / (n_years - 1),
        np.asarray(probs, dtype=np.float64),
        out,
    )
    return out


def run_summary(
    ds: xr.Dataset, loaded: LoadedConfig, settings: RunSettings, sampling_seconds: float
) -> dict:
    """Everything ``summary.json`` holds (schema version 1; see docs/outputs.md)."""
    model = loaded.config.model
    years = [int(y) for y in ds[YEAR].values]
    ends = [years[0], years[-1]]
    q = quantiles(ds, TABLE_PROBS, years=ends)
    cagr = realised_cagr_quantiles(ds)
    series = []
    for i, label in enumerate(ds[SEGMENT].values):
        entry = {
            "label": str(label),
            "kind": str(ds["kind"].values[i]),
            "partition": str(ds["partition"].values[i]),
            "unit": str(ds["unit"].values[i]),
        }
        for year in ends:
            cell = q.sel({SEGMENT: label, YEAR: year}).values
            entry[str(year)] = {"p05": float(cell[0]), "p50": float(cell[1]), "p95": float(cell[2])}
        entry["cagr"] = {
            "p05": _finite(cagr[i, 0]),
            "p50": _finite(cagr[i, 1]),
            "p95": _finite(cagr[i, 2]),
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
        "run": {key: ds.attrs[key] for key in _PROVENANCE_KEYS}
        | {"config_origin": loaded.origin, "threads": settings.threads},
        "timing": {
            "sampling_seconds": sampling_seconds,
            "draws_per_second": settings.draws / sampling_seconds,
        },
        "checks": {"partition_max_relative_error": partition_residual(ds)},
        "series": series,
        "source_figures": source_figure_rows(ds, loaded.config.source_figures),
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
