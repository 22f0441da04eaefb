"""Observations: a measured quantity with its measurement-error model.

An observation reads ``QUANTITY ~ MODEL(...)``, for example
``total[2025] ~ lognormal(median=158, log_sd=0.03)``. The quantity is any numeric
expression of the prediction language with one value per draw; the model says how the
published figure relates to the draw's value v (docs/model.md, "Observations"):

- ``normal(mean=o, sd=s)``: additive error, l(v) = phi((o - v) / s);
- ``lognormal(median=o, log_sd=s)``: multiplicative error, l(v) = phi((ln o - ln v) / s),
  defined for v > 0 only;
- ``uniform(low=a, high=b)``: l(v) = 1 on [a, b], 0 elsewhere;
- ``t(df=nu, loc=o, scale=s)``: heavy-tailed additive error,
  l(v) = (1 + ((o - v) / s)^2 / nu)^(-(nu + 1) / 2).

Likelihoods are kept as logarithms and up to a constant factor (the factor cancels when
the weights are normalised).
"""

from __future__ import annotations

import ast
import math
from dataclasses import dataclass

import numpy as np

from mcinfra.language.predictions import (
    Context,
    PredictionError,
    Quantity,
    Scope,
    compile_quantity,
)

MAX_LENGTH = 2000
MODELS: dict[str, tuple[str, ...]] = {
    "normal": ("mean", "sd"),
    "lognormal": ("median", "log_sd"),
    "uniform": ("low", "high"),
    "t": ("df", "loc", "scale"),
}
_POSITIVE = {"sd", "log_sd", "scale", "df", "median"}


class ObservationError(ValueError):
    """An observation is malformed or refers to something unknown; names the text."""


@dataclass(frozen=True)
class MeasurementModel:
    """The error model of one observation: ``kind`` (a key of :data:`MODELS`) and its values."""

    kind: str
    parameters: dict[str, float]

    def __str__(self) -> str:
        values = ", ".join(f"{k}={v:g}" for k, v in self.parameters.items())
        return f"{self.kind}({values})"

    def standardised(self, values: np.ndarray) -> np.ndarray:
        """Distance of each value from the observation in units of the error's scale.

        For ``uniform`` the distance outside [low, high] in units of the interval's width.
        """
        p = self.parameters
        v = np.asarray(values, dtype=np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            if self.kind == "normal":
                return (p["mean"] - v) / p["sd"]
            if self.kind == "lognormal":
                return np.where(v > 0, (math.log(p["median"]) - np.log(v)) / p["log_sd"], np.inf)
            if self.kind == "t":
                return (p["loc"] - v) / p["scale"]
            below = np.maximum(p["low"] - v, 0.0)
            above = np.maximum(v - p["high"], 0.0)
            return (below + above) / (p["high"] - p["low"])

    def log_likelihood(self, values: np.ndarray) -> np.ndarray:
        """Log-likelihood ln l(v) per draw, up to an additive constant; -inf where l(v) = 0."""
        z = self.standardised(values)
        with np.errstate(over="ignore", invalid="ignore"):
            if self.kind in ("normal", "lognormal"):
                result = -0.5 * z * z
            elif self.kind == "t":
                df = self.parameters["df"]
                result = -0.5 * (df + 1.0) * np.log1p(z * z / df)
            else:
                result = np.where(z == 0.0, 0.0, -np.inf)
        return np.where(np.isnan(result), -np.inf, result)


@dataclass(frozen=True)
class Observation:
    """``quantity ~ model``, compiled against a model's scope."""

    text: str
    quantity: Quantity
    model: MeasurementModel

    def values(self, context: Context) -> np.ndarray:
        """The observed quantity's value in each draw of a chunk."""
        return self.quantity.values(context)


def parse_measurement(text: str) -> MeasurementModel:
    """Parse ``kind(name=value, ...)`` (e.g. ``normal(mean=18.5, sd=0.8)``)."""
    shown = " ".join(text.split())
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError:
        raise ObservationError(f"cannot read the error model '{shown}'") from None
    call = tree.body
    usage = "; ".join(f"{k}({', '.join(a + '=...' for a in v)})" for k, v in MODELS.items())
    if not isinstance(call, ast.Call) or not isinstance(call.func, ast.Name):
        raise ObservationError(f"'{shown}' is no error model; use one of {usage}")
    kind = call.func.id
    if kind not in MODELS:
        raise ObservationError(f"unknown error model '{kind}' in '{shown}'; use one of {usage}")
    expected = MODELS[kind]
    names = [k.arg for k in call.keywords]
    if call.args or sorted(map(str, names)) != sorted(expected):
        wanted = ", ".join(f"{a}=..." for a in expected)
        raise ObservationError(f"'{shown}': {kind} takes exactly {kind}({wanted})")
    parameters = {}
    for keyword in call.keywords:
        value = _number(keyword.value)
        if value is None:
            raise ObservationError(
                f"'{shown}': {keyword.arg} must be a number, got '{ast.unparse(keyword.value)}'"
            )
        if keyword.arg in _POSITIVE and not value > 0:
            raise ObservationError(f"'{shown}': {keyword.arg} must be positive, got {value:g}")
        parameters[str(keyword.arg)] = value
    if kind == "uniform" and not parameters["low"] < parameters["high"]:
        raise ObservationError(f"'{shown}': low must be below high")
    return MeasurementModel(kind, {name: parameters[name] for name in expected})


def _number(node: ast.AST) -> float | None:
    sign = 1.0
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        sign = -1.0 if isinstance(node.op, ast.USub) else 1.0
        node = node.operand
    if (
        isinstance(node, ast.Constant)
        and isinstance(node.value, (int, float))
        and not isinstance(node.value, bool)
        and math.isfinite(node.value)
    ):
        return sign * float(node.value)
    return None


def compile_observation(quantity: str, model: str, scope: Scope, text: str = "") -> Observation:
    """Compile a quantity expression and its error model (see :func:`parse_observation`)."""
    text = text or f"{quantity} ~ {model}"
    if len(text) > MAX_LENGTH:
        raise ObservationError(f"an observation is at most {MAX_LENGTH} characters")
    try:
        compiled = compile_quantity(quantity, scope)
    except PredictionError as exc:
        raise ObservationError(f"'{' '.join(quantity.split())}': {exc}") from None
    return Observation(text, compiled, parse_measurement(model))


def parse_observation(text: str, scope: Scope) -> Observation:
    """Parse ``QUANTITY ~ MODEL(...)`` against ``scope``.

    Raises
    ------
    ObservationError
        Naming the offending text: no ``~``, a quantity that is not one number per draw
        (a comparison, a year range, an unknown series, input or year), an unknown error
        model, missing or extra parameters, a non-positive scale, median or df.
    """
    quantity, tilde, model = text.rpartition("~")
    if not tilde or not quantity.strip() or not model.strip():
        shown = " ".join(text.split())
        raise ObservationError(
            f"'{shown}' is no observation; write QUANTITY ~ MODEL, e.g. "
            "'total[2025] ~ lognormal(median=158, log_sd=0.03)'"
        )
    return compile_observation(quantity.strip(), model.strip(), scope, " ".join(text.split()))
