"""Read a TOML configuration, validate it, and report every problem with its key path."""

from __future__ import annotations

import hashlib
import re
import tomllib
import types
import typing
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import tomli_w
from pydantic import BaseModel, ValidationError

from mcinfra.config.counts import exact_integer
from mcinfra.config.schema import PATTERN_RULES, Config
from mcinfra.config.sips import LibraryResolver, absolute_libraries
from mcinfra.config.solved import annotated_config_text, config_text_of
from mcinfra.errors import ConfigError, did_you_mean
from mcinfra.model.distributions import FAMILIES, SIP_RESOLVER, family_hint

DEFAULT_CONFIG = "ai_infrastructure.toml"
_EXTENDS_KEY = re.compile(r"^\s*extends\s*=", re.MULTILINE)
_SIP_TABLE = re.compile(r"""\blibrary["']?\s*=""")  # a key of a dist = "sip" table


@dataclass(frozen=True)
class LoadedConfig:
    """A validated configuration with the exact text it came from."""

    config: Config
    text: str
    origin: str
    overrides: tuple[str, ...] = ()  # --set edits applied to ``text`` before validation
    # (path, sha256) of each SIPmath library its dist = "sip" inputs were read from
    libraries: tuple[tuple[str, str], ...] = ()

    @property
    def sha256(self) -> str:
        """Hash of the configuration text, recorded in every output."""
        return hashlib.sha256(self.text.encode()).hexdigest()

    @property
    def file_text(self) -> str:
        """A run's ``config.toml``: the text, then the parameters solved from ``quantiles``."""
        return annotated_config_text(self.text, self.config)


def default_config_path() -> Path:
    """Path of the embedded default configuration (the AI infrastructure market)."""
    return Path(str(resources.files("mcinfra.config") / "defaults" / DEFAULT_CONFIG))


def load_config(path: str | Path | None = None, overrides: tuple[str, ...] = ()) -> LoadedConfig:
    """Load and validate a configuration file (the embedded default when ``path`` is None).

    ``overrides`` are ``"key.path=value"`` edits applied before validation (``--set``).

    Raises
    ------
    ConfigError
        With one line per problem, each naming its key path.
    """
    file = default_config_path() if path is None else Path(path)
    # The embedded default is named, not located: its install path says nothing useful.
    origin = f"embedded {DEFAULT_CONFIG}" if path is None else str(file)
    text = _read(file)
    if _EXTENDS_KEY.search(text):
        data = _scenario_tree(file, (file.resolve(),), text)
        # The run records the merged configuration: self-contained, loadable on its own.
        text = f"# {origin}, merged with the configs it extends\n" + tomli_w.dumps(data)
    elif _SIP_TABLE.search(text):
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError:
            data = {}  # parse_config names the syntax error
        if absolute_libraries(data, file.parent):
            # Recorded with absolute paths, so that a run's config.toml loads on its own.
            text = f"# {origin}, with its SIPmath library paths made absolute\n" + (
                tomli_w.dumps(data)
            )
    return parse_config(text, origin=origin, overrides=overrides)


def _read(file: Path) -> str:
    try:
        return file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"file not found: {file}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read {file}: {exc}") from None


def _scenario_tree(file: Path, chain: tuple[Path, ...], text: str | None = None) -> dict[str, Any]:
    """The TOML tree of ``file`` merged over the configs it ``extends``, recursively.

    ``extends`` names a base config relative to the file's folder, or one of the configs
    embedded in mcinfra. A scenario may only change keys its base has; a table whose
    ``dist`` changes, or that switches between parameters and ``quantiles`` (keeping the
    base's ``dist`` unless it names one), replaces the base's table whole. ``text`` is the
    file's content when it has been read already.
    """
    try:
        data = tomllib.loads(_read(file) if text is None else text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"TOML syntax error: {exc}", source=str(file)) from None
    absolute_libraries(data, file.parent)  # each file's libraries lie beside it
    if "extends" not in data:
        return data
    name = data.pop("extends")
    if not isinstance(name, str) or not name:
        raise ConfigError(f"extends: expected a config file name, got {name!r}", source=str(file))
    base = file.parent / name
    if not base.is_file():
        embedded = Path(str(resources.files("mcinfra.config") / "defaults" / name))
        base = embedded if embedded.is_file() else base
    base = base.resolve()
    if base in chain:
        cycle = " -> ".join(p.name for p in (*chain, base))
        raise ConfigError(
            f"extends: configs extend each other in a cycle: {cycle}", source=str(file)
        )
    merged = _scenario_tree(base, (*chain, base))
    problems: list[str] = []
    _merge(merged, data, "", problems, base.name)
    if problems:
        raise ConfigError(problems, source=str(file))
    return merged


