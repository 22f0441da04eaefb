"""The parameters solved from percentile points, as comments under a run's config text.

An input given by ``quantiles`` is sampled with the parameters solved from its points (a
metalog with its fitted coefficients). A run's ``config.toml`` keeps the config text as it
was hashed and adds, after a marker line, one comment per such input with its key path, the
points and the solved parameters at full precision. The comments change nothing the config
means; :func:`config_text_of` removes them again, so the text, and with it the recorded
hash, of a run's ``config.toml`` is the config the run was drawn from.

:func:`elicited_fits` gives, for the same inputs, how the fitted distribution meets each
point and its CDF on a grid: what the run writes to ``elicited.csv`` for the report.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
from pydantic import BaseModel

from mcinfra.config.schema import Config
from mcinfra.config.structure import list_inputs
from mcinfra.model.distributions import Distribution, Metalog, Mixture, ndtr, ndtri

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


# Normal scores of the fitted CDF's curve: P0.1 to P99.9, widened to every elicited point.
CURVE_SCORES = 3.090232306167813  # Phi^-1(0.999)
CURVE_POINTS = 61


@dataclass(frozen=True)
class ElicitedFit:
    """How the distribution of one input given by percentiles fits its points.

    ``residuals`` are the fitted quantile at each elicited probability minus the elicited
    value (zero, to rounding, where the family's parameters are determined by the points).
    ``curve_probabilities`` and ``curve_values`` trace the fitted CDF: the fitted quantile
    ``curve_values[i]`` at probability ``curve_probabilities[i]``.
    """

    input: str  # the input's name, as the assumptions table and sensitivity.csv name it
    component: str  # "" for the input itself, "components.0" for a mixture's first component
    family: str
    points: tuple[tuple[float, float], ...]
    fitted: tuple[float, ...]
    curve_probabilities: tuple[float, ...]
    curve_values: tuple[float, ...]

    @property
    def residuals(self) -> tuple[float, ...]:
        """Fitted quantile minus elicited value, at each point."""
        return tuple(f - x for f, (_, x) in zip(self.fitted, self.points, strict=True))


def _specs_by_points(spec: Distribution, within: str) -> Iterator[tuple[str, Distribution]]:
    """``spec`` and every mixture component under it that is given by ``quantiles``."""
    if getattr(spec, "quantiles", None):
        yield within, spec
    if isinstance(spec, Mixture):
        for k, component in enumerate(spec.components):
            yield from _specs_by_points(component, f"{within}.components.{k}".lstrip("."))


def elicited_fits(config: Config) -> list[ElicitedFit]:
    """Every input (or mixture component) given by ``quantiles``, with its fit and CDF curve.

    Empty for a config without percentile points, at no cost.
    """
    fits = []
    for info in list_inputs(config):
        for component, spec in _specs_by_points(info.spec, ""):
            probabilities = np.array([p for p, _ in spec.quantiles])  # type: ignore[attr-defined]
            scores = ndtri(probabilities)
            reach = max(CURVE_SCORES, float(np.max(np.abs(scores))))
            curve_scores = np.linspace(-reach, reach, CURVE_POINTS)
            fits.append(
                ElicitedFit(
                    input=info.name,
                    component=component,
                    family=spec.family,
                    points=tuple(spec.quantiles),  # type: ignore[attr-defined]
                    fitted=tuple(float(v) for v in spec.value_at_score(scores)),
                    curve_probabilities=tuple(float(p) for p in ndtr(curve_scores)),
                    curve_values=tuple(float(v) for v in spec.value_at_score(curve_scores)),
                )
            )
    return fits
