"""The uncertain inputs: distribution families, their packing for the kernels, the copula.

The scipy.special values a run derives from its config are kept on disk beside the compiled
kernels (:mod:`mcinfra.model.special_values`).

Dependency contract: numpy, scipy, pydantic, :mod:`mcinfra.kernels` (family codes and the
kernels' cache directory) and :mod:`mcinfra.errors`; never config, sampling, stats, run,
report or the command line.
"""