def _merge(base: dict, change: dict, prefix: str, problems: list[str], base_name: str) -> None:
    for key, value in change.items():
        where = f"{prefix}{key}"
        if key not in base:
            problems.append(
                f"{where}: not in the base config {base_name}{did_you_mean(key, base)}; a scenario "
                "changes existing keys only"
            )
        elif (
            isinstance(value, dict)
            and isinstance(base[key], dict)
            and value.get("dist", base[key].get("dist")) == base[key].get("dist")
            and ("quantiles" in value) == ("quantiles" in base[key])
        ):
            _merge(base[key], value, f"{where}.", problems, base_name)
        elif isinstance(value, dict) and isinstance(base[key], dict) and "dist" not in value:
            base[key] = {"dist": base[key].get("dist"), **value}  # same family, restated
        else:
            base[key] = value


def parse_config(
    text: str,
    origin: str = "<string>",
    overrides: tuple[str, ...] = (),
    relations: bool = True,
) -> LoadedConfig:
    """Validate configuration ``text`` (TOML); see :func:`load_config`.

    With ``relations`` False only the tables' structure is checked, not the relations
    between them (expressions, correlations, tabulated families) and no SIPmath library is
    read: for a config that has already been checked, such as the one a finished run
    recorded.

    The solved parameters a run's ``config.toml`` lists after the config (see
    :mod:`mcinfra.config.solved`) are removed first: they are comments, not in the hash.
    """
    text = config_text_of(text)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"TOML syntax error: {exc}", source=origin) from None
    overrides = tuple(overrides)
    for item in overrides:
        apply_override(data, item, origin)
    if not relations:
        config = validate_data(data, origin)
        return LoadedConfig(config=config, text=text, origin=origin, overrides=overrides)
    libraries = LibraryResolver()
    config = validate_data(data, origin, libraries)
    from mcinfra.config.validation import check_config  # relations between tables

    problems = check_config(config)
    if problems:
        raise ConfigError(problems, source=origin)
    return LoadedConfig(
        config=config,
        text=text,
        origin=origin,
        overrides=overrides,
        libraries=libraries.fingerprints(),
    )


