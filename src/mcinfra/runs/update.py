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
import json
import math
import re
import shutil
import time
import tomllib
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from mcinfra.config import LoadedConfig
from mcinfra.config.sips import check_libraries, recorded_libraries
from mcinfra.config.validation import compile_predictions, prediction_scope
from mcinfra.errors import Interrupted, UsageError
from mcinfra.io.run_directory import (
    CHECKPOINT,
    CONFIG,
    QUANTILES_CSV,
    atomic_directory,
    check_target,
    json_number,
    load_checkpoint,
    read_rows,
    save_checkpoint,
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

if TYPE_CHECKING:
    from mcinfra.runs.pipeline import Shield

UPDATE_MARKER = "update.json"
UPDATE_OPTIONS = "update-options.json"  # in an interrupted update's temporary directory
# A first-pass checkpoint writes every per-draw value so far (390 bytes a draw for the
# default model): an update of the default run, about 35 s, should write none.
CHECKPOINT_SECONDS = 60.0
SUFFIX = "-updated"
# Below this ESS even a probability of 0.5 has a 95 % interval wider than +-0.2.
MIN_EFFECTIVE_DRAWS = 25.0
LOG_TINY = math.log(np.finfo(np.float64).tiny)  # a likelihood below this underflows
INPUT_LEVELS = (0.05, 0.5, 0.95)
SERIES_LEVELS = (0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99)
QUANTILE_ACCURACY = 1e-3  # relative accuracy of the posterior series quantiles
PRIOR_QUANTILES = "prior_quantiles.csv"  # the prior run's quantiles.csv, copied
_Z95 = 1.959963984540054  # the normal's 97.5 % point: a measurement's central 95 % range
# a normal's central 90 % range in SDs (3.29): a prior's SD is its p95 - p05 over this
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


def _per_draw_arrays(loaded: LoadedConfig, size: int) -> tuple[np.ndarray, ...]:
    """Empty per-draw arrays of :func:`_observe_draws` for ``size`` draws."""
    plan = compile_plan(loaded.config)
    predictions = compile_predictions(loaded.config)
    pairs = crossover_pairs(loaded, [s.label for s in plan.series])
    return (
        np.zeros(size),
        np.zeros(size),
        np.zeros((len(predictions), size), dtype=bool),
        np.empty((len(plan.inputs), size)),
        np.empty((len(pairs), size)),
        np.empty((len(pairs), size)),
    )


PER_DRAW = ("log_weights", "distance", "holds", "inputs", "crossing_year", "crossing_time")


def _observe_draws(
    loaded: LoadedConfig,
    settings: RunSettings,
    observations: list[Observation],
    first: int,
    stop: int,
    out: tuple[np.ndarray, ...] | None = None,
    after_chunk: Callable[[int], None] | None = None,
    guard: Shield = nullcontext,
) -> tuple[np.ndarray, ...]:
    """Stream draws ``first .. stop - 1`` (whole chunks) and return their per-draw arrays.

    Returns the log-weights (n,), the sums of squared standardised errors (n,), the
    predictions' indicators (P, n), the inputs' values (K, n), and per reported crossover
    entity the crossover year and the continuous crossover (E, n; inf when none). With
    ``out`` (arrays of every draw of the run) each chunk is written at its own draws, and
    ``after_chunk(done)`` is called after each. Each chunk is reduced inside ``guard()``.
    """
    plan = compile_plan(loaded.config)
    predictions = compile_predictions(loaded.config)
    labels = [s.label for s in plan.series]
    names = [i.name for i in plan.inputs]
    offset = first if out is None else 0
    arrays = _per_draw_arrays(loaded, stop - first) if out is None else out
    log_weights, distance, holds, input_values, crossing_year, crossing_time = arrays
    pairs = crossover_pairs(loaded, labels)

    def on_chunk(start, values, inputs, scores, gap):
        with guard():
            reduce_chunk(start, values, inputs)
        if after_chunk is not None:
            after_chunk(start + values.shape[-1])

    def reduce_chunk(start, values, inputs):
        window = slice(start - offset, start - offset + values.shape[-1])
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
    return arrays


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
    loaded: LoadedConfig,
    settings: RunSettings,
    units: np.ndarray,
    first: int,
    stop: int,
    buckets: WeightedBuckets | None = None,
    after_chunk: Callable[[int], None] | None = None,
    guard: Shield = nullcontext,
) -> WeightedBuckets:
    """Weighted buckets of every series and year over draws ``first .. stop - 1``.

    ``units`` are the fixed-point weights of those draws. The draws are added to
    ``buckets`` when given; ``after_chunk(done)`` is called after each chunk, which is
    added inside ``guard()``.
    """
    plan = compile_plan(loaded.config)
    if buckets is None:
        buckets = WeightedBuckets(len(plan.series) * len(plan.years), QUANTILE_ACCURACY)

    def on_chunk(start, values, inputs, scores, gap):
        n = values.shape[-1]
        with guard():
            buckets.add(values.reshape(-1, n), units[start - first : start - first + n])
        if after_chunk is not None:
            after_chunk(start + n)

    stream(plan, settings, on_chunk, start=first, end=stop)
    return buckets


