"""Runs and what is done with finished runs.

The pipeline and its mergeable reductions, the in-memory result, dask, resume, what-if,
compare, sweep and the diagnostics of ``mcinfra validate``.

Called, this package runs a model: ``mcinfra.run(...)`` is :func:`mcinfra.run.api.run`
(the package and the function share the name, so the package itself is callable).

Dependency contract: every layer below it (config, model, language, sampling, stats, io,
report); never the command line.
"""

import inspect
import sys
import types

from mcinfra.run.api import run as _run


class _CallablePackage(types.ModuleType):
    """The type of this package: calling it runs a model (:func:`mcinfra.run.api.run`)."""

    __call__ = staticmethod(_run)


sys.modules[__name__].__class__ = _CallablePackage
__signature__ = inspect.signature(_run)  # what help() and notebooks show for mcinfra.run(
