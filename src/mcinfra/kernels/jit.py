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
- ``nogil=True``: kernels release the GIL, so threads of a dask worker can share a process.

Numba's OpenMP threads wait passively between parallel kernels (``OMP_WAIT_POLICY``, unless
the environment sets it): spinning, they took the cores the next kernel, a dask worker or
the report's drawing processes needed (docs/performance.md, "Waiting threads").
"""

from __future__ import annotations

import os

from numba import njit

# Read by the OpenMP runtime when numba first starts its threads, after this import.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

KERNEL_OPTIONS = {"cache": True, "error_model": "numpy", "nogil": True}


def kernel(function=None, *, parallel: bool = False):
    """Compile ``function`` as a cached kernel (``parallel=True`` for prange kernels)."""

    def wrap(f):
        return njit(parallel=parallel, **KERNEL_OPTIONS)(f)

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
