"""mcinfra: Monte Carlo uncertainty engine for market forecasts."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("mcinfra")
except PackageNotFoundError:  # running from a source tree without installing
    __version__ = "0+unknown"

from mcinfra.config import load_config, parse_config
from mcinfra.sampling.engine import RunSettings, settings_from, simulate

__all__ = ["RunSettings", "__version__", "load_config", "parse_config", "settings_from", "simulate"]
