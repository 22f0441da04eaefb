"""The parameters solved from percentile points, as comments under a run's config text.

An input given by ``quantiles`` is sampled with the parameters solved from its points (a
metalog with its fitted coefficients). A run's ``config.toml`` keeps the config text as it
was hashed and adds, after a marker line, one comment per such input with its key path, the
points and the solved parameters at full precision. The comments change nothing the config
means; :func:`config_text_of` removes them again, so the text, and with it the recorded
hash, of a run's ``config.toml`` is the config the run was drawn from.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pydantic import BaseModel

from mcinfra.model.distributions import Distribution, Metalog

SOLVED_MARKER = "# -- mcinfra: parameters solved from quantiles (comments; not part of the hash) --"
"""The line after which a run's ``config.toml`` lists the solved parameters."""


def _inputs_by_points(node: Any, path: str) -> Iterator[tuple[str, Distribution]]:
    """Every distribution given by ``quantiles`` under ``node``, with its key path."""
    if isinstance(node, Distribution) and getattr(node, "quantiles", None):
        yield path, node
    if isinstance(node, BaseModel):
        for name, field in type(node).model_fields.items():
            key = field.alias or name
            yield from _inputs_by_points(getattr(node, name), f"{path}.{key}" if path else key)
    elif isinstance(node, dict):
        for key, value in node.items():
            yield from _inputs_by_points(value, f"{path}.{key}" if path else str(key))
    elif isinstance(node, list | tuple):
        for index, value in enumerate(node):
            yield from _inputs_by_points(value, f"{path}.{index}")


def solved_parameters(spec: Distribution) -> str:
    """``lognormal(median=0.19364916731037085, log_sd=0.1540...)``: every digit kept.

    A metalog lists its coefficients ``a`` (and its bounds); other families the parameters
    solved from their points.
    """
    if isinstance(spec, Metalog):
        values: dict[str, Any] = {"a": list(spec.a), "lower": spec.lower, "upper": spec.upper}
    else:
        dumped = spec.model_dump(by_alias=True)
        values = {key: dumped.get(key) for key in spec.solved_keys}
    fields = ", ".join(f"{key}={value!r}" for key, value in values.items() if value is not None)
    return f"{spec.family}({fields})"


def solved_notes(config: BaseModel) -> list[str]:
    """One comment line per input given by ``quantiles``: key path, points, solved parameters."""
    lines = []
    for path, spec in _inputs_by_points(config, ""):
        points = ", ".join(f"[{p!r}, {x!r}]" for p, x in getattr(spec, "quantiles", ()))
        lines.append(f"# {path}: quantiles [{points}] -> {solved_parameters(spec)}")
    return lines


def annotated_config_text(text: str, config: BaseModel) -> str:
    """``text`` followed by the marker and :func:`solved_notes` (``text`` itself if none)."""
    notes = solved_notes(config)
    if not notes:
        return text
    return "\n".join([text, SOLVED_MARKER, *notes]) + "\n"


def config_text_of(file_text: str) -> str:
    """The config text of a run's ``config.toml``, without what :func:`annotated_config_text` added.

    A text without the marker, or with more than comment lines after it, is returned whole.
    """
    head, marker, tail = file_text.rpartition("\n" + SOLVED_MARKER + "\n")
    if not marker or not all(line.startswith("# ") for line in tail.splitlines()):
        return file_text
    return head
