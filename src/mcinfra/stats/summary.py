"""Run summaries: quantiles of series, partition checks and source figures."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import xarray as xr

from mcinfra.kernels.select import column_quantiles
from mcinfra.results import SEGMENT, YEAR, draw_last

TABLE_PROBS = (0.05, 0.5, 0.95)


def quantiles(ds: xr.Dataset, probs=TABLE_PROBS, segments=None, years=None) -> xr.DataArray:
    """Exact quantiles over draws of ``value`` for the chosen segments and years.

    Returns a DataArray (quantile, segment, year).
    """
    segments = list(ds[SEGMENT].values) if segments is None else list(segments)
    years = list(ds[YEAR].values) if years is None else list(years)
    seg_index = {s: i for i, s in enumerate(ds[SEGMENT].values)}
    year_index = {int(y): i for i, y in enumerate(ds[YEAR].values)}
    cols_s = np.array([seg_index[s] for s in segments for _ in years], dtype=np.int64)
    cols_y = np.array([year_index[int(y)] for _ in segments for y in years], dtype=np.int64)
    probs_arr = np.asarray(probs, dtype=np.float64)
    out = np.empty((cols_s.size, probs_arr.size))
    values = draw_last(ds["value"].values)
    column_quantiles(values, cols_s, cols_y, probs_arr, out)
    data = out.reshape(len(segments), len(years), probs_arr.size).transpose(2, 0, 1)
    return xr.DataArray(
        data,
        dims=("quantile", SEGMENT, YEAR),
        coords={"quantile": probs_arr, SEGMENT: segments, YEAR: np.array(years)},
    )


def partition_residual(ds: xr.Dataset) -> float:
    """Largest relative gap between any partition's (or grouping's) sum and the total."""
    values = draw_last(ds["value"].values)
    total = values[list(ds[SEGMENT].values).index("total")]
    worst = 0.0
    kinds = ds["kind"].values
    parts = ds["partition"].values
    for part in sorted(set(parts[kinds == "segment"])):
        rows = np.nonzero((kinds == "segment") & (parts == part))[0]
        summed = values[rows].sum(axis=0)
        worst = max(worst, float(np.max(np.abs(summed / total - 1.0))))
    return worst


@dataclass(frozen=True)
class SeriesRange:
    """Median and 90 % range of a series in one year."""

    segment: str
    year: int
    low: float
    median: float
    high: float


def figure_draws(ds: xr.Dataset, figure) -> np.ndarray:
    """Per-draw values of the quantity a source figure states (value, share or CAGR)."""
    series = ds["value"].sel({SEGMENT: figure.series})
    if figure.kind == "value":
        return series.sel({YEAR: figure.year}).values
    if figure.kind == "share":
        total = ds["value"].sel({SEGMENT: "total", YEAR: figure.year}).values
        return series.sel({YEAR: figure.year}).values / total
    ratio = (
        series.sel({YEAR: figure.end_year}).values / series.sel({YEAR: figure.start_year}).values
    )
    return ratio ** (1.0 / (figure.end_year - figure.start_year)) - 1.0


def source_figure_rows(ds: xr.Dataset, figures) -> list[dict]:
    """For each source figure: the simulated median and the source's percentile rank."""
    rows = []
    for figure in figures:
        draws = figure_draws(ds, figure)
        rows.append(
            {
                "series": figure.series,
                "kind": figure.kind,
                "period": (
                    f"{figure.start_year}-{figure.end_year}"
                    if figure.kind == "cagr"
                    else str(figure.year)
                ),
                "description": figure.description,
                "source_value": figure.value,
                "simulated_median": float(np.median(draws)),
                # Mid-rank: a fixed input equal to the source figure sits at the 50th percentile.
                "source_percentile": float(
                    (np.sum(draws < figure.value) + 0.5 * np.sum(draws == figure.value))
                    / draws.size
                ),
            }
        )
    return rows
