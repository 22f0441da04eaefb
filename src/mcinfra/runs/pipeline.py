"""A whole run: sample chunk by chunk, reduce each chunk, and write the run directory.

:func:`compute_run` samples and reduces into an in-memory :class:`RunResult`;
:func:`run_to_directory` computes a run inside its (atomic, resumable) run directory and
writes it there; :func:`resume_run` continues an interrupted one. Every reduction is
mergeable and exact to the count (prediction and bin counts, the integer buckets of the
quantile sketch, or, for runs that fit in memory, every draw's values), so a run gives the
same summary for any chunk size or thread count. With ``target_se`` the run stops after the
first chunk at which every prediction's standard error is below the target.
"""

from __future__ import annotations

import dataclasses
import math
import os
import pickle
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mcinfra.config import LoadedConfig, load_config
from mcinfra.config.sips import check_libraries, recorded_libraries
from mcinfra.config.solved import elicited_fits
from mcinfra.config.structure import list_inputs, list_series
from mcinfra.errors import Interrupted, UsageError
from mcinfra.io.run_directory import (
    CHECKPOINT,
    CONFIG,
    DRAWS,
    DrawWriter,
    atomic_directory,
    check_target,
    find_interrupted,
    load_checkpoint,
    read_run_options,
    save_checkpoint,
    write_run_files,
    write_run_options,
)
from mcinfra.report.progress import format_duration
from mcinfra.runs.reductions import Reductions
from mcinfra.runs.result import RunResult
from mcinfra.runs.summary import run_summary, sensitivity_rows
from mcinfra.sampling.dataset import DRAW, provenance, to_dataset
from mcinfra.sampling.engine import (
    MAX_IN_MEMORY_BYTES,
    ChunkBuffers,
    ProgressCallback,
    RunSettings,
    SamplingClock,
    kernels_cached,
    settings_from,
    stream,
    warm_up,
)
from mcinfra.sampling.plan import compile_plan
from mcinfra.sampling.sips import sip_inputs
from mcinfra.stats.quantiles import quantile_table
from mcinfra.stats.reduction import Chunk

EXACT_QUANTILE_MEMORY = 256 * 2**20
CHECKPOINT_SECONDS = 30.0
DEFAULT_MAX_DRAWS = 10_000_000  # cap of a run with a target standard error
FIRST_RUN_COMPILE_SECONDS = 18.0
"""Wall seconds a first run spends compiling on 2 cores: the sampler's chain, while a worker
compiles the reductions', and start-up (docs/performance.md, "The first run: compiling the
kernels")."""
LONG_RUN_SECONDS = 600.0
"""A run expected to take longer says so before it samples and after its first chunk."""
FASTEST_DRAWS_PER_SECOND = 5e7
"""A generous ceiling on the sampling rate, for a floor on a run's time before it starts:
15x the rate the README's bench table gives for 2 cores (3.4 M draws/s), so about 30 cores
scaling perfectly; a faster machine only makes the early notice later."""
DRAW_STORE_METADATA = "draw_store_metadata"
"""The checkpoint's entry holding the metadata of ``draws.zarr`` (see :class:`DrawWriter`)."""
WALL_PER_SAMPLING_SECOND = 2.0
"""A whole run's wall time per second of sampling: the reductions take about as long (the
README's bench table: the sampler 3.4 M draws/s, a whole run 1.8 M draws/s at 1e7)."""

Shield = Callable[[], AbstractContextManager[object]]
"""A context that no interruption enters: the command line's signal handlers wait for its end.

A run reduces each chunk and saves checkpoints inside it; with one, an interruption finds
the reductions as of a complete chunk, and the run saves them at once.
"""


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


def plan_values_bytes(loaded: LoadedConfig, draws: int) -> int:
    """Bytes of every series-year value of ``draws`` draws."""
    model = loaded.config.model
    return draws * len(list_series(loaded.config)) * (model.end_year - model.start_year + 1) * 8


