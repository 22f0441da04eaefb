"""A whole run: sample chunk by chunk, reduce each chunk, write the run directory.

Every reduction is mergeable and exact to the count (prediction and bin counts, the integer
buckets of the quantile sketch, or, for runs that fit in memory, every draw's values), so a
run gives the same summary for any chunk size or thread count. With ``target_se`` the run stops
after the first chunk at which every prediction's standard error is below the target.
"""

from __future__ import annotations

import dataclasses
import math
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from mcinfra.config import LoadedConfig
from mcinfra.config.structure import list_inputs, list_series
from mcinfra.errors import UsageError
from mcinfra.io.run_directory import (
    DrawWriter,
    atomic_directory,
    check_target,
    staging_prefix,
    write_json,
    write_prediction_csv,
    write_quantiles,
    write_sensitivity_csv,
)
from mcinfra.run.reductions import Reductions
from mcinfra.run.summary import prediction_rows, run_summary
from mcinfra.sampling.dataset import DRAW, provenance, to_dataset
from mcinfra.sampling.engine import (
    MAX_IN_MEMORY_BYTES,
    ProgressCallback,
    RunSettings,
    SamplingClock,
    kernels_cached,
    stream,
    warm_up,
)
from mcinfra.sampling.plan import compile_plan
from mcinfra.stats.quantiles import quantile_table
from mcinfra.stats.reduction import Chunk

# Quantiles are exact order statistics while every series-year of every draw fits in this
# many bytes; larger runs use the mergeable sketch (bounded memory, relative error 1e-3).
EXACT_QUANTILE_MEMORY = 256 * 2**20
CHECKPOINT = "checkpoint.npz"
RUN_OPTIONS = "run-options.json"
CHECKPOINT_SECONDS = 30.0


def stopping_error(holds: int, draws: int) -> float:
    """Standard error used by the stopping rule: Laplace-smoothed, so 0 or n hits still count.

    With p = (holds + 1) / (draws + 2), sqrt(p (1 - p) / draws): a prediction that has not
    held yet cannot stop a run after a handful of draws.
    """
    p = (holds + 1) / (draws + 2)
    return math.sqrt(p * (1 - p) / draws)


def check_sequential(target_se: float | None, method: str) -> None:
    """Refuse sequential stopping for Sobol' runs, whose replicates must all be drawn."""
    if target_se is not None and method != "mc":
        raise UsageError(
            "--target-se stops a plain Monte Carlo run early; a Sobol' run "
            "(sampling.method = 'sobol') needs all its replicates: set --draws instead"
        )


def check_finite(table) -> None:
    """Refuse a run whose quantiles are not finite: its values overflowed or were 0/0.

    A config can ask for more than double precision holds (a derived series multiplying two
    money series whose base is near 1e154, say); its summary would be meaningless.
    """
    bad = ~np.isfinite(table.value)
    if not bad.any():
        return
    s, t, q = (int(i) for i in np.argwhere(bad)[0])
    raise UsageError(
        f"series '{table.segments[s]}' is not finite in {table.years[t]} (its "
        f"{100 * table.probs[q]:g} % quantile is {table.value[s, t, q]}): its values overflow "
        "double precision (about 1.8e308) or divide zero by zero; check the scale of "
        "total.base and the derived series' expressions"
    )


def save_checkpoint(path: Path, reductions: Reductions, draws_done: int, sampled: float) -> None:
    """Write every reduction's state atomically (a kill mid-write leaves the previous one)."""
    arrays = reductions.state()
    temporary = path.with_suffix(".tmp.npz")
    np.savez(temporary, draws_done=draws_done, sampling_seconds=sampled, **arrays)
    os.replace(temporary, path)


def check_disk_space(loaded: LoadedConfig, draws: int, out: Path) -> None:
    """Refuse --save-draws when the draws, uncompressed, would not fit on the disk."""
    n_inputs = len(list_inputs(loaded.config))
    needed = plan_values_bytes(loaded, draws) + draws * n_inputs * 2 * 8
    parent = out.absolute().parent
    while not parent.exists():
        parent = parent.parent
    free = shutil.disk_usage(parent).free
    if needed > free:
        raise UsageError(
            f"--save-draws would write up to {needed / 2**30:,.1f} GiB for {draws:,} draws; "
            f"{free / 2**30:,.1f} GiB are free at {parent}"
        )


