"""A whole run: sample chunk by chunk, reduce each chunk, write the run directory.

Every reduction is exact and mergeable (counts, ordered copies of a few columns), so a run
gives the same summary for any chunk size or thread count. With ``target_se`` the run stops
after the first chunk at which every prediction's standard error is below the target.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable
from pathlib import Path

from mcinfra.config import LoadedConfig
from mcinfra.engine import ProgressCallback, RunSettings, stream, warm_up
from mcinfra.output import DrawWriter, atomic_directory, write_json
from mcinfra.plan import compile_plan
from mcinfra.report_text import (
    prediction_rows,
    run_summary,
    summary_keys,
    write_prediction_csv,
    write_quantiles,
    write_sensitivity_csv,
)
from mcinfra.results import provenance
from mcinfra.stats.crossover import CrossoverCounter
from mcinfra.stats.indicators import PredictionCounter, compile_predictions
from mcinfra.stats.quantiles import quantile_table
from mcinfra.stats.summary import ColumnCollector, PartitionCheck

QUANTILE_MEMORY = 4 * 2**30  # bytes of exact per-draw columns kept for quantiles.csv


def stopping_error(holds: int, draws: int) -> float:
    """Standard error used by the stopping rule: Laplace-smoothed, so 0 or n hits still count.

    With p = (holds + 1) / (draws + 2), sqrt(p (1 - p) / draws): a prediction that has not
    held yet cannot stop a run after a handful of draws.
    """
    p = (holds + 1) / (draws + 2)
    return math.sqrt(p * (1 - p) / draws)


def run_to_directory(
    loaded: LoadedConfig,
    settings: RunSettings,
    out: Path,
    save_draws: bool = False,
    target_se: float | None = None,
    progress: ProgressCallback | None = None,
    notify: Callable[[str], None] | None = None,
    report: bool = False,
    log: bool = False,
) -> dict:
    """Run and write ``out`` atomically; return the summary (``summary.json``'s content).

    With ``target_se``, ``settings.draws`` is the cap on draws.
    """
    with atomic_directory(out) as staging:
        started = time.perf_counter()
        plan = compile_plan(loaded.config)
        warm_up(plan)
        if notify is not None and time.perf_counter() - started > 5:
            notify(
                f"compiled the kernels in {time.perf_counter() - started:.0f} s; later runs "
                "load them from cache"
            )
        attrs = provenance(loaded, settings)
        labels = [s.label for s in plan.series]
        keys = summary_keys(labels, plan.years, loaded.config.source_figures)
        all_years = settings.draws * len(labels) * len(plan.years) * 8 <= QUANTILE_MEMORY
        if all_years:
            keys += [(label, y) for label in labels for y in plan.years if (label, y) not in keys]
        collector = ColumnCollector(
            keys, labels, plan.years, capacity=None if target_se is not None else settings.draws
        )
        check = PartitionCheck([s.kind for s in plan.series], [s.partition for s in plan.series])
        counter = PredictionCounter(
            compile_predictions(loaded.config),
            labels,
            plan.years,
            [i.name for i in plan.inputs],
            [not i.spec.is_fixed for i in plan.inputs],
        )
        split = loaded.config.function_split
        crossovers = (
            CrossoverCounter(
                split.crossover_report, split.rising, split.falling, labels, plan.years
            )
            if split is not None
            else None
        )
        writer = (
            DrawWriter(staging / "draws.zarr", plan, attrs, settings.chunk_size)
            if save_draws
            else None
        )

        def on_chunk(first, values, inputs, scores):
            collector.add(first, values)
            check.add(values)
            counter.add(values, inputs, scores)
            if crossovers is not None:
                crossovers.add(first, values)
            if writer is not None:
                writer.write(first, values, inputs, scores)

        def target_met() -> bool:
            return target_se is not None and all(
                stopping_error(int(h), counter.draws) < target_se for h in counter.holds
            )

        cap = settings.draws
        sampling_seconds, done = stream(plan, settings, on_chunk, progress, stop=target_met)
        settings = dataclasses.replace(settings, draws=done)
        attrs["draws"] = done
        if writer is not None:
            writer.close({"draws": done})
        summary = run_summary(
            collector.columns, plan, loaded, settings, attrs, check.worst, sampling_seconds
        )
        summary["predictions"] = prediction_rows(counter)
        summary["crossovers"] = crossovers.rows() if crossovers is not None else []
        checkpoints = list(counter.history)
        if not checkpoints or checkpoints[-1][0] != counter.draws:
            checkpoints.append((counter.draws, [int(h) for h in counter.holds]))
        summary["convergence"] = {
            "draws": [d for d, _ in checkpoints],
            "holds": {
                p.id: [h[i] for _, h in checkpoints] for i, p in enumerate(counter.predictions)
            },
        }
        if target_se is not None:
            summary["sequential"] = {
                "target_std_error": target_se,
                "max_draws": cap,
                "draws_used": done,
                "target_met": target_met(),
            }
        columns = collector.columns
        table_keys = [(s, y) for s in labels for y in plan.years if (s, y) in columns.index]
        table = quantile_table(columns, table_keys)
        summary["quantiles"] = {
            "years": "all" if all_years else "first and last",
            "note": ""
            if all_years
            else (
                f"every year needs {len(labels) * len(plan.years) * 8} bytes per draw; above "
                f"{QUANTILE_MEMORY / 2**30:.0f} GiB only the first and last years are tabulated"
            ),
        }
        write_quantiles(staging, table)
        write_prediction_csv(staging / "predictions.csv", summary["predictions"])
        write_sensitivity_csv(staging / "sensitivity.csv", counter)
        (staging / "config.toml").write_text(loaded.text, encoding="utf-8")
        summary["timing"]["total_seconds"] = time.perf_counter() - started
        write_json(staging / "summary.json", summary)
        if report:
            from mcinfra.report import build_report

            build_report(staging, log=log)
    return summary
