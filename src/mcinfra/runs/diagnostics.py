"""What ``mcinfra validate`` reports about a valid configuration."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from mcinfra.config import LoadedConfig
from mcinfra.config.schema import Config
from mcinfra.config.structure import list_inputs, list_series
from mcinfra.config.validation import compile_predictions
from mcinfra.sampling.dataset import INPUT, SEGMENT, YEAR, draw_last
from mcinfra.sampling.plan import compile_plan
from mcinfra.stats.indicators import chunk_context

if TYPE_CHECKING:
    import xarray as xr


def coherence_gaps(loaded: LoadedConfig) -> dict[str, float]:
    """Per partition: implied total CAGR minus the total's trend CAGR, at central values.

    With base shares w_i and segment CAGRs g_i, a partition grows like
    (sum_i w_i (1 + g_i)^H)^(1/H) - 1; a coherent config makes that equal the total's g.
    Central values are modes where the family has one (triangular, PERT), else medians.
    """
    config = loaded.config
    horizon = config.model.end_year - config.model.start_year
    trend = config.total.cagr.central()
    gaps = {}
    for name, partition in config.partitions.items():
        shares = [s.share.central() for s in partition.segments.values()]
        growth = [s.cagr.central() for s in partition.segments.values()]
        level = math.fsum(w * (1 + g) ** horizon for w, g in zip(shares, growth, strict=True))
        implied = (level / math.fsum(shares)) ** (1 / horizon) - 1
        gaps[name] = implied - trend
    return gaps


def base_year_function_shares(loaded: LoadedConfig) -> dict[str, float]:
    """Per host segment: rising-function share in the first year at central values."""
    config = loaded.config
    split = config.function_split
    if split is None:
        return {}
    year = config.model.start_year
    return {
        segment: 1 / (1 + math.exp(-spec.steepness.central() * (year - spec.crossover.central())))
        for segment, spec in split.segments.items()
    }


def diagnostics_text(loaded: LoadedConfig) -> str:
    """Human-readable diagnostics of a configuration that passed validation."""
    config = loaded.config
    plan = compile_plan(config)
    inputs = list_inputs(config)
    uncertain = [i for i in inputs if not i.spec.is_fixed]
    lines = [
        f"{loaded.origin}: valid",
        f"model '{config.model.name}': {config.model.start_year}-{config.model.end_year}, "
        f"{len(list_series(config))} series, {len(inputs)} inputs ({len(uncertain)} uncertain, "
        f"{sum(i.spec.origin == 'source' for i in inputs)} from the source, "
        f"{sum(i.spec.origin == 'mixed' for i in inputs)} partly), "
        f"{plan.n_normals} normals per draw",
    ]
    gaps = coherence_gaps(loaded)
    if gaps:  # a model without partitions has no gap to show
        lines += [
            "",
            f"coherence gap per partition (implied CAGR minus total trend CAGR "
            f"{100 * config.total.cagr.central():.2f} %, at central values):",
        ]
        width = max(20, *(len(name) for name in gaps))
        lines += [f"  {name:<{width}} {100 * gap:+.2f} points" for name, gap in gaps.items()]
    shares = base_year_function_shares(loaded)
    if shares:
        split = config.function_split
        assert split is not None
        lines += ["", f"{split.rising} share in {config.model.start_year} at central values:"]
        width = max(20, *(len(segment) for segment in shares))
        lines += [f"  {segment:<{width}} {share:.3f}" for segment, share in shares.items()]
    if plan.repaired:
        lines += [
            "",
            "correlations were repaired to the nearest valid matrix "
            "(sampling.repair_correlations = true)",
        ]
    return "\n".join(lines)


PILOT_DRAWS = 20_000


def draws_for_target(
    loaded: LoadedConfig, target_se: float, pilot_draws: int = PILOT_DRAWS
) -> list[tuple[str, float, int]]:
    """Estimated draws for each prediction's standard error to fall below ``target_se``.

    From a pilot run of ``pilot_draws`` draws (the config's seed): with the pilot's
    Laplace-smoothed probability p, n = p (1 - p) / target_se**2. Returns
    ``(prediction id, pilot probability, draws)`` per prediction.
    """
    from mcinfra.sampling.engine import RunSettings, simulate

    sampling = loaded.config.sampling
    ds = simulate(loaded, RunSettings(pilot_draws, sampling.seed, sampling.chunk_size))
    rows = []
    for name, holds in prediction_indicators(ds, loaded.config).items():
        p = (int(holds.sum()) + 1) / (pilot_draws + 2)
        rows.append((name, float(holds.mean()), math.ceil(p * (1 - p) / target_se**2)))
    return rows


def prediction_indicators(ds: xr.Dataset, config: Config) -> dict[str, np.ndarray]:
    """Boolean per draw for each configured prediction of an in-memory run."""
    predictions = compile_predictions(config)
    context = chunk_context(
        draw_last(ds["value"].values),
        draw_last(ds["inputs"].values),
        list(ds[SEGMENT].values),
        list(ds[YEAR].values),
        list(ds[INPUT].values),
    )
    return {p.id: p.compiled.holds(context) for p in predictions}
