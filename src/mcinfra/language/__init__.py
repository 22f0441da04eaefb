"""The two small languages of a config: derived-series expressions and predictions.

Both are parsed with :mod:`ast` against a whitelist (never evaluated as Python).

Dependency contract: numpy, :mod:`mcinfra.kernels` (operation codes, growth rates) and
:mod:`mcinfra.errors`; never config, model, sampling, stats, run, report or the command line.
"""
