"""Running a run's chunks as dask tasks and merging their reductions in draw order.

Each task simulates a run of whole chunks on a worker and returns their reductions (counts
and sketch buckets, :class:`mcinfra.runs.reductions.Reductions`), never the draws. The
client absorbs them in draw order, so with counter-based random numbers a distributed run
gives exactly the summary of a single-machine run with the same seed and chunk size: inside
a task the chunks are those of the local run, and the reductions merge exactly whatever the
task boundaries.

Tasks are sized by work, independently of the chunk size: about :data:`TASK_SECONDS` each,
from the pace of the tasks already done (the first ones are a single chunk), smaller towards
the end of a run so that the workers finish together. Sequential stopping, checked after each
chunk as locally, sends one chunk per task. Each worker process keeps the parsed plan and the
chunk buffers from task to task (:class:`WorkerCache`), and each task runs numba on its share
of the host's cores: the cores divided by the dask threads of every worker on that host.

``dask.distributed`` is an optional dependency (``pip install "mcinfra[distributed]"``).
"""

from __future__ import annotations

import dataclasses
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext

from mcinfra.config import LoadedConfig, load_config, parse_config
from mcinfra.config.sips import check_libraries, recorded_libraries
from mcinfra.errors import UsageError
from mcinfra.runs.reductions import Reductions
from mcinfra.sampling.engine import (
    ChunkBuffers,
    ProgressCallback,
    RunSettings,
    SamplingClock,
    chunk_bounds,
    chunk_capacity,
    stream,
    warm_up,
)
from mcinfra.sampling.plan import Plan, compile_plan
from mcinfra.stats.reduction import Chunk

TASK_SECONDS = 1.0
"""Work per task once the pace is known: enough to make a task's fixed costs (scheduling,
the reductions' state sent back, about 8 MB with the sketch) small beside it."""
NANNY_MALLOC_SETTING = "distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_"
"""The dask setting by which a nanny starts its worker with ``MALLOC_TRIM_THRESHOLD_`` set.

Any value turns off the C library's dynamic mmap threshold (glibc), so each allocation
over 128 KB, such as a numpy temporary of a chunk's prediction expressions, is a fresh
mapping whose pages fault on first write; the local cluster's workers start without it."""
WORKER_CACHE = "mcinfra_cache"
"""The attribute of a dask worker that holds its :class:`WorkerCache`."""


class WorkerCache:
    """What a worker process keeps from task to task: parsed plans and chunk buffers.

    Writing to fresh memory is several times slower than writing to memory already
    written, so chunk buffers (about 2.4 KB a draw for the default model) are reused, one
    set per task running at once. Only the buffers of the last plan shape are kept.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._plans: dict[tuple[str, str], tuple[LoadedConfig, Plan]] = {}
        self._free: dict[tuple, list[ChunkBuffers]] = {}

    def plan(
        self, text: str, origin: str, libraries: tuple[tuple[str, str], ...] = ()
    ) -> tuple[LoadedConfig, Plan]:
        """The parsed config and compiled plan of ``text``, made once per worker.

        ``libraries`` are the SIPmath libraries the client read (``(path, sha256)``): the
        worker must read the same files, or its draws would not be the run's.
        """
        key = (text, origin)
        with self._lock:
            found = self._plans.get(key)
        if found is None:
            loaded = parse_config(text, origin=origin)
            check_libraries(loaded.libraries, recorded_libraries(libraries), "dask worker")
            found = loaded, compile_plan(loaded.config)
            with self._lock:
                if len(self._plans) >= 4:  # a worker serving many configs keeps the latest
                    self._plans.pop(next(iter(self._plans)))
                self._plans[key] = found
        return found

    @contextmanager
    def buffers(self, plan: Plan, size: int) -> Iterator[ChunkBuffers]:
        """Chunk buffers for ``plan`` of ``size`` draws, this task's own until it ends."""
        key = (len(plan.series), len(plan.years), len(plan.inputs), size)
        with self._lock:
            free = self._free.get(key, [])
            taken = free.pop() if free else None
        taken = ChunkBuffers(plan, size) if taken is None else taken
        try:
            yield taken
        finally:
            with self._lock:
                if key not in self._free:
                    self._free = {key: []}  # a new shape: the old buffers are let go
                self._free[key].append(taken)


