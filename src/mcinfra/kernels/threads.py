"""Running a serial kernel over ranges of items on numba's thread count, in Python threads.

A prange loop makes numba link and optimise the loop body's callees again in the
parallel region's own function and in the kernel above it, besides its parfors
transforms: several seconds of a first run's compiling per kernel
(docs/performance.md, "The first run: compiling the kernels"). Kernels release the GIL
(``nogil``), so a serial kernel called from several threads on disjoint ranges runs in
parallel just as well.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import numba

Result = TypeVar("Result")


def split_ranges(n_items: int, unit: int = 1) -> list[tuple[int, int]]:
    """Contiguous ``(first, stop)`` ranges of ``n_items``, one per numba thread at most.

    Each range but the last holds a multiple of ``unit`` items; none is empty.
    """
    n_units = (n_items + unit - 1) // unit
    n_ranges = max(1, min(numba.get_num_threads(), n_units))
    bounds = [min(n_items, unit * (n_units * i // n_ranges)) for i in range(n_ranges + 1)]
    return [(bounds[i], bounds[i + 1]) for i in range(n_ranges)]


def run_ranges(
    n_items: int, run_range: Callable[[int, int], Result], unit: int = 1
) -> list[Result]:
    """``run_range(first, stop)`` on each of :func:`split_ranges`, each in its own thread.

    The calling thread runs the first range; exceptions raised in any range propagate.
    """
    ranges = split_ranges(n_items, unit)
    if len(ranges) == 1:
        return [run_range(*ranges[0])]
    with ThreadPoolExecutor(len(ranges) - 1) as pool:
        others = [pool.submit(run_range, *bounds) for bounds in ranges[1:]]
        first = run_range(*ranges[0])
        return [first, *(other.result() for other in others)]
