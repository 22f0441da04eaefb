"""Probabilities of predictions with their Monte Carlo error, from mergeable counts."""

from __future__ import annotations

import math
from dataclasses import dataclass

Z95 = 1.959963984540054  # two-sided 95 % normal quantile


def wilson_interval(holds: int, draws: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion ``holds / draws``."""
    if draws <= 0:
        raise ValueError("draws must be positive")
    p = holds / draws
    denominator = 1 + z * z / draws
    centre = (p + z * z / (2 * draws)) / denominator
    half = z * math.sqrt(p * (1 - p) / draws + z * z / (4 * draws * draws)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass(frozen=True)
class ProbabilityEstimate:
    """P(prediction holds) from ``holds`` of ``draws`` independent draws."""

    holds: int
    draws: int

    @property
    def probability(self) -> float:
        """Share of draws in which the prediction holds."""
        return self.holds / self.draws

    @property
    def std_error(self) -> float:
        """Monte Carlo standard error sqrt(p (1 - p) / n)."""
        p = self.probability
        return math.sqrt(p * (1 - p) / self.draws)

    def interval(self, z: float = Z95) -> tuple[float, float]:
        """Wilson interval (95 % by default)."""
        return wilson_interval(self.holds, self.draws, z)