def _worker_cache() -> WorkerCache:
    """The :class:`WorkerCache` of the dask worker running the task (fresh outside one)."""
    from dask.distributed import get_worker

    try:
        worker = get_worker()
    except ValueError:  # run in the client's process, e.g. by a synchronous scheduler
        return WorkerCache()
    # dict.setdefault is atomic: two first tasks at once share one cache
    return worker.__dict__.setdefault(WORKER_CACHE, WorkerCache())


def _task_threads(host_threads: dict[str, int]) -> int:
    """Numba threads for a task: this host's cores shared among its workers' dask threads."""
    from dask.distributed import get_worker

    try:
        worker = get_worker()
    except ValueError:
        return usable_cores()
    sharing = host_threads.get(worker.address, worker.state.nthreads)
    return max(1, usable_cores() // max(1, sharing))


def usable_cores() -> int:
    """The cores this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def reduce_chunks(
    text: str,
    origin: str,
    libraries: tuple[tuple[str, str], ...],
    settings: RunSettings,
    exact: bool,
    first: int,
    stop: int,
    host_threads: dict[str, int] | None = None,
) -> tuple[dict, float, float]:
    """Simulate draws ``first .. stop - 1`` (whole chunks) and return their reductions.

    Runs on a worker, on the config ``text`` the client read with its SIPmath
    ``libraries`` (:attr:`LoadedConfig.libraries <mcinfra.config.LoadedConfig.libraries>`).
    ``host_threads`` maps each worker's address to the dask threads of all the workers on
    its host (:func:`host_threads`); numba gets this worker's share of the cores (at most
    ``settings.threads`` where that is set). Returns the reductions' state, the sampling
    seconds and the task's seconds.
    """
    started = time.perf_counter()
    cache = _worker_cache()
    loaded, plan = cache.plan(text, origin, libraries)
    threads = _task_threads(host_threads or {})
    if settings.threads is not None:
        threads = min(threads, settings.threads)
    settings = dataclasses.replace(settings, threads=threads)
    part = Reductions(loaded, plan, exact, start=first, replicate_draws=settings.replicate_draws)
    with cache.buffers(plan, chunk_capacity(settings)) as buffers:
        seconds, _ = stream(
            plan,
            settings,
            lambda *chunk: part.add(Chunk(*chunk)),
            start=first,
            end=stop,
            buffers=buffers,
        )
    return part.state(), seconds, time.perf_counter() - started


def warm_worker() -> None:
    """Load the sampler's compiled kernels on the worker running this (its first task needs them).

    Every config runs the same compiled kernels, so the default config's plan loads them.
    """
    loaded = load_config()
    _, plan = _worker_cache().plan(loaded.text, loaded.origin)
    warm_up(plan)


def _warm_workers(client) -> list:
    """Start :func:`warm_worker` on each of ``client``'s workers (hold the futures it returns).

    The workers load the kernels while the client compiles the plan and loads its own.
    """
    workers = client.scheduler_info(n_workers=-1).get("workers", {})
    return [client.submit(warm_worker, workers=[address], pure=False) for address in workers]


def host_threads(client) -> dict[str, int]:
    """Each worker's address, mapped to the dask threads of all the workers on its host."""
    workers = client.scheduler_info(n_workers=-1).get("workers", {})
    per_host: dict[str, int] = {}
    for info in workers.values():
        per_host[info["host"]] = per_host.get(info["host"], 0) + int(info.get("nthreads", 1))
    return {address: per_host[info["host"]] for address, info in workers.items()}