def find_interrupted(out: Path) -> Path:
    """The temporary directory of the interrupted run of ``out`` that can be resumed."""
    out = Path(out)
    found = [
        d
        for d in out.parent.glob(f"{staging_prefix(out)}*")
        if (d / CHECKPOINT).is_file() and (d / RUN_OPTIONS).is_file()
    ]
    if not found:
        raise UsageError(f"no interrupted run of {out} to resume (no checkpoint beside it)")
    return max(found, key=lambda d: (d / CHECKPOINT).stat().st_mtime)


def plan_values_bytes(loaded: LoadedConfig, draws: int) -> int:
    """Bytes of every series-year value of ``draws`` draws."""
    model = loaded.config.model
    return draws * len(list_series(loaded.config)) * (model.end_year - model.start_year + 1) * 8


def exact_quantiles(method: str, needed: int) -> bool:
    """Whether a run needing ``needed`` bytes for exact quantiles gets them."""
    if method not in ("auto", "exact", "sketch"):
        raise UsageError(f"quantiles must be auto, exact or sketch, got {method!r}")
    if method == "exact" and needed > MAX_IN_MEMORY_BYTES:
        raise UsageError(
            f"exact quantiles would hold {needed / 2**30:.1f} GiB of values in memory "
            f"(limit {MAX_IN_MEMORY_BYTES / 2**30:.0f} GiB); use --quantiles sketch"
        )
    return method == "exact" or (method == "auto" and needed <= EXACT_QUANTILE_MEMORY)


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
    quantiles: str = "auto",
    resume: Path | None = None,
    checkpoint_seconds: float = CHECKPOINT_SECONDS,
    client=None,
    replace: bool = True,
) -> dict:
    """Run and write ``out`` atomically; return the summary (``summary.json``'s content).

    With ``target_se``, ``settings.draws`` is the cap on draws. ``quantiles``: "exact"
    (every draw's values held in memory), "sketch" (bounded memory, relative error 1e-3),
    or "auto" (exact while they fit in ``EXACT_QUANTILE_MEMORY``).

    Every ``checkpoint_seconds`` the state of every reduction is saved in the temporary
    directory; an interrupted run keeps that directory and ``resume`` (see
    :func:`find_interrupted`) continues it to the result an uninterrupted run gives. Runs
    that save draws are not checkpointed. An existing run at ``out`` is replaced only with
    ``replace``; a non-empty directory that holds no run never is.

    With a ``dask.distributed`` ``client`` each chunk runs as a task on its cluster
    (:mod:`mcinfra.run.distributed`); the result is identical.
    """
    check_target(out, replace)
    if save_draws:
        check_disk_space(loaded, settings.draws, Path(out))
    if client is not None and save_draws:
        raise UsageError("--save-draws writes from one process; it cannot be combined with dask")
    check_sequential(target_se, settings.method)
    exact = exact_quantiles(quantiles, plan_values_bytes(loaded, settings.draws))
    checkpoint_file = None

    def resumable() -> bool:
        return checkpoint_file is not None and checkpoint_file.exists()

    try:
        with atomic_directory(out, staging=resume, keep=resumable) as staging:
            if resume is None:
                options = {
                    "draws": settings.draws,
                    "seed": settings.seed,
                    "chunk_size": settings.chunk_size,
                    "threads": settings.threads,
                    "target_se": target_se,
                    "quantiles": quantiles,
                    "report": report,
                    "log": log,
                    "config_origin": loaded.origin,
                    "config_overrides": list(loaded.overrides),
                }
                write_json(staging / RUN_OPTIONS, options)
                (staging / "config.toml").write_text(loaded.text, encoding="utf-8")
            started = time.perf_counter()
            if notify is not None and kernels_cached() is False:
                notify("compiling the kernels: about a minute on 2 cores, once per installation")
            plan = compile_plan(loaded.config)
            warm_up(plan)
            if notify is not None and time.perf_counter() - started > 5:
                notify(
                    f"compiled the kernels in {time.perf_counter() - started:.0f} s; later runs "
                    "load them from cache"
                )
            attrs = provenance(loaded, settings)
            reductions = Reductions(
                loaded,
                plan,
                exact,
                None if target_se is not None else settings.draws,
                replicate_draws=settings.replicate_draws,
            )
            writer = (
                DrawWriter(staging / "draws.zarr", settings.chunk_size, DRAW)
                if save_draws
                else None
            )
            start, clock = 0, SamplingClock()
            if resume is not None:
                with np.load(resume / CHECKPOINT) as saved:
                    try:
                        reductions.restore(saved)
                    except (KeyError, ValueError) as exc:
                        raise UsageError(
                            f"cannot resume {resume}: its checkpoint does not fit this run or "
                            f"this version of mcinfra ({exc}); start the run again"
                        ) from None
                    start = int(saved["draws_done"])
                    clock.seconds = float(saved["sampling_seconds"])
            if writer is None:
                checkpoint_file = staging / CHECKPOINT
            last_checkpoint = time.perf_counter()

            def checkpoint(done: int) -> None:
                nonlocal last_checkpoint
                if writer is None and time.perf_counter() - last_checkpoint >= checkpoint_seconds:
                    save_checkpoint(checkpoint_file, reductions, done, clock.seconds)
                    last_checkpoint = time.perf_counter()

            def on_chunk(first, values, inputs, scores, gap):
                reductions.add(Chunk(first, values, inputs, scores, gap))
                if writer is not None:
                    writer.write(to_dataset(plan, values, inputs, scores, first, attrs))
                checkpoint(first + values.shape[-1])

            def target_met() -> bool:
                return target_se is not None and all(
                    stopping_error(int(h), reductions.counter.draws) < target_se
                    for h in reductions.counter.holds
                )

            cap = settings.draws
            if client is None:
                _, done = stream(
                    plan, settings, on_chunk, progress, stop=target_met, start=start, clock=clock
                )
            else:
                from mcinfra.run.distributed import stream_distributed

                _, done = stream_distributed(
                    client, loaded, settings, exact, reductions, progress, target_met, start,
                    after_chunk=checkpoint, clock=clock,
                )  # fmt: skip
            sampling_seconds = clock.seconds  # every session's, when resumed
            settings = dataclasses.replace(settings, draws=done)
            attrs["draws"] = done
            if writer is not None:
                writer.close({"draws": done})
            columns = reductions.columns
            counter, crossovers = reductions.counter, reductions.crossovers
            summary = run_summary(
                columns, plan, loaded, settings, attrs, reductions.check.worst, sampling_seconds
            )
            summary["predictions"] = prediction_rows(counter, reductions.replicates)
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
            labels = [s.label for s in plan.series]
            table = quantile_table(columns, [(s, y) for s in labels for y in plan.years])
            check_finite(table)
            summary["quantiles"] = {
                "method": "exact" if exact else "sketch",
                "relative_accuracy": 0.0 if exact else columns.relative_accuracy,
            }
            write_quantiles(staging, table)
            write_prediction_csv(staging / "predictions.csv", summary["predictions"])
            write_sensitivity_csv(staging / "sensitivity.csv", counter)
            for name in (CHECKPOINT, RUN_OPTIONS):
                (staging / name).unlink(missing_ok=True)
            summary["timing"]["total_seconds"] = time.perf_counter() - started
            write_json(staging / "summary.json", summary)
            if report:
                from mcinfra.report.build import build_report

                build_report(staging, log=log)
    except KeyboardInterrupt:
        if not resumable():
            raise
        raise KeyboardInterrupt(
            f"interrupted; the draws up to the last checkpoint are kept: continue with "
            f"mcinfra run --resume {out}"
        ) from None
    return summary
