"""Shapley effects of a run's inputs and yearly shocks on its predictions and quantities.

The players are the run's uncertain inputs (or groups of them) and the yearly shocks as
one player; the targets are the predictions' indicators or numeric expressions of the
prediction language. The estimator is :mod:`mcinfra.stats.shapley`'s; this module draws
its random orders and normals, runs the model on them through the sampler
(:func:`mcinfra.sampling.engine.simulate_normals`), and evaluates the targets on the
model runs: the numeric targets share theirs, each prediction has its own.

All randomness comes from the run's seed through counter-based streams. Order ``p`` of a
target takes its order of the players and its inner normals from stream ``p`` of two keys
derived from the seed, and its outer sample from the run's own draws: the ``p``-th draw, in
draw order, of the target's pool (every draw for a numeric target; for a 0/1 target the
draws in which it takes its rarer value, :mod:`mcinfra.stats.shapley`). The result
therefore does not depend on the thread count, the chunk size or how the orders are
batched. Var(Y) is estimated from the run's first draws (at most :data:`VARIANCE_DRAWS`).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from mcinfra.config import LoadedConfig
from mcinfra.config.validation import SHOCKS_PLAYER, compile_predictions, prediction_scope
from mcinfra.errors import UsageError
from mcinfra.io.run_directory import json_number
from mcinfra.kernels import model as kernels
from mcinfra.kernels.random import fill_normals, fill_uniforms, seed_key
from mcinfra.language.predictions import (
    Context,
    Prediction,
    PredictionError,
    Quantity,
    compile_quantity,
)
from mcinfra.sampling.engine import (
    RunSettings,
    TaskThreads,
    kernels_cached,
    numba_threads,
    simulate_normals,
    stream,
)
from mcinfra.sampling.plan import Plan, compile_plan
from mcinfra.stats.indicators import chunk_context
from mcinfra.stats.shapley import (
    ConditionalSampler,
    ShapleyTotals,
    indicator_costs,
    indicator_side,
    pick_freeze_costs,
)

METHOD = "shapley-random-permutation"
SHOCKS = SHOCKS_PLAYER  # the yearly shocks' player
GROUPINGS = ("partition", "none")
DEFAULT_TARGET_SE = 0.01
DEFAULT_MAX_PERMUTATIONS = 40_000
VARIANCE_DRAWS = 1_000_000  # the run's first draws that estimate Var(Y), at most
MAX_STREAMED = 10_000_000  # draws searched for outer samples of a rare prediction
FIRST_ROUND = 200  # orders before the first look at the standard errors
ROWS_PER_BATCH = 16_384  # model evaluations per call of the sampler
COMPILE_SECONDS = 15.0
"""Wall seconds the first Shapley effects after installing spend compiling the sampler's
kernel that takes given normals (docs/performance.md, "The bench, run by run")."""
_ORDER_TAG = 0x5348_4150_4C45_5931  # derive the streams' keys from the run's key
_NORMAL_TAG = 0x5348_4150_4C45_5932


@dataclass(frozen=True)
class Player:
    """A player: its name and the latent normal slots it owns."""

    name: str
    slots: np.ndarray
    inputs: tuple[str, ...]  # the inputs it stands for (none for the shocks)


@dataclass(frozen=True)
class Target:
    """A target: its id (prediction id or expression text) and its compiled expression."""

    id: str
    compiled: Prediction | Quantity

    @property
    def prediction(self) -> bool:
        """Whether the target is a prediction's 0/1 indicator."""
        return isinstance(self.compiled, Prediction)

    def values(self, context: Context, draws: int) -> np.ndarray:
        """The target's value in each of the ``draws`` draws of ``context``."""
        if isinstance(self.compiled, Prediction):
            return self.compiled.holds(context).astype(np.float64)
        return self.compiled.values(context, draws)


def stream_key(seed: int, tag: int) -> np.uint64:
    """A key of streams of the drivers, distinct from the run's own (``seed_key``)."""
    return seed_key(int(seed_key(seed)) ^ tag)