def exact_quantiles(method: str, needed: int) -> bool:
    """Whether a run needing ``needed`` bytes for exact quantiles gets them."""
    if method not in ("auto", "exact", "sketch"):
        raise UsageError(f"quantiles must be 'auto', 'exact' or 'sketch', got {method!r}")
    if method == "exact" and needed > MAX_IN_MEMORY_BYTES:
        raise UsageError(
            f"exact quantiles would hold {needed / 2**30:.1f} GiB of values in memory "
            f"(limit {MAX_IN_MEMORY_BYTES / 2**30:.0f} GiB); use --quantiles sketch"
        )
    return method == "exact" or (method == "auto" and needed <= EXACT_QUANTILE_MEMORY)


def check_options(
    loaded: LoadedConfig,
    settings: RunSettings,
    target_se: float | None = None,
    quantiles: str = "auto",
) -> bool:
    """Refuse inconsistent run options; return whether the quantiles are exact."""
    check_sequential(target_se, settings.method)
    sip_inputs(list_inputs(loaded.config)).check_draws(settings.draws)
    return exact_quantiles(quantiles, plan_values_bytes(loaded, settings.draws))


@dataclass(frozen=True)
class Checkpoints:
    """Where and how often a run saves the state of its reductions.

    With ``resume`` the run first continues from the checkpoint already at ``path``.
    ``sampled``, once every draw is reduced, receives a function that saves the final
    state: what the caller calls when interrupted later (while writing the run's files).
    """

    path: Path
    every: float = CHECKPOINT_SECONDS
    resume: bool = False
    sampled: Callable[[Callable[[], None]], None] | None = None


