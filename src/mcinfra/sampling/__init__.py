"""Drawing trajectories: the compiled plan, chunked streaming, Sobol' points, the Dataset edge.

The values of inputs taken from SIPmath libraries are computed chunk by chunk outside the
kernel (:mod:`mcinfra.sampling.sips`).

Dependency contract: numpy, numba, scipy, :mod:`mcinfra.kernels`, :mod:`mcinfra.model`,
:mod:`mcinfra.language`, :mod:`mcinfra.sipmath`, :mod:`mcinfra.config` and
:mod:`mcinfra.errors`; xarray only at the Dataset edge (:mod:`mcinfra.sampling.dataset`);
never stats, run, report or the command line.
"""
