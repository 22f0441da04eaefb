"""Run summaries computed from selected (series, year) columns of the draws.

A :class:`Columns` holds, for chosen (series, year) pairs, the value of every draw: it is
filled chunk by chunk while a run streams (:class:`ColumnCollector`) or taken from an
in-memory Dataset (:meth:`Columns.from_dataset`), so the same summary code serves both.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

import numpy as np

from mcinfra.kernels.growth import growth_rate
from mcinfra.kernels.select import growth_quantiles, order_statistics, partition_gap
from mcinfra.sampling.dataset import SEGMENT, YEAR, draw_last
from mcinfra.stats.reduction import Chunk

if TYPE_CHECKING:  # xarray is slow to import; only some paths need it
    import xarray as xr

TABLE_PROBS = (0.05, 0.5, 0.95)

Key = tuple[str, int]


class Columns:
    """Values of every draw for chosen (series label, year) keys: ``data`` is (keys, draws)."""

    def __init__(self, keys: Iterable[Key], data: np.ndarray) -> None:
        self.keys = list(keys)
        self.data = data
        self.index = {key: row for row, key in enumerate(self.keys)}

    def __getitem__(self, key: Key) -> np.ndarray:
        return self.data[self.index[key]]

    @property
    def draws(self) -> int:
        return self.data.shape[1]

    def order_statistics(self, keys: list[Key], ranks) -> np.ndarray:
        """``out[c, j]``: the ``ranks[j]``-th smallest value (0-based) of column ``keys[c]``."""
        rows = np.array([self.index[k] for k in keys], dtype=np.int64)
        ranks = np.asarray(ranks, dtype=np.int64)
        out = np.empty((rows.size, ranks.size))
        order_statistics(self.data, rows, ranks, out)
        return out

    def order_statistic_bounds(
        self, keys: list[Key], low: np.ndarray, high: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Order statistics ``low`` and ``high`` of each key's draws (exact: their own bounds)."""
        both = self.order_statistics(keys, np.concatenate([low, high]))
        return both[:, : len(low)], both[:, len(low) :]

    def figure_rows(self, figures) -> list[dict]:
        """For each source figure: the simulated median and the source's percentile rank."""
        rows = []
        for figure in figures:
            draws = figure_draws(self, figure)
            below = int(np.count_nonzero(draws < figure.value))
            equal = int(np.count_nonzero(draws == figure.value))
            rows.append(figure_row(figure, float(np.median(draws)), below, equal, draws.size))
        return rows

    @classmethod
    def from_dataset(cls, ds: xr.Dataset, keys: Iterable[Key]) -> Columns:
        """Gather the columns of an in-memory run."""
        keys = list(keys)
        values = draw_last(ds["value"].values)
        segments = {s: i for i, s in enumerate(ds[SEGMENT].values)}
        years = {int(y): i for i, y in enumerate(ds[YEAR].values)}
        data = np.empty((len(keys), values.shape[-1]))
        for row, (label, year) in enumerate(keys):
            data[row] = values[segments[label], years[year]]
        return cls(keys, data)

    def quantiles(self, keys: list[Key], probs=TABLE_PROBS) -> np.ndarray:
        """Exact quantiles (len(keys), len(probs)) of the given columns."""
        rows = np.array([self.index[k] for k in keys], dtype=np.int64)
        out = np.empty((rows.size, len(probs)))
        growth_quantiles(self.data, rows, rows, 0.0, np.asarray(probs, dtype=float), out)
        return out

    def growth_quantiles(self, pairs: list[tuple[Key, Key]], probs=TABLE_PROBS) -> np.ndarray:
        """Quantiles of the realised CAGR between each (start, end) pair of keys."""
        out = np.empty((len(pairs), len(probs)))
        if not pairs:
            return out
        years = {end[1] - start[1] for start, end in pairs}
        if len(years) != 1:
            raise ValueError("growth pairs must span the same number of years")
        start = np.array([self.index[s] for s, _ in pairs], dtype=np.int64)
        end = np.array([self.index[e] for _, e in pairs], dtype=np.int64)
        growth_quantiles(self.data, end, start, 1.0 / years.pop(), np.asarray(probs, float), out)
        return out


