"""Updates: reweight a finished run's draws by the likelihood of new observations.

Draw d's numbers depend only on (seed, d), so re-streaming a run reproduces its draws bit
for bit (as :mod:`mcinfra.runs.whatif` does). Each draw gets the log-likelihood of the
observations, ln w_d = sum_k ln l_k(v_dk) (:mod:`mcinfra.language.observations`); after
the stream the weights are scaled by the largest one and summed in fixed point
(:mod:`mcinfra.stats.weights`), so every posterior number is identical for any thread
count and chunk size. See docs/model.md ("Observations") and docs/outputs.md.
"""

from __future__ import annotations

import csv
import io
import math
import re
import shutil
import tomllib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mcinfra.config import LoadedConfig
from mcinfra.config.validation import compile_predictions, prediction_scope
from mcinfra.errors import UsageError
from mcinfra.io.run_directory import (
    CONFIG,
    QUANTILES_CSV,
    atomic_directory,
    check_target,
    write_json,
)
from mcinfra.language.observations import (
    Observation,
    ObservationError,
    compile_observation,
    parse_observation,
)
from mcinfra.sampling.engine import RunSettings, chunk_bounds, stream
from mcinfra.sampling.plan import compile_plan
from mcinfra.stats.crossover import crossover_times
from mcinfra.stats.indicators import chunk_context
from mcinfra.stats.probability import ProbabilityEstimate, wilson_interval
from mcinfra.stats.weights import (
    FRACTION_BITS,
    WeightedBuckets,
    WeightedProbability,
    WeightedSums,
    khat_threshold,
    pareto_khat,
    scaled_weights,
    weighted_quantiles,
    weighted_ranks,
    weighted_sensitivity,
)

UPDATE_MARKER = "update.json"
SUFFIX = "-updated"
# Below this ESS even a probability of 0.5 has a 95 % interval wider than +-0.2.
MIN_EFFECTIVE_DRAWS = 25.0
LOG_TINY = math.log(np.finfo(np.float64).tiny)  # a likelihood below this underflows
INPUT_LEVELS = (0.05, 0.5, 0.95)
SERIES_LEVELS = (0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99)
QUANTILE_ACCURACY = 1e-3  # relative accuracy of the posterior series quantiles
PRIOR_QUANTILES = "prior_quantiles.csv"  # the prior run's quantiles.csv, copied
MEASUREMENT_LEVEL = 0.95  # the central share of a measurement's error in update.json
_Z95 = 1.959963984540054
# the SD of a normal whose central 90 % range is 1: a prior's spread from its p05 and p95
_NORMAL_RANGE90 = 2 * 1.6448536269514722
_SERIES_YEAR = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)\[(\d+)\]")


@dataclass(frozen=True)
class PosteriorPrediction:
    """A prediction's prior probability and its posterior given the observations."""

    id: str
    text: str
    prior: float
    posterior: WeightedProbability
    prior_holds: int  # draws in which it holds (of all the run's draws)


@dataclass(frozen=True)
class PosteriorInput:
    """An input's 5 %, 50 % and 95 % quantiles, before and after the observations."""

    name: str
    prior: tuple[float, ...]
    posterior: tuple[float, ...]

    @property
    def median_shift(self) -> float:
        """(posterior median - prior median) in prior SDs, the SD read from the 90 % range.

        The prior's SD is taken as (p95 - p05) / 3.29, a normal's with that range; 0 for
        an input whose range is empty (fixed) and whose median has not moved.
        """
        spread = (self.prior[2] - self.prior[0]) / _NORMAL_RANGE90
        moved = self.posterior[1] - self.prior[1]
        if spread > 0:
            return moved / spread
        return 0.0 if moved == 0 else math.copysign(math.inf, moved)


@dataclass(frozen=True)
class PosteriorCrossover:
    """P(the rising function leads by each year), before and after, and the median time."""

    entity: str
    prior_by_year: dict[int, float]
    posterior_by_year: dict[int, WeightedProbability]
    prior_median: float  # continuous crossover; inf when it mostly never happens
    posterior_median: float


