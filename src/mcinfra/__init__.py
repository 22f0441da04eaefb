"""mcinfra: Monte Carlo uncertainty engine for market forecasts.

``mcinfra.run(...)`` runs a model and returns its answers in memory (a
:class:`RunResult`); ``mcinfra.simulate(...)`` returns the draws themselves.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("mcinfra")
except PackageNotFoundError:  # running from a source tree without installing
    __version__ = "0+unknown"

from mcinfra.config import load_config, parse_config
from mcinfra.runs.api import run
from mcinfra.runs.result import RunResult
from mcinfra.runs.summary import RunSummary
from mcinfra.sampling.engine import RunSettings, settings_from, simulate

__all__ = [
    "RunResult",
    "RunSettings",
    "RunSummary",
    "__version__",
    "load_config",
    "parse_config",
    "run",
    "settings_from",
    "simulate",
]
