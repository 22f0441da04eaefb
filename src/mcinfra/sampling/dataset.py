"""Layout of simulation results: dimension names, the Dataset, provenance attributes."""

from __future__ import annotations

import platform
from datetime import UTC, datetime
from importlib.metadata import version
from typing import TYPE_CHECKING

import numpy as np

from mcinfra.sampling.plan import Plan

if TYPE_CHECKING:  # xarray is slow to import; only some paths need it
    import xarray as xr

DRAW = "draw"
SEGMENT = "segment"
YEAR = "year"
INPUT = "input"
SCHEMA_VERSION = 1


def provenance(loaded, settings) -> dict[str, str | int]:
    """Attributes that let anyone reproduce a result exactly.

    ``loaded`` is a :class:`~mcinfra.config.LoadedConfig`, ``settings`` a
    :class:`~mcinfra.sampling.engine.RunSettings`.
    """
    import numba
    import scipy

    from mcinfra import __version__

    return {
        "mcinfra_schema_version": SCHEMA_VERSION,
        "config_name": loaded.config.model.name,
        "config_sha256": loaded.sha256,
        "config_text": loaded.text,
        # --set edits applied on top of config_text, one per line ("" when none)
        "config_overrides": "\n".join(loaded.overrides),
        # the SIPmath libraries read, one "sha256  path" line each, as sha256sum writes them
        "sip_libraries": "\n".join(f"{sha256}  {path}" for path, sha256 in loaded.libraries),
        "seed": int(settings.seed),
        "draws": int(settings.draws),
        "chunk_size": int(settings.chunk_size),
        "sampling_method": settings.method,
        "random_numbers": (
            f"scrambled Sobol' points (scipy.stats.qmc, {settings.replicates} replicates of "
            f"{settings.replicate_draws} points, each scrambled from SeedSequence(seed, "
            "spawn_key=(replicate,))); inverse-CDF normals"
            if settings.method == "sobol"
            else "xoshiro256++ stream per draw, state from SplitMix64(seed key, draw); "
            "ziggurat normals"
        ),
        "mcinfra_version": __version__,
        "numba_version": numba.__version__,
        "numpy_version": np.__version__,
        "scipy_version": scipy.__version__,
        "xarray_version": version("xarray"),
        "python_version": platform.python_version(),
        "created_utc": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def to_dataset(
    plan: Plan,
    values: np.ndarray,
    inputs: np.ndarray,
    scores: np.ndarray,
    draw_start: int,
    attrs: dict[str, str | int],
) -> xr.Dataset:
    """Wrap draw-last kernel output (series, year, draw) and (input, draw) without copying.

    The Dataset's dimensions are (draw, segment, year) and (draw, input); in memory the draw
    axis stays innermost, so every series-year column over draws is contiguous (fast
    quantiles, streaming stores). :func:`draw_last` recovers that layout as a view.
    """
    draws = np.arange(draw_start, draw_start + values.shape[-1], dtype=np.int64)

    def text(values) -> np.ndarray:
        # Variable-length strings: fixed-width unicode has no zarr 3 specification.
        return np.array(list(values), dtype=object)

    import xarray as xr
    from scipy.special import ndtr

    return xr.Dataset(
        data_vars={
            "value": (
                (DRAW, SEGMENT, YEAR),
                np.moveaxis(values, -1, 0),
                {
                    "long_name": "simulated series value",
                    "description": "money series in the model unit; adoption series as fractions "
                    "(see the unit coordinate)",
                },
            ),
            "inputs": ((DRAW, INPUT), inputs.T, {"long_name": "sampled input value"}),
            "input_rank": (
                (DRAW, INPUT),
                ndtr(scores).T,
                {
                    "long_name": "rank of the input value, F(x) = Phi(normal score), in (0, 1)",
                    "description": "fixed inputs have rank 0.5",
                },
            ),
        },
        coords={
            DRAW: draws,
            SEGMENT: text(s.label for s in plan.series),
            YEAR: np.array(plan.years, dtype=np.int64),
            INPUT: text(i.name for i in plan.inputs),
            "kind": (SEGMENT, text(s.kind for s in plan.series)),
            "partition": (SEGMENT, text(s.partition for s in plan.series)),
            "unit": (SEGMENT, text(s.unit for s in plan.series)),
            "family": (INPUT, text(i.spec.family for i in plan.inputs)),
            "origin": (INPUT, text(i.spec.origin for i in plan.inputs)),
            "config_path": (INPUT, text(i.path for i in plan.inputs)),
        },
        attrs=dict(attrs),
    )


def draw_last(values: np.ndarray) -> np.ndarray:
    """View of a (draw, ...) array with the draw axis moved last (no copy)."""
    return np.moveaxis(values, 0, -1)
