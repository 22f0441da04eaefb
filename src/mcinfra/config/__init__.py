"""Configuration: TOML files validated into frozen models.

Dependency contract: pydantic, numpy, scipy, :mod:`mcinfra.model`, :mod:`mcinfra.language`,
:mod:`mcinfra.kernels` (family codes), :mod:`mcinfra.sipmath` (the libraries of
``dist = "sip"`` inputs) and :mod:`mcinfra.errors`; never sampling, stats,
io, run, report or the command line.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mcinfra.config.loading import (
        LoadedConfig,
        default_config_path,
        load_config,
        parse_config,
    )
    from mcinfra.config.schema import Config
    from mcinfra.config.validation import compile_predictions

# Each name's module, imported on first use: a submodule (the schema alone, for a report)
# is then imported without the validation's expression compiler and its kernels.
_HOMES = {
    "Config": "mcinfra.config.schema",
    "LoadedConfig": "mcinfra.config.loading",
    "compile_predictions": "mcinfra.config.validation",
    "default_config_path": "mcinfra.config.loading",
    "load_config": "mcinfra.config.loading",
    "parse_config": "mcinfra.config.loading",
}


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module 'mcinfra.config' has no attribute {name!r}")
    return getattr(importlib.import_module(_HOMES[name]), name)


__all__ = [
    "Config",
    "LoadedConfig",
    "compile_predictions",
    "default_config_path",
    "load_config",
    "parse_config",
]