class TaskSizes:
    """Splits draws ``start ..`` of a run into tasks of whole chunks, sized by work.

    ``task_draws`` fixes the draws per task (rounded up to whole chunks); None sizes each
    task from the pace of the tasks done (:meth:`done`): about ``seconds`` of work, never
    more than the unsubmitted draws shared among twice the ``workers``, at least a chunk.
    """

    def __init__(
        self,
        settings: RunSettings,
        start: int,
        workers: int,
        task_draws: int | None = None,
        seconds: float = TASK_SECONDS,
        one_chunk: bool = False,
    ) -> None:
        self._chunks = chunk_bounds(settings, start)
        self._next = next(self._chunks, None)
        self._end = settings.draws
        self.workers = workers
        self.task_draws = 1 if one_chunk else task_draws
        self.seconds = seconds
        self.pace = 0.0  # draws per second of one task, the best seen

    def done(self, draws: int, seconds: float) -> None:
        """Record a task of ``draws`` draws that took ``seconds`` on its worker."""
        if seconds > 0:
            self.pace = max(self.pace, draws / seconds)

    def wanted(self) -> int:
        """Draws the next task should hold (before rounding up to whole chunks)."""
        if self.task_draws is not None:
            return self.task_draws
        if self.pace == 0:
            return 1  # one chunk, until the pace is known
        left = self._end - (self._next[0] if self._next is not None else self._end)
        return max(1, min(int(self.pace * self.seconds), left // (2 * self.workers)))

    def next(self) -> tuple[int, int] | None:
        """``(first, stop)`` of the next task, or None when every draw is submitted."""
        if self._next is None:
            return None
        wanted = self.wanted()
        first, stop = self._next
        self._next = next(self._chunks, None)
        while self._next is not None and stop - first < wanted:
            stop = self._next[1]
            self._next = next(self._chunks, None)
        return first, stop


def stream_distributed(
    client,
    loaded: LoadedConfig,
    settings: RunSettings,
    exact: bool,
    reductions: Reductions,
    progress: ProgressCallback | None = None,
    stop: Callable[[], bool] | None = None,
    start: int = 0,
    after_chunk: Callable[[int], None] | None = None,
    clock: SamplingClock | None = None,
    shield: Callable[[], AbstractContextManager[object]] | None = None,
    task_draws: int | None = None,
) -> tuple[float, int]:
    """Like :func:`mcinfra.sampling.engine.stream`, with the chunks run as tasks on ``client``.

    Tasks hold whole chunks (:class:`TaskSizes`; ``task_draws`` fixes their size), or one
    chunk each with ``stop``, which is checked after each task. At most two tasks per
    worker are in flight; results are absorbed in draw order, with ``progress`` and
    ``after_chunk`` called after each task. Returns the workers' total sampling seconds and
    the draws done. Each task is absorbed (and ``after_chunk`` called) inside ``shield()``
    (see :data:`mcinfra.runs.pipeline.Shield`).
    """
    guard = shield if shield is not None else nullcontext
    threads = host_threads(client)
    workers = max(1, len(threads))
    sizes = TaskSizes(settings, start, workers, task_draws, one_chunk=stop is not None)
    pending: deque = deque()
    clock = SamplingClock() if clock is None else clock
    before, done = clock.seconds, start

    def submit() -> None:
        bounds = sizes.next()
        if bounds is None:
            return
        first, last = bounds
        future = client.submit(
            reduce_chunks,
            loaded.text,
            loaded.origin,
            loaded.libraries,
            settings,
            exact,
            first,
            last,
            threads,
            pure=False,
        )
        pending.append((first, last, future))

    for _ in range(2 * workers):
        submit()
    try:
        while pending:
            first, last, future = pending.popleft()
            state, seconds, task_seconds = future.result()
            sizes.done(last - first, task_seconds)
            submit()  # before absorbing, so the workers are never short of work
            with guard():  # an interruption waits for the whole task
                reductions.absorb(first, state)
                clock.seconds += seconds
                done = last
                if after_chunk is not None:
                    after_chunk(done)
            if progress is not None:
                progress(done, settings.draws, clock.seconds)
            if stop is not None and stop():
                break
    finally:
        for _, _, future in pending:
            future.cancel()
    return clock.seconds - before, done


@contextmanager
def dask_client(workers: int | None = None, address: str | None = None) -> Iterator:
    """A ``dask.distributed`` client: a local cluster of ``workers`` processes, or ``address``."""
    try:
        import dask
        from dask.distributed import Client, LocalCluster
    except ImportError:
        raise UsageError(
            'distributed runs need dask.distributed: pip install "mcinfra[distributed]"'
        ) from None
    if address is not None:
        try:
            client = Client(address, timeout="10s")
        except OSError as exc:
            raise UsageError(f"cannot reach the dask scheduler at {address}: {exc}") from None
        with client:
            warming = _warm_workers(client)  # held: a future let go is cancelled
            yield client
            client.cancel(warming)
        return
    if workers is None:
        raise ValueError("dask_client needs a number of local workers or a scheduler address")
    # One dask thread per worker process; numba's threads share the cores among workers.
    threads = max(1, (os.cpu_count() or 1) // workers)
    # Each nanny reads the environment of its worker process as it is made.
    with dask.config.set({NANNY_MALLOC_SETTING: None}):
        cluster = LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=":0",  # no fixed port: runs side by side must not clash
            env={"NUMBA_NUM_THREADS": str(threads)},
        )
    with cluster, Client(cluster) as client:
        warming = _warm_workers(client)  # held: a future let go is cancelled
        yield client
        client.cancel(warming)
