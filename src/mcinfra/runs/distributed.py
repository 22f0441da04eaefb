"""Running a run's chunks as dask tasks and merging their reductions in draw order.

Each task simulates one chunk on a worker and returns the chunk's reductions (counts and
sketch buckets, :class:`mcinfra.runs.reductions.Reductions`), never the draws. The client
absorbs them in draw order, so with counter-based random numbers a distributed run gives
exactly the summary of a single-machine run with the same seed and chunk size, including
sequential stopping, which is checked after each chunk as locally.

``dask.distributed`` is an optional dependency (``pip install "mcinfra[distributed]"``).
"""

from __future__ import annotations

import functools
import os
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext

from mcinfra.config import LoadedConfig, parse_config
from mcinfra.errors import UsageError
from mcinfra.runs.reductions import Reductions
from mcinfra.sampling.engine import (
    ProgressCallback,
    RunSettings,
    SamplingClock,
    chunk_bounds,
    stream,
)
from mcinfra.sampling.plan import compile_plan
from mcinfra.stats.reduction import Chunk


@functools.lru_cache(maxsize=4)
def _worker_plan(text: str, origin: str):
    """The parsed config and compiled plan, once per worker process and config."""
    loaded = parse_config(text, origin=origin)
    return loaded, compile_plan(loaded.config)


def reduce_chunk(
    text: str, origin: str, settings: RunSettings, exact: bool, first: int, stop: int
) -> tuple[dict, float]:
    """Simulate draws ``first .. stop - 1`` (one chunk) and return their reductions and seconds."""
    loaded, plan = _worker_plan(text, origin)
    part = Reductions(loaded, plan, exact, start=first, replicate_draws=settings.replicate_draws)
    seconds, _ = stream(
        plan, settings, lambda *chunk: part.add(Chunk(*chunk)), start=first, end=stop
    )
    return part.state(), seconds


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
) -> tuple[float, int]:
    """Like :func:`mcinfra.sampling.engine.stream`, with each chunk a task on ``client``'s cluster.

    At most two chunks per worker are in flight; results are absorbed in draw order.
    Returns the workers' total sampling seconds and the draws done. Each chunk is absorbed
    (and ``after_chunk`` called) inside ``shield()`` (see :data:`mcinfra.runs.pipeline.Shield`).
    """
    guard = shield if shield is not None else nullcontext
    bounds = deque(chunk_bounds(settings, start))
    workers = max(1, len(client.scheduler_info().get("workers", {})))
    pending: deque = deque()
    clock = SamplingClock() if clock is None else clock
    before, done = clock.seconds, start

    def submit() -> None:
        first, last = bounds.popleft()
        future = client.submit(
            reduce_chunk,
            loaded.text,
            loaded.origin,
            settings,
            exact,
            first,
            last,
            pure=False,
        )
        pending.append((first, last, future))

    while bounds and len(pending) < 2 * workers:
        submit()
    try:
        while pending:
            first, last, future = pending.popleft()
            state, seconds = future.result()
            with guard():  # an interruption waits for the whole chunk
                reductions.absorb(first, state)
                clock.seconds += seconds
                done = last
                if after_chunk is not None:
                    after_chunk(done)
            if progress is not None:
                progress(done, settings.draws, clock.seconds)
            if stop is not None and stop():
                break
            if bounds:
                submit()
    finally:
        for _, _, future in pending:
            future.cancel()
    return clock.seconds - before, done


@contextmanager
def dask_client(workers: int | None = None, address: str | None = None) -> Iterator:
    """A ``dask.distributed`` client: a local cluster of ``workers`` processes, or ``address``."""
    try:
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
            yield client
        return
    if workers is None:
        raise ValueError("dask_client needs a number of local workers or a scheduler address")
    # One dask thread per worker process; numba's threads share the cores among workers.
    threads = max(1, (os.cpu_count() or 1) // workers)
    with (
        LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            env={"NUMBA_NUM_THREADS": str(threads)},
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client
