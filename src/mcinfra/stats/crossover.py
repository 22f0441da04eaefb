"""When the rising function overtakes the falling one (e.g. inference vs training).

For an entity (the total, a segment or a group of the host partition), the crossover year
is the first year in which its rising series is at least its falling series; the continuous
crossover interpolates log(rising / falling) linearly between that year and the one before
(the first year itself when the rising function leads from the start). Draws in which it
never happens within the horizon count as "after horizon". Year counts are integers, so
they merge exactly over chunks.
"""

from __future__ import annotations

import numpy as np

from mcinfra.kernels import counts as kernels
from mcinfra.stats.sketch import QuantileSketch


def crossover_times(rising: np.ndarray, falling: np.ndarray, years: list[int]):
    """Crossover year (inf if none) and continuous crossover (inf if none) per draw.

    ``rising`` and ``falling`` are (Y, n): one row per year.
    """
    n = rising.shape[1]
    year, continuous = np.empty(n), np.empty(n)
    kernels.crossover_times(
        np.ascontiguousarray(rising),
        np.ascontiguousarray(falling),
        np.asarray(years, dtype=np.float64),
        year,
        continuous,
    )
    return year, continuous


class CrossoverCounter:
    """Per entity: counts of draws crossing in each year, and every continuous crossover."""

    def __init__(
        self,
        entities: list[str],
        rising: str,
        falling: str,
        labels: list[str],
        years: list[int],
    ) -> None:
        index = {label: i for i, label in enumerate(labels)}
        self.entities = entities
        self.years = years
        self._rows = [(index[f"{e}_{rising}"], index[f"{e}_{falling}"]) for e in entities]
        self.counts = np.zeros((len(entities), len(years) + 1), dtype=np.int64)  # last: after
        # Continuous crossovers, as years after the first year: a relative error of 1e-3
        # of at most the horizon, where one of the calendar year would be two years.
        self.continuous = QuantileSketch(len(entities))

    def add(self, first: int, values: np.ndarray) -> None:
        """Count a draw-last chunk (S, Y, n) holding draws ``first ..``."""
        part = np.empty((len(self.entities), values.shape[-1]))
        for e, (up, down) in enumerate(self._rows):
            year, continuous = crossover_times(values[up], values[down], self.years)
            slot = np.where(np.isfinite(year), year - self.years[0], len(self.years))
            self.counts[e] += np.bincount(slot.astype(np.int64), minlength=len(self.years) + 1)
            part[e] = continuous - self.years[0]
        self.continuous.add(part)

    def state(self) -> dict[str, np.ndarray]:
        """Arrays for a checkpoint (see :meth:`restore`)."""
        sketch = {f"continuous_{k}": v for k, v in self.continuous.state().items()}
        return {"counts": self.counts} | sketch

    def restore(self, state: dict[str, np.ndarray]) -> None:
        """Continue from a checkpoint made by :meth:`state`."""
        self.counts[...] = state["counts"]
        self.continuous = QuantileSketch.from_state(state, "continuous_")

    def absorb(self, first: int, state: dict[str, np.ndarray]) -> None:
        """Merge the :meth:`state` of another part of the same run."""
        self.counts += state["counts"]
        self.continuous.merge(QuantileSketch.from_state(state, "continuous_"))

    def _median(self, entity: int, n: int) -> float:
        """Median continuous crossover (numpy's definition), in years after the first."""
        low = (n - 1) // 2
        a, b = self.continuous.order_statistics([entity], [low, min(low + 1, n - 1)])[0]
        return float(a) if (n - 1) % 2 == 0 else 0.5 * (a + b)

    def rows(self) -> list[dict]:
        """The ``crossovers`` list of summary.json."""
        out = []
        for e, entity in enumerate(self.entities):
            n = self.counts[e].sum()
            cumulative = np.cumsum(self.counts[e][:-1]) / n
            reached = np.flatnonzero(cumulative >= 0.5)
            median = float(self.years[0] + self._median(e, int(n)))
            out.append(
                {
                    "entity": entity,
                    "probability_by_year": {
                        str(y): float(p) for y, p in zip(self.years, cumulative, strict=True)
                    },
                    "after_horizon": float(self.counts[e][-1] / n),
                    "median_year": int(self.years[reached[0]]) if reached.size else None,
                    "median_continuous": median if np.isfinite(median) else None,
                }
            )
        return out
