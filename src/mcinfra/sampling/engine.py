"""The one place that plans chunks, calls the kernels and assembles results."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numba
import numpy as np

from mcinfra.config import LoadedConfig
from mcinfra.config.counts import MAX_DRAWS
from mcinfra.errors import UsageError
from mcinfra.kernels import model as kernels
from mcinfra.kernels.jit import is_cached
from mcinfra.kernels.random import seed_key
from mcinfra.sampling.dataset import provenance, to_dataset
from mcinfra.sampling.plan import Plan, compile_plan
from mcinfra.sampling.qmc import METHODS, SobolNormals, replicate_size

if TYPE_CHECKING:  # xarray is slow to import; only some paths need it
    import xarray as xr

ProgressCallback = Callable[[int, int, float], None]
"""``(done, total, sampling_seconds)`` after each chunk: ``done`` of ``total`` draws are made,
and the sampler spent ``sampling_seconds`` on draws ``0 .. done - 1`` (the clock that
``summary.json``'s ``timing.draws_per_second`` divides by: no reductions, no compiling)."""
MAX_IN_MEMORY_BYTES = 16 * 2**30


@dataclass(frozen=True)
class RunSettings:
    """Sampling settings of one run (config defaults overridden by the caller)."""

    draws: int
    seed: int
    chunk_size: int
    threads: int | None = None
    method: str = "mc"  # "mc" (per-draw streams) or "sobol" (mcinfra.sampling.qmc)
    replicates: int = 16  # independent scrambled Sobol' sets (method "sobol" only)

    def __post_init__(self) -> None:
        for name in ("draws", "chunk_size"):
            if getattr(self, name) < 1:
                value = getattr(self, name)
                raise UsageError(f"{name.replace('_', '-')} must be at least 1, got {value}")
        if self.draws > MAX_DRAWS:  # every entry point refuses it first, naming its option
            raise UsageError(f"draws must be at most {MAX_DRAWS:,} (2**62), got {self.draws}")
        if not 0 <= self.seed < 2**64:
            raise UsageError(f"seed must be in [0, 2**64), got {self.seed}")
        if self.threads is not None and self.threads < 1:
            raise UsageError(f"threads must be at least 1, got {self.threads}")
        if self.method not in METHODS:
            raise UsageError(f"sampling method must be one of {METHODS}, got {self.method!r}")
        if self.method == "sobol":
            if not 2 <= self.replicates <= 4096:
                raise UsageError(f"replicates must be in [2, 4096], got {self.replicates}")
            try:
                replicate_size(self.draws, self.replicates)
            except ValueError as exc:
                raise UsageError(str(exc)) from None

    @property
    def replicate_draws(self) -> int | None:
        """Draws per Sobol' replicate (None for plain Monte Carlo)."""
        return self.draws // self.replicates if self.method == "sobol" else None


def settings_from(
    loaded: LoadedConfig,
    draws: int | None = None,
    seed: int | None = None,
    chunk_size: int | None = None,
    threads: int | None = None,
) -> RunSettings:
    """Config's ``[sampling]`` values with any explicit argument taking precedence."""
    sampling = loaded.config.sampling
    return RunSettings(
        draws=sampling.draws if draws is None else draws,
        seed=sampling.seed if seed is None else seed,
        chunk_size=sampling.chunk_size if chunk_size is None else chunk_size,
        threads=threads,
        method=sampling.method,
        replicates=sampling.replicates,
    )


@contextmanager
def numba_threads(threads: int | None) -> Iterator[None]:
    """Run a block with ``threads`` numba threads (all available when None)."""
    if threads is None:
        yield
        return
    previous = numba.get_num_threads()
    # numba.config sets its attributes at run time, unseen by numba's stubs.
    ceiling = numba.config.NUMBA_NUM_THREADS  # type: ignore[attr-defined]
    numba.set_num_threads(min(threads, ceiling))
    try:
        yield
    finally:
        numba.set_num_threads(previous)


def chunk_bounds(
    settings: RunSettings, start: int = 0, end: int | None = None
) -> Iterator[tuple[int, int]]:
    """Yield ``(first, stop)`` draw indexes of the chunks of draws ``start .. end - 1``.

    Chunks hold ``settings.chunk_size`` draws, and never span two Sobol' replicates, so
    each chunk's counts belong to one replicate.
    """
    end = settings.draws if end is None else end
    period = settings.replicate_draws or end
    first = start
    while first < end:
        stop = min(first + settings.chunk_size, end, (first // period + 1) * period)
        yield first, stop
        first = stop


def sobol_source(plan: Plan, settings: RunSettings) -> SobolNormals | None:
    """The Sobol' normals a run of ``settings`` reads chunk by chunk (None for plain MC)."""
    if settings.method != "sobol":
        return None
    return _sobol_normals(plan, settings)


def _sobol_normals(plan: Plan, settings: RunSettings) -> SobolNormals:
    """A fresh :class:`SobolNormals` for ``plan`` (a too large model is a usage error)."""
    try:
        return SobolNormals(settings.seed, plan.kernel.n_normals)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def draw_chunk(
    plan: Plan,
    settings: RunSettings,
    first: int,
    n: int,
    out: tuple[np.ndarray, np.ndarray, np.ndarray],
    column: int,
    sobol: SobolNormals | None = None,
    tasks: TaskThreads | None = None,
) -> float:
    """Simulate draws ``first .. first + n - 1`` into columns ``column ..`` of ``out``.

    ``out`` is (values (S, Y, N), inputs (K, N), scores (K, N)); the draws must lie in one
    Sobol' replicate (see :func:`chunk_bounds`). ``sobol`` is the run's
    :func:`sobol_source` (one made for this call if None), ``tasks`` the threads that run
    the chunk's tasks (:class:`TaskThreads`; started for this call if None). Returns their
    partition check, the largest |sum of a partition's segments / total - 1| (computed by
    the sampler while the rows are in cache; :class:`mcinfra.stats.summary.PartitionCheck`
    records it). SIP inputs take their values for these draws from :meth:`SipInputs.chunk
    <mcinfra.sampling.sips.SipInputs.chunk>`.
    """
    kernel_plan = plan.kernel
    if plan.sips.count:
        sip_values, sip_scores = plan.sips.chunk(first, n)
        kernel_plan = kernel_plan._replace(sip_values=sip_values, sip_scores=sip_scores)
    size = settings.replicate_draws
    if size is not None:  # method "sobol"
        replicate, point = divmod(first, size)
        if point + n > size:
            raise ValueError(f"draws {first}..{first + n - 1} span two Sobol' replicates")
        sobol = _sobol_normals(plan, settings) if sobol is None else sobol
        normals = sobol.normals(replicate, point, n, numba.get_num_threads())
        return simulate_normals(normals, kernel_plan, out, column, tasks)
    return simulate_streams(seed_key(settings.seed), first, n, kernel_plan, out, column, tasks)


def simulate_streams(
    key: np.uint64,
    first: int,
    n: int,
    kernel_plan: kernels.KernelPlan,
    out: tuple[np.ndarray, np.ndarray, np.ndarray],
    column: int,
    tasks: TaskThreads | None = None,
) -> float:
    """Simulate draws ``first .. first + n - 1`` of the streams of ``key``.

    Draw ``first + i`` goes to column ``column + i`` of ``out`` (values (S, Y, N), inputs
    (K, N), scores (K, N)), on numba's thread count (:func:`numba_threads`) with the
    threads of ``tasks``; the result never depends on either. Returns the draws'
    partition check (:func:`draw_chunk`).
    """
    tasks = TaskThreads() if tasks is None else tasks
    return tasks.run(kernels.simulate_range, (key, first), n, (kernel_plan, *out, column))


def simulate_normals(
    normals: np.ndarray,
    kernel_plan: kernels.KernelPlan,
    out: tuple[np.ndarray, np.ndarray, np.ndarray],
    column: int,
    tasks: TaskThreads | None = None,
) -> float:
    """Simulate the draws whose normals are the rows of ``normals`` (n, n_normals).

    Row ``i`` goes to column ``column + i`` of ``out``, as in :func:`simulate_streams`.
    """
    tasks = TaskThreads() if tasks is None else tasks
    trailing = (kernel_plan, *out, column)
    return tasks.run(kernels.simulate_range_from_normals, (normals,), len(normals), trailing)


def task_ranges(n: int, tasks: int) -> list[tuple[int, int]]:
    """``(first, stop)`` of up to ``tasks`` tasks: even shares of the whole blocks of n draws."""
    block = kernels.BLOCK
    blocks = -(-n // block)
    tasks = max(1, min(tasks, blocks))
    return [
        (task * blocks // tasks * block, min(n, (task + 1) * blocks // tasks * block))
        for task in range(tasks)
    ]


class TaskThreads:
    """Threads that run a chunk's tasks beside the calling thread (the kernels release the GIL).

    A chunk's draws are split into one task per numba thread (:func:`numba_threads`, at
    the time of each call); the calling thread runs the first task and these threads the
    others. Kept for as long as the ``with`` block (a run's chunks), since threads started
    for every chunk slowed the sampler (docs/performance.md, "A chunk's tasks on Python
    threads"); outside a ``with`` block each call starts and stops its own.
    """

    def __init__(self) -> None:
        self._pool: ThreadPoolExecutor | None = None
        self._size = 0
        self._kept = False

    def __enter__(self) -> TaskThreads:
        self._kept = True
        return self

    def __exit__(self, *exc_info) -> None:
        self._kept = False
        self._stop()

    def run(self, simulate: Callable, leading: tuple, n: int, trailing: tuple) -> float:
        """``simulate(*leading, first, stop, *trailing)`` for each task of draws ``0 .. n - 1``.

        Returns the largest of the tasks' partition checks (int64 bits of doubles) as a float.
        """
        ranges = task_ranges(n, numba.get_num_threads())
        bits = np.zeros(len(ranges), dtype=np.int64)

        def run_task(task: int) -> None:
            bits[task] = simulate(*leading, *ranges[task], *trailing)

        pool = self._threads(len(ranges) - 1)
        others = [pool.submit(run_task, task) for task in range(1, len(ranges))] if pool else []
        try:
            run_task(0)
        finally:  # an interrupt waits for the other tasks: they write to the caller's buffers
            wait(others)
            if not self._kept:
                self._stop()
        for future in others:
            future.result()  # raises what the task raised
        return float(bits.max().view(np.float64))

    def _threads(self, count: int) -> ThreadPoolExecutor | None:
        if count > self._size:
            self._stop()
            self._pool = ThreadPoolExecutor(count, thread_name_prefix="mcinfra-sampler")
            self._size = count
        return self._pool if count else None

    def _stop(self) -> None:
        if self._pool is not None:
            self._pool.shutdown()
        self._pool, self._size = None, 0


def simulate(
    loaded: LoadedConfig,
    settings: RunSettings,
    plan: Plan | None = None,
    progress: ProgressCallback | None = None,
) -> xr.Dataset:
    """Draw ``settings.draws`` trajectories and return them as an ``xarray.Dataset``.

    The Dataset holds ``value`` (draw, segment, year) and ``inputs`` (draw, input) with the
    segment and input coordinates and provenance attributes of :mod:`mcinfra.sampling.dataset`.
    """
    plan = compile_plan(loaded.config) if plan is None else plan
    n_series, n_years, n_inputs = len(plan.series), len(plan.years), len(plan.inputs)
    needed = settings.draws * 8 * (n_series * n_years + n_inputs)
    if needed > MAX_IN_MEMORY_BYTES:
        raise UsageError(
            f"draws={settings.draws} would need {needed / 2**30:.1f} GiB to hold in memory "
            f"(limit {MAX_IN_MEMORY_BYTES / 2**30:.0f} GiB); use fewer draws"
        )
    # Draw-last in memory: each (series, year) row is contiguous (see mcinfra.sampling.dataset).
    values = np.empty((n_series, n_years, settings.draws))
    inputs = np.empty((n_inputs, settings.draws))
    scores = np.empty((n_inputs, settings.draws))
    stream(plan, settings, progress=progress, out=(values, inputs, scores))
    attrs = provenance(loaded, settings)
    return to_dataset(plan, values, inputs, scores, 0, attrs)


ChunkCallback = Callable[[int, np.ndarray, np.ndarray, np.ndarray, float], None]


@dataclass
class SamplingClock:
    """Seconds spent in the sampler, kept up to date chunk by chunk (read by checkpoints)."""

    seconds: float = 0.0


def stream(
    plan: Plan,
    settings: RunSettings,
    on_chunk: ChunkCallback | None = None,
    progress: ProgressCallback | None = None,
    stop: Callable[[], bool] | None = None,
    out: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
    start: int = 0,
    clock: SamplingClock | None = None,
    end: int | None = None,
    buffers: ChunkBuffers | None = None,
) -> tuple[float, int]:
    """Simulate a run chunk by chunk, handing each chunk to ``on_chunk``.

    Returns the seconds spent sampling and the number of draws made: all of
    ``settings.draws``, or fewer when ``stop()`` returns True after a chunk.

    ``on_chunk(first, values, inputs, scores, gap)`` receives draws ``first .. first + n -
    1`` as draw-last views ``values`` (S, Y, n), ``inputs`` and ``scores`` (K, n) of
    buffers reused for every chunk, so memory stays bounded by the chunk size (copy what
    must outlive the call), and their partition check ``gap`` (:func:`draw_chunk`). With
    ``out`` (values, inputs, scores holding every draw) each chunk is written in place at
    its own columns instead. ``start`` (a chunk boundary) continues a run whose draws
    ``0 .. start - 1`` are done; ``end`` (default: all draws) stops before draw ``end``.
    ``clock`` gets each chunk's sampling seconds as soon as the chunk is drawn.
    ``buffers`` (:class:`ChunkBuffers` of at least :func:`chunk_capacity` draws) are the
    chunk buffers to reuse; without them (and without ``out``) fresh ones are allocated.
    """
    plan.sips.check_draws(settings.draws if end is None else end)
    if out is None and buffers is None:
        buffers = ChunkBuffers(plan, chunk_capacity(settings))
    clock = SamplingClock() if clock is None else clock
    before = clock.seconds
    sobol = sobol_source(plan, settings)
    with numba_threads(settings.threads), TaskThreads() as tasks:
        done = start
        for first, stop_at in chunk_bounds(settings, start, end):
            n = stop_at - first
            if out is not None:
                chunk_out, column = out, first
            else:
                assert buffers is not None
                chunk_out, column = buffers.chunk(n), 0
            chunk_started = time.perf_counter()
            gap = draw_chunk(plan, settings, first, n, chunk_out, column, sobol, tasks)
            clock.seconds += time.perf_counter() - chunk_started
            if on_chunk is not None:
                values, inputs, scores = chunk_out
                window = slice(column, column + n)
                on_chunk(first, values[:, :, window], inputs[:, window], scores[:, window], gap)
            if progress is not None:
                progress(stop_at, settings.draws, clock.seconds)
            done = stop_at
            if stop is not None and stop():
                break
    return clock.seconds - before, done


def chunk_capacity(settings: RunSettings) -> int:
    """The most draws one chunk of a run of ``settings`` holds."""
    return min(settings.chunk_size, settings.draws, settings.replicate_draws or settings.draws)


class ChunkBuffers:
    """Memory for chunks of up to ``size`` draws, reused from chunk to chunk.

    :meth:`chunk` gives C-contiguous arrays for any smaller chunk too (the front of each
    buffer), so every chunk reaches the kernels with the same array types: a strided view
    of a shorter last chunk made numba load a second compiled version of each reduction
    kernel at the end of a run, a cost of its own (see docs/performance.md).
    """

    def __init__(self, plan: Plan, size: int) -> None:
        self.shape = (len(plan.series), len(plan.years))
        self.n_inputs = len(plan.inputs)
        self.size = size
        self._values = np.empty(self.shape[0] * self.shape[1] * size)
        self._inputs = np.empty(self.n_inputs * size)
        self._scores = np.empty(self.n_inputs * size)

    def chunk(self, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(values (S, Y, n), inputs (K, n), scores (K, n)), each C-contiguous."""
        rows = self.shape[0] * self.shape[1]
        return (
            self._values[: rows * n].reshape(*self.shape, n),
            self._inputs[: self.n_inputs * n].reshape(self.n_inputs, n),
            self._scores[: self.n_inputs * n].reshape(self.n_inputs, n),
        )


def warm_up(plan: Plan, normals: bool = False) -> None:
    """Compile (or load from cache) the sampler's kernel, on a handful of draws.

    ``normals`` selects the kernel that takes its normals from the caller (Sobol' runs,
    Shapley effects) instead of drawing them from the per-draw streams.
    """
    out = ChunkBuffers(plan, 2).chunk(2)
    if normals:
        simulate_normals(np.zeros((2, plan.n_normals)), plan.kernel, out, 0)
    else:
        simulate_streams(seed_key(0), 0, 2, plan.kernel, out, 0)


def kernels_cached(normals: bool = False) -> bool | None:
    """Whether numba's cache holds the sampler's compiled code (None: it cannot tell).

    ``normals`` as in :func:`warm_up`.
    """
    return is_cached(kernels.simulate_range_from_normals if normals else kernels.simulate_range)
