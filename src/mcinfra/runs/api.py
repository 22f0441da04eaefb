"""``mcinfra.run(...)``: run a model from Python and get its answers in memory."""

from __future__ import annotations

import math
import numbers
import re
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from mcinfra.config import LoadedConfig, load_config, parse_config
from mcinfra.errors import UsageError
from mcinfra.runs.result import RunResult

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


def run(
    config: str | Path | LoadedConfig | None = None,
    *,
    draws: int | None = None,
    seed: int | None = None,
    set: Mapping[str, Any] | Iterable[str] | None = None,
    chunk_size: int | None = None,
    threads: int | None = None,
    quantiles: str = "auto",
    target_se: float | None = None,
    method: str | None = None,
    replicates: int | None = None,
    progress: bool = False,
    client=None,
) -> RunResult:
    """Run a market model and return its answers in memory (``mcinfra run`` without files).

    For the same configuration, seed, draws and chunk size, every count equals that of
    ``mcinfra run``; :meth:`RunResult.write` writes the same run directory.

    Parameters
    ----------
    config : str, Path or LoadedConfig, optional
        A TOML config file, or a config from :func:`mcinfra.load_config`. Default: the
        embedded AI infrastructure model.
    draws : int, optional
        Number of draws (``sampling.draws``). With ``target_se``: the cap on draws
        (default 10,000,000).
    seed : int, optional
        Random seed in [0, 2**64) (``sampling.seed``).
    set : mapping or iterable of str, optional
        Config edits applied before validation, like ``--set``: ``{"total.cagr.mode":
        0.18}``, or ``["total.cagr.mode=0.18"]``. Recorded in the summary.
    chunk_size : int, optional
        Draws per chunk (``sampling.chunk_size``); results do not depend on it.
    threads : int, optional
        numba threads (default: all cores); results do not depend on it.
    quantiles : {"auto", "exact", "sketch"}
        Exact order statistics (every draw's values held in memory), a mergeable sketch
        with relative error 1e-3, or exact while that needs at most 256 MiB.
    target_se : float, optional
        Keep drawing chunks until every prediction's standard error is below it, in (0, 0.5).
    method : {"mc", "sobol"}, optional
        Plain Monte Carlo or randomised quasi-Monte Carlo (``sampling.method``).
    replicates : int, optional
        Independent scrambled Sobol' sets (``sampling.replicates``).
    progress : bool
        Show progress on standard error (and say so when the kernels must be compiled).
    client : dask.distributed.Client, optional
        Run the chunks on this cluster; same result.

    Returns
    -------
    RunResult
        ``.predictions``, ``.quantiles``, ``.sensitivity`` and ``.crossover`` as
        ``xarray.Dataset``; ``.summary``, the dict ``summary.json`` holds; ``.write(path)``.

    Raises
    ------
    ConfigError
        When the config, or an edit of ``set`` (naming its key), is invalid.
    UsageError
        When an option is out of range or the options are inconsistent.

    Examples
    --------
    >>> import mcinfra
    >>> result = mcinfra.run(draws=20_000, seed=1)
    >>> result.predictions["probability"].sel(prediction="P1").item()  # doctest: +SKIP
    0.1785
    >>> result = mcinfra.run(draws=20_000, seed=1, set={"total.cagr.mode": 0.18})
    >>> result.summary["run"]["config_overrides"]
    ['total.cagr.mode=0.18']
    """
    from mcinfra.config.counts import MAX_DRAWS
    from mcinfra.runs.pipeline import DEFAULT_MAX_DRAWS, compute_run
    from mcinfra.sampling.engine import settings_from

    draws = _whole("draws", draws, MAX_DRAWS)
    chunk_size = _whole("chunk_size", chunk_size)
    threads = _whole("threads", threads)
    replicates = _whole("replicates", replicates)
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, numbers.Integral)):
        raise UsageError(f"seed must be a whole number in [0, 2**64), got {seed!r}")
    if target_se is not None:
        if not isinstance(target_se, numbers.Real) or not 0 < target_se < 0.5:
            raise UsageError(f"target_se must be a standard error in (0, 0.5), got {target_se!r}")
        draws = DEFAULT_MAX_DRAWS if draws is None else draws
    edits = _overrides(set)
    if method is not None:
        edits.append(f"sampling.method={_toml(method)}")
    if replicates is not None:
        edits.append(f"sampling.replicates={replicates}")
    loaded = _load(config, tuple(edits))
    settings = settings_from(
        loaded, draws, None if seed is None else int(seed), chunk_size, threads
    )
    reporter, notify = None, None
    if progress:
        from mcinfra.report.progress import Progress

        reporter = Progress(enabled=True)
        notify = _notify
    try:
        return compute_run(
            loaded,
            settings,
            target_se=None if target_se is None else float(target_se),
            quantiles=quantiles,
            progress=reporter,
            notify=notify,
            client=client,
        )
    finally:
        if reporter is not None:
            reporter.close()


def _notify(text: str) -> None:
    print(f"mcinfra: {text}", file=sys.stderr)


def _whole(name: str, value, maximum: int | None = None) -> int | None:
    """``value`` as a positive int (``2e6`` accepted), or a UsageError naming ``name``.

    Read exactly (:func:`mcinfra.config.counts.whole_count`): a float beyond 2**53 is
    refused, and so is a count above ``maximum``.
    """
    from mcinfra.config.counts import whole_count

    if value is None:
        return None
    if not isinstance(value, numbers.Real) or isinstance(value, bool):
        raise UsageError(f"{name} must be a positive whole number, got {value!r}")
    try:
        return whole_count(value, name, maximum)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def _load(config, overrides: tuple[str, ...]) -> LoadedConfig:
    if isinstance(config, LoadedConfig):
        if not overrides:
            return config
        edits = (*config.overrides, *overrides)
        return parse_config(config.text, origin=config.origin, overrides=edits)
    if config is not None and not isinstance(config, str | Path):
        raise UsageError(
            f"config must be a TOML file's path or a loaded config, got {type(config).__name__}"
        )
    return load_config(config, overrides)


def _overrides(edits) -> list[str]:
    """``set`` as ``--set`` strings: ``KEY.PATH=VALUE``, the value written as TOML."""
    if edits is None:
        return []
    if isinstance(edits, Mapping):
        out = []
        for key, value in edits.items():
            if not isinstance(key, str):
                raise UsageError(f"set: a key must be a dotted key path string, got {key!r}")
            out.append(f"{key}={_toml(value)}")
        return out
    if isinstance(edits, str):
        edits = [edits]
    out = []
    for item in edits:
        if not isinstance(item, str) or "=" not in item:
            raise UsageError(f"set: expected 'KEY.PATH=VALUE' items or a mapping, got {item!r}")
        out.append(item)
    return out


def _toml(value) -> str:
    """A Python value as a TOML value (numbers, booleans, strings, lists, dicts)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, numbers.Real):
        value = float(value)
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
        return f'"{escaped}"'
    if isinstance(value, Mapping):
        items = []
        for key, item in value.items():
            name = key if _BARE_KEY.fullmatch(str(key)) else _toml(str(key))
            items.append(f"{name} = {_toml(item)}")
        return "{ " + ", ".join(items) + " }"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml(item) for item in value) + "]"
    raise UsageError(f"set: cannot write {value!r} ({type(value).__name__}) as a config value")
