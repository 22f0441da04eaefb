"""The run directory on disk: file names, atomic writing, loading, checkpoints.

Dependency contract: numpy, the standard library, :mod:`mcinfra.errors`; zarr, xarray and
scipy's netCDF writer only inside the functions that write those formats. Never sampling,
stats, run, report or the command line: it writes and reads what it is given.
"""