def _task_config(loaded: LoadedConfig) -> tuple:
    """What a dask task needs to read ``loaded`` again (:func:`_task_loaded`)."""
    return loaded.text, loaded.origin, loaded.overrides, loaded.libraries


def _task_loaded(config: tuple) -> LoadedConfig:
    """The config of :func:`_task_config`, read on a worker (from the same libraries)."""
    from mcinfra.config import parse_config

    text, origin, overrides, libraries = config
    loaded = parse_config(text, origin=origin, overrides=overrides)
    check_libraries(loaded.libraries, recorded_libraries(libraries), "dask worker")
    return loaded


def _observations_spec(observations: list[Observation]) -> list[tuple]:
    return [(o.text, o.quantity.text, o.model.kind, dict(o.model.parameters)) for o in observations]


def observe_task(config, settings, specs, first, stop):
    """:func:`_observe_draws` on a dask worker, from the config's and observations' text."""
    from mcinfra.language.observations import MeasurementModel
    from mcinfra.language.predictions import compile_quantity

    loaded = _task_loaded(config)
    scope = prediction_scope(loaded.config)
    observations = [
        Observation(shown, compile_quantity(quantity, scope), MeasurementModel(kind, parameters))
        for shown, quantity, kind, parameters in specs
    ]
    return _observe_draws(loaded, settings, observations, first, stop)


def bucket_task(config, settings, units, first, stop):
    """:func:`_bucket_draws` on a dask worker; returns the buckets' rows."""
    loaded = _task_loaded(config)
    buckets = _bucket_draws(loaded, settings, units, first, stop)
    return buckets.rows, buckets.other


def _task_ranges(settings: RunSettings, tasks: int, start: int = 0) -> list[tuple[int, int]]:
    """Whole chunks from draw ``start`` on, grouped into about ``tasks`` ranges of draws."""
    chunks = list(chunk_bounds(settings, start))
    per = max(1, math.ceil(len(chunks) / tasks))
    return [
        (chunks[i][0], chunks[min(i + per, len(chunks)) - 1][1]) for i in range(0, len(chunks), per)
    ]


@dataclass(frozen=True)
class UpdateCheckpoints:
    """Where an update saves its progress, how often, and whether it continues from it.

    ``directory`` is the update's temporary directory. Its ``checkpoint.npz`` records the
    pass (1: the per-draw observations, 2: the weighted buckets of the series) and the
    draws done in it, with pass 2's bucket sums; pass 1's per-draw arrays are saved in
    parts, ``observed-FIRST-STOP.npz``, each written once (atomically, before the
    checkpoint that counts it). A part is saved at most every ``every`` seconds.
    """

    directory: Path
    every: float = CHECKPOINT_SECONDS
    resume: bool = False
    # called, once both passes are done, with what saves them at once (for an interruption
    # while the files are written)
    done: Callable[[Callable[[], None]], None] | None = None