def compute_run(
    loaded: LoadedConfig,
    settings: RunSettings,
    target_se: float | None = None,
    quantiles: str = "auto",
    progress: ProgressCallback | None = None,
    notify: Callable[[str], None] | None = None,
    client=None,
    checkpoints: Checkpoints | None = None,
    draws_to: Path | None = None,
    shield: Shield | None = None,
) -> RunResult:
    """Sample and reduce a run; return its answers in memory.

    Parameters
    ----------
    loaded : LoadedConfig
    settings : RunSettings
        With ``target_se``, ``settings.draws`` is the cap on draws.
    target_se : float, optional
        Stop after the first chunk at which every prediction's standard error is below it.
    quantiles : {"auto", "exact", "sketch"}
        "exact" (every draw's values held in memory), "sketch" (bounded memory, relative
        error 1e-3), or "auto" (exact while they fit in ``EXACT_QUANTILE_MEMORY``).
    progress : callable, optional
        Called as ``progress(done, total, seconds)`` after each chunk.
    notify : callable, optional
        Receives one-line messages (e.g. that the kernels are being compiled).
    client : dask.distributed.Client, optional
        Run each chunk as a task on its cluster (:mod:`mcinfra.runs.distributed`); the
        result is identical.
    checkpoints : Checkpoints, optional
        Save (and with ``resume``, first load) the reductions' state.
    draws_to : Path, optional
        Also stream every draw into this zarr store. Its checkpoints keep the store's
        metadata; resuming cuts the store back to the checkpoint's draws.
    shield : callable, optional
        A :data:`Shield` (the command line's, for its signals): each chunk is reduced inside
        it, and an interruption (``KeyboardInterrupt``) once sampling started saves a
        checkpoint of every complete chunk at once. Without it an interruption may come
        mid-chunk, so only the periodic checkpoints are kept.

    Returns
    -------
    RunResult
    """
    exact = check_options(loaded, settings, target_se, quantiles)
    if client is not None and draws_to is not None:
        raise UsageError("--save-draws writes from one process; it cannot be combined with dask")
    started = time.perf_counter()
    plan = _compiled_plan(loaded, settings, exact, notify)
    attrs = provenance(loaded, settings)
    reductions = Reductions(
        loaded,
        plan,
        exact,
        None if target_se is not None else settings.draws,
        replicate_draws=settings.replicate_draws,
    )
    writer = DrawWriter(draws_to, settings.chunk_size, DRAW) if draws_to is not None else None
    start, clock = 0, SamplingClock()
    if checkpoints is not None and checkpoints.resume:
        start, clock.seconds = _restore(reductions, checkpoints.path, writer)
    last_checkpoint = time.perf_counter()
    progress = _long_run_notices(settings, start, clock.seconds, target_se, progress, notify)
    guard = shield if shield is not None else nullcontext
    reduced = start  # draws of the complete chunks in the reductions

    def save() -> None:
        assert checkpoints is not None
        state = reductions.state()
        if writer is not None:  # every chunk up to ``reduced`` is written
            state[DRAW_STORE_METADATA] = np.array(writer.metadata())
        save_checkpoint(checkpoints.path, state, reduced, clock.seconds)

    def checkpoint(done: int) -> None:
        nonlocal last_checkpoint, reduced
        reduced = done
        if checkpoints is None:
            return
        if time.perf_counter() - last_checkpoint >= checkpoints.every:
            save()
            last_checkpoint = time.perf_counter()

    def on_chunk(first, values, inputs, scores, gap):
        with guard():  # an interruption waits for the whole chunk
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
    saves_at_once = shield is not None and checkpoints is not None
    try:
        if client is None:
            _, done = stream(
                plan, settings, on_chunk, progress, stop=target_met, start=start, clock=clock
            )
        else:
            from mcinfra.runs.distributed import stream_distributed

            _, done = stream_distributed(
                client, loaded, settings, exact, reductions, progress,
                target_met if target_se is not None else None, start,
                after_chunk=checkpoint, clock=clock, shield=shield,
            )  # fmt: skip
    except KeyboardInterrupt:
        if saves_at_once and reduced > start:  # the checkpoint at ``start`` holds the rest
            with guard():
                save()
        raise
    if saves_at_once and checkpoints is not None and checkpoints.sampled is not None:
        checkpoints.sampled(save)
    settings = dataclasses.replace(settings, draws=done)
    attrs["draws"] = done
    if writer is not None:
        writer.close({"draws": done})
    sequential = None
    if target_se is not None:
        sequential = {
            "target_std_error": target_se,
            "max_draws": cap,
            "draws_used": done,
            "target_met": target_met(),
        }
    # summed over every part of a resumed run
    summary = run_summary(reductions, plan, loaded, settings, attrs, clock.seconds, sequential)
    labels = [s.label for s in plan.series]
    table = quantile_table(reductions.columns, [(s, y) for s in labels for y in plan.years])
    check_finite(table)
    rows = sensitivity_rows(reductions.counter)
    seconds = time.perf_counter() - started
    summary.timing["total_seconds"] = seconds  # writing the files adds to it
    return RunResult(
        loaded=loaded,
        run_summary=summary,
        table=table,
        sensitivity_rows=rows,
        inputs=[i.name for i in plan.inputs if not i.spec.is_fixed],
        compute_seconds=seconds,
    )


