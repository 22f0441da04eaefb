"""The uncertain inputs: distribution families, their packing for the kernels, the copula.

Dependency contract: numpy, scipy, pydantic, :mod:`mcinfra.kernels` (family codes) and
:mod:`mcinfra.errors`; never config, sampling, stats, run, report or the command line.
"""