class ColumnCollector:
    """Builds a :class:`Columns` chunk by chunk from draw-last chunks (S, Y, n).

    With ``capacity`` (the run's draw count) the columns are filled in place; without it
    (a run that may stop early) chunks are kept and joined once at the end. A
    :class:`~mcinfra.stats.reduction.Reduction` of the chunks' ``values``, in draw order.
    """

    def __init__(
        self, keys: Iterable[Key], labels: list[str], years: list[int], capacity: int | None = None
    ) -> None:
        self.keys = list(keys)
        segment = {label: i for i, label in enumerate(labels)}
        year = {y: i for i, y in enumerate(years)}
        self._rows = [(segment[label], year[y]) for label, y in self.keys]
        self._data = None if capacity is None else np.empty((len(self.keys), capacity))
        self._parts: list[np.ndarray] = []
        self._filled = 0

    def add(self, chunk: Chunk) -> None:
        """Copy the selected rows of the chunk's values (chunks in draw order)."""
        first, values, n = chunk.first, chunk.require("values"), chunk.draws
        if self._data is not None:
            part = self._data[:, first : first + n]
        else:
            part = np.empty((len(self._rows), n))
            self._parts.append(part)
        for row, (s, t) in enumerate(self._rows):
            part[row] = values[s, t]
        self._filled = first + n

    def state(self) -> dict[str, np.ndarray]:
        """Arrays for a checkpoint (see :meth:`restore`)."""
        if self._data is not None:
            return {"data": self._data[:, : self._filled]}
        data = np.concatenate(self._parts, axis=1) if self._parts else np.empty((len(self.keys), 0))
        self._parts = [data]  # joined once; later chunks keep appending parts
        return {"data": data}

    def restore(self, state: Mapping[str, np.ndarray]) -> None:
        """Continue from a checkpoint made by :meth:`state`."""
        data = state["data"]
        if self._data is not None:
            self._data[:, : data.shape[1]] = data
        else:
            self._parts = [data.copy()]
        self._filled = data.shape[1]

    def absorb(self, first: int, state: Mapping[str, np.ndarray]) -> None:
        """Append the columns of the part holding draws ``first ..`` (parts in draw order)."""
        data = state["data"]
        if first != self._filled:
            raise ValueError(f"parts must be merged in draw order: expected {self._filled}")
        if self._data is not None:
            self._data[:, first : first + data.shape[1]] = data
        else:
            self._parts.append(data)
        self._filled = first + data.shape[1]

    @property
    def columns(self) -> Columns:
        """Every draw collected so far."""
        if self._data is None:
            self._data = (
                np.concatenate(self._parts, axis=1) if len(self._parts) > 1 else (self._parts[0])
            )
            self._parts = []
        return Columns(self.keys, self._data[:, : self._filled])


class PartitionCheck:
    """Largest relative gap, over draws and years, between any partition's sum and the total.

    A :class:`~mcinfra.stats.reduction.Reduction` of the chunks' ``gap`` (the sampler's
    check) or, without one, their ``values``; any order.
    """

    def __init__(self, kinds: list[str], partitions: list[str]) -> None:
        names = sorted({p for k, p in zip(kinds, partitions, strict=True) if k == "segment"})
        rows: list[int] = []
        ptr = [0]
        for name in names:
            rows += [
                i
                for i, (k, p) in enumerate(zip(kinds, partitions, strict=True))
                if k == "segment" and p == name
            ]
            ptr.append(len(rows))
        self._rows = np.array(rows, dtype=np.int64)
        self._ptr = np.array(ptr, dtype=np.int64)
        self.worst = 0.0

    def state(self) -> dict[str, np.ndarray]:
        return {"worst": np.array(self.worst)}

    def restore(self, state: Mapping[str, np.ndarray]) -> None:
        self.worst = float(state["worst"])

    def absorb(self, first: int, state: Mapping[str, np.ndarray]) -> None:
        self.worst = max(self.worst, float(state["worst"]))

    def add(self, chunk: Chunk) -> None:
        """Check a chunk: its ``gap`` if the sampler gave one, else its values (row 0 the total)."""
        if chunk.gap is not None:
            self.worst = max(self.worst, float(chunk.gap))
        elif self._rows.size:
            gap = float(partition_gap(chunk.require("values"), self._ptr, self._rows))
            self.worst = max(self.worst, gap)


def partition_residual(ds: xr.Dataset) -> float:
    """Largest relative gap between any partition's sum and the total in a Dataset."""
    check = PartitionCheck(list(ds["kind"].values), list(ds["partition"].values))
    check.add(Chunk(0, draw_last(ds["value"].values)))
    return check.worst


def figure_draws(columns: Columns, figure) -> np.ndarray:
    """Per-draw values of the quantity a source figure states (value, share or CAGR)."""
    if figure.kind == "value":
        return columns[(figure.series, figure.year)]
    if figure.kind == "share":
        return columns[(figure.series, figure.year)] / columns[("total", figure.year)]
    end = columns[(figure.series, figure.end_year)]
    start = columns[(figure.series, figure.start_year)]
    return growth_rate(end, start, figure.end_year - figure.start_year)


def figure_row(figure, median: float, below: int, equal: int, draws: int) -> dict:
    """One row of the source-figure table (summary.json's ``source_figures``)."""
    return {
        "series": figure.series,
        "kind": figure.kind,
        "period": (
            f"{figure.start_year}-{figure.end_year}" if figure.kind == "cagr" else str(figure.year)
        ),
        "description": figure.description,
        "source_value": figure.value,
        "simulated_median": median,
        # Mid-rank: a fixed input equal to the source figure sits at the 50th percentile.
        "source_percentile": (below + 0.5 * equal) / draws,
    }