_PART = "observed-{:012d}-{:012d}.npz"


def _npz_atomically(path: Path, arrays: dict) -> None:
    temporary = path.with_name(path.name + ".tmp.npz")
    np.savez(temporary, **arrays)
    temporary.replace(path)


def _bucket_state(buckets: WeightedBuckets) -> dict[str, np.ndarray]:
    tables = [table for _, table in buckets.rows]
    return {
        "bucket_bases": np.array([base for base, _ in buckets.rows], dtype=np.int64),
        "bucket_widths": np.array([t.shape[1] for t in tables], dtype=np.int64),
        "bucket_tables": np.concatenate(tables, axis=1) if tables else np.zeros((3, 0)),
        # sums of non-positive values' buckets: Python integers, exact as JSON text
        "bucket_other": np.array(json.dumps([sorted(d.items()) for d in buckets.other])),
    }


def _restore_buckets(buckets: WeightedBuckets, state: dict[str, np.ndarray]) -> None:
    bases, widths = state["bucket_bases"], state["bucket_widths"]
    if len(bases) != len(buckets.rows):
        raise ValueError(f"{len(bases)} rows of buckets, expected {len(buckets.rows)}")
    edges = np.concatenate([[0], np.cumsum(widths)])
    tables = state["bucket_tables"].astype(np.int64)
    buckets.rows = [
        (int(base), tables[:, edges[i] : edges[i + 1]].copy()) for i, base in enumerate(bases)
    ]
    other = json.loads(str(state["bucket_other"]))
    buckets.other = [{int(k): int(v) for k, v in row} for row in other]


class _Progress:
    """The two passes' progress: checkpoints, signals and the progress callback."""

    def __init__(self, loaded, settings, checkpoints, shield, progress) -> None:
        self.loaded, self.settings, self.checkpoints = loaded, settings, checkpoints
        self.guard: Shield = shield if shield is not None else nullcontext
        self.at_once = shield is not None and checkpoints is not None
        self.progress = progress
        self.observed = self.saved_observed = 0  # draws of pass 1 done, and saved
        self.bucketed = self.saved_bucketed = 0  # draws of pass 2 done, and saved
        self.arrays: tuple[np.ndarray, ...] = ()
        self.buckets: WeightedBuckets | None = None
        self.state: dict[str, np.ndarray] = {}
        self.last = time.perf_counter()

    def restore_observed(self) -> tuple[np.ndarray, ...]:
        """Pass 1's per-draw arrays of every draw, filled from the checkpoint if resumed."""
        self.arrays = _per_draw_arrays(self.loaded, self.settings.draws)
        if self.checkpoints is None or not self.checkpoints.resume:
            return self.arrays
        directory = self.checkpoints.directory
        try:
            self.state, done, _ = load_checkpoint(directory / CHECKPOINT)
            second = int(self.state.pop("pass")) == 2
            self.observed = self.settings.draws if second else done
            self.bucketed = done if second else 0
            filled = 0
            for part in sorted(directory.glob("observed-*.npz")):
                first, stop = (int(x) for x in part.name[:-4].split("-")[1:])
                if stop > self.observed:  # written after the last checkpoint
                    part.unlink()
                    continue
                if first != filled:
                    raise ValueError(f"draws {filled} to {first - 1} are missing")
                with np.load(part) as saved:
                    for name, whole in zip(PER_DRAW, self.arrays, strict=True):
                        whole[..., first:stop] = saved[name]
                filled = stop
            if filled != self.observed:
                raise ValueError(f"{filled} draws observed, the checkpoint counts {self.observed}")
        except (OSError, KeyError, ValueError) as exc:
            raise UsageError(
                f"cannot resume {directory}: its checkpoint does not fit this update ({exc})"
            ) from None
        self.saved_observed, self.saved_bucketed = self.observed, self.bucketed
        return self.arrays

    def restore_buckets(self, rows: int) -> WeightedBuckets:
        """Pass 2's buckets, holding the checkpoint's sums if resumed in that pass."""
        self.buckets = WeightedBuckets(rows, QUANTILE_ACCURACY)
        if self.bucketed:
            try:
                _restore_buckets(self.buckets, self.state)
            except (KeyError, ValueError) as exc:
                raise UsageError(
                    f"cannot resume {self.checkpoints.directory}: its checkpoint does not fit "
                    f"this update ({exc})"
                ) from None
        return self.buckets

    def save_at_once(self) -> None:
        """On an interruption (with a shield): save every complete chunk of both passes."""
        if self.at_once:
            with self.guard():
                self.save_observed()
                self.save_buckets()

    def _due(self) -> bool:
        return (
            self.checkpoints is not None
            and time.perf_counter() - self.last >= self.checkpoints.every
        )

    def observed_chunk(self, done: int) -> None:
        """Pass 1 is complete up to draw ``done``."""
        self.observed = done
        if self._due():
            self.save_observed()
        if self.progress is not None:
            self.progress(done, 2 * self.settings.draws)

    def bucketed_chunk(self, done: int) -> None:
        """Pass 2 is complete up to draw ``done``."""
        self.bucketed = done
        if self._due():
            self.save_buckets()
        if self.progress is not None:
            self.progress(self.settings.draws + done, 2 * self.settings.draws)

    def save_observed(self) -> None:
        """Save pass 1's new draws as a part, then the checkpoint that counts them."""
        if self.checkpoints is None or self.observed == self.saved_observed:
            return
        directory = self.checkpoints.directory
        first, stop = self.saved_observed, self.observed
        part = {
            name: whole[..., first:stop] for name, whole in zip(PER_DRAW, self.arrays, strict=True)
        }
        _npz_atomically(directory / _PART.format(first, stop), part)
        save_checkpoint(directory / CHECKPOINT, {"pass": np.array(1)}, stop, 0.0)
        self.saved_observed, self.last = stop, time.perf_counter()

    def save_buckets(self) -> None:
        """Save pass 2's bucket sums and the draws they hold (pass 1's parts first)."""
        if self.checkpoints is None or self.bucketed == self.saved_bucketed:
            return
        self.save_observed()  # a checkpoint of pass 2 counts every draw of pass 1
        assert self.buckets is not None
        state = {"pass": np.array(2)} | _bucket_state(self.buckets)
        save_checkpoint(self.checkpoints.directory / CHECKPOINT, state, self.bucketed, 0.0)
        self.saved_bucketed, self.last = self.bucketed, time.perf_counter()


