"""The jit options of every kernel, in one place.

- ``cache=True``: compiled code is stored beside the package, so a new process loads it
  in a fraction of a second instead of recompiling. Numba checks only the kernel's own
  source file: after editing a helper in another module (e.g. ``inputs.py``,
  ``special.py`` or ``select.py``, inlined into ``model.py``'s kernels), delete
  ``src/mcinfra/kernels/__pycache__/*.nb?`` in a development checkout. An installed
  upgrade rewrites every file, so users never see it.
- ``error_model="numpy"``: division by zero gives inf/NaN as in numpy instead of raising;
  the per-division check Python semantics need would also block vectorisation.
- ``fastmath`` is off: it would let results depend on the compiler's reassociation, and
  reproducibility to the bit is a promise of this package.
- ``nogil=True``: kernels release the GIL, so the sampler's tasks (``TaskThreads`` in
  :mod:`mcinfra.sampling.engine`) and the threads of a dask worker run at once.

- Cached kernels load without numba's registry refresh (:class:`KernelCache`).

Numba's OpenMP threads wait passively between parallel kernels (``OMP_WAIT_POLICY``, unless
the environment sets it): spinning, they took the cores the next kernel, a dask worker or
the report's drawing processes needed (docs/performance.md, "Waiting threads").
"""

from __future__ import annotations

import os
from pathlib import Path

from numba import njit
from numba.core.caching import FunctionCache
from numba.core.runtime import rtsys

# Read by the OpenMP runtime when numba first starts its threads, after this import.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

KERNEL_OPTIONS = {"cache": True, "error_model": "numpy", "nogil": True}


class KernelCache(FunctionCache):
    """numba's on-disk cache of a kernel, loaded without refreshing numba's registries.

    Before loading any cached function numba imports and registers every implementation it
    has, which only compiling uses (a tenth of a short run's start-up; docs/performance.md,
    "Start-up and exit"): loaded machine code needs numba's runtime alone, started here as
    numba starts it. Compiling a kernel still refreshes the registries first, as numba
    always does.
    """

    def load_overload(self, sig, target_context):
        """Load the kernel compiled for ``sig`` from the cache (None when it is not there)."""
        rtsys.initialize(target_context)
        with self._guard_against_spurious_io_errors():
            return self._load_overload(sig, target_context)


# numba's private loading steps, which KernelCache calls; without them numba's own loading
_LOADS_DIRECTLY = all(
    hasattr(FunctionCache, name) for name in ("_guard_against_spurious_io_errors", "_load_overload")
)


def cache_directory(dispatcher) -> Path | None:
    """Where numba keeps the compiled code of ``dispatcher`` (a kernel) and its neighbours.

    Reads numba's cache internals, which have no public equivalent: None where they changed.
    """
    try:
        return Path(dispatcher._cache._cache_path)
    except AttributeError:
        return None


def is_cached(dispatcher) -> bool | None:
    """Whether numba's cache holds the compiled code of ``dispatcher`` (None: cannot tell).

    Reads numba's cache internals, which have no public equivalent: None where they changed.
    """
    try:
        index = dispatcher._cache._cache_file._index_path
    except AttributeError:
        return None
    return os.path.exists(index)


def kernel(function=None, *, parallel: bool = False):
    """Compile ``function`` as a cached kernel (``parallel=True`` for prange kernels)."""

    def wrap(f):
        dispatcher = njit(parallel=parallel, **KERNEL_OPTIONS)(f)
        if _LOADS_DIRECTLY:
            dispatcher._cache = KernelCache(f)
        return dispatcher

    return wrap if function is None else wrap(function)


def inline(function):
    """A helper inlined into its calling kernels (numba IR inlining)."""
    return njit(inline="always", error_model="numpy")(function)


def helper(function):
    """A helper compiled separately and called from kernels."""
    return njit(error_model="numpy")(function)


def elementwise(function):
    """A kernel ``apply(values, out)`` setting ``out[i] = function(values[i])``.

    For timing and testing scalar kernel helpers (e.g. :mod:`mcinfra.kernels.special`) in
    the kind of loop the sampler runs them in; not cached, since ``function`` varies.
    """

    @njit(error_model="numpy")
    def apply(values, out):
        for i in range(values.shape[0]):
            out[i] = function(values[i])

    return apply
