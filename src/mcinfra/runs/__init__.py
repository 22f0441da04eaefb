"""Runs and what is done with finished runs.

The pipeline and its mergeable reductions, the in-memory result (``mcinfra.run(...)`` is
:func:`mcinfra.runs.api.run`), dask, resume, what-if, compare, sweep and the diagnostics of
``mcinfra validate``.

Dependency contract: every layer below it (config, model, language, sampling, stats, io,
report); never the command line.
"""
