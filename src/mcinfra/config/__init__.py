"""Configuration: TOML files validated into frozen models.

Dependency contract: pydantic, numpy, scipy, :mod:`mcinfra.model`, :mod:`mcinfra.language`,
:mod:`mcinfra.kernels` (family codes) and :mod:`mcinfra.errors`; never sampling, stats,
io, run, report or the command line.
"""

from mcinfra.config.loading import LoadedConfig, default_config_path, load_config, parse_config
from mcinfra.config.schema import Config
from mcinfra.config.validation import compile_predictions

__all__ = [
    "Config",
    "LoadedConfig",
    "compile_predictions",
    "default_config_path",
    "load_config",
    "parse_config",
]