def list_players(plan: Plan, groups: dict[str, list[str]]) -> list[Player]:
    """The players: groups of uncertain inputs, the other uncertain inputs, the shocks.

    ``groups`` (name -> input names) must have been checked
    (:func:`mcinfra.config.validation.check_config` checks ``[sensitivity.groups]``).
    Players are ordered by their first slot, so the order the groups are listed in does
    not change any result.
    """
    slot_of: dict[str, int] = {}
    for info in plan.inputs:
        if not info.spec.is_fixed:
            slot_of[info.name] = len(slot_of)
    grouped = {name for members in groups.values() for name in members}
    players = [
        Player(group, np.array(sorted(slot_of[m] for m in members), dtype=np.int64), tuple(members))
        for group, members in groups.items()
    ]
    players += [
        Player(name, np.array([slot], dtype=np.int64), (name,))
        for name, slot in slot_of.items()
        if name not in grouped
    ]
    shocks = np.arange(plan.kernel.n_uncertain, plan.kernel.n_normals, dtype=np.int64)
    if shocks.size:
        players.append(Player(SHOCKS, shocks, ()))
    return sorted(players, key=lambda player: int(player.slots[0]))


def partition_groups(plan: Plan) -> dict[str, list[str]]:
    """Uncertain inputs grouped by the table they belong to (the first part of their name).

    ``offering.compute.cagr`` and ``offering.memory.cagr`` form the player ``offering``;
    a function split's inputs join their partition's; an input alone in its table (a
    parameter) stays a player of its own.
    """
    tables: dict[str, list[str]] = {}
    for info in plan.inputs:
        if not info.spec.is_fixed:
            tables.setdefault(info.name.split(".")[0], []).append(info.name)
    return {
        name: members for name, members in tables.items() if len(members) > 1 or "." in members[0]
    }


def compile_targets(loaded: LoadedConfig, expressions: Iterable[str] | None) -> list[Target]:
    """The targets: every prediction's indicator, or each expression of ``expressions``."""
    if not expressions:
        return [Target(p.id, p.compiled) for p in compile_predictions(loaded.config)]
    scope = prediction_scope(loaded.config)
    targets = []
    for text in expressions:
        try:
            quantity = compile_quantity(text, scope)
        except PredictionError as exc:
            raise UsageError(f"--target {text!r}: {exc}") from None
        targets.append(Target(text, quantity))
    return targets


def latent_plan(plan: Plan):
    """The kernel plan with an identity copula: the first normals of a draw are its scores."""
    kernel = plan.kernel
    uncertain = [k for k, info in enumerate(plan.inputs) if not info.spec.is_fixed]
    ptr = np.zeros(len(plan.inputs) + 1, dtype=np.int64)
    for slot, k in enumerate(uncertain):
        ptr[k + 1 :] = slot + 1
    return kernel._replace(
        chol_ptr=ptr,
        chol_col=np.arange(len(uncertain), dtype=np.int64),
        chol_val=np.ones(len(uncertain)),
    )


def latent_correlation(plan: Plan) -> np.ndarray:
    """Correlation of a draw's normals as the sampler uses them: copula scores, then shocks."""
    uncertain = [k for k, info in enumerate(plan.inputs) if not info.spec.is_fixed]
    correlation = np.eye(plan.kernel.n_normals)
    n = len(uncertain)
    correlation[:n, :n] = plan.correlation[np.ix_(uncertain, uncertain)]
    return correlation


class _Evaluator:
    """Runs the model on given scores and evaluates every target on the draws."""

    def __init__(self, plan: Plan, targets: list[Target]) -> None:
        self.plan = plan
        self.kernel = latent_plan(plan)
        self.targets = targets
        self.labels = [s.label for s in plan.series]
        self.names = [i.name for i in plan.inputs]
        self.tasks = TaskThreads()  # kept while the estimate runs (compute_drivers)

    def __call__(self, normals: np.ndarray, which: list[int]) -> np.ndarray:
        """Values (len(which), n) of targets ``which`` at the draws of normals ``normals``."""
        n = normals.shape[0]
        values = np.empty((len(self.plan.series), len(self.plan.years), n))
        inputs = np.empty((len(self.plan.inputs), n))
        scores = np.empty_like(inputs)
        simulate_normals(normals, self.kernel, (values, inputs, scores), 0, self.tasks)
        context = chunk_context(values, inputs, self.labels, self.plan.years, self.names)
        out = np.empty((len(which), n))
        for i, t in enumerate(which):
            out[i] = self.targets[t].values(context, n)
        return out


def _check_finite(targets: list[Target], values: np.ndarray, where: str) -> None:
    for target, row in zip(targets, values, strict=True):
        bad = int(np.count_nonzero(~np.isfinite(row)))
        if bad:
            raise UsageError(
                f"--target {target.id!r} is not a finite number in {bad:,} of {row.size:,} "
                f"{where} (e.g. a division by zero, or a crossover year that never comes)"
            )


