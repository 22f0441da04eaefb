"""Read a TOML configuration, validate it, and report every problem with its key path."""

from __future__ import annotations

import hashlib
import tomllib
import types
import typing
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from mcinfra.config.schema import Config
from mcinfra.distributions import FAMILIES, family_hint
from mcinfra.errors import ConfigError
from mcinfra.strict import did_you_mean

DEFAULT_CONFIG = "ai_infrastructure.toml"


@dataclass(frozen=True)
class LoadedConfig:
    """A validated configuration with the exact text it came from."""

    config: Config
    text: str
    origin: str

    @property
    def sha256(self) -> str:
        """Hash of the configuration text, recorded in every output."""
        return hashlib.sha256(self.text.encode()).hexdigest()


def default_config_path() -> Path:
    """Path of the embedded default configuration (the AI infrastructure market)."""
    return Path(str(resources.files("mcinfra") / "configs" / DEFAULT_CONFIG))


def load_config(path: str | Path | None = None) -> LoadedConfig:
    """Load and validate a configuration file (the embedded default when ``path`` is None).

    Raises
    ------
    ConfigError
        With one line per problem, each naming its key path.
    """
    file = default_config_path() if path is None else Path(path)
    # The embedded default is named, not located: its install path says nothing useful.
    origin = f"embedded {DEFAULT_CONFIG}" if path is None else str(file)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"file not found: {file}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read {file}: {exc}") from None
    return parse_config(text, origin=origin)


def parse_config(text: str, origin: str = "<string>") -> LoadedConfig:
    """Validate configuration ``text`` (TOML); see :func:`load_config`."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"TOML syntax error: {exc}", source=origin) from None
    config = validate_data(data, origin)
    from mcinfra.config.validation import check_config  # relations between tables

    problems = check_config(config)
    if problems:
        raise ConfigError(problems, source=origin)
    return LoadedConfig(config=config, text=text, origin=origin)


def validate_data(data: dict[str, Any], origin: str = "<string>") -> Config:
    """Structural validation of parsed TOML data."""
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        raise ConfigError([_describe(error) for error in exc.errors()], source=origin) from None
    except RecursionError:
        raise ConfigError("configuration is nested too deeply", source=origin) from None


def key_path(loc: tuple[Any, ...]) -> str:
    """Dotted key path of a pydantic error location (union tags dropped, indexes kept)."""
    parts: list[str] = []
    for item in loc:
        if isinstance(item, int):
            parts.append(f"[{item}]")
        elif isinstance(item, str) and (item.startswith("dist=") or item == "[key]"):
            continue
        else:
            parts.append(("." if parts else "") + item)
    return "".join(parts) or "(top level)"


def _describe(error: Any) -> str:
    loc = tuple(error["loc"])
    kind = error["type"]
    value = error.get("input")
    if kind == "extra_forbidden":
        name = loc[-1]
        hint = did_you_mean(str(name), _valid_keys(loc[:-1]))
        return f"{key_path(loc[:-1])}: unknown key '{name}'{hint}"
    if kind == "missing":
        return f"{key_path(loc)}: required key is missing"
    if kind == "distribution_family":
        return f"{key_path(loc)}: {error['msg']}{family_hint(value)} (got {_short(value)})"
    message = error["msg"].removeprefix("Value error, ")
    if kind in {"distribution", "value_error"}:
        return f"{key_path(loc)}: {message}"
    return f"{key_path(loc)}: {message} (got {_short(value)})"


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _valid_keys(loc: tuple[Any, ...]) -> list[str]:
    """Keys allowed at ``loc`` by the schema (for did-you-mean hints)."""
    annotation: Any = Config
    for item in loc:
        annotation = _step(annotation, item)
        if annotation is None:
            return []
    model = _as_model(annotation)
    if model is None:
        return []
    return [field.alias or name for name, field in model.model_fields.items()]


def _unwrap(annotation: Any) -> Any:
    while typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    return annotation


def _as_model(annotation: Any) -> type[BaseModel] | None:
    annotation = _unwrap(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        models = [a for a in map(_unwrap, typing.get_args(annotation)) if _as_model(a)]
        return _as_model(models[0]) if len(models) == 1 else None
    return None


def _step(annotation: Any, item: Any) -> Any:
    annotation = _unwrap(annotation)
    if isinstance(item, str) and item.startswith("dist="):
        return FAMILIES.get(item.removeprefix("dist="))
    origin = typing.get_origin(annotation)
    if origin is dict:
        return typing.get_args(annotation)[1]
    if origin is list:
        return typing.get_args(annotation)[0]
    model = _as_model(annotation)
    if model is None:
        return annotation if origin in (typing.Union, types.UnionType) else None
    for name, field in model.model_fields.items():
        if item in (name, field.alias):
            return field.annotation
    return None