@dataclass(frozen=True)
class Update:
    """The posterior of a run given observations, with its importance-sampling diagnostics."""

    observations: list[Observation]
    draws: int
    effective_draws: float
    khat: float
    khat_threshold: float
    predictions: list[PosteriorPrediction]
    inputs: list[PosteriorInput]
    quantiles: list[tuple[str, int, float, float]]  # (series, year, level, value)
    crossovers: list[PosteriorCrossover]
    # (prediction, input, first-order index, rank correlation), per prediction largest first
    sensitivity: list[tuple[str, str, float, float]]

    @property
    def khat_warning(self) -> str | None:
        """Why the weights' tail makes the posterior unreliable, or None."""
        if self.khat > self.khat_threshold:
            return (
                f"Pareto k-hat {self.khat:.2f} of the largest weights is above "
                f"{self.khat_threshold:.2f}: a few draws dominate and the posterior's errors "
                "are unreliable; use more draws or a looser error model"
            )
        return None


def observations_from(
    texts: list[str], loaded: LoadedConfig, files: tuple[Path, ...] | list[Path] = ()
) -> list[Observation]:
    """Compile the config's ``[[observations]]``, ``--observe`` texts and those of ``files``.

    The config's observations were checked when it was loaded. A file holds tables
    ``[[observations]]`` with ``quantity`` (an expression) and ``error`` (the measurement
    model), e.g. ``quantity = "total[2025]"`` and ``error = "lognormal(median=158,
    log_sd=0.03)"``; ``source`` (where the figure comes from) is optional.
    """
    scope = prediction_scope(loaded.config)
    result = [
        compile_observation(spec.quantity, spec.error, scope) for spec in loaded.config.observations
    ]
    for text in texts:
        try:
            result.append(parse_observation(text, scope))
        except ObservationError as exc:
            raise UsageError(f"--observe {text!r}: {exc}") from None
    for path in files:
        try:
            data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except OSError as exc:
            raise UsageError(f"cannot read observations file {path}: {exc.strerror}") from None
        except tomllib.TOMLDecodeError as exc:
            raise UsageError(f"{path}: not valid TOML: {exc}") from None
        tables = data.get("observations")
        extra = sorted(set(data) - {"observations"})
        if extra or not isinstance(tables, list) or not tables:
            raise UsageError(
                f"{path}: expected [[observations]] tables with quantity and error"
                + (f", not {', '.join(extra)}" if extra else "")
            )
        for i, table in enumerate(tables):
            where = f"{path}: observations[{i}]"
            if not isinstance(table, dict) or not (
                {"quantity", "error"} <= set(table) <= {"quantity", "error", "source"}
            ):
                keys = ", ".join(sorted(table)) if isinstance(table, dict) else repr(table)
                raise UsageError(
                    f"{where}: needs quantity and error (and optionally source), got {keys}"
                )
            if not all(isinstance(value, str) for value in table.values()):
                raise UsageError(f"{where}: quantity, error and source must be strings")
            try:
                result.append(compile_observation(table["quantity"], table["error"], scope))
            except ObservationError as exc:
                raise UsageError(f"{where}: {exc}") from None
    if not result:
        raise UsageError(
            "nothing to update on: give --observe or --observations, or add [[observations]] "
            "to the config"
        )
    return result


def _observe_draws(
    loaded: LoadedConfig,
    settings: RunSettings,
    observations: list[Observation],
    first: int,
    stop: int,
) -> tuple[np.ndarray, ...]:
    """Stream draws ``first .. stop - 1`` (whole chunks) and return their per-draw arrays.

    Returns the log-weights (n,), the sums of squared standardised errors (n,), the
    predictions' indicators (P, n), the inputs' values (K, n), and per reported crossover
    entity the crossover year and the continuous crossover (E, n; inf when none).
    """
    plan = compile_plan(loaded.config)
    predictions = compile_predictions(loaded.config)
    labels = [s.label for s in plan.series]
    names = [i.name for i in plan.inputs]
    size = stop - first
    log_weights = np.zeros(size)
    distance = np.zeros(size)
    holds = np.zeros((len(predictions), size), dtype=bool)
    input_values = np.empty((len(names), size))
    pairs = crossover_pairs(loaded, labels)
    crossing_year = np.empty((len(pairs), size))
    crossing_time = np.empty((len(pairs), size))

    def on_chunk(start, values, inputs, scores, gap):
        window = slice(start - first, start - first + values.shape[-1])
        context = chunk_context(values, inputs, labels, plan.years, names)
        for e, (_, rising, falling) in enumerate(pairs):
            crossing_year[e, window], crossing_time[e, window] = crossover_times(
                values[rising], values[falling], list(plan.years)
            )
        for observation in observations:
            observed = observation.values(context)
            if observation.model.kind == "lognormal" and np.any(~(observed > 0)):
                bad = int(np.argmax(~(observed > 0)))
                raise UsageError(
                    f"--observe {observation.text!r}: a lognormal error needs a positive "
                    f"quantity, and {observation.quantity.text} is {observed[bad]:g} in draw "
                    f"{start + bad}; use normal(mean=..., sd=...)"
                )
            log_weights[window] += observation.model.log_likelihood(observed)
            z = observation.model.standardised(observed)
            distance[window] += z * z
        for k, prediction in enumerate(predictions):
            holds[k, window] = prediction.compiled.holds(context)
        input_values[:, window] = inputs

    stream(plan, settings, on_chunk, start=first, end=stop)
    return log_weights, distance, holds, input_values, crossing_year, crossing_time


