"""Distribution families of uncertain inputs.

Each family is a frozen pydantic model (the ``dist`` key of a config table selects it) that
knows its parameters' rules, its scipy twin, its median and how to pack itself for the
kernels: an integer family code plus a float64[4] parameter row. Families without a cheap
exact inverse CDF (beta, PERT, truncated normal) are packed as a verified cubic-spline table
of ``G(z) = F^-1(Phi(z))`` (:func:`build_table`).
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Callable
from typing import Annotated, Any, ClassVar, Literal

import numpy as np
from pydantic import (
    BeforeValidator,
    Discriminator,
    Field,
    PrivateAttr,
    Tag,
    ValidationInfo,
    model_validator,
)
from pydantic_core import PydanticCustomError

from mcinfra.errors import did_you_mean
from mcinfra.model import metalog
from mcinfra.model.special_values import special_value, stored
from mcinfra.model.strict import StrictModel

Origin = Literal["source", "assumption", "mixed"]


# scipy.special and the kernels (numba) are imported on first use: reading a config's
# structure (a report of a finished run) needs neither.
def ndtr(x: Any) -> Any:
    """:func:`scipy.special.ndtr`, the standard normal CDF."""
    from scipy.special import ndtr as function

    return function(x)


def ndtri(p: Any) -> Any:
    """:func:`scipy.special.ndtri`, the standard normal quantile function."""
    from scipy.special import ndtri as function

    return function(p)


def betainc(a: Any, b: Any, x: Any) -> Any:
    """:func:`scipy.special.betainc`, the regularised incomplete beta function."""
    from scipy.special import betainc as function

    return function(a, b, x)


def betaincinv(a: Any, b: Any, y: Any) -> Any:
    """:func:`scipy.special.betaincinv`, the inverse of :func:`betainc` in ``x``."""
    from scipy.special import betaincinv as function

    return function(a, b, y)


def betaln(a: Any, b: Any) -> Any:
    """:func:`scipy.special.betaln`, the log of the beta function."""
    from scipy.special import betaln as function

    return function(a, b)


class _FamilyCodes:
    """The kernels' family codes (:mod:`mcinfra.kernels.inputs`), read on first use."""

    def __getattr__(self, name: str) -> int:
        from mcinfra.kernels import inputs

        return getattr(inputs, name)


codes = _FamilyCodes()

# Table of G(z) = F^-1(Phi(z)) spans |z| <= 8.5, i.e. tail probabilities down to 1e-17.
TABLE_Z_MAX = 8.5
TABLE_TOLERANCE = 1e-10  # max interpolation error at interval midpoints, relative to scale
POINT_TOLERANCE = 1e-10  # solved parameters reproduce the elicited points to this, of scale
MAX_POINTS = 100  # elicited points of one metalog
MAX_COMPONENTS = 16  # sources of one mixture
WEIGHT_TOLERANCE = 1e-6  # mixture weights must sum to 1 within this
_QUARTILE_SCORE = 0.6744897501960817  # Phi^-1(3/4)
_ROOT_ITERATIONS = 200  # Newton steps with bisection fallback, far more than ever needed
_SCORE_LIMIT = 40.0  # normal scores searched when inverting a metalog (Phi(-40) ~ 4e-350)


Points = tuple[tuple[float, float], ...]
"""Elicited percentiles ``((p, x), ...)``: probabilities and values both increasing."""


