"""Configuration: TOML files validated into frozen models.

Dependency contract: pydantic, numpy, scipy and the standard library.
"""

from mcinfra.config.loading import LoadedConfig, default_config_path, load_config, parse_config
from mcinfra.config.schema import Config

__all__ = ["Config", "LoadedConfig", "default_config_path", "load_config", "parse_config"]
