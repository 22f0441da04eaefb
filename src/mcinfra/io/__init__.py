"""The run directory on disk: file names, atomic writing, loading, checkpoints, resuming.

Dependency contract: numpy, the standard library, :mod:`mcinfra.errors`; zarr and xarray
(with its scipy netCDF reader) only inside the functions that read or write those
formats. Never sampling, stats, run, report or the command line: it writes and reads the
plain data it is given (text, dicts, arrays, tables).
"""
