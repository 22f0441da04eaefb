"""The configuration schema: frozen pydantic models, one per TOML table.

Structural rules (types, unknown keys, per-distribution parameter rules) live here;
rules that relate several tables (references, shares summing to 1, unique labels,
correlations) live in :mod:`mcinfra.config.validation`.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StringConstraints, field_validator

from mcinfra.config.counts import MAX_DRAWS, whole_count
from mcinfra.model.distributions import InputSpec, Origin
from mcinfra.model.strict import StrictModel

NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"
MODEL_NAME_PATTERN = r"^[A-Za-z0-9_.-]+$"
PATTERN_RULES = {
    NAME_PATTERN: "a name may contain only letters (A-Z, a-z), digits and '_', and may not "
    "start with a digit",
    MODEL_NAME_PATTERN: "a model name may contain only letters (A-Z, a-z), digits, '_', '.' "
    "and '-'",
}
"""What each name pattern allows, in words (for error messages)."""

Name = Annotated[str, StringConstraints(pattern=NAME_PATTERN, max_length=64)]
"""A label usable in expressions: letters, digits and underscores, not starting with a digit."""


class ModelInfo(StrictModel):
    """``[model]``: what is simulated, over which years, in which unit."""

    name: Annotated[str, StringConstraints(pattern=MODEL_NAME_PATTERN, max_length=64)]
    title: str = ""
    description: str = ""
    source: str = ""
    unit: str = "USD billion"
    start_year: int = Field(ge=1900, le=2200)
    end_year: int = Field(ge=1900, le=2200)
    growth_factor_floor: float = Field(default=0.05, gt=0.0, le=1.0)

    @field_validator("end_year")
    @classmethod
    def _after_start(cls, end_year: int, info) -> int:
        start = info.data.get("start_year")
        if start is not None and not start < end_year <= start + 100:
            raise ValueError(
                f"end_year must be after start_year and at most 100 years later "
                f"(got start_year={start}, end_year={end_year})"
            )
        return end_year


class Sampling(StrictModel):
    """``[sampling]``: how many draws, which seed, in which chunks, plain or quasi-Monte Carlo."""

    draws: int = Field(default=100_000, ge=1, le=MAX_DRAWS)
    seed: int = Field(default=0, ge=0, lt=2**64)
    # Not a power of two: buffer rows a power of two apart share cache sets (docs/config.md).
    chunk_size: int = Field(default=60_000, ge=1, le=10**8)
    repair_correlations: bool = False
    method: Literal["mc", "sobol"] = "mc"
    # With "sobol", draws must be replicates x a power of two: checked with the run's final
    # draw count (--draws may replace this file's) by mcinfra.sampling.engine.RunSettings.
    replicates: int = Field(default=16, ge=2, le=4096)

    @field_validator("draws", mode="before")
    @classmethod
    def _exact_draws(cls, draws: object) -> int:
        # Read exactly: a float beyond 2**53 may be a rounded count, and a count beyond
        # MAX_DRAWS would repeat random streams (mcinfra.config.counts).
        return whole_count(draws, "a draw count", MAX_DRAWS)


class Shock(StrictModel):
    """Yearly AR(1) growth shock: ``sd`` (growth points) and autocorrelation ``phi``."""

    sd: float = Field(ge=0.0, le=10.0)
    phi: float = Field(gt=-1.0, lt=1.0)
    source: str = ""
    origin: Origin = "assumption"


class Total(StrictModel):
    """``[total]``: base-year size, trend CAGR and shock of the whole market."""

    description: str = ""
    base: InputSpec
    cagr: InputSpec
    shock: Shock


class Segment(StrictModel):
    """One segment of a partition: base-year share and trend CAGR."""

    description: str = ""
    share: InputSpec
    cagr: InputSpec


class Partition(StrictModel):
    """``[partitions.NAME]``: segments that split the total, and named groups of them."""

    description: str = ""
    source: str = ""
    origin: Origin = "assumption"
    shock: Shock
    segments: dict[Name, Segment] = Field(min_length=1)
    groupings: dict[Name, dict[Name, list[Name]]] = {}


class FunctionSegment(StrictModel):
    """Logistic crossover of one host segment: crossover year and steepness."""

    crossover: InputSpec
    steepness: InputSpec


class FunctionSplit(StrictModel):
    """``[function_split]``: each host segment splits into a rising and a falling function."""

    partition: Name
    rising: Name = "inference"
    falling: Name = "training"
    description: str = ""
    segments: dict[Name, FunctionSegment] = Field(min_length=1)
    crossover_report: list[Name] = ["total"]


class Adoption(StrictModel):
    """``[adoption.NAME]``: a logistic share a(t) = 1 / (1 + exp(-(logit(a0) + r t)))."""

    description: str = ""
    initial_share: InputSpec
    logit_rate: InputSpec


class Derived(StrictModel):
    """``[derived.NAME]``: a series defined by an expression over other series and parameters."""

    expr: str = Field(min_length=1, max_length=2000)
    unit: str | None = None
    description: str = ""


class Correlation(StrictModel):
    """``[[correlations]]``: a rank (Spearman) correlation between two uncertain inputs."""

    between: list[str] = Field(min_length=2, max_length=2)
    rank: float = Field(ge=-1.0, le=1.0)
    source: str = ""
    origin: Origin = "assumption"


class SourceFigure(StrictModel):
    """``[[source_figures]]``: a point figure of the source, shown against the distribution.

    ``kind`` is ``value`` (series in ``year``), ``share`` (series / total in ``year``) or
    ``cagr`` (growth of the series from ``start_year`` to ``end_year``).
    """

    series: str
    kind: Literal["value", "share", "cagr"] = "value"
    value: float
    year: int | None = None
    start_year: int | None = None
    end_year: int | None = None
    description: str = ""


class PredictionSpec(StrictModel):
    """``[predictions.ID]``: a forecast in its own words and the expression that tests it."""

    text: str = Field(min_length=1)
    expr: str = Field(min_length=1, max_length=2000)
    source: str = ""


class ObservationSpec(StrictModel):
    """``[[observations]]``: a measured quantity and its error model, for ``mcinfra update``."""

    quantity: str = Field(min_length=1, max_length=2000)
    error: str = Field(min_length=1, max_length=2000)
    source: str = ""


class SensitivitySettings(StrictModel):
    """``[sensitivity]``: how ``mcinfra drivers`` groups the inputs into players.

    ``groups`` maps a player's name to the uncertain inputs it stands for, named as in
    ``[[correlations]]``; every other uncertain input is a player of its own.
    """

    groups: dict[Name, list[str]] = {}


class Config(StrictModel):
    """A whole market model."""

    model: ModelInfo
    sampling: Sampling = Sampling()
    total: Total
    partitions: dict[Name, Partition] = {}
    function_split: FunctionSplit | None = None
    adoption: dict[Name, Adoption] = {}
    parameters: dict[Name, InputSpec] = {}
    derived: dict[Name, Derived] = {}
    correlations: list[Correlation] = []
    source_figures: list[SourceFigure] = []
    predictions: dict[Name, PredictionSpec] = {}
    observations: list[ObservationSpec] = []  # news for mcinfra update; a run ignores them
    sensitivity: SensitivitySettings = SensitivitySettings()

    @property
    def years(self) -> list[int]:
        """Calendar years y0 .. yH."""
        return list(range(self.model.start_year, self.model.end_year + 1))
