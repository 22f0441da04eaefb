"""Distribution families of uncertain inputs.

Each family is a frozen pydantic model (the ``dist`` key of a config table selects it) that
knows its parameters' rules, its scipy twin, its median and how to pack itself for the
kernels: an integer family code plus a float64[4] parameter row. Families without a cheap
exact inverse CDF (beta, PERT, truncated normal) are packed as a verified cubic-spline table
of ``G(z) = F^-1(Phi(z))`` (:func:`build_table`).
"""

from __future__ import annotations

import functools
import math
from typing import Annotated, Any, ClassVar, Literal

import numpy as np
from pydantic import BeforeValidator, Discriminator, Field, Tag, model_validator
from pydantic_core import PydanticCustomError

from mcinfra.errors import did_you_mean
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


class Distribution(StrictModel):
    """Common fields: where the number came from."""

    family: ClassVar[str]
    source: str = ""
    origin: Origin = "assumption"

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
        """Exact ``F^-1(Phi(z))`` by scipy, each half through its own tail."""
        frozen = self.frozen()
        return np.where(z <= 0, frozen.ppf(ndtr(z)), frozen.isf(ndtr(-z)))

    def describe(self) -> str:
        """Short human-readable form, e.g. ``normal(mean=0.2, sd=0.03)``."""
        skip = {"source", "origin", "dist"}
        fields = ", ".join(
            f"{k}={v:g}" for k, v in self.model_dump().items() if k not in skip and v is not None
        )
        return f"{self.family}({fields})"


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
    dist: Literal["uniform"]
    low: float
    high: float

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
    dist: Literal["normal"]
    mean: float
    sd: float

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

    @property
    def scale(self) -> float:
        return self.sd

    def pack(self) -> tuple[int, np.ndarray]:
        return codes.NORMAL, np.array([self.mean, self.sd, 0.0, 0.0])


class TruncatedNormal(Distribution):
    """Normal with mean and sd restricted to [low, high] (either end may be omitted)."""

    family: ClassVar[str] = "truncnormal"
    dist: Literal["truncnormal"]
    mean: float
    sd: float
    low: float | None = None
    high: float | None = None

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
    dist: Literal["lognormal"]
    median_: float | None = Field(default=None, alias="median")
    log_sd: float | None = None
    mean: float | None = None
    sd: float | None = None

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

    def pack(self) -> tuple[int, np.ndarray]:
        mu, sigma = self.log_params
        return codes.LOGNORMAL, np.array([mu, sigma, 0.0, 0.0])

    def describe(self) -> str:
        mu, sigma = self.log_params
        return f"lognormal(median={math.exp(mu):g}, log_sd={sigma:g})"


class _MinModeMax(Distribution):
    min: float
    mode: float
    max: float

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
        mode_score = float(ndtri((self.mode - self.min) / (self.max - self.min)))
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
    dist: Literal["beta"]
    alpha: float
    beta: float
    low: float = 0.0
    high: float = 1.0

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


FAMILIES: dict[str, type[Distribution]] = {
    cls.family: cls
    for cls in (Fixed, Uniform, Normal, TruncatedNormal, LogNormal, Triangular, Pert, Beta)
}


def _bad(message: str, **values: float) -> PydanticCustomError:
    shown = ", ".join(f"{k}={v!r}" for k, v in values.items())
    text = f"{message} (got {shown})" if shown else message
    return PydanticCustomError("distribution", text.replace("{", "{{").replace("}", "}}"))


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
    | Annotated[Beta, Tag("dist=beta")],
    Discriminator(
        _family_tag,
        custom_error_type="distribution_family",
        custom_error_message="expected a number or a table with 'dist' = one of "
        + ", ".join(f"'{name}'" for name in FAMILIES),
    ),
    BeforeValidator(_number_to_fixed),
]
"""A config value that is either a plain number or a distribution table."""


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
    not-a-knot spline (scipy.interpolate) where they cannot reach the tolerance.
    """
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
                table = np.ascontiguousarray(c)
                table.setflags(write=False)  # the cache hands the same array to every caller
                return table
    raise ValueError(
        f"cannot tabulate the inverse CDF of {dist.describe()} to {TABLE_TOLERANCE:g} of its "
        "scale; the distribution is too extreme to sample accurately"
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
    """Not-a-knot cubic spline coefficients (scipy.interpolate, imported only if needed)."""
    from scipy.interpolate import CubicSpline

    h = z[1] - z[0]
    c = CubicSpline(z, values).c  # (4, n): highest power first, in powers of (z - z_i)
    return np.stack([c[3], c[2] * h, c[1] * h**2, c[0] * h**3], axis=1)


def table_params(n_intervals: int) -> np.ndarray:
    """Packed parameter row of a tabulated input: (z_min, 1/h, n_intervals, 0)."""
    h = 2 * TABLE_Z_MAX / n_intervals
    return np.array([-TABLE_Z_MAX, 1.0 / h, float(n_intervals), 0.0])