@dataclass
class _Pool:
    """Targets estimated on the same outer samples, and those samples as they are found.

    A 0/1 target has a pool of its own: the draws in which it takes its rarer value
    (``rare``). The numeric targets share one: every draw.
    """

    targets: list[int]  # indexes into the list of targets
    rare: float | None  # None: every draw is an outer sample
    probability: float  # P(Y = rare) (1 for the numeric pool)
    capacity: int
    draws: list[int] = field(default_factory=list)
    scores: list[np.ndarray] = field(default_factory=list)
    references: list[np.ndarray] = field(default_factory=list)  # numeric: Y at the draw
    orders: int = 0
    done: bool = False

    def offer(self, first: int, values: np.ndarray, scores: np.ndarray) -> None:
        """Keep the chunk's draws (from ``first``) that belong to the pool, up to capacity."""
        room = self.capacity - len(self.draws)
        if room <= 0:
            return
        if self.rare is None:
            chosen = np.arange(min(room, values.shape[1]))
        else:
            chosen = np.nonzero(values[self.targets[0]] == self.rare)[0][:room]
        self.draws.extend(int(first + i) for i in chosen)
        self.scores.extend(scores[:, chosen].T.copy())
        if self.rare is None:
            self.references.extend(values[self.targets][:, chosen].T.copy())


class _Estimate:
    """Shapley effects of the targets of one run, built order by order (see compute_drivers)."""

    def __init__(
        self,
        plan: Plan,
        settings: RunSettings,
        targets: list[Target],
        players: list[Player],
        max_permutations: int,
    ) -> None:
        self.plan = plan
        self.settings = settings
        self.targets = targets
        self.players = players
        self.max_permutations = max_permutations
        self.evaluate = _Evaluator(plan, targets)
        self.sampler = ConditionalSampler(latent_correlation(plan))
        self.n_normals = plan.kernel.n_normals
        self.n_uncertain = plan.kernel.n_uncertain
        self.streamed = 0  # the run's draws read so far (outer samples come from them)
        self.evaluations = 0
        self.variance_draws = min(settings.draws, VARIANCE_DRAWS)
        self.pools: list[_Pool] = []
        self.totals = ShapleyTotals(len(targets), len(players))
        self.variance = np.zeros(len(targets))

    def start(self) -> None:
        """Var(Y) of each target over the run's first draws; the pools' first samples."""
        values = np.empty((len(self.targets), self.variance_draws))
        scores = np.empty((self.n_uncertain, self.variance_draws))
        self._stream(self.variance_draws, values, scores)
        _check_finite(self.targets, values, "draws of the run")
        self.variance = np.zeros(len(self.targets))
        numeric = []
        for t, target in enumerate(self.targets):
            if target.prediction:
                holds = int(np.count_nonzero(values[t]))
                p = holds / values.shape[1]
                self.variance[t] = p * (1.0 - p)
                rare, probability = indicator_side(holds, values.shape[1])
                done = self.variance[t] <= 0
                self.pools.append(_Pool([t], rare, probability, self.max_permutations, done=done))
            else:
                constant = values[t].min() == values[t].max()  # np.var leaves rounding
                self.variance[t] = 0.0 if constant else float(np.var(values[t], ddof=1))
                numeric.append(t)
        if numeric:
            done = all(self.variance[t] <= 0 for t in numeric)
            self.pools.append(_Pool(numeric, None, 1.0, self.max_permutations, done=done))
        for pool in self.pools:
            pool.offer(0, values, scores)

    def _stream(self, count: int, values: np.ndarray, scores: np.ndarray) -> None:
        """Stream the run's next ``count`` draws: target values and input scores into the arrays."""
        labels = [s.label for s in self.plan.series]
        names = [i.name for i in self.plan.inputs]
        first = self.streamed
        own = RunSettings(first + count, self.settings.seed, self.settings.chunk_size)
        uncertain = self.uncertain

        def on_chunk(start, chunk_values, inputs, chunk_scores, gap):
            n = chunk_values.shape[-1]
            at = start - first
            context = chunk_context(chunk_values, inputs, labels, self.plan.years, names)
            for t, target in enumerate(self.targets):
                values[t, at : at + n] = target.values(context, n)
            scores[:, at : at + n] = chunk_scores[uncertain]

        stream(self.plan, own, on_chunk, start=first)
        self.streamed += count
        self.evaluations += count

    @property
    def uncertain(self) -> np.ndarray:
        """Input indexes of the uncertain inputs (their scores are the first normals)."""
        return np.array(
            [k for k, info in enumerate(self.plan.inputs) if not info.spec.is_fixed],
            dtype=np.int64,
        )

    def _fill(self, pool: _Pool, needed: int) -> int:
        """Stream more of the run's draws until ``pool`` holds ``needed`` outer samples.

        Returns how many it holds, at most ``needed``: fewer when the first
        :data:`MAX_STREAMED` draws hold no more.
        """
        while len(pool.draws) < needed and self.streamed < MAX_STREAMED:
            count = min(max(self.settings.chunk_size, 100_000), MAX_STREAMED - self.streamed)
            values = np.empty((len(self.targets), count))
            scores = np.empty((self.n_uncertain, count))
            first = self.streamed
            self._stream(count, values, scores)
            for other in self.pools:
                if not other.done:
                    other.offer(first, values, scores)
        return min(len(pool.draws), needed)

    def add_orders(self, pool: _Pool, count: int) -> int:
        """Evaluate orders ``pool.orders ..`` of ``pool``'s targets and add them to the totals.

        Returns the number of orders added: fewer than ``count`` when the pool has run out
        of outer samples (:meth:`_fill`).
        """
        first = pool.orders
        count = self._fill(pool, first + count) - first
        if count <= 0:
            return 0
        d = len(self.players)
        orders = _orders(self.settings.seed, first, count, d)
        inner = np.empty((count, self.n_normals))
        kernels.draw_normals(stream_key(self.settings.seed, _NORMAL_TAG), first, inner)
        outer = np.empty((count, self.n_normals))
        key = seed_key(self.settings.seed)
        shocks = np.empty((1, self.n_normals))
        for i in range(count):
            draw = pool.draws[first + i]
            fill_normals(key, draw, shocks)
            outer[i, self.n_uncertain :] = shocks[0, self.n_uncertain :]
            outer[i, : self.n_uncertain] = pool.scores[first + i]
        slots = [player.slots for player in self.players]
        rows = self.sampler.prefix_samples(outer, inner, slots, orders)
        values = self.evaluate(rows.reshape(-1, self.n_normals), pool.targets)
        _check_finite([self.targets[t] for t in pool.targets], values, "conditional draws")
        values = values.reshape(len(pool.targets), count, d)
        self.evaluations += values[0].size
        for i, t in enumerate(pool.targets):
            if pool.rare is None:
                reference = np.array([pool.references[first + k][i] for k in range(count)])
                costs = pick_freeze_costs(reference, values[i])
            else:
                costs = indicator_costs(values[i], pool.rare, pool.probability)
            self.totals.add(t, costs, orders)
        pool.orders += count
        return count