def apply_override(
    data: dict[str, Any], item: str, origin: str = "<string>", what: str | None = None
) -> str:
    """Apply one ``"key.path=value"`` edit to parsed TOML ``data`` in place.

    The value is read as a TOML value (``0.17``, ``"text"``, ``[1, 2]``,
    ``{ dist = "normal", mean = 0.2, sd = 0.03 }``), or taken as a string if it is not one.
    A whole number written as a float (``2e6``) replaces an integer as the integer its
    text denotes exactly (never rounded through a float). Array
    items are addressed by index (``correlations.0.rank``). An input may be named as in
    ``[[correlations]]`` (``offering.network.cagr``, ``channel.public_sector.crossover``),
    followed by keys inside it (``offering.network.cagr.mean``). Messages start with
    ``what`` (default: ``--set 'ITEM'``). Returns the full key path that was set.
    """
    what = f"--set {item!r}" if what is None else what
    path, sep, text = item.partition("=")
    keys = [k.strip() for k in path.strip().split(".")]
    if not sep or not all(keys):
        raise ConfigError(f"{what}: expected KEY.PATH=VALUE", source=origin)
    keys = resolve_key_path(data, keys, what, origin)
    try:
        value = tomllib.loads(f"v = {text.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        value = text.strip()
    node: Any = data
    for depth, key in enumerate(keys[:-1]):
        node = _child(node, key, ".".join(keys[: depth + 1]), what, origin)
    last: str | int = keys[-1]
    if isinstance(node, list):
        _child(node, str(last), ".".join(keys), what, origin)  # index check
        last = int(last)
        old = node[last]
    elif isinstance(node, dict):
        old = node.get(last)  # a new key is left to validation (unknown keys are named)
    else:
        raise ConfigError(f"{what}: {'.'.join(keys[:-1])} is not a table", source=origin)
    integer = isinstance(old, int) and not isinstance(old, bool)
    if integer and isinstance(value, float):
        # From the text, not the float: 18446744073709551617.0 must not become 2**64.
        exact = exact_integer(text)
        value = value if exact is None else exact
    node[last] = value
    return ".".join(keys)


def resolve_key_path(data: dict[str, Any], keys: list[str], what: str, origin: str) -> list[str]:
    """``keys`` as a full key path of ``data``: an input's name is replaced by its key path.

    A path whose first key is a top-level table is kept as it is. Otherwise its longest
    leading part that names an input (see :func:`input_key_paths`) is replaced by that
    input's key path. A path that is neither is refused, naming the closest key path or
    input name.
    """
    if keys[0] in data:
        return keys
    names = input_key_paths(data)
    for end in range(len(keys), 0, -1):
        full = names.get(".".join(keys[:end]))
        if full is not None:
            return full.split(".") + keys[end:]
    dotted = ".".join(keys)
    # Candidates: every key path, and every input name followed by the keys typed after it.
    candidates = set(_leaf_paths(data))
    candidates.update(".".join([name, *keys[name.count(".") + 1 :]]) for name in names)
    hint = did_you_mean(dotted, sorted(candidates)) or did_you_mean(keys[0], data)
    raise ConfigError(
        f"{what}: no key {keys[0]} and no input named {dotted}{hint}; give a key path "
        "(e.g. total.cagr.mode) or an input name as in [[correlations]]",
        source=origin,
    )


def input_key_paths(data: dict[str, Any]) -> dict[str, str]:
    """Every input's name (as in ``[[correlations]]``) and its key path, from parsed TOML.

    Works on unvalidated data (anything malformed is skipped), so that ``--set`` can
    use the names before the configuration is checked.
    """

    def table(node: Any, key: str) -> dict[str, Any]:
        value = node.get(key) if isinstance(node, dict) else None
        return value if isinstance(value, dict) else {}

    found = {"total.base": "total.base", "total.cagr": "total.cagr"}
    for p, partition in table(data, "partitions").items():
        for s in table(partition, "segments"):
            for field in ("share", "cagr"):
                found[f"{p}.{s}.{field}"] = f"partitions.{p}.segments.{s}.{field}"
    split = table(data, "function_split")
    host = split.get("partition")
    if isinstance(host, str):
        for s in table(split, "segments"):
            for field in ("crossover", "steepness"):
                found[f"{host}.{s}.{field}"] = f"function_split.segments.{s}.{field}"
    for a in table(data, "adoption"):
        for field in ("initial_share", "logit_rate"):
            found[f"{a}.{field}"] = f"adoption.{a}.{field}"
    for name in table(data, "parameters"):
        found[name] = f"parameters.{name}"
    return found


def _leaf_paths(data: dict[str, Any], prefix: str = "", depth: int = 0) -> list[str]:
    """Dotted paths of the tables and values of ``data`` (for did-you-mean hints)."""
    paths = []
    for key, value in data.items():
        path = f"{prefix}{key}"
        paths.append(path)
        if isinstance(value, dict) and depth < 8:
            paths += _leaf_paths(value, f"{path}.", depth + 1)
    return paths


def _child(node: Any, key: str, where: str, what: str, origin: str) -> Any:
    if isinstance(node, list):
        if not key.isdigit() or int(key) >= len(node):
            raise ConfigError(
                f"{what}: {where} is not an index of an array of {len(node)}", source=origin
            )
        return node[int(key)]
    if not isinstance(node, dict) or key not in node:
        known = sorted(node) if isinstance(node, dict) else []
        raise ConfigError(f"{what}: no key {where}{did_you_mean(key, known)}", source=origin)
    return node[key]


def validate_data(
    data: dict[str, Any], origin: str = "<string>", libraries: LibraryResolver | None = None
) -> Config:
    """Structural validation of parsed TOML data.

    With ``libraries`` the SIPmath libraries of ``dist = "sip"`` inputs are read through it
    (a relative path from the current folder) and each SIP is checked; without it they are
    named only.
    """
    context = {SIP_RESOLVER: libraries} if libraries is not None else None
    try:
        return Config.model_validate(data, context=context)
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
    if kind == "string_pattern_mismatch":
        pattern = error.get("ctx", {}).get("pattern")
        rule = PATTERN_RULES.get(pattern, f"it must match the pattern {pattern}")
        return f"{key_path(loc)}: invalid name {_short(value)}: {rule}"
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
    if origin in (list, tuple):
        return typing.get_args(annotation)[0]
    model = _as_model(annotation)
    if model is None:
        return annotation if origin in (typing.Union, types.UnionType) else None
    for name, field in model.model_fields.items():
        if item in (name, field.alias):
            return field.annotation
    return None
