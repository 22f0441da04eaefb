"""mcinfra: Monte Carlo uncertainty engine for market forecasts.

``mcinfra.run(...)`` runs a model and returns its answers in memory (a
:class:`RunResult`); ``mcinfra.simulate(...)`` returns the draws themselves;
``mcinfra.score(...)`` scores finished runs against actual values;
``mcinfra.drivers(...)`` splits each prediction's variance among its inputs (Shapley
effects).

The public names are imported on first use (module ``__getattr__``), so that
``import mcinfra.cli`` does not pay for numba, scipy and pydantic before a command
needs them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mcinfra.config import load_config, parse_config
    from mcinfra.runs.api import run
    from mcinfra.runs.drivers import drivers
    from mcinfra.runs.result import RunResult
    from mcinfra.runs.score import score
    from mcinfra.runs.summary import RunSummary
    from mcinfra.sampling.engine import RunSettings, settings_from, simulate

    __version__: str

# Public name -> the module that defines it.
_PUBLIC = {
    "load_config": "mcinfra.config",
    "parse_config": "mcinfra.config",
    "run": "mcinfra.runs.api",
    "drivers": "mcinfra.runs.drivers",
    "RunResult": "mcinfra.runs.result",
    "RunSummary": "mcinfra.runs.summary",
    "score": "mcinfra.runs.score",
    "RunSettings": "mcinfra.sampling.engine",
    "settings_from": "mcinfra.sampling.engine",
    "simulate": "mcinfra.sampling.engine",
}

__all__ = [
    "RunResult",
    "RunSettings",
    "RunSummary",
    "__version__",
    "drivers",
    "load_config",
    "parse_config",
    "run",
    "score",
    "settings_from",
    "simulate",
]


def _installed_version() -> str:
    """The installed distribution's version; importlib.metadata alone costs tens of ms."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("mcinfra")
    except PackageNotFoundError:  # running from a source tree without installing
        return "0+unknown"


def __getattr__(name: str) -> Any:
    if name == "__version__":
        value: Any = _installed_version()
    elif name in _PUBLIC:
        value = getattr(importlib.import_module(_PUBLIC[name]), name)
    else:
        raise AttributeError(f"module 'mcinfra' has no attribute {name!r}")
    globals()[name] = value  # resolved once: later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
