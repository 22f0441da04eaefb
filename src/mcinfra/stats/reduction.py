"""The interface every reduction of a run follows, and the chunk it reduces.

A reduction turns the chunks of a run's draws into a small state (integer counts, a
sketch, the exact columns) that can be saved, restored and merged: a run split into parts
(chunks, processes, machines, an interrupted run and its resumption) and merged in draw
order gives the numbers one pass gives. The reductions:
:class:`~mcinfra.stats.indicators.PredictionCounter`,
:class:`~mcinfra.stats.sensitivity.SensitivityAccumulator`,
:class:`~mcinfra.stats.summary.PartitionCheck`,
:class:`~mcinfra.stats.summary.ColumnCollector`,
:class:`~mcinfra.stats.sketch.SketchColumns`, :class:`~mcinfra.stats.sketch.QuantileSketch`,
:class:`~mcinfra.stats.crossover.CrossoverCounter` and the run's composite
:class:`mcinfra.runs.reductions.Reductions` (with its ``ReplicateCounts``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal, Protocol, runtime_checkable

import numpy as np


@dataclass(frozen=True, eq=False)  # array fields: chunks compare by identity
class Chunk:
    """Draws ``first .. first + draws - 1`` of a run, draw-last, as the sampler hands them.

    A reduction reads the fields it needs; the others may be None.

    Attributes
    ----------
    first : int
        Index of the chunk's first draw in the run.
    values : ndarray or None
        Series values (S, Y, n): series, years, draws.
    inputs : ndarray or None
        Sampled inputs (K, n).
    scores : ndarray or None
        Each input's normal score z (K, n), whose Phi(z) is its rank.
    gap : float or None
        The chunk's partition check as the sampler computed it
        (:func:`mcinfra.sampling.engine.draw_chunk`); None: read it from ``values``.
    indicators : ndarray or None
        Whether each prediction holds in each draw (P, n) bool; None: not yet evaluated
        (:meth:`mcinfra.stats.indicators.PredictionCounter.indicators` gives them).
    """

    first: int
    values: np.ndarray | None = None
    inputs: np.ndarray | None = None
    scores: np.ndarray | None = None
    gap: float | None = None
    indicators: np.ndarray | None = None

    @property
    def draws(self) -> int:
        """Number of draws in the chunk (the last axis of its arrays)."""
        for array in (self.values, self.scores, self.indicators, self.inputs):
            if array is not None:
                return int(array.shape[-1])
        raise ValueError("a chunk needs at least one array of draws")

    @property
    def stop(self) -> int:
        """Index one past the chunk's last draw."""
        return self.first + self.draws

    def require(self, field: Literal["values", "inputs", "scores", "indicators"]) -> np.ndarray:
        """The chunk's array ``field``, which a reduction reads; a ValueError if it is None."""
        array: np.ndarray | None = getattr(self, field)
        if array is None:
            raise ValueError(f"this reduction reads the chunk's {field}, which it lacks")
        return array


@runtime_checkable
class Reduction(Protocol):
    """A mergeable, restorable reduction of a run's chunks.

    Contract (tested for every reduction in ``tests/test_reductions.py``): adding a run's
    chunks one after another, in draw order, at any chunk size, gives the same state as
    reducing the parts of the run separately and merging their states in draw order with
    :meth:`absorb`, and as saving the state mid-run with :meth:`state` and continuing from
    it in a new reduction with :meth:`restore`.
    """

    def add(self, chunk: Chunk) -> None:
        """Reduce the next chunk of the run (chunks in draw order)."""
        ...

    def state(self) -> dict[str, np.ndarray]:
        """The reduction's arrays, for a checkpoint or a part of a run."""
        ...

    def restore(self, state: Mapping[str, np.ndarray]) -> None:
        """Continue from a :meth:`state` of a reduction built the same way."""
        ...

    def absorb(self, first: int, state: Mapping[str, np.ndarray]) -> None:
        """Merge the :meth:`state` of the part of the run that starts at draw ``first``.

        Parts are merged in draw order, each right after the draws reduced so far.
        """
        ...
