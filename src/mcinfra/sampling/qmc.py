"""Quasi-Monte Carlo: scrambled Sobol' normals in independent replicates.

With ``sampling.method = "sobol"`` a run of ``draws`` draws is ``replicates`` independent
randomised Sobol' point sets of ``m = draws / replicates`` points each (``m`` a power of
two, so every set keeps the net's balance). Draw ``d`` is point ``d mod m`` of replicate
``d // m``; each point's coordinates, one per normal the model needs, go through the normal
inverse CDF. Replicate ``r`` is scrambled (Owen-type linear matrix scrambling and a digital
shift, scipy.stats.qmc.Sobol) by a generator seeded from ``(seed, r)`` alone, so a draw's
normals depend only on ``(seed, replicates, m, d)``: any chunk size, thread count, dask
worker or resume point gives the same bits, as for plain Monte Carlo.

The replicates are independent and identically distributed, so the spread of their
estimates gives an honest standard error (:func:`replicate_estimate`); the single-run
binomial formula would overstate a Sobol' estimate's error.
"""

from __future__ import annotations

import math
import warnings
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from scipy.stats import qmc

METHODS = ("mc", "sobol")
# Coordinates are integers k / 2**SOBOL_BITS; (k + 1/2) / 2**SOBOL_BITS is strictly inside
# (0, 1), so every normal is finite (|z| < 6.3; the tails beyond hold probability 3e-10)
# and exact in double precision. (scipy 1.17 cannot fast-forward with more than 32 bits.)
SOBOL_BITS = 32
MAX_DIMENSION = 21201  # scipy's Sobol' direction numbers (Joe and Kuo)


def replicate_size(draws: int, replicates: int) -> int:
    """Points per replicate; raises ValueError unless ``draws = replicates * 2**k``."""
    size, remainder = divmod(draws, replicates)
    if size > 2**SOBOL_BITS:
        raise ValueError(
            f"a Sobol' replicate holds at most 2**{SOBOL_BITS} points; got {size:,} "
            f"({draws:,} draws for {replicates} replicates): raise sampling.replicates"
        )
    if remainder or size < 1 or size & (size - 1):
        power = 2 ** max(0, round(math.log2(max(draws / replicates, 1))))
        raise ValueError(
            f"with sampling.method = 'sobol', sampling.draws (or --draws) must be "
            f"sampling.replicates x a power of two "
            f"(e.g. {replicates} x {power:,} = {replicates * power:,}); got {draws:,} draws "
            f"for {replicates} replicates"
        )
    return size


class SobolNormals:
    """The scrambled Sobol' normals of one run's replicates, read point range by point range.

    The object owns its engine, as ``scipy.stats.qmc.Sobol`` does: a call that continues
    where the last one ended (a run's consecutive chunks) draws on from it, any other call
    builds the replicate's engine afresh (scipy's ``fast_forward`` steps through every
    skipped point, so continuing is what keeps a run linear in its draws). The values never
    depend on the call order.

    Parameters
    ----------
    seed : int
        The run's seed; replicate ``r`` is scrambled by a generator seeded from ``(seed, r)``.
    dimension : int
        Normals per point (the model's normals per draw).
    """

    def __init__(self, seed: int, dimension: int) -> None:
        if dimension > MAX_DIMENSION:
            raise ValueError(
                f"sampling.method = 'sobol' handles at most {MAX_DIMENSION:,} normals per draw "
                f"(scipy's Sobol' directions); this model needs {dimension:,}: use 'mc'"
            )
        self.seed = seed
        self.dimension = dimension
        self._engine: qmc.Sobol | None = None
        self._replicate = -1
        self._position = -1  # index of the engine's next point in its replicate

    def _engine_at(self, replicate: int, first: int) -> qmc.Sobol:
        """The engine of ``replicate`` positioned at point ``first``."""
        if self._engine is None or (replicate, first) != (self._replicate, self._position):
            from scipy.stats import qmc

            rng = np.random.default_rng(np.random.SeedSequence(self.seed, spawn_key=(replicate,)))
            engine = qmc.Sobol(self.dimension, scramble=True, bits=SOBOL_BITS, rng=rng)
            if first:
                engine.fast_forward(first)
            self._engine = engine
            self._replicate, self._position = replicate, first
        return self._engine

    def normals(self, replicate: int, first: int, count: int, workers: int = 1) -> np.ndarray:
        """Normals of points ``first .. first + count - 1`` of replicate ``replicate``.

        Returns a C-contiguous float64 array (count, dimension). The inverse normal CDF, most
        of the cost, runs on ``workers`` threads (scipy's ufuncs release the GIL); the values
        do not depend on it.
        """
        from scipy.special import ndtri

        engine = self._engine_at(replicate, first)
        with warnings.catch_warnings():
            # A chunk is part of a replicate of 2**k points; the balance warning is about the
            # whole.
            warnings.filterwarnings(
                "ignore", message="The balance properties", category=UserWarning
            )
            points = engine.random(count)
        self._position = first + count
        points += 0.5 * 2.0**-SOBOL_BITS
        if workers > 1 and count >= 2 * 4096:
            from concurrent.futures import ThreadPoolExecutor

            with ThreadPoolExecutor(workers) as pool:
                parts = np.array_split(points, workers)
                list(pool.map(lambda part: ndtri(part, out=part), parts))
        else:
            ndtri(points, out=points)
        return points


def sobol_normals(
    seed: int, replicate: int, dimension: int, first: int, count: int, workers: int = 1
) -> np.ndarray:
    """Normals of points ``first .. first + count - 1`` of replicate ``replicate``.

    A fresh :class:`SobolNormals` per call (no state kept between calls): a run reading
    consecutive chunks keeps one :class:`SobolNormals` instead.
    """
    return SobolNormals(seed, dimension).normals(replicate, first, count, workers)


def replicate_estimate(holds: np.ndarray, size: int) -> tuple[float, float, int]:
    """Probability, standard error and degrees of freedom from per-replicate hold counts.

    ``holds`` (R,) counts of replicates of ``size`` points each. The estimate is the mean of
    the replicate proportions; its standard error is their sample standard deviation over
    sqrt(R), with R - 1 degrees of freedom (use Student's t for intervals).
    """
    proportions = np.asarray(holds, dtype=np.float64) / size
    r = proportions.size
    return float(proportions.mean()), float(proportions.std(ddof=1) / math.sqrt(r)), r - 1