def _long_run_notices(
    settings: RunSettings,
    start: int,
    seconds: float,
    target_se: float | None,
    progress: ProgressCallback | None,
    notify: Callable[[str], None] | None,
) -> ProgressCallback | None:
    """Tell ``notify`` now, and after the first chunk, when the run will take long.

    Now: when even :data:`FASTEST_DRAWS_PER_SECOND` would take over
    :data:`LONG_RUN_SECONDS` for the draws left after ``start`` (``seconds`` of sampling
    done). After the first chunk: when the draws left, at that chunk's sampling pace times
    :data:`WALL_PER_SAMPLING_SECOND`, would. Returns the callback to hand the sampler:
    ``progress`` itself, or one that also makes the second notice.
    """
    if notify is None:
        return progress
    left = settings.draws - start
    cap = "up to " if target_se is not None else ""  # a --target-se run may stop sooner
    floor = left / FASTEST_DRAWS_PER_SECOND
    if floor > LONG_RUN_SECONDS:
        notify(
            f"{cap}{left:,} draws to make: at least about {format_duration(floor)}, even at "
            f"{FASTEST_DRAWS_PER_SECOND / 1e6:.0f} M draws/s; stop with Ctrl-C and ask for "
            "fewer draws if that is too long"
        )
    pending = True

    def forecast(done: int, total: int, sampling_seconds: float) -> None:
        nonlocal pending
        if pending and done > start and sampling_seconds > seconds:
            pending = False
            rate = (done - start) / (sampling_seconds - seconds)
            expected = (total - done) / rate * WALL_PER_SAMPLING_SECOND
            if expected > LONG_RUN_SECONDS:
                notify(
                    f"{cap}{total - done:,} draws left: about {format_duration(expected)} at "
                    f"the first chunk's pace ({rate / 1e6:.2f} M draws/s sampling); stop with "
                    "Ctrl-C and ask for fewer draws if that is too long"
                )
        if progress is not None:
            progress(done, total, sampling_seconds)

    return forecast


def _compiled_plan(
    loaded: LoadedConfig,
    settings: RunSettings,
    exact: bool,
    notify: Callable[[str], None] | None,
):
    """The run's plan with its kernels loaded, telling ``notify`` when they must compile.

    A first run compiles the sampler here while a worker process compiles the reductions'
    kernels into numba's cache (:func:`compile_reductions`), from which this process then
    loads them: on two cores the run waits for the longer of the two, which take about
    the same time (docs/performance.md, "The first run: compiling the kernels").
    """
    started = time.perf_counter()
    worker = None
    sobol = settings.method == "sobol"
    if kernels_cached(normals=sobol) is False:
        worker = _start_reduction_compiler(loaded, settings, exact)
        if notify is not None:
            notify(
                f"compiling the kernels: about {FIRST_RUN_COMPILE_SECONDS:.0f} s on 2 cores, "
                "once per installation"
            )
    try:
        plan = compile_plan(loaded.config)
        warm_up(plan, normals=sobol)
        if worker is not None:
            if notify is not None and worker.poll() is None:
                notify(
                    f"compiling the kernels 1/2 (the sampler's) done in "
                    f"{time.perf_counter() - started:.0f} s; waiting for 2/2 (the reductions')"
                )
            worker.wait()
    finally:
        if worker is not None and worker.poll() is None:
            worker.kill()
            worker.wait()
    if notify is not None and time.perf_counter() - started > 5:
        notify(
            f"compiled the kernels in {time.perf_counter() - started:.0f} s; later runs "
            "load them from cache"
        )
    return plan


def _start_reduction_compiler(
    loaded: LoadedConfig, settings: RunSettings, exact: bool
) -> subprocess.Popen | None:
    """Start :func:`compile_reductions` in a new process (None if it cannot start)."""
    package_root = str(Path(__file__).resolve().parents[2])
    path = os.environ.get("PYTHONPATH")
    env = dict(os.environ, PYTHONPATH=package_root + (os.pathsep + path if path else ""))
    code = "from mcinfra.runs.pipeline import compile_reductions; compile_reductions()"
    try:
        worker = subprocess.Popen(
            [sys.executable, "-c", code],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=env,
        )
    except OSError:
        return None
    assert worker.stdin is not None
    try:
        worker.stdin.write(pickle.dumps((loaded, settings, exact)))
        worker.stdin.close()
    except OSError:  # it died at once; this process compiles them itself
        worker.kill()
        worker.wait()
        return None
    return worker