def crossover_pairs(loaded: LoadedConfig, labels: list[str]) -> list[tuple[str, int, int]]:
    """``(entity, rising row, falling row)`` of every entity in ``crossover_report``."""
    split = loaded.config.function_split
    if split is None:
        return []
    return [
        (
            entity,
            labels.index(f"{entity}_{split.rising}"),
            labels.index(f"{entity}_{split.falling}"),
        )
        for entity in split.crossover_report
    ]


def _bucket_draws(
    loaded: LoadedConfig, settings: RunSettings, units: np.ndarray, first: int, stop: int
) -> WeightedBuckets:
    """Weighted buckets of every series and year over draws ``first .. stop - 1``."""
    plan = compile_plan(loaded.config)
    buckets = WeightedBuckets(len(plan.series) * len(plan.years), QUANTILE_ACCURACY)

    def on_chunk(start, values, inputs, scores, gap):
        n = values.shape[-1]
        buckets.add(values.reshape(-1, n), units[start - first : start - first + n])

    stream(plan, settings, on_chunk, start=first, end=stop)
    return buckets


def _task_config(loaded: LoadedConfig) -> tuple[str, str, tuple[str, ...]]:
    return loaded.text, loaded.origin, loaded.overrides


def _observations_spec(observations: list[Observation]) -> list[tuple]:
    return [(o.text, o.quantity.text, o.model.kind, dict(o.model.parameters)) for o in observations]


def observe_task(config, settings, specs, first, stop):
    """:func:`_observe_draws` on a dask worker, from the config's and observations' text."""
    from mcinfra.config import parse_config
    from mcinfra.language.observations import MeasurementModel
    from mcinfra.language.predictions import compile_quantity

    text, origin, overrides = config
    loaded = parse_config(text, origin=origin, overrides=overrides)
    scope = prediction_scope(loaded.config)
    observations = [
        Observation(shown, compile_quantity(quantity, scope), MeasurementModel(kind, parameters))
        for shown, quantity, kind, parameters in specs
    ]
    return _observe_draws(loaded, settings, observations, first, stop)


def bucket_task(config, settings, units, first, stop):
    """:func:`_bucket_draws` on a dask worker; returns the buckets' rows."""
    from mcinfra.config import parse_config

    text, origin, overrides = config
    loaded = parse_config(text, origin=origin, overrides=overrides)
    buckets = _bucket_draws(loaded, settings, units, first, stop)
    return buckets.rows, buckets.other


def _task_ranges(settings: RunSettings, tasks: int) -> list[tuple[int, int]]:
    """Whole chunks grouped into about ``tasks`` ranges of draws."""
    chunks = list(chunk_bounds(settings))
    per = max(1, math.ceil(len(chunks) / tasks))
    return [
        (chunks[i][0], chunks[min(i + per, len(chunks)) - 1][1]) for i in range(0, len(chunks), per)
    ]