def update_run(
    loaded: LoadedConfig,
    settings: RunSettings,
    observations: list[Observation],
    client=None,
    checkpoints: UpdateCheckpoints | None = None,
    shield: Shield | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Update:
    """Reweight the run's draws by the observations' likelihood (see the module docstring).

    With a ``dask.distributed`` ``client`` the draws are streamed in tasks of whole chunks
    on its workers; the result is the same bit for bit. With ``checkpoints`` the two
    passes over the draws save their progress (:class:`UpdateCheckpoints`); with
    ``resume`` set there they first continue from it. ``shield`` (the command line's, as
    for a run) holds signals back while a chunk is reduced; an interruption
    (``KeyboardInterrupt``) then saves every complete chunk at once. ``progress(done,
    total)`` is called after each chunk, counting both passes (total = 2 x draws).

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
    keeper = _Progress(loaded, settings, checkpoints, shield, progress)
    try:
        update = _reweight(loaded, settings, observations, client, keeper)
    except KeyboardInterrupt:
        keeper.save_at_once()
        raise
    if checkpoints is not None and checkpoints.done is not None:
        checkpoints.done(keeper.save_at_once)
    return update


def _reweight(
    loaded: LoadedConfig,
    settings: RunSettings,
    observations: list[Observation],
    client,
    keeper: _Progress,
) -> Update:
    """:func:`update_run`'s two passes and the posterior, progress kept by ``keeper``."""
    plan = compile_plan(loaded.config)
    predictions = compile_predictions(loaded.config)
    labels = [s.label for s in plan.series]
    names = [i.name for i in plan.inputs]
    draws = settings.draws
    arrays = keeper.restore_observed()
    log_weights, distance, holds, input_values, crossing_year, crossing_time = arrays
    tasks = 4 * max(1, len(client.scheduler_info()["workers"])) if client is not None else 0
    config, specs = _task_config(loaded), _observations_spec(observations)
    if keeper.observed < draws:
        if client is None:
            _observe_draws(
                loaded, settings, observations, keeper.observed, draws, arrays,
                keeper.observed_chunk, keeper.guard,
            )  # fmt: skip
        else:
            ranges = _task_ranges(settings, tasks, keeper.observed)
            futures = [
                client.submit(observe_task, config, settings, specs, a, b, pure=False)
                for a, b in ranges
            ]
            for (a, b), part in zip(ranges, client.gather(futures), strict=True):
                for whole, piece in zip(arrays, part, strict=True):
                    whole[..., a:b] = piece
            keeper.observed_chunk(draws)
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
    buckets = keeper.restore_buckets(len(labels) * len(plan.years))
    if keeper.bucketed < draws:
        if client is None:
            _bucket_draws(
                loaded, settings, units[keeper.bucketed :], keeper.bucketed, draws, buckets,
                keeper.bucketed_chunk, keeper.guard,
            )  # fmt: skip
        else:
            ranges = _task_ranges(settings, tasks, keeper.bucketed)
            futures = [
                client.submit(bucket_task, config, settings, units[a:b], a, b, pure=False)
                for a, b in ranges
            ]
            for rows, other in client.gather(futures):
                part = WeightedBuckets(0, QUANTILE_ACCURACY)
                part.rows, part.other = rows, other
                buckets.merge(part)
            keeper.bucketed_chunk(draws)
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

        half = float(stdtrit(p["df"], 0.975)) * p["scale"]
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
        "sip_libraries": recorded_libraries(loaded.libraries),
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
                "prior_median_continuous": json_number(c.prior_median),
                "posterior_median_continuous": json_number(c.posterior_median),
            }
            for c in update.crossovers
        ],
        "warnings": [w for w in (update.khat_warning,) if w],
    }


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
    with atomic_directory(out) as staging:
        _write_files(update, loaded, staging, prior_dir, settings, report, notify)


