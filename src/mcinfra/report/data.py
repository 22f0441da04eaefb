"""Everything a report shows, read from a run directory's summaries (no draws)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import xarray as xr

from mcinfra.config import parse_config
from mcinfra.config.schema import Config
from mcinfra.config.structure import list_inputs
from mcinfra.io.run_directory import CONFIG, read_run_tables
from mcinfra.stats.probability import wilson_interval


@dataclass
class ReportData:
    """A finished run's summaries, ready to draw."""

    summary: dict
    quantiles: xr.Dataset
    sensitivity: list[dict]
    assumptions: list[dict]
    config: Config
    convergence: dict  # id -> (draws, probability, low, high) arrays


def load_report_data(run_dir: Path) -> ReportData:
    """Read summary.json, quantiles.nc, sensitivity.csv and config.toml of a run."""
    run_dir = Path(run_dir)
    text, summary, quantiles, sensitivity = read_run_tables(run_dir)
    overrides = tuple(summary["run"].get("config_overrides", ()))  # the run's --set edits
    loaded = parse_config(text, origin=str(run_dir / CONFIG), overrides=overrides)
    assumptions = [
        {
            "input": info.name,
            "distribution": info.spec.describe(),
            "origin": info.spec.origin,
            "source": info.spec.source,
            "description": info.description,
        }
        for info in list_inputs(loaded.config)
    ]
    return ReportData(
        summary,
        quantiles,
        sensitivity,
        assumptions,
        loaded.config,
        _convergence(summary),
    )


def _convergence(summary: dict) -> dict:
    history = summary.get("convergence", {"draws": [], "holds": {}})
    draws = np.asarray(history["draws"], dtype=float)
    out = {}
    for name, holds in history["holds"].items():
        holds = np.asarray(holds, dtype=float)
        bounds = [wilson_interval(int(h), int(n)) for h, n in zip(holds, draws, strict=True)]
        low, high = (np.array(b) for b in zip(*bounds, strict=True)) if bounds else ([], [])
        out[name] = (draws, holds / np.maximum(draws, 1), np.asarray(low), np.asarray(high))
    return out
