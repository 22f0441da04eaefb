"""The report: figures, HTML and markdown built from a finished run's summaries only.

Dependency contract: reads the run directory's summary files (never the draws) and
computes no statistics; matplotlib is imported only inside the figure functions.
"""

from mcinfra.report.build import build_report

__all__ = ["build_report"]
