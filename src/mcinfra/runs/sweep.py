"""Stress sweeps: one run per value of one config key, all with the same random numbers.

Every run of a sweep uses the same seed, so draw d has the same normals in every run
(common random numbers): a prediction's probability moves only because the swept value
moved, and the curve of probability against the value is smooth where independent runs
would add noise of one standard error at each point.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from mcinfra.config import load_config
from mcinfra.config.loading import apply_override
from mcinfra.runs.pipeline import run_to_directory
from mcinfra.sampling.engine import settings_from


def run_sweep(
    config: str | None,
    param: str,
    values: list[str],
    out: Path,
    overrides: tuple[str, ...] = (),
    draws: int | None = None,
    seed: int | None = None,
    chunk_size: int | None = None,
    threads: int | None = None,
    progress=None,
) -> dict:
    """Run one scenario per value of ``param`` into ``out/run_NN``; return sweep.json's content.

    ``param`` is a key path or an input's name (``offering.network.cagr.mean``); each run
    records the full key path. Every value is validated (as ``--set param=value``) before
    anything runs.
    """
    base = load_config(config, overrides)
    data = tomllib.loads(base.text)
    for item in overrides:
        apply_override(data, item, base.origin)
    path = apply_override(data, f"{param}={values[0]}", base.origin, what=f"--param {param!r}")
    loaded_runs = [load_config(config, (*overrides, f"{path}={value}")) for value in values]
    points = []
    for index, (value, loaded) in enumerate(zip(values, loaded_runs, strict=True)):
        settings = settings_from(loaded, draws, seed, chunk_size, threads)
        run_dir = out / f"run_{index:02d}"
        summary = run_to_directory(loaded, settings, run_dir, progress=progress)
        points.append(
            {
                "value": value,
                "run": run_dir.name,
                "seed": settings.seed,
                "draws": summary["run"]["draws"],
                "predictions": summary["predictions"],
            }
        )
    return {"param": param, "overrides": list(overrides), "points": points}