def update_run(
    loaded: LoadedConfig, settings: RunSettings, observations: list[Observation], client=None
) -> Update:
    """Reweight the run's draws by the observations' likelihood (see the module docstring).

    With a ``dask.distributed`` ``client`` the draws are streamed in tasks of whole chunks
    on its workers; the result is the same bit for bit.

    Raises
    ------
    UsageError
        For a Sobol' run, a lognormal observation of a quantity that is <= 0 in some draw,
        no draw compatible with the observations, or too few effective draws.
    """
    if settings.method != "mc":
        raise UsageError(
            "update needs a plain Monte Carlo run (sampling.method = 'mc'): importance "
            "weights assume independent draws, which Sobol' points are not"
        )
    plan = compile_plan(loaded.config)
    predictions = compile_predictions(loaded.config)
    labels = [s.label for s in plan.series]
    names = [i.name for i in plan.inputs]
    draws = settings.draws
    if client is None:
        log_weights, distance, holds, input_values, crossing_year, crossing_time = _observe_draws(
            loaded, settings, observations, 0, draws
        )
    else:
        config, specs = _task_config(loaded), _observations_spec(observations)
        ranges = _task_ranges(settings, 4 * max(1, len(client.scheduler_info()["workers"])))
        futures = [
            client.submit(observe_task, config, settings, specs, a, b, pure=False)
            for a, b in ranges
        ]
        parts = client.gather(futures)
        log_weights, distance, holds, input_values, crossing_year, crossing_time = (
            np.concatenate([part[i] for part in parts], axis=-1) for i in range(6)
        )
    top = float(np.max(log_weights))
    if not top > LOG_TINY:
        closest = int(np.argmin(distance))
        raise UsageError(
            "no draw is compatible with the observations: the closest, draw "
            f"{closest}, lies {math.sqrt(distance[closest]):.3g} error scales from them "
            "(root sum of squared standardised errors); check the observations' values and "
            "units, or loosen their error models"
        )
    sums = WeightedSums(len(predictions))
    for first, stop in chunk_bounds(settings):
        sums.add(log_weights[first:stop], top, holds[:, first:stop])
    effective = sums.effective_draws
    if effective < MIN_EFFECTIVE_DRAWS:
        raise UsageError(
            f"the observations leave {effective:.3g} effective draws of {draws:,}: too few for "
            f"any probability to carry a meaningful interval (at least "
            f"{MIN_EFFECTIVE_DRAWS:g} needed); rerun with more draws, or loosen the error models"
        )
    units, _ = scaled_weights(log_weights, top)
    weights = units / 2.0**FRACTION_BITS
    equal = np.ones(draws)
    inputs = [
        PosteriorInput(
            name,
            tuple(weighted_quantiles(input_values[k], equal, INPUT_LEVELS)),
            tuple(weighted_quantiles(input_values[k], weights, INPUT_LEVELS)),
        )
        for k, name in enumerate(names)
    ]
    uncertain = [k for k in range(len(names)) if np.ptp(input_values[k]) > 0]
    ranks = {k: weighted_ranks(input_values[k], weights) for k in uncertain}
    sensitivity = []
    for j, prediction in enumerate(predictions):
        rows = [
            (prediction.id, names[k], *weighted_sensitivity(ranks[k], holds[j], weights))
            for k in uncertain
        ]
        rows.sort(key=lambda row: -row[2] if math.isfinite(row[2]) else math.inf)
        sensitivity.extend(rows)
    crossovers = []
    for e, (entity, _, _) in enumerate(crossover_pairs(loaded, labels)):
        by_year = crossing_year[e][None, :] <= np.asarray(plan.years, dtype=float)[:, None]
        crossed = WeightedSums(len(plan.years))
        for first, stop in chunk_bounds(settings):
            crossed.add(log_weights[first:stop], top, by_year[:, first:stop])
        crossovers.append(
            PosteriorCrossover(
                entity,
                {int(y): float(by_year[t].mean()) for t, y in enumerate(plan.years)},
                {int(y): crossed.probability(t) for t, y in enumerate(plan.years)},
                weighted_quantiles(crossing_time[e], equal, (0.5,))[0],
                weighted_quantiles(crossing_time[e], weights, (0.5,))[0],
            )
        )
    # A second stream of the same draws: the series' values are too many to hold.
    if client is None:
        buckets = _bucket_draws(loaded, settings, units, 0, draws)
    else:
        futures = [
            client.submit(bucket_task, config, settings, units[a:b], a, b, pure=False)
            for a, b in ranges
        ]
        buckets = WeightedBuckets(len(labels) * len(plan.years), QUANTILE_ACCURACY)
        for rows, other in client.gather(futures):
            part = WeightedBuckets(0, QUANTILE_ACCURACY)
            part.rows, part.other = rows, other
            buckets.merge(part)
    quantiles = [
        (label, int(year), level, value)
        for s, label in enumerate(labels)
        for t, year in enumerate(plan.years)
        for level, value in zip(
            SERIES_LEVELS,
            buckets.quantiles(s * len(plan.years) + t, SERIES_LEVELS),
            strict=True,
        )
    ]
    prior_holds = holds.sum(axis=1)
    prior = prior_holds / draws
    return Update(
        observations=list(observations),
        draws=draws,
        effective_draws=effective,
        khat=pareto_khat(log_weights),
        khat_threshold=khat_threshold(draws),
        predictions=[
            PosteriorPrediction(
                p.id, p.text, float(prior[k]), sums.probability(k), int(prior_holds[k])
            )
            for k, p in enumerate(predictions)
        ],
        inputs=inputs,
        quantiles=quantiles,
        crossovers=crossovers,
        sensitivity=sensitivity,
    )


