"""Values a run derives from scipy.special, kept on disk beside the compiled kernels.

A run needs a handful of values of scipy.special's functions that depend on its config alone:
an input's tabulated inverse CDF (but a SIP input's, which follows its library), each
triangular input's mode score, the validation's tail checks, the sensitivity bins' edges,
the simultaneous intervals' z. Importing scipy.special to compute them costs about 90 ms, a
seventh of a short run (docs/performance.md, "Start-up and exit"). :func:`special_value`
and :func:`stored` compute each value once and keep it in a file in numba's cache directory
of the kernels, so a later run of the config reads the very same bits without importing
scipy.special.

The file's name holds a stamp of what the values depend on: scipy's version and its
``special`` extension file, numpy's version, and the source files of this package that
compute them. Anything else gets a file of its own. A file that cannot be read counts as
empty, one that cannot be written is not written; the values are then computed, as without
a store. Only calls whose arguments come from the config belong here: every distinct call is
kept (an iterative solver's steps would fill the file).
"""

from __future__ import annotations

import functools
import hashlib
import os
import pickle
import tempfile
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path
from typing import Any

import numpy as np

# The scipy.special functions whose values may be kept.
FUNCTIONS = ("ndtr", "ndtri", "betainc")
# This package's source files whose code computes kept values, beside this one.
SOURCES = ("distributions.py", "metalog.py")


def special_value(name: str, *args: Any) -> Any:
    """``scipy.special.<name>(*args)``, read from the store when a run computed it before.

    Arguments are floats or arrays; an array result is returned as a new array.
    """
    if name not in FUNCTIONS:
        raise ValueError(f"{name!r} is not one of the stored functions {FUNCTIONS}")

    def compute() -> Any:
        import scipy.special

        return getattr(scipy.special, name)(*args)

    return _store().value(_key(name, args), compute)


def stored(kind: str, key: str, compute: Callable[[], Any]) -> Any:
    """``compute()``, a value of kind ``kind`` that ``key`` (text) names in full, kept.

    For values computed by this package's own code from scipy.special (the stamp covers
    :data:`SOURCES`), e.g. an input's table from its parameters. An exception raised by
    ``compute`` propagates and nothing is kept.
    """
    return _store().value(_key(kind, (key,)), compute)


class SpecialValueStore:
    """The values of one stamp: those in its file, and those computed here since."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._values: dict[bytes, Any] | None = None  # read on first use

    def value(self, key: bytes, compute: Callable[[], Any]) -> Any:
        """The value kept under ``key``, computed and written to the file if it is new."""
        values = self._loaded()
        if key not in values:
            values[key] = compute()
            self._write(key, values[key])
        found = values[key]
        return found.copy() if isinstance(found, np.ndarray) else found

    def _loaded(self) -> dict[bytes, Any]:
        if self._values is None:
            self._values = _read(self.path) if self.path is not None else {}
        return self._values

    def _write(self, key: bytes, value: Any) -> None:
        """Add ``key`` to the file, with what other processes have added meanwhile."""
        if self.path is None:
            return
        merged = {**_read(self.path), key: value}
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            descriptor, temporary = tempfile.mkstemp(
                dir=self.path.parent, prefix=f".{self.path.name}."
            )
        except OSError:  # a directory that cannot be written: compute each time
            return
        try:
            with os.fdopen(descriptor, "wb") as handle:
                pickle.dump(merged, handle, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(temporary, self.path)
        except OSError:
            with suppress(OSError):
                os.unlink(temporary)


def _read(path: Path) -> dict[bytes, Any]:
    """The values in ``path``; empty when it is missing or cannot be read."""
    try:
        with path.open("rb") as handle:
            values = pickle.load(handle)
    except (OSError, EOFError, pickle.UnpicklingError, AttributeError, ValueError):
        return {}
    return values if isinstance(values, dict) else {}


def _key(name: str, args: tuple) -> bytes:
    """A digest of the call: the function's name and each argument's dtype, shape and bits."""
    digest = hashlib.sha256(name.encode())
    for arg in args:
        array = np.ascontiguousarray(arg)
        digest.update(f"|{array.dtype.str}{array.shape}|{type(arg).__name__}|".encode())
        digest.update(array.tobytes())
    return digest.digest()


@functools.cache
def _store() -> SpecialValueStore:
    """The process's store: the file of its stamp where numba keeps the kernels."""
    from mcinfra.kernels.inputs import input_values
    from mcinfra.kernels.jit import cache_directory

    directory = cache_directory(input_values)
    if directory is None:  # numba's cache internals changed: keep no values
        return SpecialValueStore(None)
    return SpecialValueStore(directory / f"special-values-{_stamp()}.pkl")


def _stamp() -> str:
    """A digest of what the kept values depend on.

    scipy's version and extension file, numpy's version, and the sources that compute them
    (as numba stamps a kernel by its source file).
    """
    import scipy

    here = Path(__file__).parent
    files = sorted((Path(scipy.__file__).parent / "special").glob("_ufuncs.*"))
    files += [here / name for name in (*SOURCES, Path(__file__).name)]
    parts = [scipy.__version__, np.__version__]
    for file in files:
        status = file.stat()
        parts.append(f"{file.name}:{status.st_size}:{status.st_mtime_ns}")
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]
