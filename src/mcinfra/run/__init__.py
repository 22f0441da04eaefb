"""Runs and what is done with finished runs.

The pipeline and its mergeable reductions, the in-memory result, dask, resume, what-if,
compare, sweep and the diagnostics of ``mcinfra validate``.

Called, this package runs a model: ``mcinfra.run(...)`` is :func:`mcinfra.run.api.run`
(the package and the function share the name, so the package itself is callable).

Dependency contract: every layer below it (config, model, language, sampling, stats, io,
report); never the command line.
"""

import sys
import types


class _CallablePackage(types.ModuleType):
    """The type of this package: calling it runs a model (:func:`mcinfra.run.api.run`)."""

    def __call__(self, *args, **kwargs):
        from mcinfra.run.api import run

        return run(*args, **kwargs)


sys.modules[__name__].__class__ = _CallablePackage