def default_output(run_dir: Path) -> Path:
    """``RUN_DIR-updated``, beside the prior run."""
    run_dir = Path(run_dir).resolve()
    return run_dir.with_name(run_dir.name + SUFFIX)


def update_files(update: Update) -> dict[str, str]:
    """The text of every file of an updated run directory, by name."""
    predictions = io.StringIO()
    writer = csv.writer(predictions, lineterminator="\n")
    writer.writerow(
        ["id", "prior", "posterior", "std_error", "ci95_low", "ci95_high", "effective_draws",
         "prior_std_error", "prior_ci95_low", "prior_ci95_high"]
    )  # fmt: skip
    for p in update.predictions:
        low, high = p.posterior.interval()
        prior = ProbabilityEstimate(p.prior_holds, update.draws)
        writer.writerow(
            [
                p.id,
                repr(p.prior),
                repr(p.posterior.probability),
                repr(p.posterior.std_error),
                repr(low),
                repr(high),
                repr(p.posterior.effective_draws),
                repr(prior.std_error),
                *map(repr, wilson_interval(p.prior_holds, update.draws)),
            ]
        )
    inputs = io.StringIO()
    writer = csv.writer(inputs, lineterminator="\n")
    writer.writerow(
        [
            "input",
            "prior_p05",
            "prior_median",
            "prior_p95",
            "posterior_p05",
            "posterior_median",
            "posterior_p95",
            "median_shift",
        ]
    )
    for i in update.inputs:
        writer.writerow(
            [i.name, *map(repr, i.prior), *map(repr, i.posterior), repr(i.median_shift)]
        )
    quantiles = io.StringIO()
    writer = csv.writer(quantiles, lineterminator="\n")
    writer.writerow(["segment", "year", "quantile", "value"])
    for label, year, level, value in update.quantiles:
        if not math.isnan(value):
            writer.writerow([label, year, level, repr(value)])
    crossovers = io.StringIO()
    writer = csv.writer(crossovers, lineterminator="\n")
    writer.writerow(["entity", "year", "prior", "posterior", "std_error"])
    for c in update.crossovers:
        for year, estimate in c.posterior_by_year.items():
            writer.writerow(
                [
                    c.entity,
                    year,
                    repr(c.prior_by_year[year]),
                    repr(estimate.probability),
                    repr(estimate.std_error),
                ]
            )
    sensitivity = io.StringIO()
    writer = csv.writer(sensitivity, lineterminator="\n")
    writer.writerow(["prediction", "input", "first_order_index", "rank_correlation"])
    for ident, name, first_order, rank_correlation in update.sensitivity:
        writer.writerow([ident, name, repr(first_order), repr(rank_correlation)])
    return {
        "crossovers.csv": crossovers.getvalue(),
        "sensitivity.csv": sensitivity.getvalue(),
        "predictions.csv": predictions.getvalue(),
        "inputs.csv": inputs.getvalue(),
        "quantiles.csv": quantiles.getvalue(),
    }