def _write_files(
    update, loaded, directory, prior_dir, settings, report, notify, workers=None
) -> None:
    """Every file of an updated run directory (see :func:`write_update`) into ``directory``.

    ``workers`` draw the report's figures (:func:`mcinfra.report.build.drawing_workers`).
    """
    provenance = run_provenance(loaded, settings) if settings is not None else None
    for name, text in update_files(update).items():
        (directory / name).write_text(text, encoding="utf-8")
    (directory / CONFIG).write_text(loaded.text, encoding="utf-8")
    if prior_dir is not None and (Path(prior_dir) / QUANTILES_CSV).is_file():
        shutil.copyfile(Path(prior_dir) / QUANTILES_CSV, directory / PRIOR_QUANTILES)
    write_json(directory / UPDATE_MARKER, update_summary(update, prior_dir, provenance))
    if report:
        from mcinfra.report.news import build_news_report

        build_news_report(directory, notify=notify, workers=workers)


def update_to_directory(
    loaded: LoadedConfig,
    settings: RunSettings,
    observations: list[Observation],
    out: Path,
    replace: bool = False,
    prior_dir: str | None = None,
    client=None,
    report: bool = True,
    notify: Callable[[str], None] | None = None,
    shield: Shield | None = None,
    checkpoint_seconds: float = CHECKPOINT_SECONDS,
    resume: Path | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Update:
    """Update a run and write the updated run directory ``out``, resumably; return the update.

    The directory is written as a run's is: in a temporary directory beside ``out``,
    renamed into place when complete. While the draws are streamed that directory holds
    ``update-options.json`` (the prior run's settings and the observations) and the
    checkpoints of :class:`UpdateCheckpoints`; an interruption after the first checkpoint
    keeps it, and ``resume`` (that directory, see :func:`resume_update`) continues from
    it to the files an uninterrupted update writes. ``shield`` and ``progress`` are
    :func:`update_run`'s.
    """
    out = Path(out)
    if resume is None:
        check_target(out, replace, marker=UPDATE_MARKER, kind="updated run")
    checkpoint_file: Path | None = None

    def resumable() -> bool:
        return checkpoint_file is not None and checkpoint_file.exists()

    from mcinfra.runs.pipeline import report_drawing

    try:
        with (
            report_drawing(report, client) as workers,
            atomic_directory(out, staging=resume, keep=resumable, shield=shield) as staging,
        ):
            if resume is None:
                options = run_provenance(loaded, settings) | {
                    "prior_run": prior_dir,
                    "observations": _observations_spec(observations),
                    "report": report,
                }
                write_json(staging / UPDATE_OPTIONS, options)
                (staging / CONFIG).write_text(loaded.text, encoding="utf-8")
            checkpoint_file = staging / CHECKPOINT
            savers: list[Callable[[], None]] = []
            checkpoints = UpdateCheckpoints(
                staging, checkpoint_seconds, resume is not None, savers.append
            )
            update = update_run(
                loaded, settings, observations, client, checkpoints, shield, progress
            )
            try:
                _write_files(update, loaded, staging, prior_dir, settings, report, notify, workers)
            except KeyboardInterrupt:  # interrupted while writing: keep every draw
                savers[0]()
                raise
            for leftover in [*staging.glob("observed-*.npz"), staging / UPDATE_OPTIONS]:
                leftover.unlink(missing_ok=True)
            checkpoint_file.unlink(missing_ok=True)
    except KeyboardInterrupt as exc:
        if not resumable():
            raise
        raise Interrupted.kept(exc, f"mcinfra update --resume {out}") from None
    return update


def resume_update(
    out: Path,
    threads: int | None = None,
    client=None,
    report: bool | None = None,
    notify: Callable[[str], None] | None = None,
    shield: Shield | None = None,
    checkpoint_seconds: float = CHECKPOINT_SECONDS,
    progress: Callable[[int, int], None] | None = None,
) -> Update:
    """Continue the interrupted update of ``out`` from its last checkpoint; return it.

    The update keeps its prior run's settings, its observations and its config (those of
    its ``update-options.json``); ``threads``, ``client`` and whether to write the report
    may change, since they do not change the result.
    """
    from mcinfra.io.run_directory import find_interrupted
    from mcinfra.language.observations import MeasurementModel
    from mcinfra.language.predictions import compile_quantity
    from mcinfra.runs.whatif import recorded_config

    staging = find_interrupted(Path(out), options=UPDATE_OPTIONS, kind="update")
    try:
        options = json.loads((staging / UPDATE_OPTIONS).read_text(encoding="utf-8"))
        text = (staging / CONFIG).read_text(encoding="utf-8")
        loaded, settings = recorded_config(out, text, options, threads)
        scope = prediction_scope(loaded.config)
        observations = [
            Observation(shown, compile_quantity(quantity, scope), MeasurementModel(kind, values))
            for shown, quantity, kind, values in options["observations"]
        ]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise UsageError(f"cannot resume {staging}: {exc}") from None
    return update_to_directory(
        loaded,
        settings,
        observations,
        Path(out),
        prior_dir=options["prior_run"],
        client=client,
        report=options["report"] if report is None else report,
        notify=notify,
        shield=shield,
        checkpoint_seconds=checkpoint_seconds,
        resume=staging,
        progress=progress,
    )


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

    from mcinfra.language.observations import MeasurementModel
    from mcinfra.language.predictions import PredictionError, compile_quantity
    from mcinfra.runs.whatif import load_run_and_summary, recorded_config

    run_dir = Path(run_dir)
    try:
        recorded = json.loads((run_dir / UPDATE_MARKER).read_text(encoding="utf-8"))
        text = (run_dir / CONFIG).read_text(encoding="utf-8")
        rows = read_rows(run_dir / "predictions.csv")
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
        loaded, settings = recorded_config(run_dir, text, run)
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