def compile_reductions() -> None:
    """Compile a run's reduction kernels into numba's cache, in a worker process.

    Reads the pickled ``(loaded, settings, exact)`` of :func:`_compiled_plan`'s run from
    standard input and reduces a chunk of made-up draws with the arrays types of the run's
    chunks, then summarises it, so every kernel of the reductions and the summary compiles
    for the signatures the run will call it with. The results are thrown away; a failure
    only leaves the run to compile what is missing itself.
    """
    loaded, settings, exact = pickle.load(sys.stdin.buffer)
    plan = compile_plan(loaded.config)
    draws = 64
    tiny = RunSettings(draws=draws, seed=settings.seed, chunk_size=draws)
    values, inputs, scores = ChunkBuffers(plan, draws).chunk(draws)
    made_up = np.random.default_rng(0)
    values[...] = made_up.uniform(1.0, 2.0, values.shape)
    inputs[...] = made_up.uniform(0.1, 0.9, inputs.shape)
    scores[...] = made_up.standard_normal(scores.shape)
    reductions = Reductions(loaded, plan, exact, draws)
    reductions.add(Chunk(0, values, inputs, scores, 0.0))
    run_summary(reductions, plan, loaded, tiny, provenance(loaded, tiny), 1.0)
    labels = [s.label for s in plan.series]
    quantile_table(reductions.columns, [(s, y) for s in labels for y in plan.years])
    sensitivity_rows(reductions.counter)


def _restore(
    reductions: Reductions, path: Path, writer: DrawWriter | None = None
) -> tuple[int, float]:
    """Load the checkpoint at ``path`` into ``reductions``; its draws done and sampling time.

    With ``writer``, its store is also cut back to the checkpoint's draws.
    """
    try:
        state, start, seconds = load_checkpoint(path)
        metadata = state.pop(DRAW_STORE_METADATA, None)
        reductions.restore(state)
        if writer is not None:
            if metadata is None:
                raise KeyError(f"{DRAW_STORE_METADATA} (the checkpoint keeps no saved draws)")
            writer.resume(start, str(metadata))
    except (KeyError, ValueError, OSError, EOFError) as exc:
        raise UsageError(
            f"cannot resume {path.parent}: its checkpoint does not fit this run or this "
            f"version of mcinfra ({exc}); start the run again"
        ) from None
    return start, seconds


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
    png: bool = False,
    quantiles: str = "auto",
    resume: Path | None = None,
    checkpoint_seconds: float = CHECKPOINT_SECONDS,
    client=None,
    replace: bool = True,
    shield: Shield | None = None,
    drivers: bool = False,
) -> dict:
    """Run and write ``out`` atomically; return the summary (``summary.json``'s content).

    The run is :func:`compute_run`'s, drawn inside the temporary directory of ``out``:
    every ``checkpoint_seconds`` the state of every reduction is saved there; an
    interrupted run keeps that directory and ``resume`` (see
    :func:`mcinfra.io.run_directory.find_interrupted`) continues it to the result an
    uninterrupted run gives. With a ``shield`` (see :func:`compute_run`) an interruption
    any time after the first chunk saves a checkpoint at once, and one before it leaves
    nothing. With ``save_draws`` the checkpoints also keep ``draws.zarr`` resumable (see
    :class:`~mcinfra.io.run_directory.DrawWriter`). An existing run at ``out`` is
    replaced only with ``replace``; a non-empty directory that holds no run never is.
    With ``drivers`` the directory also gets the predictions' Shapley effects
    (:func:`mcinfra.runs.drivers.drivers`), before the report that shows them.
    """
    check_target(out, replace)
    if save_draws:
        check_disk_space(loaded, settings.draws, Path(out))
    if client is not None and save_draws:
        raise UsageError("--save-draws writes from one process; it cannot be combined with dask")
    check_options(loaded, settings, target_se, quantiles)
    checkpoint_file: Path | None = None
    save_sampled: list[Callable[[], None]] = []  # saves the state once every draw is reduced

    def resumable() -> bool:
        return checkpoint_file is not None and checkpoint_file.exists()

    try:
        with (
            report_drawing(report, client) as workers,
            atomic_directory(out, staging=resume, keep=resumable, shield=shield) as staging,
        ):
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
                    "png": png,
                    "save_draws": save_draws,
                    "drivers": drivers,
                    "config_origin": loaded.origin,
                    "config_overrides": list(loaded.overrides),
                    "sip_libraries": recorded_libraries(loaded.libraries),
                }
                write_run_options(staging, options, loaded.file_text)
            started = time.perf_counter()
            checkpoint_file = staging / CHECKPOINT
            try:
                result = compute_run(
                    loaded,
                    settings,
                    target_se=target_se,
                    quantiles=quantiles,
                    progress=progress,
                    notify=notify,
                    client=client,
                    checkpoints=Checkpoints(
                        checkpoint_file,
                        checkpoint_seconds,
                        resume is not None,
                        sampled=save_sampled.append,
                    ),
                    draws_to=staging / DRAWS if save_draws else None,
                    shield=shield,
                )
                summary = result.run_summary.to_dict()
                write_run_files(
                    staging,
                    summary,
                    result.table,
                    result.sensitivity_rows,
                    None,
                    started,
                    elicited_fits(loaded.config),
                )
                if drivers:
                    from mcinfra.runs.drivers import drivers as write_drivers

                    write_drivers(staging, threads=settings.threads, notify=notify, progress=notify)
                if report:
                    from mcinfra.report.build import build_report

                    build_report(staging, log=log, notify=notify, png=png, workers=workers)
            except KeyboardInterrupt:
                if save_sampled:  # interrupted while writing the files: keep every draw
                    with shield() if shield is not None else nullcontext():
                        save_sampled[0]()
                raise
    except KeyboardInterrupt as exc:
        if not resumable():
            raise
        raise Interrupted.kept(exc, f"mcinfra run --resume {out}") from None
    return summary