def measurement_interval(observation: Observation) -> tuple[float, float, float]:
    """The observed figure and the central 95 % range of its measurement error.

    (central, low, high): for ``normal`` mean +- 1.96 sd; ``lognormal`` median times
    exp(+-1.96 log_sd); ``t`` loc +- t(0.975, df) scale; ``uniform`` its midpoint and ends.
    """
    p = observation.model.parameters
    kind = observation.model.kind
    if kind == "normal":
        return p["mean"], p["mean"] - _Z95 * p["sd"], p["mean"] + _Z95 * p["sd"]
    if kind == "lognormal":
        spread = math.exp(_Z95 * p["log_sd"])
        return p["median"], p["median"] / spread, p["median"] * spread
    if kind == "t":
        from scipy.special import stdtrit

        half = float(stdtrit(p["df"], 0.5 + MEASUREMENT_LEVEL / 2)) * p["scale"]
        return p["loc"], p["loc"] - half, p["loc"] + half
    return (p["low"] + p["high"]) / 2, p["low"], p["high"]


def _observation_entry(observation: Observation) -> dict:
    central, low, high = measurement_interval(observation)
    entry = {
        "text": observation.text,
        "quantity": observation.quantity.text,
        "error": observation.model.kind,
        "parameters": observation.model.parameters,
        "central": central,
        "interval95": [low, high],
    }
    point = _SERIES_YEAR.fullmatch("".join(observation.quantity.text.split()))
    if point:  # a series in a year, marked on that series' fan chart
        entry |= {"series": point[1], "year": int(point[2])}
    return entry


def run_provenance(loaded: LoadedConfig, settings: RunSettings) -> dict:
    """What re-streams the prior run's draws: its seed, draws, chunk size and config."""
    return {
        "model": loaded.config.model.name,
        "title": loaded.config.model.title,
        "unit": loaded.config.model.unit,
        "seed": settings.seed,
        "draws": settings.draws,
        "chunk_size": settings.chunk_size,
        "sampling_method": settings.method,
        "config_sha256": loaded.sha256,
        "config_overrides": list(loaded.overrides),
    }


def update_summary(
    update: Update, prior_dir: str | None = None, provenance: dict | None = None
) -> dict:
    """``update.json``: the observations and the importance-sampling diagnostics.

    ``provenance`` (:func:`run_provenance`) is written as ``run`` when given.
    """
    return {
        "prior_run": prior_dir,
        **({"run": provenance} if provenance is not None else {}),
        "observations": [_observation_entry(o) for o in update.observations],
        "draws": update.draws,
        "effective_draws": update.effective_draws,
        "effective_share": update.effective_draws / update.draws,
        "pareto_khat": None if math.isnan(update.khat) else update.khat,
        "pareto_khat_threshold": update.khat_threshold,
        "quantile_relative_accuracy": QUANTILE_ACCURACY,
        "crossovers": [
            {
                "entity": c.entity,
                "prior_median_continuous": _finite(c.prior_median),
                "posterior_median_continuous": _finite(c.posterior_median),
            }
            for c in update.crossovers
        ],
        "warnings": [w for w in (update.khat_warning,) if w],
    }


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def write_update(
    update: Update,
    loaded: LoadedConfig,
    out: Path,
    replace: bool,
    prior_dir: str | None = None,
    settings: RunSettings | None = None,
    report: bool = False,
    notify=None,
) -> None:
    """Write an updated run directory atomically (refusing to overwrite without ``replace``).

    With ``prior_dir`` the prior run's ``quantiles.csv`` is copied as
    ``prior_quantiles.csv`` (the report draws the prior's bands from it); with
    ``settings`` (the prior run's) ``update.json`` records what re-streams its draws. With
    ``report`` the report of the news (:mod:`mcinfra.report.news`) is written too, before
    the directory appears; ``notify`` receives its progress lines.
    """
    check_target(out, replace, marker=UPDATE_MARKER, kind="updated run")
    provenance = run_provenance(loaded, settings) if settings is not None else None
    with atomic_directory(out) as staging:
        for name, text in update_files(update).items():
            (staging / name).write_text(text, encoding="utf-8")
        (staging / CONFIG).write_text(loaded.text, encoding="utf-8")
        if prior_dir is not None and (Path(prior_dir) / QUANTILES_CSV).is_file():
            shutil.copyfile(Path(prior_dir) / QUANTILES_CSV, staging / PRIOR_QUANTILES)
        write_json(staging / UPDATE_MARKER, update_summary(update, prior_dir, provenance))
        if report:
            from mcinfra.report.news import build_news_report

            build_news_report(staging, notify=notify)


