"""When the rising function overtakes the falling one (e.g. inference vs training).

For an entity (the total, a segment or a group of the host partition), the crossover year
is the first year in which its rising series is at least its falling series; the continuous
crossover interpolates log(rising / falling) linearly between that year and the one before
(the first year itself when the rising function leads from the start). Draws in which it
never happens within the horizon count as "after horizon". Year counts are integers, so
they merge exactly over chunks.

The median continuous crossover is read from a quantile sketch of the continuous
crossovers as years after the first year, with relative accuracy ``CONTINUOUS_ACCURACY``:
it is within ``CONTINUOUS_ACCURACY * (median - first year)`` years of the exact sample
median (numpy's definition) of the same draws, for any number of draws in bounded memory.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from mcinfra.kernels import counts as kernels
from mcinfra.stats import state_part
from mcinfra.stats.reduction import Chunk
from mcinfra.stats.sketch import QuantileSketch

CONTINUOUS_ACCURACY = 1e-3


def crossover_times(rising: np.ndarray, falling: np.ndarray, years: list[int]):
    """Crossover year (inf if none) and continuous crossover (inf if none) per draw.

    ``rising`` and ``falling`` are (Y, n): one row per year (consecutive years).
    """
    check_consecutive(years)
    values = np.ascontiguousarray(np.stack([rising, falling]), dtype=np.float64)
    counts = np.zeros((1, len(years) + 1), dtype=np.int64)
    offsets = np.empty((1, values.shape[-1]))
    kernels.crossover_counts(values, _rows([0]), _rows([1]), counts, offsets)
    hit = values[0] >= values[1]
    year = np.where(hit.any(axis=0), years[0] + hit.argmax(axis=0), np.inf)
    return year, years[0] + offsets[0]


def check_consecutive(years: list[int]) -> None:
    """Crossover slots are years after the first: the years must follow one another."""
    if list(years) != list(range(years[0], years[0] + len(years))):
        raise ValueError(f"crossovers need consecutive years, got {list(years)}")


def _rows(rows: list[int]) -> np.ndarray:
    return np.array(rows, dtype=np.intp)


class CrossoverCounter:
    """Per entity: counts of draws crossing in each year, and every continuous crossover.

    A :class:`~mcinfra.stats.reduction.Reduction` of the chunks' ``values``; any order.
    """

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
        check_consecutive(years)
        self._rising = _rows([index[f"{e}_{rising}"] for e in entities])
        self._falling = _rows([index[f"{e}_{falling}"] for e in entities])
        self.counts = np.zeros((len(entities), len(years) + 1), dtype=np.int64)  # last: after
        # Continuous crossovers, as years after the first year: a relative error of 1e-3
        # of at most the horizon, where one of the calendar year would be two years.
        self.continuous = QuantileSketch(len(entities), CONTINUOUS_ACCURACY)

    def add(self, chunk: Chunk) -> None:
        """Count a chunk's values (S, Y, n)."""
        offsets = np.empty((len(self.entities), chunk.draws))
        kernels.crossover_counts(
            chunk.require("values"), self._rising, self._falling, self.counts, offsets
        )
        self.continuous.count(offsets)

    def state(self) -> dict[str, np.ndarray]:
        """Arrays for a checkpoint (see :meth:`restore`)."""
        sketch = {f"continuous_{k}": v for k, v in self.continuous.state().items()}
        return {"counts": self.counts} | sketch

    def restore(self, state: Mapping[str, np.ndarray]) -> None:
        """Continue from a checkpoint made by :meth:`state`."""
        self.counts[...] = state["counts"]
        self.continuous.restore(state_part(state, "continuous_"))

    def absorb(self, first: int, state: Mapping[str, np.ndarray]) -> None:
        """Merge the :meth:`state` of another part of the same run."""
        self.counts += state["counts"]
        self.continuous.absorb(first, state_part(state, "continuous_"))

    def _median(self, entity: int, n: int) -> float:
        """Median continuous crossover (numpy's definition), in years after the first.

        Within relative ``CONTINUOUS_ACCURACY`` of the exact sample median: each of the two
        middle order statistics is, and so is their mean (both are >= 0).
        """
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
