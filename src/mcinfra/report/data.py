"""Everything a report shows, read from a run directory's summaries (no draws, no xarray)."""

from __future__ import annotations

import csv
import hashlib
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from mcinfra.config.loading import parse_config
from mcinfra.config.schema import Config
from mcinfra.config.solved import config_text_of
from mcinfra.config.structure import list_inputs
from mcinfra.errors import UsageError
from mcinfra.io.run_directory import (
    CONFIG,
    DRIVERS_CSV,
    DRIVERS_JSON,
    ELICITED,
    ELICITED_COLUMNS,
    QUANTILES_CSV,
    read_run_tables,
)
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


@dataclass(frozen=True)
class PlayerEffect:
    """One player's Shapley effect on one target, as ``drivers.csv`` gives it."""

    player: str  # an input's name, a group's name, or "shocks"
    shapley: float  # share of the target's variance
    std_error: float
    first_order: float | None
    rank_correlation: float | None


@dataclass(frozen=True)
class TargetEffects:
    """The Shapley effects of every player on one target, largest first."""

    target: str  # a prediction's id, or the text of a numeric expression
    variance: float | None  # the target's variance (None when only drivers.csv is there)
    players: tuple[PlayerEffect, ...]


@dataclass(frozen=True)
class DriverEffects:
    """A run's ``drivers.json`` (or, without it, ``drivers.csv``): Shapley effects by target."""

    targets: dict[str, TargetEffects]
    settings: dict  # the estimator's method, seed, permutations, target_se, ... (JSON only)

    def top(self, target: str) -> PlayerEffect | None:
        """The player with the largest Shapley effect on ``target`` (None when not estimated)."""
        effects = self.targets.get(target)
        return effects.players[0] if effects is not None and effects.players else None


@dataclass
class ReportData:
    """A finished run's summaries, ready to draw."""

    summary: dict
    quantiles: QuantileCube
    sensitivity: list[dict]
    assumptions: list[dict]
    config: Config
    convergence: dict  # id -> (draws, probability, low, high) arrays
    drivers: DriverEffects | None = None  # Shapley effects, where the run has them
    # each input (or mixture component) given by percentiles: its points and fitted CDF
    elicited: list[dict] = field(default_factory=list)


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
    elicited = read_elicited(run_dir)
    residuals = _residual_cells(elicited)
    for row in assumptions:
        row["residuals"] = residuals.get(row["input"], "")
    return ReportData(
        summary,
        quantiles,
        sensitivity,
        assumptions,
        loaded.config,
        _convergence(summary),
        read_drivers(run_dir),
        elicited,
    )


def _optional_number(text: object) -> float | None:
    """A number of a drivers file, None for an empty cell or null."""
    if text is None or text == "":
        return None
    if isinstance(text, bool) or not isinstance(text, str | int | float):
        raise ValueError(f"not a number: {text!r}")
    return float(text)


def _number(text: object) -> float:
    value = _optional_number(text)
    if value is None or not math.isfinite(value):
        raise ValueError(f"not a finite number: {text!r}")
    return value


def _effect(player: dict) -> PlayerEffect:
    name = player["player"]
    if not isinstance(name, str) or not name:
        raise ValueError(f"not a player's name: {name!r}")
    return PlayerEffect(
        name,
        _number(player["shapley"]),
        _number(player["std_error"]),
        _optional_number(player.get("first_order")),
        _optional_number(player.get("rank_correlation")),
    )


def _largest_first(players: list[PlayerEffect]) -> tuple[PlayerEffect, ...]:
    return tuple(sorted(players, key=lambda effect: -effect.shapley))  # stable: ties keep order


def read_drivers(run_dir: Path) -> DriverEffects | None:
    """The run's Shapley effects: ``drivers.json``, else ``drivers.csv``; None without either.

    Raises
    ------
    UsageError
        When the file is not a table of Shapley effects (naming the file and what is wrong).
    """
    run_dir = Path(run_dir)
    path = run_dir / DRIVERS_JSON
    try:
        if path.is_file():
            document = json.loads(path.read_text(encoding="utf-8"))
            targets = {}
            for entry in document["targets"]:
                variance = _optional_number(entry.get("variance"))
                players = _largest_first([_effect(player) for player in entry["players"]])
                targets[str(entry["target"])] = TargetEffects(
                    str(entry["target"]), variance, players
                )
            settings = {key: value for key, value in document.items() if key != "targets"}
            return DriverEffects(targets, settings)
        path = run_dir / DRIVERS_CSV
        if not path.is_file():
            return None
        by_target: dict[str, list[PlayerEffect]] = {}
        with open(path, newline="", encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                by_target.setdefault(row["target"], []).append(_effect(row))
        return DriverEffects(
            {
                target: TargetEffects(target, None, _largest_first(players))
                for target, players in by_target.items()
            },
            {},
        )
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        problem = f"missing {exc}" if isinstance(exc, KeyError) else str(exc)
        raise UsageError(f"{path}: not a table of Shapley effects: {problem}") from None


def read_elicited(run_dir: Path) -> list[dict]:
    """``elicited.csv``'s fits, one dict per input or mixture component (empty without it).

    Each has ``input``, ``component`` ("" for the input itself), ``points`` (p, x),
    ``fitted`` and ``residuals`` at the points, and the fitted CDF's ``curve`` as
    (values, probabilities), in the file's order.
    """
    path = Path(run_dir) / ELICITED
    if not path.is_file():
        return []
    fits: dict[tuple[str, str], dict] = {}
    try:
        with open(path, newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            if reader.fieldnames != ELICITED_COLUMNS:
                raise ValueError(f"columns {reader.fieldnames}, not {ELICITED_COLUMNS}")
            for row in reader:
                fit = fits.setdefault(
                    (row["input"], row["component"]),
                    {
                        "input": row["input"],
                        "component": row["component"],
                        "points": [],
                        "fitted": [],
                        "residuals": [],
                        "curve": ([], []),
                    },
                )
                p, fitted = _number(row["p"]), _number(row["fitted"])
                if row["kind"] == "point":
                    fit["points"].append((p, _number(row["x"])))
                    fit["fitted"].append(fitted)
                    fit["residuals"].append(_number(row["residual"]))
                elif row["kind"] == "curve":
                    fit["curve"][0].append(fitted)
                    fit["curve"][1].append(p)
                else:
                    raise ValueError(f"kind {row['kind']!r} is neither point nor curve")
    except (OSError, ValueError) as exc:
        raise UsageError(f"{path}: not a table of elicited points: {exc}") from None
    return list(fits.values())


def _residual_cells(elicited: list[dict]) -> dict[str, str]:
    """Each input's residuals as the assumptions table shows them: ``P10 +0, P90 -1.1e-13``.

    A mixture's components are named before theirs (``components.0: P10 +0, ...``).
    """
    cells: dict[str, list[str]] = {}
    for fit in elicited:
        shown = ", ".join(
            f"P{100 * p:.10g} {residual:+.2g}"
            for (p, _), residual in zip(fit["points"], fit["residuals"], strict=True)
        )
        label = f"{fit['component']}: " if fit["component"] else ""
        cells.setdefault(fit["input"], []).append(label + shown)
    return {name: "; ".join(parts) for name, parts in cells.items()}


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
