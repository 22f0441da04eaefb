"""Calibration scoring: how well finished runs (forecast vintages) predicted actual values.

Each actual is a numeric expression of the prediction language (``total[2025]``,
``network[2025] / total[2025]``, ``input("total.cagr")``) and the value it turned out to
have. A run's draws are re-streamed bit for bit (as :mod:`mcinfra.runs.whatif` does), each
actual's expression is evaluated per draw, and :func:`mcinfra.stats.scoring.score` scores
the draws, with the run's per-draw weights when it has some (:class:`Forecast`).
"""

from __future__ import annotations

import csv
import math
import tomllib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mcinfra.config import LoadedConfig
from mcinfra.config.validation import prediction_scope
from mcinfra.errors import UsageError, did_you_mean
from mcinfra.language.predictions import Context, PredictionError, Quantity, compile_quantity
from mcinfra.runs.whatif import load_run_and_summary
from mcinfra.sampling.engine import RunSettings, stream
from mcinfra.sampling.plan import compile_plan
from mcinfra.stats import scoring
from mcinfra.stats.indicators import chunk_context

MAX_SCORE_BYTES = 8 * 2**30
"""Memory for scoring one run: its values of every (actual, draw), and the work of scoring."""
WORK_BYTES_PER_DRAW = 64  # sorted copies, indexes and kernel terms while one actual is scored
ACTUALS_KEYS = ("expression", "value")

LogWeight = Callable[[Context, int], np.ndarray]
"""Per-draw log-weights of a chunk: ``log_weight(context, n)`` gives (n,) floats."""


@dataclass(frozen=True)
class Actual:
    """A quantity's actual value: ``expression`` (numeric, per draw) turned out ``value``.

    ``origin`` says where it was given, for messages (``--actual 'total[2025]=158.2'``, or
    a file and its row).
    """

    expression: str
    value: float
    origin: str


@dataclass(frozen=True)
class Forecast:
    """A finished run to score: its config and settings, and how to weight its draws.

    ``log_weight`` (None for a plain run, whose draws count equally) gives each draw's
    log-weight from the draw's values, so a reweighted run is scored by the same pass.
    """

    label: str
    loaded: LoadedConfig
    settings: RunSettings
    summary: dict
    log_weight: LogWeight | None = None


def load_forecast(run_dir: Path) -> Forecast:
    """The :class:`Forecast` of a finished or updated run directory.

    A run's draws count equally. An updated run (``mcinfra update``) is its prior run's
    draws, re-streamed, each weighted by the likelihood of the update's observations.
    """
    from mcinfra.runs.update import is_updated_run, observations_log_weight, read_updated_run

    if is_updated_run(Path(run_dir)):
        updated = read_updated_run(Path(run_dir))
        return Forecast(
            str(run_dir),
            updated.loaded,
            updated.settings,
            updated.summary,
            observations_log_weight(updated.observations),
        )
    loaded, settings, summary = load_run_and_summary(Path(run_dir))
    return Forecast(str(run_dir), loaded, settings, summary)


def parse_actual(text: str, origin: str | None = None) -> Actual:
    """``EXPRESSION=VALUE`` (e.g. ``total[2025]=158.2``) as an :class:`Actual`."""
    origin = origin or f"--actual {text!r}"
    expression, sign, value = text.rpartition("=")
    if not sign or not expression.strip() or expression.rstrip()[-1] in "<>=!":
        raise UsageError(
            f"{origin}: an actual is written EXPRESSION=VALUE, e.g. 'total[2025]=158.2'"
        )
    return Actual(expression.strip(), _number(value.strip(), origin), origin)