class Distribution(StrictModel):
    """Common fields: where the number came from."""

    family: ClassVar[str]
    quantile_points: ClassVar[int] = 0  # points that determine the family (0: not by points)
    solved_keys: ClassVar[tuple[str, ...]] = ()  # the parameters solved from the points
    source: str = ""
    origin: Origin = "assumption"

    @model_validator(mode="before")
    @classmethod
    def _from_quantiles(cls, data: Any) -> Any:
        """Replace ``quantiles`` by the parameters they determine (the points are kept)."""
        if not isinstance(data, dict) or "quantiles" not in data or not cls.quantile_points:
            return data
        given = [key for key in cls.solved_keys if key in data]
        if given:
            raise _bad(
                f"give either quantiles or the parameters, not both "
                f"(got quantiles and {', '.join(given)})"
            )
        points = read_points(data["quantiles"], cls.quantile_points, cls.quantile_points)
        return {**data, "quantiles": points, **cls.solve_points(points, data)}

    @classmethod
    def solve_points(cls, points: Points, data: dict[str, Any]) -> dict[str, float]:
        """The parameters (``solved_keys``) whose quantiles are ``points``."""
        raise NotImplementedError

    def frozen(self) -> Any:
        """The equivalent frozen ``scipy.stats`` distribution."""
        raise NotImplementedError

    @property
    def scale(self) -> float:
        """A natural length of the distribution, used for absolute tolerances."""
        raise NotImplementedError

    @property
    def is_fixed(self) -> bool:
        """Whether the input has no uncertainty."""
        return False

    def median(self) -> float:
        """Median of the distribution: ``G(0)``."""
        return float(self.value_at_score(np.zeros(1))[0])

    def cdf(self, x: float) -> float:
        """P(value <= x)."""
        return float(self.frozen().cdf(x))

    def score_slope(self, z: np.ndarray, values: np.ndarray | None = None) -> np.ndarray | None:
        """``G'(z)`` for the tabulated families (None where not provided).

        ``values`` is ``G(z)`` when the caller has it already.
        """
        return None

    def central(self) -> float:
        """The value an analyst puts at the centre: the mode where one is given, else the median.

        ``mcinfra validate`` evaluates coherence gaps and base-year shares at central values.
        """
        return self.median()

    def support(self) -> tuple[float, float]:
        """Smallest and largest possible values."""
        low, high = self.frozen().support()
        return float(low), float(high)

    def pack(self) -> tuple[int, np.ndarray]:
        """Family code and float64[4] parameter row for the kernels."""
        raise NotImplementedError

    def value_at_score(self, z: np.ndarray) -> np.ndarray:
        """Exact ``F^-1(Phi(z))`` by scipy, each half through its own tail.

        A quantile beyond the float range is inf (the table refuses it), not a warning.
        """
        frozen = self.frozen()
        with np.errstate(over="ignore"):
            return np.where(z <= 0, frozen.ppf(ndtr(z)), frozen.isf(ndtr(-z)))

    def probabilities(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``P(value <= x)`` and ``P(value > x)`` at each ``x``, each accurate in its own tail."""
        frozen = self.frozen()
        return frozen.cdf(x), frozen.sf(x)

    def density(self, x: np.ndarray) -> np.ndarray:
        """Probability density at each ``x``."""
        return self.frozen().pdf(x)

    def describe(self) -> str:
        """Short human-readable form, e.g. ``normal(mean=0.2, sd=0.03)``."""
        skip = {"source", "origin", "dist", "quantiles"}
        fields = ", ".join(
            f"{k}={v:g}" for k, v in self.model_dump().items() if k not in skip and v is not None
        )
        return f"{self.family}({fields}){self._from_points()}"

    def _from_points(self) -> str:
        """`` from P10=0.15, P90=0.25`` for an input given by percentiles, else empty."""
        points = getattr(self, "quantiles", None)
        return f" from {describe_points(points)}" if points else ""


class Fixed(Distribution):
    """A known constant."""

    family: ClassVar[str] = "fixed"
    dist: Literal["fixed"] = "fixed"
    value: float

    def frozen(self) -> Any:
        return _stats().uniform(self.value, 0.0)

    @property
    def scale(self) -> float:
        return max(abs(self.value), 1.0)

    @property
    def is_fixed(self) -> bool:
        return True

    def median(self) -> float:
        return self.value

    def cdf(self, x: float) -> float:
        return 1.0 if x >= self.value else 0.0

    def support(self) -> tuple[float, float]:
        return self.value, self.value

    def pack(self) -> tuple[int, np.ndarray]:
        return codes.FIXED, np.array([self.value, 0.0, 0.0, 0.0])

    def describe(self) -> str:
        return f"{self.value:g}"


class Uniform(Distribution):
    """Uniform on [low, high]."""

    family: ClassVar[str] = "uniform"
    quantile_points: ClassVar[int] = 2
    solved_keys: ClassVar[tuple[str, ...]] = ("low", "high")
    dist: Literal["uniform"]
    low: float
    high: float
    quantiles: Points | None = None

    @classmethod
    def solve_points(cls, points: Points, data: dict[str, Any]) -> dict[str, float]:
        (p1, x1), (p2, x2) = points
        width = (x2 - x1) / (p2 - p1)
        return {"low": x1 - p1 * width, "high": x2 + (1 - p2) * width}

    @model_validator(mode="after")
    def _check(self) -> Uniform:
        if not self.low < self.high:
            raise _bad("low must be below high", low=self.low, high=self.high)
        return self

    def support(self) -> tuple[float, float]:
        return float(self.low), float(self.high)

    def frozen(self) -> Any:
        return _stats().uniform(self.low, self.high - self.low)

    def median(self) -> float:
        return 0.5 * (self.low + self.high)

    def cdf(self, x: float) -> float:
        return min(1.0, max(0.0, (x - self.low) / (self.high - self.low)))

    @property
    def scale(self) -> float:
        return self.high - self.low

    def pack(self) -> tuple[int, np.ndarray]:
        return codes.UNIFORM, np.array([self.low, self.high, 0.0, 0.0])


class Normal(Distribution):
    """Normal with mean and standard deviation."""

    family: ClassVar[str] = "normal"
    quantile_points: ClassVar[int] = 2
    solved_keys: ClassVar[tuple[str, ...]] = ("mean", "sd")
    dist: Literal["normal"]
    mean: float
    sd: float
    quantiles: Points | None = None

    @classmethod
    def solve_points(cls, points: Points, data: dict[str, Any]) -> dict[str, float]:
        mean, sd = _location_scale(points)
        return {"mean": mean, "sd": sd}

    @model_validator(mode="after")
    def _check(self) -> Normal:
        if not self.sd > 0:
            raise _bad("sd must be positive", sd=self.sd)
        return self

    def support(self) -> tuple[float, float]:
        return -math.inf, math.inf

    def frozen(self) -> Any:
        return _stats().norm(self.mean, self.sd)

    def median(self) -> float:
        return self.mean

    def cdf(self, x: float) -> float:
        return float(ndtr((x - self.mean) / self.sd))

    def probabilities(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        score = (np.asarray(x, dtype=float) - self.mean) / self.sd
        return ndtr(score), ndtr(-score)

    def density(self, x: np.ndarray) -> np.ndarray:
        score = (np.asarray(x, dtype=float) - self.mean) / self.sd
        return np.exp(-0.5 * score * score) / (self.sd * math.sqrt(2 * math.pi))

    @property
    def scale(self) -> float:
        return self.sd

    def pack(self) -> tuple[int, np.ndarray]:
        return codes.NORMAL, np.array([self.mean, self.sd, 0.0, 0.0])


class TruncatedNormal(Distribution):
    """Normal with mean and sd restricted to [low, high] (either end may be omitted)."""

    family: ClassVar[str] = "truncnormal"
    quantile_points: ClassVar[int] = 2
    solved_keys: ClassVar[tuple[str, ...]] = ("mean", "sd")
    dist: Literal["truncnormal"]
    mean: float
    sd: float
    low: float | None = None
    high: float | None = None
    quantiles: Points | None = None

    @classmethod
    def solve_points(cls, points: Points, data: dict[str, Any]) -> dict[str, float]:
        low, high = _number(data, "low"), _number(data, "high")
        if low is None and high is None:
            raise _bad(
                "quantiles of a truncnormal need low and/or high; without bounds use "
                "dist = 'normal'"
            )
        _points_inside(points, low, high)
        mean, sd = _location_scale(points)

        def build(theta: np.ndarray) -> Distribution:
            return cls.model_construct(
                mean=float(theta[0]), sd=math.exp(min(theta[1], 700.0)), low=low, high=high
            )

        solved = _solve_points(build, np.array([mean, math.log(sd)]), points, cls.family)
        return {"mean": solved.mean, "sd": solved.sd}

    @model_validator(mode="after")
    def _check(self) -> TruncatedNormal:
        if not self.sd > 0:
            raise _bad("sd must be positive", sd=self.sd)
        low = -math.inf if self.low is None else self.low
        high = math.inf if self.high is None else self.high
        if not low < high:
            raise _bad("low must be below high", low=low, high=high)
        a, b = (low - self.mean) / self.sd, (high - self.mean) / self.sd
        mass = ndtr(b) - ndtr(a) if a < 0 else ndtr(-a) - ndtr(-b)
        if not mass > 1e-12:
            raise _bad("the window [low, high] holds almost no probability", low=low, high=high)
        return self

    def support(self) -> tuple[float, float]:
        low = -math.inf if self.low is None else float(self.low)
        return low, math.inf if self.high is None else float(self.high)

    def frozen(self) -> Any:
        low = -np.inf if self.low is None else self.low
        high = np.inf if self.high is None else self.high
        a, b = (low - self.mean) / self.sd, (high - self.mean) / self.sd
        return _stats().truncnorm(a, b, loc=self.mean, scale=self.sd)

    def _window(self) -> tuple[float, float, float]:
        """Standardised ends (a, b) and the probability between them, kept accurate in tails."""
        low = -math.inf if self.low is None else self.low
        high = math.inf if self.high is None else self.high
        a, b = (low - self.mean) / self.sd, (high - self.mean) / self.sd
        return a, b, float(ndtr(b) - ndtr(a) if a < 0 else ndtr(-a) - ndtr(-b))

    def cdf(self, x: float) -> float:
        a, b, mass = self._window()
        s = min(max((x - self.mean) / self.sd, a), b)
        below = ndtr(s) - ndtr(a) if a < 0 else ndtr(-a) - ndtr(-s)
        return min(1.0, max(0.0, float(below) / mass))

    def score_slope(self, z: np.ndarray, values: np.ndarray | None = None) -> np.ndarray:
        # G'(z) = phi(z) / f(G(z)) with f(x) = phi(s) / (sd mass), s = (x - mean) / sd.
        _, _, mass = self._window()
        values = self.value_at_score(z) if values is None else values
        s = (values - self.mean) / self.sd
        return self.sd * mass * np.exp(0.5 * (s * s - z * z))

    def value_at_score(self, z: np.ndarray) -> np.ndarray:
        # scipy's truncnorm.isf loses all digits beyond tail probabilities of ~1e-16, so
        # invert directly, working from the lower end for z <= 0 and the upper end above.
        low = -np.inf if self.low is None else self.low
        high = np.inf if self.high is None else self.high
        a, b = (low - self.mean) / self.sd, (high - self.mean) / self.sd
        z = np.asarray(z, dtype=float)
        with np.errstate(invalid="ignore", divide="ignore"):
            lower = ndtri(ndtr(a) + ndtr(z) * (ndtr(b) - ndtr(a)))
            upper = -ndtri(ndtr(-b) + ndtr(-z) * (ndtr(-a) - ndtr(-b)))
        # A window entirely in one tail is inverted from that tail's end throughout.
        if a > 0:
            scores = upper
        elif b < 0:
            scores = lower
        else:
            scores = np.where(z <= 0, lower, upper)
        scores = np.clip(scores, a, b)
        return self.mean + self.sd * scores

    @property
    def scale(self) -> float:
        return self.sd

    def pack(self) -> tuple[int, np.ndarray]:
        return codes.TABULATED, np.zeros(4)


class LogNormal(Distribution):
    """Lognormal given by ``median`` and ``log_sd``, or by ``mean`` and ``sd``."""

    family: ClassVar[str] = "lognormal"
    quantile_points: ClassVar[int] = 2
    solved_keys: ClassVar[tuple[str, ...]] = ("median", "log_sd", "mean", "sd")
    dist: Literal["lognormal"]
    median_: float | None = Field(default=None, alias="median")
    log_sd: float | None = None
    mean: float | None = None
    sd: float | None = None
    quantiles: Points | None = None

    @classmethod
    def solve_points(cls, points: Points, data: dict[str, Any]) -> dict[str, float]:
        if not points[0][1] > 0:
            raise _bad(
                f"quantiles of a lognormal must be positive values (got {describe_points(points)})"
            )
        mu, sigma = _location_scale(tuple((p, math.log(x)) for p, x in points))
        return {"median": math.exp(mu), "log_sd": sigma}

    @model_validator(mode="after")
    def _check(self) -> LogNormal:
        by_median = self.median_ is not None or self.log_sd is not None
        by_mean = self.mean is not None or self.sd is not None
        if by_median == by_mean:
            raise _bad("give either (median, log_sd) or (mean, sd)")
        pair = (self.median_, self.log_sd) if by_median else (self.mean, self.sd)
        names = ("median", "log_sd") if by_median else ("mean", "sd")
        for name, value in zip(names, pair, strict=True):
            if value is None:
                raise _bad(f"{name} is required with {names[1 - names.index(name)]}")
            if not value > 0:
                raise _bad(f"{name} must be positive", **{name: value})
        return self

    @property
    def log_params(self) -> tuple[float, float]:
        """Mean and sd of the logarithm."""
        if self.median_ is not None and self.log_sd is not None:
            return math.log(self.median_), self.log_sd
        assert self.mean is not None and self.sd is not None
        sigma2 = math.log1p((self.sd / self.mean) ** 2)
        return math.log(self.mean) - 0.5 * sigma2, math.sqrt(sigma2)

    def support(self) -> tuple[float, float]:
        return 0.0, math.inf

    def frozen(self) -> Any:
        mu, sigma = self.log_params
        return _stats().lognorm(sigma, scale=math.exp(mu))

    @property
    def scale(self) -> float:
        return math.exp(self.log_params[0])

    def median(self) -> float:
        return math.exp(self.log_params[0])

    def cdf(self, x: float) -> float:
        mu, sigma = self.log_params
        return float(ndtr((math.log(x) - mu) / sigma)) if x > 0 else 0.0

    def _log_scores(self, x: np.ndarray) -> np.ndarray:
        mu, sigma = self.log_params
        x = np.asarray(x, dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(x > 0, (np.log(np.where(x > 0, x, 1.0)) - mu) / sigma, -np.inf)

    def probabilities(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        score = self._log_scores(x)
        return ndtr(score), ndtr(-score)

    def density(self, x: np.ndarray) -> np.ndarray:
        score = self._log_scores(x)
        x = np.asarray(x, dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):
            pdf = np.exp(-0.5 * score * score) / (x * self.log_params[1] * math.sqrt(2 * math.pi))
        return np.where(x > 0, pdf, 0.0)

    def pack(self) -> tuple[int, np.ndarray]:
        mu, sigma = self.log_params
        return codes.LOGNORMAL, np.array([mu, sigma, 0.0, 0.0])

    def describe(self) -> str:
        mu, sigma = self.log_params
        return f"lognormal(median={math.exp(mu):g}, log_sd={sigma:g}){self._from_points()}"


class _MinModeMax(Distribution):
    quantile_points: ClassVar[int] = 3
    solved_keys: ClassVar[tuple[str, ...]] = ("min", "mode", "max")
    min: float
    mode: float
    max: float
    quantiles: Points | None = None

    @classmethod
    def solve_points(cls, points: Points, data: dict[str, Any]) -> dict[str, float]:
        first, last = points[0][1], points[-1][1]
        spread = last - first
        shape = _number(data, "shape")
        extra: dict[str, Any] = {} if shape is None else {"shape": shape}

        def build(theta: np.ndarray) -> Distribution:
            low = first - spread * math.exp(min(theta[0], 50.0))
            high = last + spread * math.exp(min(theta[1], 50.0))
            mode = low + (high - low) / (1.0 + math.exp(-min(max(theta[2], -50.0), 50.0)))
            return cls.model_construct(min=low, mode=mode, max=high, **extra)

        solved = _solve_points(build, np.zeros(3), points, cls.family)
        return {"min": solved.min, "mode": solved.mode, "max": solved.max}

    @model_validator(mode="after")
    def _check(self) -> _MinModeMax:
        if not self.min < self.max:
            raise _bad("min must be below max", min=self.min, max=self.max)
        if not self.min <= self.mode <= self.max:
            raise _bad("mode must lie in [min, max]", min=self.min, mode=self.mode, max=self.max)
        return self

    @property
    def scale(self) -> float:
        return self.max - self.min

    def central(self) -> float:
        return self.mode


class Triangular(_MinModeMax):
    """Triangular with min, mode, max."""

    family: ClassVar[str] = "triangular"
    dist: Literal["triangular"]

    def support(self) -> tuple[float, float]:
        return float(self.min), float(self.max)

    def frozen(self) -> Any:
        width = self.max - self.min
        return _stats().triang((self.mode - self.min) / width, loc=self.min, scale=width)

    def cdf(self, x: float) -> float:
        low, mode, high = self.min, self.mode, self.max
        if x <= low:
            return 0.0
        if x >= high:
            return 1.0
        if x <= mode:
            return (x - low) ** 2 / ((high - low) * (mode - low))
        return 1.0 - (high - x) ** 2 / ((high - low) * (high - mode))

    def value_at_score(self, z: np.ndarray) -> np.ndarray:
        low, mode, high = self.min, self.mode, self.max
        width = high - low
        below = ndtr(z)
        lower = low + np.sqrt(below * width * (mode - low))
        upper = high - np.sqrt(ndtr(-z) * width * (high - mode))
        return np.where(below < (mode - low) / width, lower, upper)

    def pack(self) -> tuple[int, np.ndarray]:
        # Normal score at which the inverse CDF switches branch (the mode's quantile).
        mode_score = float(special_value("ndtri", (self.mode - self.min) / (self.max - self.min)))
        return codes.TRIANGULAR, np.array([self.min, self.mode, self.max, mode_score])


class _BetaFamily:
    """Scaled beta distributions (beta, PERT), from their ``beta_params`` property.

    ``beta_params`` is (alpha, beta, low, width); only ``frozen`` needs scipy.stats.
    """

    @property
    def beta_params(self) -> tuple[float, float, float, float]:
        """(alpha, beta, low, width): each subclass defines its own."""
        raise NotImplementedError

    def frozen(self) -> Any:
        alpha, beta, low, width = self.beta_params
        return _stats().beta(alpha, beta, loc=low, scale=width)

    def cdf(self, x: float) -> float:
        alpha, beta, low, width = self.beta_params
        return float(betainc(alpha, beta, min(1.0, max(0.0, (x - low) / width))))

    def value_at_score(self, z: np.ndarray) -> np.ndarray:
        """``F^-1(Phi(z))``, each half through its own tail."""
        alpha, beta, low, width = self.beta_params
        z = np.asarray(z, dtype=float)
        lower = betaincinv(alpha, beta, ndtr(z))
        upper = 1.0 - betaincinv(beta, alpha, ndtr(-z))  # 1 - X is beta(beta, alpha)
        return low + width * np.where(z <= 0, lower, upper)

    def score_slope(self, z: np.ndarray, values: np.ndarray | None = None) -> np.ndarray:
        """``G'(z) = phi(z) / f(G(z))``, in logarithms (both may underflow)."""
        alpha, beta, low, width = self.beta_params
        z = np.asarray(z, dtype=float)
        t = ((self.value_at_score(z) if values is None else values) - low) / width
        with np.errstate(divide="ignore", invalid="ignore"):
            log_pdf = (alpha - 1) * np.log(t) + (beta - 1) * np.log1p(-t) - betaln(alpha, beta)
            return np.exp(-0.5 * z * z - 0.5 * math.log(2 * math.pi) - log_pdf) * width


class Pert(_BetaFamily, _MinModeMax):
    """Beta-PERT with min, mode, max and shape (lambda, 4 for the classic PERT)."""

    family: ClassVar[str] = "pert"
    dist: Literal["pert"]
    shape: float = 4.0

    @model_validator(mode="after")
    def _check_shape(self) -> Pert:
        if not self.shape > 0:
            raise _bad("shape must be positive", shape=self.shape)
        return self

    def support(self) -> tuple[float, float]:
        return float(self.min), float(self.max)

    @property
    def beta_params(self) -> tuple[float, float, float, float]:
        """(alpha, beta, low, width) of the scaled beta distribution."""
        width = self.max - self.min
        alpha = 1 + self.shape * (self.mode - self.min) / width
        beta = 1 + self.shape * (self.max - self.mode) / width
        return alpha, beta, self.min, width

    def pack(self) -> tuple[int, np.ndarray]:
        return codes.TABULATED, np.zeros(4)


class Beta(_BetaFamily, Distribution):
    """Beta(alpha, beta) scaled to [low, high] (default [0, 1])."""

    family: ClassVar[str] = "beta"
    quantile_points: ClassVar[int] = 2
    solved_keys: ClassVar[tuple[str, ...]] = ("alpha", "beta")
    dist: Literal["beta"]
    alpha: float
    beta: float
    low: float = 0.0
    high: float = 1.0
    quantiles: Points | None = None

    @classmethod
    def solve_points(cls, points: Points, data: dict[str, Any]) -> dict[str, float]:
        low = _number(data, "low")
        high = _number(data, "high")
        low, high = 0.0 if low is None else low, 1.0 if high is None else high
        _points_inside(points, low, high)
        if not low < high:
            raise _bad("low must be below high", low=low, high=high)
        # Start from the beta with the points' centre and spread (method of moments).
        centre, spread = _location_scale(points)
        m = min(max((centre - low) / (high - low), 0.01), 0.99)
        v = (spread / (high - low)) ** 2
        size = max(m * (1 - m) / v - 1.0, 0.5)

        def build(theta: np.ndarray) -> Distribution:
            alpha, beta = (math.exp(min(max(t, -30.0), 30.0)) for t in theta)
            return cls.model_construct(alpha=alpha, beta=beta, low=low, high=high)

        guess = np.log([m * size, (1 - m) * size])
        solved = _solve_points(build, guess, points, cls.family)
        return {"alpha": solved.alpha, "beta": solved.beta}

    @model_validator(mode="after")
    def _check(self) -> Beta:
        for name in ("alpha", "beta"):
            if not getattr(self, name) > 0:
                raise _bad(f"{name} must be positive", **{name: getattr(self, name)})
        if not self.low < self.high:
            raise _bad("low must be below high", low=self.low, high=self.high)
        return self

    def support(self) -> tuple[float, float]:
        return float(self.low), float(self.high)

    @property
    def beta_params(self) -> tuple[float, float, float, float]:
        """(alpha, beta, low, width) of the scaled beta distribution."""
        return self.alpha, self.beta, self.low, self.high - self.low

    @property
    def scale(self) -> float:
        return self.high - self.low

    def pack(self) -> tuple[int, np.ndarray]:
        return codes.TABULATED, np.zeros(4)


class Metalog(Distribution):
    """Metalog (Keelin 2016) fitted to percentiles, or given by its coefficients ``a``.

    ``lower`` and ``upper`` bound it (either, both or neither). ``terms`` (2-16, default
    the number of points) sets the fit's size: exact when it equals the number of points,
    least squares below. A fit whose quantile function is not strictly increasing is refused.
    """

    family: ClassVar[str] = "metalog"
    dist: Literal["metalog"]
    quantiles: Points | None = None
    a: tuple[float, ...] = Field(min_length=metalog.MIN_TERMS, max_length=metalog.MAX_TERMS)
    terms: int | None = None
    lower: float | None = None
    upper: float | None = None

    @model_validator(mode="before")
    @classmethod
    def _from_quantiles(cls, data: Any) -> Any:
        """Fit the coefficients ``a`` to ``quantiles`` (the points are kept)."""
        if not isinstance(data, dict):
            return data
        if ("quantiles" in data) == ("a" in data):
            raise _bad("give either quantiles (percentile points) or the coefficients a")
        lower, upper = _number(data, "lower"), _number(data, "upper")
        if lower is not None and upper is not None and not lower < upper:
            raise _bad("lower must be below upper", lower=lower, upper=upper)
        if "a" in data:
            if "terms" in data:
                raise _bad("terms goes with quantiles; with a, the terms are its length")
            a = data["a"]
            return {**data, "a": tuple(a) if isinstance(a, list) else a}
        points = read_points(data["quantiles"], metalog.MIN_TERMS, MAX_POINTS)
        terms = data.get("terms", len(points))
        if not isinstance(terms, int) or isinstance(terms, bool):
            raise _bad(f"terms must be a whole number (got {terms!r})")
        if not metalog.MIN_TERMS <= terms <= min(metalog.MAX_TERMS, len(points)):
            raise _bad(
                f"terms must lie in {metalog.MIN_TERMS}..{metalog.MAX_TERMS} and not exceed "
                f"the number of points, {len(points)} (got terms={terms})"
            )
        _points_inside(points, lower, upper, "lower", "upper")
        probabilities, values = zip(*points, strict=True)
        curve = metalog.fit(np.array(probabilities), np.array(values), terms, lower, upper)
        return {**data, "quantiles": points, "a": curve.a, "terms": terms}

    @model_validator(mode="after")
    def _check(self) -> Metalog:
        if metalog.is_feasible(self.a):
            return self
        coefficients = ", ".join(f"{v:g}" for v in self.a)
        if self.quantiles is None:
            raise _bad(
                f"the metalog with a=[{coefficients}] is not a distribution: its quantile "
                "function is not increasing everywhere on (0, 1); check the coefficients"
            )
        raise _bad(
            f"the {len(self.a)}-term metalog fitted to {describe_points(self.quantiles)} is "
            f"not a distribution (a=[{coefficients}]): its quantile function is not "
            "increasing everywhere on (0, 1); use fewer terms, give lower and/or upper "
            "bounds, or revise the points"
        )

    @property
    def curve(self) -> metalog.MetalogCurve:
        """The quantile function, as the plain :mod:`mcinfra.model.metalog` object."""
        return metalog.MetalogCurve(self.a, self.lower, self.upper)

    def support(self) -> tuple[float, float]:
        return self.curve.support()

    def value_at_score(self, z: np.ndarray) -> np.ndarray:
        return self.curve.value_at_score(np.asarray(z, dtype=float))

    def score_slope(self, z: np.ndarray, values: np.ndarray | None = None) -> np.ndarray:
        return self.curve.score_slope(z)

    @property
    def scale(self) -> float:
        # Interquartile range over that of the standard normal: the sd of a normal.
        quartiles = self.value_at_score(np.array([-_QUARTILE_SCORE, _QUARTILE_SCORE]))
        return float(quartiles[1] - quartiles[0]) / (2 * _QUARTILE_SCORE)

    def score_of_value(self, x: np.ndarray) -> np.ndarray:
        """The normal score z with ``G(z) = x``, clipped to ``|z| <= 40``.

        Solved on the unbounded scale ``M``, nearly quadratic in z in both tails.
        """
        x = np.asarray(x, dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):
            target = metalog.transform_targets(x, self.lower, self.upper)
        low, high = self.support()
        target = np.where(x <= low, -np.inf, np.where(x >= high, np.inf, target))
        finite = np.isfinite(target)
        unbounded = metalog.MetalogCurve(self.a)
        solved = _increasing_root(
            lambda z: unbounded.value_at_score(z) - np.where(finite, target, 0.0),
            unbounded.score_slope,
            np.full(x.shape, -_SCORE_LIMIT),
            np.full(x.shape, _SCORE_LIMIT),
            np.zeros(x.shape),
            1e-15,
            # M itself is rounded to a few units in the last place of its size.
            8 * np.finfo(float).eps * float(np.max(np.abs(target[finite]), initial=1.0)),
        )
        return np.where(finite, solved, np.sign(target) * _SCORE_LIMIT)

    def probabilities(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        z = self.score_of_value(x)
        return ndtr(z), ndtr(-z)

    def density(self, x: np.ndarray) -> np.ndarray:
        z = self.score_of_value(x)
        with np.errstate(divide="ignore", over="ignore"):
            return np.exp(-0.5 * z * z) / math.sqrt(2 * math.pi) / self.score_slope(z)

    def cdf(self, x: float) -> float:
        return float(self.probabilities(np.array([x]))[0][0])

    def pack(self) -> tuple[int, np.ndarray]:
        return codes.TABULATED, np.zeros(4)

    def describe(self) -> str:
        parts = [f"a=[{', '.join(f'{v:g}' for v in self.a)}]"]
        parts += [
            f"{k}={v:g}" for k, v in (("lower", self.lower), ("upper", self.upper)) if v is not None
        ]
        return f"metalog({', '.join(parts)}){self._from_points()}"


class Mixture(Distribution):
    """Linear opinion pool: component k with probability ``weights[k]``.

    Sampled through the mixture's inverse CDF (solved from the components' CDFs), so it
    keeps its place in the copula like every other input.
    """

    family: ClassVar[str] = "mixture"
    dist: Literal["mixture"]
    components: tuple[InputSpec, ...] = Field(min_length=2, max_length=MAX_COMPONENTS)
    weights: tuple[float, ...]

    @model_validator(mode="before")
    @classmethod
    def _as_tuples(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        lists = {
            k: tuple(data[k]) for k in ("components", "weights") if isinstance(data.get(k), list)
        }
        return {**data, **lists}

    @model_validator(mode="after")
    def _check(self) -> Mixture:
        if len(self.weights) != len(self.components):
            raise _bad(
                f"give one weight per component ({len(self.components)} components, "
                f"{len(self.weights)} weights)"
            )
        for k, weight in enumerate(self.weights):
            if not weight > 0:
                raise _bad(f"weights[{k}] must be positive (got {weight!r})")
        total = math.fsum(self.weights)
        if abs(total - 1.0) > WEIGHT_TOLERANCE:
            raise _bad(
                f"weights must sum to 1 (got {', '.join(f'{w:g}' for w in self.weights)}; "
                f"sum {total:.12g})"
            )
        for k, component in enumerate(self.components):
            if isinstance(component, SipInput):
                raise _bad(
                    f"components[{k}] is a SIP: its trials come from its library, so it "
                    "cannot be a component of a mixture; make it an input of its own"
                )
            if component.is_fixed:
                raise _bad(
                    f"components[{k}] is a fixed number, a point mass: a mixture's components "
                    "must be continuous distributions"
                )
        return self

    @property
    def _shares(self) -> np.ndarray:
        weights = np.array(self.weights)
        return weights / weights.sum()

    def support(self) -> tuple[float, float]:
        ends = [component.support() for component in self.components]
        return min(low for low, _ in ends), max(high for _, high in ends)

    @property
    def scale(self) -> float:
        medians = [component.median() for component in self.components]
        return max(max(c.scale for c in self.components), max(medians) - min(medians))

    def probabilities(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        x = np.asarray(x, dtype=float)
        below, above = np.zeros(x.shape), np.zeros(x.shape)
        for share, component in zip(self._shares, self.components, strict=True):
            lower_part, upper_part = component.probabilities(x)
            below += share * lower_part
            above += share * upper_part
        return below, above

    def density(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=float)
        return sum(
            (
                share * component.density(x)
                for share, component in zip(self._shares, self.components, strict=True)
            ),
            np.zeros(x.shape),
        )

    def cdf(self, x: float) -> float:
        return float(self.probabilities(np.array([x]))[0][0])

    def value_at_score(self, z: np.ndarray) -> np.ndarray:
        """``F^-1(Phi(z))``, solved between the components' own quantiles at ``z``.

        The root of ``log F(x) = log Phi(z)`` for ``z <= 0`` and of ``log S(x) = log Phi(-z)``
        above, so that both tails keep their relative accuracy.
        """
        from scipy.special import log_ndtr

        z = np.asarray(z, dtype=float)
        quantiles = np.stack([component.value_at_score(z) for component in self.components])
        low, high = quantiles.min(axis=0), quantiles.max(axis=0)
        lower_tail = z <= 0
        target = log_ndtr(np.where(lower_tail, z, -z))

        def gap(x: np.ndarray) -> np.ndarray:
            below, above = self.probabilities(x)
            with np.errstate(divide="ignore"):
                return np.where(lower_tail, np.log(below) - target, target - np.log(above))

        def slope(x: np.ndarray) -> np.ndarray:
            below, above = self.probabilities(x)
            with np.errstate(divide="ignore", invalid="ignore"):
                return self.density(x) / np.where(lower_tail, below, above)

        # Log-probabilities carry rounding errors of ~1e-15: stop at 1e-13.
        start = 0.5 * (low + high)
        return _increasing_root(gap, slope, low, high, start, 1e-15 * self.scale, 1e-13)

    def score_slope(self, z: np.ndarray, values: np.ndarray | None = None) -> np.ndarray:
        z = np.asarray(z, dtype=float)
        values = self.value_at_score(z) if values is None else values
        with np.errstate(divide="ignore", over="ignore"):
            return np.exp(-0.5 * z * z) / math.sqrt(2 * math.pi) / self.density(values)

    def pack(self) -> tuple[int, np.ndarray]:
        return codes.TABULATED, np.zeros(4)

    def describe(self) -> str:
        parts = (
            f"{weight:g} {component.describe()}"
            for weight, component in zip(self.weights, self.components, strict=True)
        )
        return f"mixture({'; '.join(parts)})"


SIP_RESOLVER = "sip_resolver"
"""Key of the validation context's function that reads a ``dist = "sip"`` input's SIP.

``resolve(library, name)`` returns the SIP's marginal (a :class:`Metalog` for a
``Metalog_1_0`` SIP, the stored trials as a float array for a ``SIP_Array``) and the source
the sampler evaluates (opaque here: :mod:`mcinfra.config` reads libraries, the model layer
does not), or raises ``ValueError`` with the message to show.
"""


class SipInput(Distribution):
    """An input taken from a SIP of a SIPmath 3.0 library: its trial ``d + 1`` is draw ``d``.

    ``library`` is the library's path, ``name`` the SIP's. The config layer reads the library
    while validating (see :data:`SIP_RESOLVER`); without it (a finished run's config read
    for its structure) only :meth:`describe` and the fields are available. The marginal
    answers the questions asked of any input (support, median, CDF): a ``Metalog_1_0``
    SIP's metalog, or the empirical distribution of a ``SIP_Array``'s trials.
    """

    family: ClassVar[str] = "sip"
    dist: Literal["sip"]
    library: str = Field(min_length=1)
    name: str = Field(min_length=1)
    _metalog: Metalog | None = PrivateAttr(default=None)
    _trials: np.ndarray | None = PrivateAttr(default=None)  # sorted, read-only
    _trials_source: Any = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _resolve(self, info: ValidationInfo) -> SipInput:
        resolve = (info.context or {}).get(SIP_RESOLVER)
        if resolve is None:
            return self
        try:
            marginal, trials_source = resolve(self.library, self.name)
        except ValueError as exc:
            raise _bad(str(exc)) from None
        if isinstance(marginal, Metalog):
            self._metalog = marginal
        else:
            trials = np.sort(np.asarray(marginal, dtype=float))
            trials.flags.writeable = False
            self._trials = trials
        self._trials_source = trials_source
        return self

    def __eq__(self, other: object) -> bool:
        # The fields, not what was read: equal tables are the same input.
        if not isinstance(other, SipInput):
            return NotImplemented
        return self.model_dump() == other.model_dump()

    def __hash__(self) -> int:
        return hash((self.family, self.library, self.name, self.source, self.origin))

    @property
    def resolved(self) -> bool:
        """Whether the library was read (the marginal and the trials' source are known)."""
        return self._trials_source is not None

    @property
    def trials_source(self) -> Any:
        """What the sampler evaluates, as the resolver gave it (the library and the SIP)."""
        self._require_read()
        return self._trials_source

    @property
    def metalog(self) -> Metalog | None:
        """The ``Metalog_1_0`` SIP's metalog (None for a ``SIP_Array``)."""
        self._require_read()
        return self._metalog

    def _require_read(self) -> None:
        if self._trials_source is None:
            raise ValueError(f"{self.describe()}: its library has not been read")

    def _sorted_trials(self) -> np.ndarray:
        self._require_read()
        assert self._trials is not None
        return self._trials

    def support(self) -> tuple[float, float]:
        if self.metalog is not None:
            return self.metalog.support()
        trials = self._sorted_trials()
        return float(trials[0]), float(trials[-1])

    def value_at_score(self, z: np.ndarray) -> np.ndarray:
        """``F^-1(Phi(z))``: the metalog's, or the empirical quantile of the stored trials."""
        if self.metalog is not None:
            return self.metalog.value_at_score(z)
        levels = ndtr(np.asarray(z, dtype=float))
        return np.quantile(self._sorted_trials(), levels, method="inverted_cdf")

    def score_slope(self, z: np.ndarray, values: np.ndarray | None = None) -> np.ndarray | None:
        return None if self.metalog is None else self.metalog.score_slope(z)

    @property
    def scale(self) -> float:
        if self.metalog is not None:
            return self.metalog.scale
        trials = self._sorted_trials()
        low, high = np.quantile(trials, [0.25, 0.75], method="inverted_cdf")
        spread = float(high - low) / (2 * _QUARTILE_SCORE)
        return spread if spread > 0 else float(np.std(trials)) or 1.0

    def probabilities(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if self.metalog is not None:
            return self.metalog.probabilities(x)
        trials = self._sorted_trials()
        x = np.asarray(x, dtype=float)
        below = np.searchsorted(trials, x, side="right") / trials.size
        return below, 1.0 - below

    def density(self, x: np.ndarray) -> np.ndarray:
        if self.metalog is not None:
            return self.metalog.density(x)
        raise ValueError(f"{self.describe()}: stored trials have no density")

    def cdf(self, x: float) -> float:
        return float(self.probabilities(np.array([x]))[0][0])

    def pack(self) -> tuple[int, np.ndarray]:
        return codes.SIP, np.zeros(4)

    def describe(self) -> str:
        return f"sip(library={self.library!r}, name={self.name!r})"


FAMILIES: dict[str, type[Distribution]] = {
    cls.family: cls
    for cls in (
        Fixed,
        Uniform,
        Normal,
        TruncatedNormal,
        LogNormal,
        Triangular,
        Pert,
        Beta,
        Metalog,
        Mixture,
        SipInput,
    )
}


def _bad(message: str, **values: float) -> PydanticCustomError:
    shown = ", ".join(f"{k}={v!r}" for k, v in values.items())
    text = f"{message} (got {shown})" if shown else message
    return PydanticCustomError("distribution", text.replace("{", "{{").replace("}", "}}"))


def read_points(value: Any, least: int, most: int) -> Points:
    """Elicited ``quantiles`` as checked ``((p, x), ...)``; a ``distribution`` error if bad."""
    count = f"exactly {least}" if least == most else f"{least} to {most}"
    if not isinstance(value, list | tuple) or not least <= len(value) <= most:
        raise _bad(f"quantiles: expected {count} [probability, value] pairs (got {_shown(value)})")
    points = []
    for n, pair in enumerate(value):
        if (
            not isinstance(pair, list | tuple)
            or len(pair) != 2
            or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in pair)
            or not all(math.isfinite(v) for v in pair)
        ):
            raise _bad(
                f"quantiles[{n}]: expected a [probability, value] pair of finite numbers "
                f"(got {_shown(pair)})"
            )
        p, x = float(pair[0]), float(pair[1])
        if not 0 < p < 1:
            raise _bad(
                f"quantiles[{n}]: the probability must lie strictly between 0 and 1 (got {p!r})"
            )
        points.append((p, x))
    for (p0, x0), (p1, x1) in itertools.pairwise(points):
        if not p0 < p1:
            raise _bad(
                f"quantiles: the probabilities must increase from point to point "
                f"(got {describe_points(points)})"
            )
        if not x0 < x1:
            raise _bad(
                f"quantiles: the values must increase with the probabilities "
                f"(got {describe_points(points)})"
            )
    return tuple(points)


def describe_points(points: Any) -> str:
    """``P10=0.15, P90=0.25``: percentile points as an analyst writes them."""
    return ", ".join(f"P{100 * p:.10g}={x:g}" for p, x in points)


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _number(data: dict[str, Any], key: str) -> float | None:
    """A finite number under ``key`` of a raw table (None when absent), for solving."""
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value):
        raise _bad(f"{key} must be a finite number (got {_shown(value)})")
    return float(value)


def _points_inside(
    points: Points,
    low: float | None,
    high: float | None,
    low_key: str = "low",
    high_key: str = "high",
) -> None:
    values = [x for _, x in points]
    if (low is not None and not values[0] > low) or (high is not None and not values[-1] < high):
        bounds = [f"{k}={v:g}" for k, v in ((low_key, low), (high_key, high)) if v is not None]
        raise _bad(
            f"quantiles: every value must lie strictly inside the bounds "
            f"({', '.join(bounds)}; got {describe_points(points)})"
        )


def _location_scale(points: Points) -> tuple[float, float]:
    """Mean and sd of the normal through the first and last points."""
    (p1, x1), (p2, x2) = points[0], points[-1]
    z1, z2 = float(ndtri(p1)), float(ndtri(p2))
    sd = (x2 - x1) / (z2 - z1)
    return x1 - sd * z1, sd


def _solve_points(
    build: Callable[[np.ndarray], Distribution], guess: np.ndarray, points: Points, family: str
) -> Any:
    """The distribution ``build(theta)`` whose quantiles are ``points``, by least squares.

    Refused unless it reproduces every point to ``POINT_TOLERANCE`` of its scale.
    """
    from scipy.optimize import least_squares

    scores = ndtri(np.array([p for p, _ in points]))
    values = np.array([x for _, x in points])
    spread = values[-1] - values[0]

    def residuals(theta: np.ndarray) -> np.ndarray:
        with np.errstate(all="ignore"):
            gaps = (build(theta).value_at_score(scores) - values) / spread
        return np.where(np.isfinite(gaps), gaps, 1e6)

    best = None
    for start in (guess, guess + 0.5, guess - 0.5):
        result = least_squares(
            residuals, start, method="lm", xtol=1e-15, ftol=1e-15, gtol=1e-15, max_nfev=4000
        )
        candidate = build(result.x)
        with np.errstate(all="ignore"):
            error = float(np.max(np.abs(candidate.value_at_score(scores) - values)))
        if error <= POINT_TOLERANCE * candidate.scale:
            best = candidate
            break
    if best is None:
        raise _bad(
            f"quantiles: no {family} distribution has these percentiles "
            f"({describe_points(points)}); choose other points or another family"
        )
    return best


def _increasing_root(
    func: Callable[[np.ndarray], np.ndarray],
    slope: Callable[[np.ndarray], np.ndarray],
    low: np.ndarray,
    high: np.ndarray,
    start: np.ndarray,
    tolerance: float,
    value_tolerance: float = 0.0,
) -> np.ndarray:
    """Root of the increasing ``func`` in each bracket [low, high].

    Newton steps from ``start``, with bisection wherever a step would leave the bracket,
    until every step is below ``tolerance`` plus a few units in the last place, or
    ``|func|`` is at most ``value_tolerance`` (the precision ``func`` is computed to).
    """
    x, low, high = start.copy(), low.copy(), high.copy()
    for _ in range(_ROOT_ITERATIONS):
        # an infinite bracket (a quantile beyond the float range) gives NaN, which the
        # caller's table refuses: no warning on the way
        with np.errstate(all="ignore"):
            value = func(x)
            low = np.where(value <= 0, x, low)
            high = np.where(value >= 0, x, high)
            step = x - value / slope(x)
            inside = np.isfinite(step) & (step >= low) & (step <= high)
            new = np.where(inside, step, 0.5 * (low + high))
            new = np.where(value == 0, x, new)
            width = tolerance + np.maximum(np.abs(new), np.abs(x)) * 4 * np.finfo(float).eps
            done = (np.abs(new - x) <= width) | (np.abs(value) <= value_tolerance)
            done |= high - low <= 2 * width  # bracketed to the last few units in the last place
        x = new
        if done.all():
            break
    return x


def _number_to_fixed(value: Any) -> Any:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return {"dist": "fixed", "value": value}
    return value


def _family_tag(value: Any) -> str | None:
    if isinstance(value, dict):
        name = value.get("dist")
        # Any TOML value can stand here (a list or table is unhashable): only names qualify.
        return f"dist={name}" if isinstance(name, str) and name in FAMILIES else None
    if isinstance(value, Distribution):
        return f"dist={value.family}"
    return None


InputSpec = Annotated[
    Annotated[Fixed, Tag("dist=fixed")]
    | Annotated[Uniform, Tag("dist=uniform")]
    | Annotated[Normal, Tag("dist=normal")]
    | Annotated[TruncatedNormal, Tag("dist=truncnormal")]
    | Annotated[LogNormal, Tag("dist=lognormal")]
    | Annotated[Triangular, Tag("dist=triangular")]
    | Annotated[Pert, Tag("dist=pert")]
    | Annotated[Beta, Tag("dist=beta")]
    | Annotated[Metalog, Tag("dist=metalog")]
    | Annotated[Mixture, Tag("dist=mixture")]
    | Annotated[SipInput, Tag("dist=sip")],
    Discriminator(
        _family_tag,
        custom_error_type="distribution_family",
        custom_error_message="expected a number or a table with 'dist' = one of "
        + ", ".join(f"'{name}'" for name in FAMILIES),
    ),
    BeforeValidator(_number_to_fixed),
]
"""A config value that is either a plain number or a distribution table."""

Mixture.model_rebuild()


def family_hint(value: Any) -> str:
    """Did-you-mean text for a table whose ``dist`` is not a known family."""
    if isinstance(value, dict) and "dist" in value:
        return did_you_mean(str(value["dist"]), FAMILIES)
    return ""


def _stats():
    """scipy.stats, imported on first use: its import is slow (see docs/performance.md)."""
    from scipy import stats

    return stats


@functools.lru_cache(maxsize=256)
def build_table(dist: Distribution) -> np.ndarray:
    """Cubic-spline coefficients of ``G(z) = F^-1(Phi(z))`` on a uniform grid of z.

    Returns a float64 array (n_intervals, 4): row i holds ``c0..c3`` with
    ``G(z) = c0 + w (c1 + w (c2 + w c3))`` for ``w = (z - z_i) / h`` in [0, 1).
    The grid is refined until the spline's error at every interval midpoint is below
    ``TABLE_TOLERANCE * dist.scale``; a ``ValueError`` is raised if that cannot be reached.
    Cubic Hermite pieces from the exact slope are tried first (scipy.special only); a
    not-a-knot spline (scipy.interpolate) where they cannot reach the tolerance. A table
    that the input's parameters determine in full (any but a SIP input's, which follows its
    library's data) is kept on disk (:func:`mcinfra.model.special_values.stored`): a later
    run reads it without scipy.
    """
    if isinstance(dist, SipInput):
        table = _tabulate(dist)
    else:
        table = stored("table", dist.model_dump_json(), lambda: _tabulate(dist))
    table.setflags(write=False)  # the cache hands the same array to every caller
    return table


def _tabulate(dist: Distribution) -> np.ndarray:
    """:func:`build_table`'s table, computed."""
    grids: dict[int, tuple] = {}  # per_unit -> (z, G(z), G(midpoints)), shared by the methods
    for method in (_hermite_coefficients, _spline_coefficients):
        for per_unit in (32, 64, 128, 256, 512, 1024):
            if per_unit not in grids:
                n_intervals = round(2 * TABLE_Z_MAX * per_unit)
                z = np.linspace(-TABLE_Z_MAX, TABLE_Z_MAX, n_intervals + 1)
                mid = 0.5 * (z[1:] + z[:-1])
                grids[per_unit] = z, dist.value_at_score(z), dist.value_at_score(mid)
            z, values, at_mid = grids[per_unit]
            c = method(dist, z, values)
            if c is None:
                continue
            # Each interval evaluated at w = 1/2, as the kernel evaluates it.
            estimate = c[:, 0] + 0.5 * (c[:, 1] + 0.5 * (c[:, 2] + 0.5 * c[:, 3]))
            error = np.max(np.abs(estimate - at_mid))
            if error <= TABLE_TOLERANCE * dist.scale:
                return np.ascontiguousarray(c)
    hint = (
        "; a mixture whose components are far apart, or one nearly a point, has a gap or "
        "step in its inverse CDF that the table cannot follow: use closer or wider components"
        if dist.family == "mixture"
        else ""
    )
    raise ValueError(
        f"cannot tabulate the inverse CDF of {dist.describe()} to {TABLE_TOLERANCE:g} of its "
        f"scale; the distribution is too extreme to sample accurately{hint}"
    )


def _hermite_coefficients(dist: Distribution, z: np.ndarray, values: np.ndarray):
    """Cubic Hermite coefficients from ``G`` and its exact slope (None without a slope).

    Needs only scipy.special, so a run does not pay for importing scipy.interpolate.
    """
    slope = dist.score_slope(z, values)
    if slope is None:
        return None
    h = z[1] - z[0]
    with np.errstate(invalid="ignore", over="ignore"):
        d0, d1 = h * slope[:-1], h * slope[1:]
        g0, g1 = values[:-1], values[1:]
        c = np.stack([g0, d0, 3 * (g1 - g0) - 2 * d0 - d1, 2 * (g0 - g1) + d0 + d1], axis=1)
    return c if np.isfinite(c).all() else None


def _spline_coefficients(dist: Distribution, z: np.ndarray, values: np.ndarray):
    """Not-a-knot cubic spline coefficients (scipy.interpolate, imported only if needed).

    None where a value is not finite (a quantile beyond the float range).
    """
    if not np.isfinite(values).all():
        return None
    from scipy.interpolate import CubicSpline

    h = z[1] - z[0]
    c = CubicSpline(z, values).c  # (4, n): highest power first, in powers of (z - z_i)
    return np.stack([c[3], c[2] * h, c[1] * h**2, c[0] * h**3], axis=1)


def table_params(n_intervals: int) -> np.ndarray:
    """Packed parameter row of a tabulated input: (z_min, 1/h, n_intervals, 0)."""
    h = 2 * TABLE_Z_MAX / n_intervals
    return np.array([-TABLE_Z_MAX, 1.0 / h, float(n_intervals), 0.0])
