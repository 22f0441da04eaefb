"""Drawing trajectories: the compiled plan, chunked streaming, Sobol' points, the Dataset edge.

Dependency contract: numpy, numba, scipy, :mod:`mcinfra.kernels`, :mod:`mcinfra.model`,
:mod:`mcinfra.language`, :mod:`mcinfra.config` and :mod:`mcinfra.errors`; xarray only at
the Dataset edge (:mod:`mcinfra.sampling.dataset`); never stats, run, report or the
command line.
"""
