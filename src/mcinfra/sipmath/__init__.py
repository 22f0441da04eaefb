"""SIPmath 3.0 libraries: their model in memory, their JSON layout, and their trials.

:mod:`~mcinfra.sipmath.library` holds a library (SIPs stored as arrays or given as metalog
quantile functions over HDR streams or a Gaussian copula) and writes it in the standard's
layout; :mod:`~mcinfra.sipmath.reading` reads one back with errors that name the key path
and the file; :mod:`~mcinfra.sipmath.trials` evaluates the standard's recipes (the HDR_2_0
generator, the Gaussian copula, the metalog quantile function) for any trials.

Dependency contract: numpy, the standard library, :mod:`mcinfra.errors`, and
:mod:`mcinfra.model.metalog` for the metalog quantile function (one definition for the
config's ``metalog`` family and the library's ``Metalog_1_0`` SIPs); scipy only inside the
functions that need the normal distribution. Never numba, pydantic, xarray, zarr, dask,
matplotlib, or any mcinfra layer above model.
"""
