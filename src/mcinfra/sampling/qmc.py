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

import numpy as np

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


_LAST_ENGINE: dict = {}  # (seed, replicate, dimension) -> (engine, index of its next point)


def sobol_normals(
    seed: int, replicate: int, dimension: int, first: int, count: int, workers: int = 1
) -> np.ndarray:
    """Normals of points ``first .. first + count - 1`` of replicate ``replicate``.

    Returns a C-contiguous float64 array (count, dimension). The inverse normal CDF, most of
    the cost, runs on ``workers`` threads (scipy's ufuncs release the GIL); the values do
    not depend on it.
    """
    from scipy.special import ndtri
    from scipy.stats import qmc

    if dimension > MAX_DIMENSION:
        raise ValueError(
            f"sampling.method = 'sobol' handles at most {MAX_DIMENSION:,} normals per draw "
            f"(scipy's Sobol' directions); this model needs {dimension:,}: use 'mc'"
        )
    key = (seed, replicate, dimension)
    engine, position = _LAST_ENGINE.pop(key, (None, -1))
    if position != first:
        # scipy's fast_forward steps through every skipped point (O(first)), so a run's
        # consecutive chunks continue the replicate's engine instead of skipping again.
        rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(replicate,)))
        engine = qmc.Sobol(dimension, scramble=True, bits=SOBOL_BITS, rng=rng)
        if first:
            engine.fast_forward(first)
    with warnings.catch_warnings():
        # A chunk is part of a replicate of 2**k points; the balance warning is about the whole.
        warnings.filterwarnings("ignore", message="The balance properties", category=UserWarning)
        points = engine.random(count)
    _LAST_ENGINE.clear()  # one engine kept: a run draws its replicates one after another
    _LAST_ENGINE[key] = (engine, first + count)
    points += 0.5 * 2.0**-SOBOL_BITS
    if workers > 1 and count >= 2 * 4096:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(workers) as pool:
            parts = np.array_split(points, workers)
            list(pool.map(lambda part: ndtri(part, out=part), parts))
    else:
        ndtri(points, out=points)
    return points


def replicate_estimate(holds: np.ndarray, size: int) -> tuple[float, float, int]:
    """Probability, standard error and degrees of freedom from per-replicate hold counts.

    ``holds`` (R,) counts of replicates of ``size`` points each. The estimate is the mean of
    the replicate proportions; its standard error is their sample standard deviation over
    sqrt(R), with R - 1 degrees of freedom (use Student's t for intervals).
    """
    proportions = np.asarray(holds, dtype=np.float64) / size
    r = proportions.size
    return float(proportions.mean()), float(proportions.std(ddof=1) / math.sqrt(r)), r - 1