def _orders(seed: int, first: int, count: int, n_players: int) -> np.ndarray:
    """Random orders ``first .. first + count - 1`` of the players (count, d)."""
    uniforms = np.empty((count, n_players))
    fill_uniforms(stream_key(seed, _ORDER_TAG), first, uniforms)
    return np.argsort(uniforms, axis=1, kind="stable")


@dataclass(frozen=True)
class DriversResult:
    """Shapley effects of every target and player, and how they were estimated."""

    targets: list[Target]
    players: list[Player]
    variance: np.ndarray  # (T,)
    shapley: np.ndarray  # (T, d)
    std_error: np.ndarray  # (T, d)
    seed: int
    permutations: int  # the most orders any target used
    evaluations: int  # model evaluations, the run's draws streamed included
    target_se: float
    seconds: float
    target_met: bool
    stopped: dict[str, str]  # target -> what stopped it before target_se

    @property
    def largest_error(self) -> float:
        """The largest standard error."""
        finite = self.std_error[np.isfinite(self.std_error)]
        return float(finite.max()) if finite.size else 0.0


def compute_drivers(
    loaded: LoadedConfig,
    settings: RunSettings,
    targets: Iterable[str] | None = None,
    groups: str | None = None,
    target_se: float = DEFAULT_TARGET_SE,
    max_permutations: int = DEFAULT_MAX_PERMUTATIONS,
) -> DriversResult:
    """Shapley effects of the run ``(loaded, settings)``'s players on its targets.

    Parameters
    ----------
    loaded, settings
        The run: its config, seed, draws and chunk size (Var(Y) comes from its first
        draws, at most :data:`VARIANCE_DRAWS`) and the thread count (which changes no
        result).
    targets : iterable of str, optional
        Numeric expressions of the prediction language; default: every prediction.
    groups : {"partition", "none"}, optional
        Players: the inputs grouped by partition, or every input alone; default: the
        groups of the config's ``[sensitivity.groups]``.
    target_se : float
        Orders are added until every standard error is at most this, or
        ``max_permutations`` orders are made (each target counts its own).
    max_permutations : int
        The cap on orders per target.
    """
    started = time.perf_counter()
    if not 0 < target_se < 1:
        raise UsageError(f"--target-se must be in (0, 1), got {target_se}")
    if max_permutations < 2:
        raise UsageError(f"the cap on permutations must be at least 2, got {max_permutations}")
    if groups is not None and groups not in GROUPINGS:
        raise UsageError(f"--groups must be one of {', '.join(GROUPINGS)}, got {groups!r}")
    if isinstance(targets, str):  # one expression, not a sequence of one-letter ones
        targets = [targets]
    compiled = compile_targets(loaded, list(targets) if targets is not None else None)
    if not compiled:
        raise UsageError("the run has no prediction to explain: give --target EXPR")
    plan = compile_plan(loaded.config)
    if groups == "partition":
        grouping = partition_groups(plan)
    elif groups == "none":
        grouping = {}
    else:
        grouping = {
            name: list(members) for name, members in loaded.config.sensitivity.groups.items()
        }
    players = list_players(plan, grouping)
    estimate = _Estimate(plan, settings, compiled, players, max_permutations)
    batch = max(1, ROWS_PER_BATCH // len(players))
    stopped: dict[str, str] = {}  # target -> what stopped it above target_se
    with numba_threads(settings.threads), estimate.evaluate.tasks:
        estimate.start()
        for pool in estimate.pools:
            wanted = min(FIRST_ROUND, max_permutations)
            while not pool.done:
                reason = None
                while pool.orders < wanted and reason is None:
                    if not estimate.add_orders(pool, min(batch, wanted - pool.orders)):
                        reason = (
                            f"only {len(pool.draws):,} of the first {estimate.streamed:,} draws "
                            "have its rarer outcome"
                        )
                _, error = estimate.totals.effects()
                # NaN where no order has changed a varying target yet: no error can be told
                varying = [t for t in pool.targets if estimate.variance[t] > 0]
                worst = float(np.nan_to_num(error[varying], nan=np.inf).max(initial=0.0))
                if worst > target_se and pool.orders >= max_permutations:
                    reason = f"the cap of {max_permutations:,} permutations"
                if worst <= target_se or reason is not None:
                    pool.done = True
                    if reason is not None:
                        stopped.update({compiled[t].id: reason for t in pool.targets})
                    break
                # Standard errors fall as 1 / sqrt(orders): aim 10 % beyond the estimate
                # (twice the orders while no error can be told).
                ratio = worst / target_se if math.isfinite(worst) else math.sqrt(2 / 1.1)
                needed = math.ceil(1.1 * pool.orders * ratio**2)
                wanted = min(max_permutations, max(needed, pool.orders + 1))
    shapley, error = estimate.totals.effects()
    finite = error[np.isfinite(error)]
    return DriversResult(
        compiled,
        players,
        estimate.variance,
        shapley,
        error,
        settings.seed,
        max((pool.orders for pool in estimate.pools), default=0),
        estimate.evaluations,
        target_se,
        time.perf_counter() - started,
        bool(finite.size == 0 or finite.max() <= target_se),
        stopped,
    )


def sensitivity_lookup(
    rows: Iterable[tuple[str, str, float, float]] | Iterable[dict],
) -> dict[tuple[str, str], tuple[float, float]]:
    """(prediction, input) -> (first-order index, rank correlation) of ``sensitivity.csv``."""
    found = {}
    for row in rows:
        if isinstance(row, dict):
            key = (row["prediction"], row["input"])
            found[key] = (float(row["first_order_index"]), float(row["rank_correlation"]))
        else:
            prediction, name, first_order, correlation = row
            found[(prediction, name)] = (float(first_order), float(correlation))
    return found


def drivers_document(
    result: DriversResult, sensitivity: dict[tuple[str, str], tuple[float, float]]
) -> dict:
    """The content of ``drivers.json``; players of each target by decreasing effect."""
    entries = []
    for t, target in enumerate(result.targets):
        order = sorted(
            range(len(result.players)),
            key=lambda j: (-np.nan_to_num(result.shapley[t, j], nan=-np.inf), j),
        )
        players = []
        for j in order:
            player = result.players[j]
            known = sensitivity.get((target.id, player.name)) if target.prediction else None
            if player.inputs != (player.name,):
                known = None  # groups and shocks have no first-order index of their own
            players.append(
                {
                    "player": player.name,
                    "shapley": json_number(result.shapley[t, j]),
                    "std_error": json_number(result.std_error[t, j]),
                    "first_order": None if known is None else json_number(known[0]),
                    "rank_correlation": None if known is None else json_number(known[1]),
                }
            )
        entries.append(
            {"target": target.id, "variance": float(result.variance[t]), "players": players}
        )
    return {
        "method": METHOD,
        "seed": result.seed,
        "permutations": result.permutations,
        "outer": 1,
        "inner": 1,
        "evaluations": result.evaluations,
        "target_se": result.target_se,
        "seconds": result.seconds,
        "targets": entries,
    }


def csv_rows(document: dict) -> list[list[str]]:
    """The rows of ``drivers.csv`` (header first) from ``drivers.json``'s content."""

    def cell(value: float | None) -> str:
        return "" if value is None else repr(value)

    rows = [["target", "player", "shapley", "std_error", "first_order", "rank_correlation"]]
    for entry in document["targets"]:
        for p in entry["players"]:
            rows.append(
                [entry["target"], p["player"]]
                + [cell(p[k]) for k in ("shapley", "std_error", "first_order", "rank_correlation")]
            )
    return rows


def cap_notice(result: DriversResult) -> str | None:
    """What to tell the user when a target's standard errors stayed above ``target_se``."""
    if not result.stopped:
        return None
    parts = []
    for t, target in enumerate(result.targets):
        if target.id in result.stopped:
            worst = float(np.nan_to_num(result.std_error[t], nan=np.inf).max())
            parts.append(
                f"{target.id} (largest standard error {worst:.3g}; stopped by "
                f"{result.stopped[target.id]})"
            )
    return f"Shapley effects above --target-se {result.target_se:g}: " + ", ".join(parts)


def drivers(
    run_dir: str | Path,
    targets: Iterable[str] | None = None,
    groups: str | None = None,
    target_se: float = DEFAULT_TARGET_SE,
    threads: int | None = None,
    max_permutations: int = DEFAULT_MAX_PERMUTATIONS,
    write: bool = True,
    notify: Callable[[str], None] | None = None,
    progress: Callable[[str], None] | None = None,
) -> dict:
    """Shapley effects of a finished run; write ``drivers.csv`` and ``drivers.json`` in it.

    Parameters
    ----------
    run_dir : str or Path
        A directory written by ``mcinfra run``.
    targets : iterable of str, optional
        Numeric expressions of the prediction language (``total[2030]``,
        ``cagr(network, 2024, 2030)``); default: every prediction's indicator.
    groups : {"partition", "none"}, optional
        Group the inputs by partition, or take each alone; default: the config's
        ``[sensitivity.groups]``.
    target_se : float
        Largest standard error of an effect (default 0.01).
    threads : int, optional
        Numba threads; the result does not depend on it.
    max_permutations : int
        Cap on random orders of the players.
    write : bool
        Write the two files into ``run_dir`` (atomically, each).
    notify : callable, optional
        Told which targets' standard errors stayed above ``target_se``, and why (the cap
        on permutations, or too few draws with a rare prediction's rarer outcome).
    progress : callable, optional
        Told, before a wait, that the kernel the effects need must be compiled first.

    Returns
    -------
    dict
        ``drivers.json``'s content (docs/outputs.md).
    """
    from mcinfra.io.run_directory import read_run_tables, write_drivers
    from mcinfra.runs.whatif import load_run_and_summary

    run_dir = Path(run_dir)
    loaded, settings, _ = load_run_and_summary(run_dir)
    _, _, _, sensitivity = read_run_tables(run_dir)
    settings = RunSettings(
        settings.draws, settings.seed, settings.chunk_size, threads, "mc", settings.replicates
    )
    if progress is not None and kernels_cached(normals=True) is False:
        progress(
            f"compiling the Shapley effects' kernel: about {COMPILE_SECONDS:.0f} s on 2 cores, "
            "once per installation"
        )
    result = compute_drivers(loaded, settings, targets, groups, target_se, max_permutations)
    document = drivers_document(result, sensitivity_lookup(sensitivity))
    if write:
        write_drivers(run_dir, document, csv_rows(document))
    notice = cap_notice(result)
    if notice is not None and notify is not None:
        notify(notice)
    return document
