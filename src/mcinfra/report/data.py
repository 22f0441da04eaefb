"""Everything a report shows, read from a run directory's summaries (no draws, no xarray)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mcinfra.config.loading import parse_config
from mcinfra.config.schema import Config
from mcinfra.config.solved import config_text_of
from mcinfra.config.structure import list_inputs
from mcinfra.errors import UsageError
from mcinfra.io.run_directory import CONFIG, QUANTILES_CSV, read_run_tables
from mcinfra.stats.probability import wilson_interval


@dataclass(frozen=True)
class QuantileCube:
    """Quantiles by (segment, year, quantile), as ``quantiles.nc`` holds them.

    NaN where a series is not tabulated in a year.
    """

    segments: list[str]
    years: list[int]
    probs: list[float]
    value: np.ndarray  # (segments, years, probs)

    @classmethod
    def from_rows(cls, rows: list[dict]) -> QuantileCube:
        """The cube of ``quantiles.csv``'s rows (``segment``, ``year``, ``quantile``, ``value``).

        Its segments keep the file's order, years and probabilities are sorted, as
        :func:`mcinfra.stats.quantiles.quantile_table` orders them.
        """
        keys = [(row["segment"], int(row["year"]), float(row["quantile"])) for row in rows]
        segments = list(dict.fromkeys(key[0] for key in keys))
        years = sorted({key[1] for key in keys})
        probs = sorted({key[2] for key in keys})
        where = (
            {label: i for i, label in enumerate(segments)},
            {year: i for i, year in enumerate(years)},
            {prob: i for i, prob in enumerate(probs)},
        )
        value = np.full((len(segments), len(years), len(probs)), np.nan)
        for (label, year, prob), row in zip(keys, rows, strict=True):
            value[where[0][label], where[1][year], where[2][prob]] = float(row["value"])
        return cls(segments, years, probs, value)

    def series(self, label: str) -> np.ndarray:
        """The (year, quantile) values of one series."""
        return self.value[self.segments.index(label)]

    def at(self, label: str, year: int, prob: float) -> float:
        """One series' quantile ``prob`` in ``year``."""
        return float(self.series(label)[self.years.index(year), self.probs.index(prob)])


@dataclass
class ReportData:
    """A finished run's summaries, ready to draw."""

    summary: dict
    quantiles: QuantileCube
    sensitivity: list[dict]
    assumptions: list[dict]
    config: Config
    convergence: dict  # id -> (draws, probability, low, high) arrays


def load_report_data(run_dir: Path) -> ReportData:
    """Read summary.json, quantiles.csv, sensitivity.csv and config.toml of a run."""
    run_dir = Path(run_dir)
    text, summary, quantile_rows, sensitivity = read_run_tables(run_dir)
    try:
        quantiles = QuantileCube.from_rows(quantile_rows)
    except (KeyError, ValueError) as exc:
        raise UsageError(f"{run_dir / QUANTILES_CSV}: not a table of quantiles: {exc}") from None
    overrides = tuple(summary["run"].get("config_overrides", ()))  # the run's --set edits
    # The text the run checked needs only its structure read again (no expression compiler,
    # no kernels); an edited config.toml is checked in full.
    recorded = config_text_of(text)  # without the solved parameters' comments
    checked = hashlib.sha256(recorded.encode()).hexdigest() == summary["run"]["config_sha256"]
    loaded = parse_config(
        text, origin=str(run_dir / CONFIG), overrides=overrides, relations=not checked
    )
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