def report_drawing(report: bool, client=None) -> AbstractContextManager:
    """The drawing workers of a report drawn after sampling, forked now.

    Entered before a run or an update samples, while the process has no numba threads
    yet (:func:`mcinfra.report.build.drawing_workers`); a context giving None when no
    report is drawn or a dask ``client`` samples.
    """
    if not report or client is not None:
        return nullcontext()
    from mcinfra.report.build import drawing_workers

    return drawing_workers()


def resume_run(
    out: Path,
    threads: int | None = None,
    report: bool = True,
    progress: ProgressCallback | None = None,
    client=None,
    checkpoint_seconds: float = CHECKPOINT_SECONDS,
    notify: Callable[[str], None] | None = None,
    shield: Shield | None = None,
) -> dict:
    """Continue the interrupted run of ``out`` from its last checkpoint; return its summary.

    The run keeps its own configuration and options (those of ``run-options.json``);
    ``threads``, ``progress``, ``notify``, ``client``, ``shield`` and the checkpoint
    interval do not change its result and may differ. Without ``report`` no report is drawn,
    whatever the run asked.
    """
    staging = find_interrupted(out)
    options = read_run_options(staging)
    loaded = dataclasses.replace(
        load_config(staging / CONFIG, tuple(options.get("config_overrides", ()))),
        origin=options["config_origin"],
    )
    check_libraries(loaded.libraries, options.get("sip_libraries"), f"resuming {out}")
    settings = settings_from(
        loaded,
        options["draws"],
        options["seed"],
        options["chunk_size"],
        threads or options["threads"],
    )
    return run_to_directory(
        loaded,
        settings,
        out,
        client=client,
        target_se=options["target_se"],
        quantiles=options["quantiles"],
        progress=progress,
        notify=notify,
        report=options["report"] and report,
        log=options["log"],
        png=options.get("png", False),  # runs interrupted before --png existed
        save_draws=options.get("save_draws", False),  # recorded by every run that saves them
        drivers=options.get("drivers", False),  # runs interrupted before --drivers existed
        resume=staging,
        checkpoint_seconds=checkpoint_seconds,
        shield=shield,
    )
