"""Prediction indicators per draw, counted chunk by chunk into mergeable estimates."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

import numpy as np

from mcinfra.language.predictions import CompiledPrediction, Context
from mcinfra.stats import state_part
from mcinfra.stats.probability import ProbabilityEstimate
from mcinfra.stats.reduction import Chunk
from mcinfra.stats.sensitivity import SensitivityAccumulator


def chunk_context(
    values: np.ndarray,
    inputs: np.ndarray,
    labels: list[str],
    years: list[int],
    input_names: list[str],
) -> Context:
    """Context over a draw-last chunk: ``values`` (S, Y, n) and ``inputs`` (K, n)."""
    segment = {label: i for i, label in enumerate(labels)}
    year = {int(y): i for i, y in enumerate(years)}
    index = {name: k for k, name in enumerate(input_names)}
    return Context(
        column=lambda label, y: values[segment[label], year[y]],
        parameter=lambda name: inputs[index[name]],
    )


class PredictionCounter:
    """Counts, chunk by chunk, the draws in which each prediction holds.

    It also feeds the sensitivity counts (:mod:`mcinfra.stats.sensitivity`). A
    :class:`~mcinfra.stats.reduction.Reduction` of the chunks' ``values``, ``inputs`` and
    ``scores`` (or ``indicators`` already evaluated), in draw order.
    """

    def __init__(
        self,
        predictions: list[CompiledPrediction],
        labels: list[str],
        years: list[int],
        input_names: list[str],
        uncertain: list[bool],
    ) -> None:
        self.predictions = predictions
        self._labels, self._years, self._inputs = labels, years, input_names
        self.holds = np.zeros(len(predictions), dtype=np.int64)
        self.draws = 0
        self.sensitivity = SensitivityAccumulator(len(predictions), input_names, uncertain)
        self.history: list[tuple[int, list[int]]] = []  # (draws, holds) at checkpoints
        self._next_checkpoint = 100

    def indicators(self, chunk: Chunk) -> np.ndarray:
        """Whether each prediction holds in each draw of a chunk (P, n) bool."""
        values, inputs = chunk.require("values"), chunk.require("inputs")
        context = chunk_context(values, inputs, self._labels, self._years, self._inputs)
        indicators = np.empty((len(self.predictions), chunk.draws), dtype=bool)
        for i, prediction in enumerate(self.predictions):
            indicators[i] = prediction.compiled.holds(context)
        return indicators

    def add(self, chunk: Chunk) -> None:
        """Count the next chunk: its ``indicators``, evaluated here when the chunk has none."""
        if chunk.first != self.draws:
            raise ValueError(f"chunks must come in draw order: expected draw {self.draws}")
        indicators = chunk.indicators
        if indicators is None:
            indicators = self.indicators(chunk)
            chunk = replace(chunk, indicators=indicators)
        self._record_history(indicators)
        self.holds += np.count_nonzero(indicators, axis=1)
        self.sensitivity.add(chunk)
        self.draws += chunk.draws

    def state(self) -> dict[str, np.ndarray]:
        """Arrays for a checkpoint (see :meth:`restore`)."""
        return {
            "holds": self.holds,
            "draws": np.array(self.draws),
            "history_draws": np.array([d for d, _ in self.history], dtype=np.int64),
            "history_holds": np.array([h for _, h in self.history], dtype=np.int64).reshape(
                len(self.history), len(self.predictions)
            ),
            "next_checkpoint": np.array(self._next_checkpoint),
        } | {f"sensitivity_{k}": v for k, v in self.sensitivity.state().items()}

    def restore(self, state: Mapping[str, np.ndarray]) -> None:
        """Continue from a checkpoint made by :meth:`state` of an identical counter."""
        self.holds[...] = state["holds"]
        self.draws = int(state["draws"])
        self.sensitivity.restore(state_part(state, "sensitivity_"))
        self.history = [
            (int(d), [int(h) for h in holds])
            for d, holds in zip(state["history_draws"], state["history_holds"], strict=True)
        ]
        self._next_checkpoint = int(state["next_checkpoint"])

    def start_at(self, first: int) -> None:
        """Count a part of a run that starts at draw ``first`` (history checkpoints after it).

        The part's history then holds counts within the part, which :meth:`absorb` offsets.
        """
        self.draws = first
        while self._next_checkpoint <= first:
            self._advance_checkpoint()

    def absorb(self, first: int, state: Mapping[str, np.ndarray]) -> None:
        """Merge the state of a part counted from draw ``first`` (= the draws so far)."""
        if first != self.draws:
            raise ValueError(f"parts must be merged in draw order: expected {self.draws}")
        before = self.holds.copy()
        for d, holds in zip(state["history_draws"], state["history_holds"], strict=True):
            self.history.append((int(d), [int(h) for h in before + holds]))
        self.holds += state["holds"]
        self.draws = int(state["draws"])
        self.sensitivity.absorb(first, state_part(state, "sensitivity_"))
        self._next_checkpoint = int(state["next_checkpoint"])

    def _advance_checkpoint(self) -> None:
        step = str(self._next_checkpoint)[0]
        self._next_checkpoint = (
            self._next_checkpoint * (5 if step == "2" else 2) // (2 if step == "2" else 1)
        )

    def _record_history(self, indicators: np.ndarray) -> None:
        """Cumulative counts at checkpoints 100, 200, 500, 1000, 2000, ... draws."""
        n = indicators.shape[1]
        while self._next_checkpoint <= self.draws + n:
            upto = self._next_checkpoint - self.draws
            counts = self.holds + np.count_nonzero(indicators[:, :upto], axis=1)
            self.history.append((self._next_checkpoint, [int(c) for c in counts]))
            self._advance_checkpoint()

    def estimates(self) -> list[ProbabilityEstimate]:
        """One estimate per prediction."""
        return [ProbabilityEstimate(int(h), self.draws) for h in self.holds]
