"""Conditional what-ifs: P(prediction | condition) over the very draws of a finished run.

Draw d's numbers depend only on (seed, d), so re-streaming a run's config, seed and draw
count reproduces its draws bit for bit; the condition (any boolean expression of the
prediction language, e.g. ``input("channel.hyperscale_cloud.crossover") < 2025.5``) is then
evaluated on the same draws as the predictions. Nothing is re-estimated from new draws.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mcinfra.config import LoadedConfig, parse_config
from mcinfra.config.sips import check_libraries
from mcinfra.config.validation import compile_predictions, prediction_scope
from mcinfra.errors import UsageError, did_you_mean
from mcinfra.io.run_directory import CONFIG, read_run
from mcinfra.language.predictions import PredictionError, compile_prediction
from mcinfra.sampling.engine import RunSettings, settings_from, stream
from mcinfra.sampling.plan import compile_plan
from mcinfra.stats.indicators import chunk_context
from mcinfra.stats.probability import ProbabilityEstimate


@dataclass(frozen=True)
class WhatIf:
    """A prediction's probability over all draws and over the draws meeting the condition."""

    id: str
    text: str
    overall: ProbabilityEstimate
    given: ProbabilityEstimate | None  # None when no draw meets the condition


def load_run(run_dir: Path) -> tuple[LoadedConfig, RunSettings]:
    """The config and sampling settings of a finished run directory."""
    loaded, settings, _ = load_run_and_summary(run_dir)
    return loaded, settings


def load_run_and_summary(run_dir: Path) -> tuple[LoadedConfig, RunSettings, dict]:
    """:func:`load_run`, and the run's summary (``summary.json``) read on the way."""
    run_dir = Path(run_dir)
    text, summary = read_run(run_dir)
    loaded, settings = recorded_config(run_dir, text, summary["run"])
    return loaded, settings, summary


def recorded_config(
    run_dir: Path, text: str, run: dict, threads: int | None = None
) -> tuple[LoadedConfig, RunSettings]:
    """The config ``text`` of the run in ``run_dir`` and its settings, checked against it.

    ``run`` is what the run recorded of itself (``summary.json``'s ``run`` section): its
    ``--set`` edits, settings, the config's hash and its SIPmath libraries' hashes.
    ``threads`` (numba threads) does not change the result.

    Raises
    ------
    UsageError
        When the config or a library it reads no longer matches its recorded hash.
    """
    overrides = tuple(run.get("config_overrides", ()))  # the run's --set edits
    loaded = parse_config(text, origin=str(run_dir / CONFIG), overrides=overrides)
    if run["config_sha256"] != loaded.sha256:
        raise UsageError(f"{run_dir}/{CONFIG} does not match the run's recorded hash")
    check_libraries(loaded.libraries, run.get("sip_libraries"), str(run_dir))
    settings = settings_from(loaded, run["draws"], run["seed"], run["chunk_size"], threads)
    return loaded, settings


def conditional(
    loaded: LoadedConfig, settings: RunSettings, given: str, ids: list[str] | None = None
) -> tuple[list[WhatIf], ProbabilityEstimate]:
    """P(prediction) and P(prediction | given) for each prediction; also P(given)."""
    if settings.method != "mc":
        raise UsageError(
            "whatif needs a plain Monte Carlo run (sampling.method = 'mc'): its binomial "
            "errors assume independent draws, which Sobol' points are not"
        )
    try:
        condition = compile_prediction(given, prediction_scope(loaded.config))
    except PredictionError as exc:
        raise UsageError(f"--given: {exc}") from None
    predictions = compile_predictions(loaded.config)
    if ids:
        valid = [p.id for p in predictions]
        unknown = [i for i in ids if i not in valid]
        if unknown:
            hint = did_you_mean(unknown[0], valid) if len(unknown) == 1 else ""
            listed = ", ".join(valid) if valid else "none"
            raise UsageError(
                f"--prediction: no prediction named {', '.join(unknown)} in the run's "
                f"config{hint}; its predictions are {listed}"
            )
        predictions = [p for p in predictions if p.id in ids]
    plan = compile_plan(loaded.config)
    labels = [s.label for s in plan.series]
    names = [i.name for i in plan.inputs]
    holds = np.zeros(len(predictions), dtype=np.int64)
    holds_given = np.zeros(len(predictions), dtype=np.int64)
    count = {"given": 0, "draws": 0}

    def on_chunk(first, values, inputs, scores, gap):
        context = chunk_context(values, inputs, labels, plan.years, names)
        mask = condition.holds(context)
        count["given"] += int(mask.sum())
        count["draws"] += mask.size
        for i, prediction in enumerate(predictions):
            indicator = prediction.compiled.holds(context)
            holds[i] += int(indicator.sum())
            holds_given[i] += int(np.count_nonzero(indicator & mask))

    stream(plan, settings, on_chunk)
    results = [
        WhatIf(
            p.id,
            p.text,
            ProbabilityEstimate(int(h), count["draws"]),
            ProbabilityEstimate(int(g), count["given"]) if count["given"] else None,
        )
        for p, h, g in zip(predictions, holds, holds_given, strict=True)
    ]
    return results, ProbabilityEstimate(count["given"], count["draws"])
