"""Every per-chunk reduction of a run, in one object that merges, saves and restores.

A run reduces each chunk of draws to prediction and sensitivity counts, the partition
check, crossover counts and the quantile source (exact columns or the sketch). All of them
are exact to the count, so a run's reductions can be computed in parts (chunks, processes,
machines, an interrupted run and its resumption) and combined in draw order with
:meth:`Reductions.absorb` to the same numbers a single pass gives.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

import numpy as np

from mcinfra.config import LoadedConfig
from mcinfra.config.validation import compile_predictions
from mcinfra.sampling.plan import Plan
from mcinfra.stats import state_part
from mcinfra.stats.crossover import CrossoverCounter
from mcinfra.stats.indicators import PredictionCounter
from mcinfra.stats.reduction import Chunk, Reduction
from mcinfra.stats.sketch import SketchColumns
from mcinfra.stats.summary import ColumnCollector, Columns, PartitionCheck


class Reductions:
    """The reductions of one run (or of the part of it starting at draw ``start``).

    A :class:`~mcinfra.stats.reduction.Reduction` made of the run's reductions: each
    chunk's prediction indicators are evaluated once and handed to every part.

    Parameters
    ----------
    loaded, plan : the run's configuration and its compiled plan.
    exact : bool
        Exact quantile columns (every draw held) instead of the sketch.
    capacity : int or None
        Draws the exact columns are allocated for (None: grown chunk by chunk).
    start : int
        First draw this object will see (a part of a run computed elsewhere).
    replicate_draws : int or None
        Draws per Sobol' replicate: prediction counts are also kept per replicate, for the
        replicate standard error (None for plain Monte Carlo).
    """

    def __init__(
        self,
        loaded: LoadedConfig,
        plan: Plan,
        exact: bool,
        capacity: int | None = None,
        start: int = 0,
        replicate_draws: int | None = None,
    ) -> None:
        labels = [s.label for s in plan.series]
        self.exact = exact
        self.collector: ColumnCollector | SketchColumns
        if exact:
            keys = [(label, y) for label in labels for y in plan.years]
            self.collector = ColumnCollector(keys, labels, plan.years, capacity)
        else:
            self.collector = SketchColumns(
                labels, plan.years, loaded.config.source_figures, copies=plan.copies
            )
        self.check = PartitionCheck(
            [s.kind for s in plan.series], [s.partition for s in plan.series]
        )
        self.counter = PredictionCounter(
            compile_predictions(loaded.config),
            labels,
            plan.years,
            [i.name for i in plan.inputs],
            [not i.spec.is_fixed for i in plan.inputs],
        )
        self.counter.start_at(start)
        split = loaded.config.function_split
        self.crossovers = (
            CrossoverCounter(
                split.crossover_report, split.rising, split.falling, labels, plan.years
            )
            if split is not None
            else None
        )
        self.replicates = (
            ReplicateCounts(replicate_draws, len(self.counter.predictions))
            if replicate_draws is not None
            else None
        )

    @property
    def parts(self) -> dict[str, Reduction]:
        parts: dict[str, Reduction] = {
            "columns": self.collector,
            "check": self.check,
            "counter": self.counter,
        }
        if self.crossovers is not None:
            parts["crossovers"] = self.crossovers
        if self.replicates is not None:
            parts["replicates"] = self.replicates
        return parts

    @property
    def columns(self) -> Columns | SketchColumns:
        """The quantile source: exact ``Columns`` or the ``SketchColumns``."""
        if isinstance(self.collector, ColumnCollector):  # exact
            return self.collector.columns
        return self.collector

    def add(self, chunk: Chunk) -> None:
        """Reduce the next chunk: ``values``, ``inputs`` and ``scores``, with ``gap`` if known."""
        if chunk.indicators is None:
            chunk = replace(chunk, indicators=self.counter.indicators(chunk))
        for part in self.parts.values():
            part.add(chunk)

    def state(self) -> dict[str, np.ndarray]:
        """Every reduction's arrays, keyed ``"<reduction>/<array>"``."""
        return {
            f"{name}/{key}": value
            for name, part in self.parts.items()
            for key, value in part.state().items()
        }

    def restore(self, state: Mapping[str, np.ndarray]) -> None:
        """Continue from a :meth:`state` of an identical run."""
        for name, part in self.parts.items():
            part.restore(state_part(state, f"{name}/"))

    def absorb(self, first: int, state: Mapping[str, np.ndarray]) -> None:
        """Merge the :meth:`state` of a part that reduced draws ``first ..`` (next in order)."""
        for name, part in self.parts.items():
            part.absorb(first, state_part(state, f"{name}/"))


class ReplicateCounts:
    """Prediction hold counts per Sobol' replicate of ``size`` draws (replicate-major draws).

    Chunks never span two replicates (:func:`mcinfra.sampling.engine.chunk_bounds`), so a chunk's
    counts belong to the replicate of its first draw. A
    :class:`~mcinfra.stats.reduction.Reduction` of the chunks' ``indicators``; any order.
    """

    def __init__(self, size: int, n_predictions: int) -> None:
        self.size = size
        self.holds = np.zeros((0, n_predictions), dtype=np.int64)  # grown as replicates come

    def add(self, chunk: Chunk) -> None:
        """Count the draws of a chunk (one replicate's) in which each prediction holds."""
        replicate = chunk.first // self.size
        if (chunk.stop - 1) // self.size != replicate:
            raise ValueError(f"a chunk from draw {chunk.first} spans two Sobol' replicates")
        self._grow(replicate + 1)
        self.holds[replicate] += np.count_nonzero(chunk.require("indicators"), axis=1)

    def _grow(self, replicates: int) -> None:
        if replicates > self.holds.shape[0]:
            grown = np.zeros((replicates, self.holds.shape[1]), dtype=np.int64)
            grown[: self.holds.shape[0]] = self.holds
            self.holds = grown

    def complete(self, draws: int) -> np.ndarray:
        """Counts of the replicates finished within ``draws`` draws (R, predictions)."""
        return self.holds[: draws // self.size]

    def state(self) -> dict[str, np.ndarray]:
        return {"holds": self.holds}

    def restore(self, state: Mapping[str, np.ndarray]) -> None:
        self.holds = np.array(state["holds"], dtype=np.int64)

    def absorb(self, first: int, state: Mapping[str, np.ndarray]) -> None:
        holds = state["holds"]
        self._grow(holds.shape[0])
        self.holds[: holds.shape[0]] += holds
