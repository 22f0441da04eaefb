"""Numba kernels: plain arrays in, caller-allocated arrays out.

Dependency contract: this subpackage imports only numpy, numba and the standard library.
Nothing here compiles at import time; every kernel compiles on first call (and is cached
on disk with ``cache=True``). No kernel touches global random state: every random number
comes from the per-draw streams of :mod:`mcinfra.kernels.random`.
"""
