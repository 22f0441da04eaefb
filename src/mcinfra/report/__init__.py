"""The report: figures, HTML and markdown built from a finished run's summaries only.

Also the terminal's tables and progress. Dependency contract: reads the run directory's
summary files (never the draws) through :mod:`mcinfra.io`, may import :mod:`mcinfra.config`,
:mod:`mcinfra.stats` and :mod:`mcinfra.errors`; never sampling, kernels, run or the command
line. It computes no statistics; matplotlib is imported only inside the figure functions.
"""