@dataclass(frozen=True)
class UpdatedRun:
    """An updated run directory read back: the prior run's draws and the observations.

    ``summary`` has the keys of a run's ``summary.json`` that comparing and scoring read:
    ``model`` (``name``), ``run`` (provenance) and ``predictions`` (the posterior's
    ``id``, ``text``, ``probability``, ``std_error`` and ``ci95``).
    """

    loaded: LoadedConfig
    settings: RunSettings
    observations: list[Observation]
    summary: dict


def is_updated_run(run_dir: Path) -> bool:
    """Whether ``run_dir`` holds an updated run (its ``update.json``)."""
    return (Path(run_dir) / UPDATE_MARKER).is_file()


def read_updated_run(run_dir: Path) -> UpdatedRun:
    """The prior's config and settings, the observations and the posterior of ``run_dir``.

    ``update.json``'s ``run`` gives the prior run's seed, draws and chunk size; an updated
    directory written without it is read through its ``prior_run`` directory.

    Raises
    ------
    UsageError
        When ``run_dir`` is not an updated run, its config does not match the recorded
        hash, or an observation no longer compiles.
    """
    import json

    from mcinfra.config import parse_config
    from mcinfra.language.observations import MeasurementModel
    from mcinfra.language.predictions import PredictionError, compile_quantity
    from mcinfra.runs.whatif import load_run_and_summary
    from mcinfra.sampling.engine import settings_from

    run_dir = Path(run_dir)
    try:
        recorded = json.loads((run_dir / UPDATE_MARKER).read_text(encoding="utf-8"))
        text = (run_dir / CONFIG).read_text(encoding="utf-8")
        with open(run_dir / "predictions.csv", newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
        specs = recorded["observations"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise UsageError(f"{run_dir} is not an updated mcinfra run: {exc}") from None
    run = recorded.get("run")
    if run is None:
        prior = recorded.get("prior_run")
        if prior is None:
            raise UsageError(f"{run_dir}/{UPDATE_MARKER} names no prior run and no run settings")
        loaded, settings, prior_summary = load_run_and_summary(Path(prior))
        run = {
            "model": prior_summary["model"]["name"],
            **{k: prior_summary["run"][k] for k in ("seed", "draws", "chunk_size")},
            "sampling_method": settings.method,
            "config_sha256": loaded.sha256,
            "config_overrides": list(loaded.overrides),
        }
    else:
        overrides = tuple(run.get("config_overrides", ()))
        loaded = parse_config(text, origin=str(run_dir / CONFIG), overrides=overrides)
        if run["config_sha256"] != loaded.sha256:
            raise UsageError(f"{run_dir}/{CONFIG} does not match the run's recorded hash")
        settings = settings_from(loaded, run["draws"], run["seed"], run["chunk_size"])
    scope = prediction_scope(loaded.config)
    observations = []
    for spec in specs:
        try:
            quantity = compile_quantity(spec["quantity"], scope)
        except PredictionError as exc:
            raise UsageError(f"{run_dir}/{UPDATE_MARKER}: {spec['text']!r}: {exc}") from None
        model = MeasurementModel(spec["error"], dict(spec["parameters"]))
        observations.append(Observation(spec["text"], quantity, model))
    texts = {p.id: p.text for p in compile_predictions(loaded.config)}
    summary = {
        "model": {"name": loaded.config.model.name},
        "run": run,
        "predictions": [
            {
                "id": row["id"],
                "text": texts.get(row["id"], ""),
                "probability": float(row["posterior"]),
                "std_error": float(row["std_error"]),
                "ci95": [float(row["ci95_low"]), float(row["ci95_high"])],
                "effective_draws": float(row["effective_draws"]),
            }
            for row in rows
        ],
        "observations": [spec["text"] for spec in specs],
        "effective_draws": recorded.get("effective_draws"),
    }
    return UpdatedRun(loaded, settings, observations, summary)


def observations_log_weight(observations: list[Observation]):
    """``log_weight(context, n)``: each draw's ln w = sum_k ln l_k(v_k) of a chunk."""

    def log_weight(context, n: int) -> np.ndarray:
        total = np.zeros(n)
        for observation in observations:
            total += observation.model.log_likelihood(observation.values(context))
        return total

    return log_weight