def _number(text: str, origin: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise UsageError(f"{origin}: the value '{text}' is not a number") from None
    if not math.isfinite(value):
        raise UsageError(f"{origin}: the value '{text}' is not a finite number")
    return value


def read_actuals(path: Path) -> list[Actual]:
    """The actuals of a TOML (``[[actuals]]`` tables) or CSV (``expression,value``) file.

    The layouts are in docs/outputs.md; a file that is neither, or a row that is
    malformed, is a :class:`UsageError` naming the file and the row.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"--actuals: cannot read {path}: {exc}") from None
    if path.suffix.lower() == ".toml":
        actuals = _toml_actuals(text, path)
    elif path.suffix.lower() == ".csv":
        actuals = _csv_actuals(text, path)
    else:
        raise UsageError(f"--actuals: {path} must be a .toml or .csv file")
    if not actuals:
        raise UsageError(f"--actuals: {path} holds no actual")
    return actuals


def _toml_actuals(text: str, path: Path) -> list[Actual]:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"--actuals: {path}: TOML syntax error: {exc}") from None
    extra = [key for key in data if key != "actuals"]
    if extra:
        raise UsageError(
            f"--actuals: {path}: unknown key '{extra[0]}'{did_you_mean(extra[0], ['actuals'])}; "
            "the file holds [[actuals]] tables with expression and value"
        )
    tables = data.get("actuals", [])
    if not isinstance(tables, list) or not all(isinstance(t, dict) for t in tables):
        raise UsageError(f"--actuals: {path}: 'actuals' must be [[actuals]] tables")
    actuals = []
    for i, table in enumerate(tables):
        origin = f"--actuals {path}, actuals[{i}]"
        unknown = [key for key in table if key not in ACTUALS_KEYS]
        if unknown:
            hint = did_you_mean(unknown[0], ACTUALS_KEYS)
            raise UsageError(f"{origin}: unknown key '{unknown[0]}'{hint}")
        missing = [key for key in ACTUALS_KEYS if key not in table]
        if missing:
            raise UsageError(f"{origin}: missing key '{missing[0]}'")
        expression, value = table["expression"], table["value"]
        if not isinstance(expression, str) or not expression.strip():
            raise UsageError(f"{origin}: expression must be a text, got {expression!r}")
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise UsageError(f"{origin}: value must be a number, got {value!r}")
        actuals.append(Actual(expression.strip(), _number(repr(value), origin), origin))
    return actuals


def _csv_actuals(text: str, path: Path) -> list[Actual]:
    rows = list(csv.reader(text.splitlines()))
    header = [cell.strip() for cell in rows[0]] if rows else []
    if header != list(ACTUALS_KEYS):
        raise UsageError(
            f"--actuals: {path}: the first row must be 'expression,value', got '{','.join(header)}'"
        )
    actuals = []
    for line, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        origin = f"--actuals {path}, line {line}"
        if len(row) != 2 or not row[0].strip():
            raise UsageError(f"{origin}: expected two cells, expression and value, got {row}")
        actuals.append(Actual(row[0].strip(), _number(row[1].strip(), origin), origin))
    return actuals


def collect_actuals(
    actuals: Iterable[str] | Mapping[str, float] | None = None,
    actuals_files: Iterable[Path] = (),
) -> list[Actual]:
    """Actuals given as ``EXPRESSION=VALUE`` texts or a mapping, and those of files."""
    found: list[Actual] = []
    if isinstance(actuals, Mapping):
        for expression, value in actuals.items():
            origin = f"actual {expression!r}"
            found.append(Actual(str(expression).strip(), _number(repr(value), origin), origin))
    elif actuals is not None:
        found += [parse_actual(text) for text in actuals]
    for path in actuals_files:
        found += read_actuals(path)
    if not found:
        raise UsageError("no actual to score against: give --actual EXPRESSION=VALUE or --actuals")
    return found


def compile_actuals(forecast: Forecast, actuals: list[Actual]) -> list[Quantity]:
    """Each actual's expression compiled against the run's model (a UsageError if invalid)."""
    scope = prediction_scope(forecast.loaded.config)
    compiled = []
    for actual in actuals:
        try:
            compiled.append(compile_quantity(actual.expression, scope))
        except PredictionError as exc:
            raise UsageError(f"{actual.origin}: {exc} (run {forecast.label})") from None
    return compiled


def check_memory(forecast: Forecast, count: int) -> None:
    """Refuse a run whose draws' values for ``count`` actuals would not fit in memory.

    Every draw's value of every actual is held (8 bytes each, and 8 for its weight), and
    scoring one actual needs :data:`WORK_BYTES_PER_DRAW` more per draw.
    """
    held = 8 * (count + (forecast.log_weight is not None))
    needed = forecast.settings.draws * (held + WORK_BYTES_PER_DRAW)
    if needed > MAX_SCORE_BYTES:
        raise UsageError(
            f"run {forecast.label}: scoring {count} actual(s) of its "
            f"{forecast.settings.draws:,} draws needs {needed / 2**30:.1f} GiB of memory "
            f"(limit {MAX_SCORE_BYTES / 2**30:.0f} GiB): every draw's value is held to "
            "compute the CRPS exactly; score fewer actuals at a time"
        )


def draw_values(
    forecast: Forecast, quantities: list[Quantity], threads: int | None = None
) -> tuple[np.ndarray, np.ndarray | None]:
    """Every quantity's value in every draw of the run (A, n), and the draws' weights.

    The draws are re-streamed chunk by chunk; the weights (None for a plain run) are
    exp(log-weight - its largest value), not normalised.
    """
    settings = forecast.settings
    if threads is not None:
        settings = RunSettings(
            settings.draws, settings.seed, settings.chunk_size, threads,
            settings.method, settings.replicates,
        )  # fmt: skip
    plan = compile_plan(forecast.loaded.config)
    labels = [s.label for s in plan.series]
    names = [i.name for i in plan.inputs]
    values = np.empty((len(quantities), settings.draws))
    log_weights = None if forecast.log_weight is None else np.empty(settings.draws)

    def on_chunk(first, chunk_values, inputs, scores, gap):
        n = chunk_values.shape[-1]
        context = chunk_context(chunk_values, inputs, labels, plan.years, names)
        for a, quantity in enumerate(quantities):
            values[a, first : first + n] = quantity.values(context, n)
        if log_weights is not None:
            assert forecast.log_weight is not None
            log_weights[first : first + n] = forecast.log_weight(context, n)

    stream(plan, settings, on_chunk)
    if log_weights is None:
        return values, None
    if np.any(np.isnan(log_weights)):
        raise UsageError(f"run {forecast.label}: a draw's weight is not a number")
    finite = log_weights[np.isfinite(log_weights)]
    if not finite.size or np.any(log_weights == np.inf):
        raise UsageError(f"run {forecast.label}: the draws' weights are all zero or infinite")
    return values, np.exp(log_weights - finite.max())


def _checked(forecast: Forecast, actual: Actual, values: np.ndarray) -> None:
    missing = int(np.count_nonzero(np.isnan(values)))
    if missing:
        raise UsageError(
            f"{actual.origin}: '{actual.expression}' is not a number in {missing:,} draws of "
            f"run {forecast.label} (e.g. a division by zero)"
        )


def score_forecasts(
    forecasts: list[Forecast], actuals: list[Actual], threads: int | None = None
) -> dict:
    """Score every forecast against every actual; the content of ``scores.json``.

    Every actual is checked against every run before any draw is made.
    """
    if not forecasts:
        raise UsageError("score needs at least one run directory")
    compiled = [compile_actuals(forecast, actuals) for forecast in forecasts]
    for forecast in forecasts:
        check_memory(forecast, len(actuals))
    rows = []
    runs = []
    for forecast, quantities in zip(forecasts, compiled, strict=True):
        values, weights = draw_values(forecast, quantities, threads)
        for actual, column in zip(actuals, values, strict=True):
            _checked(forecast, actual, column)
            result = scoring.score(column, actual.value, weights)
            rows.append(_row(forecast, actual, result))
        runs.append(_run_entry(forecast, weights is not None))
    return {
        "methods": METHODS,
        "runs": runs,
        "actuals": [{"expression": a.expression, "value": a.value} for a in actuals],
        "scores": rows,
        "pit_histogram": _histograms(runs, rows),
    }


METHODS = {
    "pit": "share of the draws below the actual, draws equal to it counted half",
    "bands": "the actual lies in the central band of level L when at least (1 - L) / 2 of "
    "the draws are at or below it and at least (1 - L) / 2 at or above it",
    "crps": "exact: E|X - y| - E|X - X'| / 2 over the run's draws, from the sorted values",
    "log_score": "-ln f(y), f a Gaussian kernel density estimate with Silverman's bandwidth "
    "0.9 min(sd, IQR / 1.349) n^(-1/5); not defined when a single value holds 1 % of the "
    "draws or more (0/1 quantities, years) or a draw is not finite",
    "weights": "a reweighted run counts draw i with weight w_i / sum w; n is then Kish's "
    "effective draws (sum w)^2 / sum w^2. An updated run's w_i is the likelihood of its "
    "observations in draw i, exp(ln w_i - max ln w) in double precision, so its scores are "
    "exact for those weights up to floating-point rounding",
}


def _row(forecast: Forecast, actual: Actual, result: scoring.Score) -> dict:
    return {
        "run": forecast.label,
        "expression": actual.expression,
        "actual": actual.value,
        "pit": result.pit,
        **{f"in_{round(100 * level)}": inside for level, inside in result.bands.items()},
        "crps": result.crps,
        "log_score": result.log_score,
        "bandwidth": result.bandwidth,
        "draws": forecast.settings.draws,
        "effective_draws": result.effective_draws,
    }


def _run_entry(forecast: Forecast, weighted: bool) -> dict:
    run = forecast.summary["run"]
    entry = {
        "path": forecast.label,
        "model": forecast.summary["model"]["name"],
        "seed": forecast.settings.seed,
        "draws": forecast.settings.draws,
        "config_sha256": run["config_sha256"],
        "config_overrides": run.get("config_overrides", []),
        "weighted": weighted,
    }
    if "observations" in forecast.summary:  # an updated run: the news it was weighted by
        entry["observations"] = forecast.summary["observations"]
    return entry


def _histograms(runs: list[dict], rows: list[dict]) -> dict:
    """Per run, the counts of its actuals' PIT values in :data:`scoring.PIT_BINS` bins."""
    counts, uniform = {}, {}
    edges: list[float] = []
    for run in runs:
        pits = [r["pit"] for r in rows if r["run"] == run["path"]]
        edges, counts[run["path"]], uniform[run["path"]] = scoring.pit_histogram(pits)
    return {"edges": edges, "counts": counts, "uniform": uniform}


def score(
    run_dirs: Iterable[str | Path] | str | Path,
    actuals: Iterable[str] | Mapping[str, float] | None = None,
    *,
    actuals_file: str | Path | Iterable[str | Path] | None = None,
    out: str | Path | None = None,
    force: bool = False,
    threads: int | None = None,
) -> dict:
    """Score finished runs against actual values, as ``mcinfra score`` does.

    Parameters
    ----------
    run_dirs : path or iterable of paths
        Run directories written by ``mcinfra run`` (each a forecast vintage).
    actuals : iterable of str or mapping, optional
        ``"EXPRESSION=VALUE"`` texts (``"total[2025]=158.2"``) or ``{expression: value}``.
    actuals_file : path or iterable of paths, optional
        TOML or CSV files of actuals (layouts in docs/outputs.md).
    out : path, optional
        Also write scores.csv, scores.json and scores.html into this directory.
    force : bool
        Replace an earlier scoring in ``out``.
    threads : int, optional
        numba threads for re-streaming the draws (results do not depend on it).

    Returns
    -------
    dict
        What ``scores.json`` holds: ``methods``, ``runs``, ``actuals``, ``scores`` (one row
        per run and actual) and ``pit_histogram``.
    """
    from mcinfra.io.run_directory import atomic_directory, check_target
    from mcinfra.report.scores import SCORES_JSON, write_scores

    paths = [Path(run_dirs)] if isinstance(run_dirs, str | Path) else [Path(p) for p in run_dirs]
    for i, path in enumerate(paths):
        if path in paths[:i]:
            raise UsageError(f"run directory {path} is given twice")
    if actuals_file is None:
        files = []
    elif isinstance(actuals_file, str | Path):
        files = [Path(actuals_file)]
    else:
        files = [Path(path) for path in actuals_file]
    given = collect_actuals(actuals, files)
    forecasts = [load_forecast(path) for path in paths]
    if out is not None:
        check_target(Path(out), force, marker=SCORES_JSON, kind="scoring")
    result = score_forecasts(forecasts, given, threads)
    if out is not None:
        with atomic_directory(Path(out)) as staging:
            write_scores(result, staging)
    return result
