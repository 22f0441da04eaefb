"""A mergeable quantile sketch with a guaranteed relative error, for runs too big to hold.

:class:`QuantileSketch` counts the values of many rows (one per series and year) in
buckets cut from the values' bits (see :mod:`mcinfra.kernels.sketch`): each octave is split
into 2**m equal buckets, m chosen by :func:`fraction_bits` so that a bucket's
representative is within relative ``a`` of all its members. An order statistic read from the
sketch is therefore within relative ``a`` (the ``relative_accuracy``) of the exact one, for
every rank, in any tail. Values with |x| < 2**-1022 count as zero.

Counts are integers: merging sketches adds them, so the sketch of a run does not depend on
chunk size, thread count, or how chunks were spread over machines.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping

import numpy as np

from mcinfra.kernels import sketch as kernels
from mcinfra.kernels.growth import ratio_growth
from mcinfra.kernels.sketch import NAN, NEG_INF, PAGE, PAGE_SHIFT, POS_INF, ZERO
from mcinfra.stats import state_part
from mcinfra.stats.quantiles import linear_quantiles
from mcinfra.stats.reduction import Chunk
from mcinfra.stats.summary import TABLE_PROBS, Columns, Key, figure_draws, figure_row

RELATIVE_ACCURACY = 1e-3
SPARE_PAGES = 1  # pages given beyond each end of a row's values when its range widens
_EXPONENT_LIMIT = 0x7FF  # biased exponent of infinities and NaN: no buckets


@functools.lru_cache(maxsize=8)
def fraction_bits(relative_accuracy: float) -> int:
    """Fraction bits a bucket keeps so that its representative is within ``relative_accuracy``.

    With m bits, a bucket [l, u) in octave [2**e, 2**(e+1)) has u - l = 2**(e - m) and
    l >= 2**e, so its representative 2 l u / (l + u) is within (u - l) / (u + l) <=
    1 / (2**(m + 1) + 1) of every member; m is the smallest for which that is <= the accuracy.
    """
    if not 0.0 < relative_accuracy < 1.0:
        raise ValueError(f"relative accuracy must be in (0, 1), got {relative_accuracy}")
    for m in range(53):
        if 1.0 / (2.0 ** (m + 1) + 1.0) <= relative_accuracy:
            return m
    raise ValueError(f"relative accuracy {relative_accuracy} is below double precision")


def bucket_representatives(buckets: np.ndarray, shift: int) -> np.ndarray:
    """Representative magnitude 2 l u / (l + u) of each bucket [l, u) (see :func:`fraction_bits`).

    Computed from the bucket's exponent and fraction, so the top bucket (u = 2**1024) does
    not overflow.
    """
    buckets = np.asarray(buckets, dtype=np.int64)
    m = 52 - shift
    exponent = (buckets >> m) - 1023
    low = 1.0 + (buckets & ((1 << m) - 1)) / 2.0**m  # l and u over 2**e: in [1, 2]
    high = low + 2.0**-m
    return np.ldexp(2.0 * low * high / (low + high), exponent)


def bucket_edges(buckets: np.ndarray, shift: int) -> tuple[np.ndarray, np.ndarray]:
    """Magnitude bounds ``(l, u)`` of each bucket [l, u), exact in double precision.

    The top bucket's ``u`` (2**1024) is inf.
    """
    buckets = np.asarray(buckets, dtype=np.int64)
    m = 52 - shift
    exponent = (buckets >> m) - 1023
    fraction = buckets & ((1 << m) - 1)
    with np.errstate(over="ignore"):
        return (
            np.ldexp(1.0 + fraction / 2.0**m, exponent),
            np.ldexp(1.0 + (fraction + 1) / 2.0**m, exponent),
        )


class QuantileSketch:
    """Log-bucket counts of ``n_rows`` rows of values, mergeable and exact to count.

    Parameters
    ----------
    n_rows : int
        Number of rows (e.g. series x years); each ``add`` gives every row's new values.
    relative_accuracy : float
        Guaranteed relative error ``a`` of every order statistic read from the sketch.

    A :class:`~mcinfra.stats.reduction.Reduction` of the chunks' ``values`` (every row of
    (S, Y, n) in order, one sketch row each; :meth:`count` sketches chosen rows); counts
    merge in any order.
    """

    def __init__(self, n_rows: int, relative_accuracy: float = RELATIVE_ACCURACY) -> None:
        self.relative_accuracy = float(relative_accuracy)
        self.shift = 52 - fraction_bits(self.relative_accuracy)
        if 52 - self.shift < PAGE_SHIFT:
            raise ValueError(
                f"relative accuracy {relative_accuracy} is coarser than the sketch supports "
                f"(at most {1 / (2.0 ** (PAGE_SHIFT + 1) + 1):.6g})"
            )
        # Page 0 holds the buckets of |x| < 2**-1022, which count as zero: a row's pages
        # start at page 1, so the kernels' in-range test never takes a zero for a bucket.
        self.first_page = (1 << (52 - self.shift)) >> PAGE_SHIFT
        n_buckets = _EXPONENT_LIMIT << (52 - self.shift)
        self.n_pages = -(-n_buckets // PAGE)
        self.table = np.full((n_rows, 2, self.n_pages), -1, dtype=np.int32)
        self.pool = np.zeros((max(16, 4 * n_rows), PAGE), dtype=np.int64)
        self.used = 0
        self.special = np.zeros((n_rows, 4), dtype=np.int64)
        # Pages are assigned in one range [first, last] per row and sign (empty: last < first)
        self.hull = np.empty((n_rows, 2, 2), dtype=np.int64)
        self.hull[:, :, 0], self.hull[:, :, 1] = self.n_pages, -1

    @property
    def n_rows(self) -> int:
        return self.table.shape[0]

    def _reserve(self, extra: int) -> None:
        if self.used + extra > self.pool.shape[0]:
            grown = np.zeros((max(2 * self.pool.shape[0], self.used + extra), PAGE), np.int64)
            grown[: self.used] = self.pool[: self.used]
            self.pool = grown

    def add(self, chunk: Chunk) -> None:
        """Count every row of the chunk's values, in order, into the sketch's rows."""
        self.count(chunk.require("values").reshape(-1, chunk.draws))

    def count(self, values: np.ndarray, first_row: int = 0, rows=None) -> None:
        """Count rows of ``values`` (m, n) into rows ``first_row ..`` of the sketch.

        Sketch row ``first_row + i`` gets ``values[rows[i]]`` (by default every row, in
        order). Each row must be float64 and is best contiguous along draws (others are
        copied).
        """
        values = np.asarray(values, dtype=np.float64)
        if values.shape[1] > 1 and values.strides[1] != 8:
            values = np.ascontiguousarray(values)
        bits = values.view(np.uint64)
        data_rows = np.arange(values.shape[0]) if rows is None else rows
        data_rows = np.asarray(data_rows, dtype=np.intp)
        self._count(
            data_rows.size,
            first_row,
            lambda some: (bits, data_rows[some]),
            lambda *state: kernels.count_values(bits, data_rows, self.shift, *state),
        )

    def add_ratios(
        self, values: np.ndarray, top: np.ndarray, bottom: np.ndarray, first_row: int = 0
    ) -> None:
        """Count the ratios ``values[top[i]] / values[bottom[i]]`` into rows ``first_row + i``.

        ``values`` is (rows, n) float64, contiguous along draws; the ratios are the bits
        numpy's division gives, formed in cache instead of in a (len(top), n) array.
        """
        if values.shape[1] > 1 and values.strides[1] != 8:
            values = np.ascontiguousarray(values)
        top, bottom = np.asarray(top, dtype=np.intp), np.asarray(bottom, dtype=np.intp)

        def ratio_bits(rows):
            with np.errstate(divide="ignore", invalid="ignore"):  # a series that is exactly 0
                ratios = values[top[rows]] / values[bottom[rows]]
            return ratios.view(np.uint64), np.arange(rows.size, dtype=np.intp)

        self._count(
            top.size,
            first_row,
            ratio_bits,
            lambda *state: kernels.count_ratios(values, top, bottom, self.shift, *state),
        )

    def _count(
        self,
        n_rows: int,
        first_row: int,
        source: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]],
        count: Callable[..., None],
    ) -> None:
        """Count ``n_rows`` rows from ``first_row`` with the kernel call ``count``.

        ``count(hull, table, pool, special, pending)`` counts every row's values inside its
        pages; ``source(indexes)`` gives ``(bits, data_rows)`` for some of the rows (the
        rows ``bits[data_rows]``, not copied; ``data_rows`` intp), for the others.
        """
        if not 0 <= first_row <= self.n_rows - n_rows:
            raise ValueError(f"rows {first_row}..{first_row + n_rows} outside the sketch")
        rows = slice(first_row, first_row + n_rows)
        # Rows without pages yet (their first values, or only zeros and non-finite values so
        # far) get the pages of their range up front, rather than all values left pending.
        fresh = np.flatnonzero((self.hull[rows, :, 1] < 0).all(axis=1))
        if fresh.size:
            bits, data_rows = source(fresh)
            self._widen(bits, data_rows, fresh + first_row)
        pending = np.empty(n_rows, dtype=np.int64)
        count(self.hull[rows], self.table[rows], self.pool, self.special[rows], pending)
        late = np.flatnonzero(pending)
        if late.size:  # values beyond the pages of their row: rare after a row's first chunk
            bits, data_rows = source(late)
            old = self._widen(bits, data_rows, late + first_row)
            kernels.count_new_pages(
                bits, data_rows, self.shift, old, self.table[late + first_row], self.pool
            )

    def _widen(self, bits: np.ndarray, data_rows: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Widen the page ranges of ``rows`` to hold ``bits[data_rows]``; returns the old ones."""
        extremes = np.empty((rows.size, 4), dtype=np.int64)
        kernels.magnitude_ranges(bits, data_rows, extremes)
        pages = ((extremes >> self.shift) >> PAGE_SHIFT).reshape(-1, 2, 2)  # [sign, low/high]
        # Spare pages beyond the values seen: a later chunk's tails then seldom need the
        # second pass (count_new_pages), which every chunk of a run otherwise took.
        pages = np.clip(
            pages + np.array([-SPARE_PAGES, SPARE_PAGES]), self.first_page, self.n_pages - 1
        )
        present = (extremes[:, 1::2] >= 0)[:, :, None]
        found = np.where(present, pages, np.array([self.n_pages, -1]))
        old = self.hull[rows]
        table = self.table[rows]
        self.hull[rows] = self._extend(table, old, found)
        self.table[rows] = table
        return old

    def _extend(self, table: np.ndarray, hull: np.ndarray, more: np.ndarray) -> np.ndarray:
        """The union of page ranges ``hull`` and ``more`` (rows, 2, 2), its pages in ``table``."""
        union = np.stack(
            [np.minimum(hull[..., 0], more[..., 0]), np.maximum(hull[..., 1], more[..., 1])],
            axis=-1,
        )
        used = kernels.assign_pages(table, union[:, :, 0], union[:, :, 1], self.used)
        self._reserve(used - self.used)
        self.used = used
        return union

    def _in_ranges(self, hull: np.ndarray) -> np.ndarray:
        """Mask (rows, 2, pages) of the pages inside the ranges ``hull`` (rows, 2, 2)."""
        page = np.arange(self.n_pages)
        return (page >= hull[:, :, :1]) & (page <= hull[:, :, 1:])

    def merge(self, other: QuantileSketch) -> None:
        """Add ``other``'s counts (same shape and accuracy) to this sketch."""
        if other.table.shape != self.table.shape or other.shift != self.shift:
            raise ValueError("sketches differ in rows or accuracy")
        self.hull[...] = self._extend(self.table, self.hull, other.hull)
        theirs = other._in_ranges(other.hull)
        self.pool[self.table[theirs]] += other.pool[other.table[theirs]]
        self.special += other.special

    def state(self) -> dict[str, np.ndarray]:
        """Arrays from which :meth:`from_state` rebuilds the sketch (checkpoints, dask tasks).

        Only the pages inside each row's range travel, in (row, sign, page) order.
        """
        return {
            "relative_accuracy": np.array(self.relative_accuracy),
            "shift": np.array(self.shift),
            "hull": self.hull,
            "pages": self.pool[self.table[self._in_ranges(self.hull)]],
            "special": self.special,
        }

    def restore(self, state: Mapping[str, np.ndarray]) -> None:
        """Continue from a :meth:`state` of a sketch with the same rows and accuracy."""
        saved = QuantileSketch.from_state(state)
        if saved.n_rows != self.n_rows or saved.shift != self.shift:
            raise ValueError(
                f"the saved sketch has {saved.n_rows} rows at accuracy "
                f"{saved.relative_accuracy:g} where this one has {self.n_rows} at "
                f"{self.relative_accuracy:g}"
            )
        self.__dict__.update(saved.__dict__)

    def absorb(self, first: int, state: Mapping[str, np.ndarray]) -> None:
        """Merge the :meth:`state` of another part of the same run (any order)."""
        self.merge(QuantileSketch.from_state(state))

    @classmethod
    def from_state(cls, state, prefix: str = "") -> QuantileSketch:
        """Inverse of :meth:`state`; with ``prefix``, from the keys ``prefix + name``."""
        state = state_part(state, prefix)
        if "shift" not in state or "hull" not in state:
            raise ValueError("the sketch was saved by a version of mcinfra with other buckets")
        sketch = cls(state["hull"].shape[0], float(state["relative_accuracy"]))
        inside = sketch._in_ranges(state["hull"])
        pages = state["pages"]
        if int(state["shift"]) != sketch.shift or np.count_nonzero(inside) != pages.shape[0]:
            raise ValueError("the sketch's saved pages do not match its buckets")
        sketch.hull[...] = state["hull"]
        sketch._reserve(pages.shape[0])
        sketch.table[inside] = np.arange(pages.shape[0])
        sketch.pool[: pages.shape[0]] = pages
        sketch.used = pages.shape[0]
        sketch.special[...] = state["special"]
        return sketch

    def _entries(self, row: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The row's non-empty entries in increasing value order: (signed bucket, count, fixed).

        ``fixed`` is the value of entries that are not buckets (-inf, zero, +inf) and NaN for
        buckets; a signed bucket is the bucket number, negated minus one for negative values.
        """
        codes, counts, fixed = (
            [np.zeros(1, np.int64)],
            [self.special[row, NEG_INF : NEG_INF + 1]],
            [np.array([-np.inf])],
        )
        for sign in (1, 0):
            pages = np.nonzero(self.table[row, sign] >= 0)[0]
            page_counts = self.pool[self.table[row, sign, pages]].ravel()
            buckets = (pages[:, None] * PAGE + np.arange(PAGE)).ravel()
            held = page_counts > 0
            step = -1 if sign else 1  # negative values: larger buckets are smaller values
            codes.append((-1 - buckets[held] if sign else buckets[held])[::step])
            counts.append(page_counts[held][::step])
            fixed.append(np.full(codes[-1].size, np.nan))
            if sign:
                codes.append(np.zeros(1, np.int64))
                counts.append(self.special[row, ZERO : ZERO + 1])
                fixed.append(np.zeros(1))
        codes.append(np.zeros(1, np.int64))
        counts.append(self.special[row, POS_INF : POS_INF + 1])
        fixed.append(np.array([np.inf]))
        return np.concatenate(codes), np.concatenate(counts), np.concatenate(fixed)

    def _values(self, codes: np.ndarray, fixed: np.ndarray, edge: int = 0) -> np.ndarray:
        """Values of entries from :meth:`_entries`: representatives, or bounds of their members.

        ``edge`` 0 gives each entry's representative; -1 and +1 the smallest and largest
        value any member can have (the bucket's edges; +-2**-1022 for the zero entry, which
        holds every |x| < 2**-1022).
        """
        negative = codes < 0
        buckets = np.where(negative, -1 - codes, codes)
        if edge == 0:
            magnitude = bucket_representatives(buckets, self.shift)
            return np.where(np.isnan(fixed), np.where(negative, -magnitude, magnitude), fixed)
        low, high = bucket_edges(buckets, self.shift)
        # A negative bucket of magnitudes [l, u) holds the values (-u, -l].
        value = np.where(negative, -high, low) if edge < 0 else np.where(negative, -low, high)
        zero = np.where(fixed == 0.0, edge * 2.0**-1022, fixed)
        return np.where(np.isnan(fixed), value, zero)

    def distribution(self, row: int) -> tuple[np.ndarray, np.ndarray]:
        """Sorted representative values of ``row`` and the count of each (NaN excluded)."""
        codes, counts, fixed = self._entries(row)
        keep = counts > 0
        return self._values(codes[keep], fixed[keep]), counts[keep]

    def order_statistics(self, rows, ranks, edge: int = 0) -> np.ndarray:
        """``out[c, j]``: the ``ranks[j]``-th smallest value (0-based) of row ``rows[c]``.

        The value is its bucket's representative, within ``relative_accuracy`` of the exact
        order statistic; with ``edge`` -1 (+1) it is a lower (upper) bound of the exact
        order statistic instead, the edge of the bucket that holds it. A row that holds a
        NaN gives NaN, as numpy's quantiles do.
        """
        ranks = np.asarray(ranks, dtype=np.int64)
        out = np.empty((len(rows), ranks.size))
        for c, row in enumerate(rows):
            if self.special[row, NAN]:  # as numpy: a quantile of values with NaN is NaN
                out[c] = np.nan
                continue
            codes, counts, fixed = self._entries(row)
            position = np.searchsorted(np.cumsum(counts), ranks, side="right")
            position = np.minimum(position, counts.size - 1)
            out[c] = self._values(codes[position], fixed[position], edge)
        return out


class SketchColumns:
    """Every series and year of a run, sketched chunk by chunk (bounded memory).

    Offers the reading interface of :class:`mcinfra.stats.summary.Columns` (``draws``,
    ``index``, ``order_statistics``, ``quantiles``, ``growth_quantiles``, ``figure_rows``),
    each order statistic within ``relative_accuracy`` of the exact one. Besides the series
    and years it sketches growth ratios (last / first year of every series, and the ratios
    behind the source figures' shares and CAGRs), since quantiles of a ratio are not
    functions of its parts' quantiles. Source-figure percentiles are exact counts.

    ``copies`` maps series that always equal another (:attr:`mcinfra.sampling.plan.Plan.copies`,
    e.g. a group of one member) to that series: they read its sketch rather than count
    the same values twice (six of the default model's 42 series).
    """

    def __init__(
        self,
        labels: list[str],
        years: list[int],
        figures=(),
        relative_accuracy: float = RELATIVE_ACCURACY,
        copies: dict[str, str] | None = None,
    ) -> None:
        self.labels, self.years = list(labels), list(years)
        self.figures = list(figures)
        self.copies = dict(copies or {})
        n_years = len(self.years)
        # Rows of a chunk reshaped to (S * Y, n): the layout draws arrive in.
        self.index = {
            (label, year): s * n_years + t
            for s, label in enumerate(self.labels)
            for t, year in enumerate(self.years)
        }
        counted = [
            (label, year) for label in self.labels if label not in self.copies for year in years
        ]
        self._counted_rows = np.array([self.index[key] for key in counted], dtype=np.intp)
        ratios = [((label, self.years[-1]), (label, self.years[0])) for label in self.labels]
        for figure in self.figures:
            if figure.kind == "share":
                ratios.append(((figure.series, figure.year), ("total", figure.year)))
            elif figure.kind == "cagr":
                ratios.append(
                    ((figure.series, figure.end_year), (figure.series, figure.start_year))
                )
        self.ratios = list(dict.fromkeys(self._original(pair) for pair in ratios))
        # sketch row of each counted key and ratio pair (copies read their original's)
        self._row = {key: row for row, key in enumerate(counted + self.ratios)}
        self._ratio_rows = (
            np.array([self.index[top] for top, _ in self.ratios], dtype=np.intp),
            np.array([self.index[bottom] for _, bottom in self.ratios], dtype=np.intp),
        )
        self.sketch = QuantileSketch(len(counted) + len(self.ratios), relative_accuracy)
        self.relative_accuracy = self.sketch.relative_accuracy
        self.figure_counts = np.zeros((len(self.figures), 2), dtype=np.int64)  # below, equal
        self.draws = 0

    def _original(self, key):
        """The key (or ratio pair of keys) whose sketch row holds ``key``'s values."""
        if isinstance(key[0], tuple):
            return self._original(key[0]), self._original(key[1])
        label, year = key
        return self.copies.get(label, label), year

    def add(self, chunk: Chunk) -> None:
        """Sketch a chunk's values (S, Y, n) (any order of chunks)."""
        values, n = chunk.require("values"), chunk.draws
        rows = values.reshape(-1, n)  # row self.index[key] of every (series, year) key
        self.sketch.count(rows, rows=self._counted_rows)
        self.sketch.add_ratios(rows, *self._ratio_rows, first_row=self._counted_rows.size)
        if self.figures:
            columns = Columns(self.index, rows)  # every row a view: no copy
            for i, figure in enumerate(self.figures):
                draws = figure_draws(columns, figure)
                self.figure_counts[i, 0] += np.count_nonzero(draws < figure.value)
                self.figure_counts[i, 1] += np.count_nonzero(draws == figure.value)
        self.draws += n

    def absorb(self, first: int, state: Mapping[str, np.ndarray]) -> None:
        """Merge the :meth:`state` of another part of the same run (any order)."""
        self.sketch.absorb(first, state_part(state, "sketch_"))
        self.figure_counts += state["figure_counts"]
        self.draws += int(state["draws"])

    def state(self) -> dict[str, np.ndarray]:
        """Arrays for a checkpoint (see :meth:`restore`)."""
        return {f"sketch_{k}": v for k, v in self.sketch.state().items()} | {
            "figure_counts": self.figure_counts,
            "draws": np.array(self.draws),
        }

    def restore(self, state: Mapping[str, np.ndarray]) -> None:
        """Load a checkpoint made by :meth:`state` of a collector built the same way."""
        self.sketch.restore(state_part(state, "sketch_"))
        self.figure_counts[...] = state["figure_counts"]
        self.draws = int(state["draws"])

    def _rows(self, keys) -> list[int]:
        return [self._row[self._original(key)] for key in keys]

    def order_statistics(self, keys, ranks) -> np.ndarray:
        """Order statistics of (series, year) keys or (top key, bottom key) ratio pairs."""
        return self.sketch.order_statistics(self._rows(keys), ranks)

    def order_statistic_bounds(
        self, keys, low: np.ndarray, high: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """A lower bound of order statistics ``low`` and an upper bound of ``high`` per key."""
        rows = self._rows(keys)
        return (
            self.sketch.order_statistics(rows, low, edge=-1),
            self.sketch.order_statistics(rows, high, edge=1),
        )

    def quantiles(self, keys: list[Key], probs=TABLE_PROBS) -> np.ndarray:
        """Quantiles (len(keys), len(probs)), numpy's linear definition."""
        return linear_quantiles(self, keys, probs)

    def growth_quantiles(self, pairs: list[tuple[Key, Key]], probs=TABLE_PROBS) -> np.ndarray:
        """Quantiles of the realised CAGR between each (start, end) pair of keys."""
        out = np.empty((len(pairs), len(probs)))
        for i, (start, end) in enumerate(pairs):
            years = end[1] - start[1]
            out[i] = linear_quantiles(
                self, [(end, start)], probs, lambda r, y=years: ratio_growth(r, y)
            )[0]
        return out

    def figure_rows(self, figures) -> list[dict]:
        """Source-figure rows: medians from the sketch, percentile ranks from exact counts."""
        rows = []
        for figure in figures:
            if figure.kind == "value":
                median = self.quantiles([(figure.series, figure.year)], (0.5,))[0, 0]
            elif figure.kind == "share":
                pair = ((figure.series, figure.year), ("total", figure.year))
                median = linear_quantiles(self, [pair], (0.5,))[0, 0]
            else:
                start = (figure.series, figure.start_year)
                median = self.growth_quantiles([(start, (figure.series, figure.end_year))], (0.5,))
                median = median[0, 0]
            below, equal = self.figure_counts[self.figures.index(figure)]
            rows.append(figure_row(figure, float(median), int(below), int(equal), self.draws))
        return rows
