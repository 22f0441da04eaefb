"""The threads a chunk's tasks run on (:class:`mcinfra.sampling.engine.TaskThreads`).

Which draws each task makes, and that the bits never depend on the thread count, are
checked in test_kernels.py and test_reproducibility.py; here: the threads' lifetime, and
that a failure or an interrupt in one task neither escapes nor leaves another running.
"""

from __future__ import annotations

import threading
import time

import numba
import numpy as np
import pytest

from mcinfra.sampling.engine import TaskThreads, numba_threads

pytestmark = pytest.mark.skipif(
    numba.config.NUMBA_NUM_THREADS < 2, reason="needs two numba threads"
)
N = 2_000  # eight blocks: two tasks of four


def _sampler_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("mcinfra-sampler")]


def _record(seen: list):
    def simulate(first, stop):
        seen.append((first, stop, threading.current_thread().name))
        return 0

    return simulate


def test_threads_are_kept_for_the_with_block_and_stopped_after_it():
    seen: list = []
    with numba_threads(2), TaskThreads() as tasks:
        tasks.run(_record(seen), (), N, ())
        kept = _sampler_threads()
        tasks.run(_record(seen), (), N, ())
        assert len(kept) == 1 and _sampler_threads() == kept
    assert _sampler_threads() == []
    assert sorted(s[:2] for s in seen) == [(0, 1024), (0, 1024), (1024, N), (1024, N)]
    assert {s[2] for s in seen} == {"MainThread", kept[0].name}


def test_a_call_outside_a_with_block_leaves_no_thread_behind():
    seen: list = []
    with numba_threads(2):
        TaskThreads().run(_record(seen), (), N, ())
    assert len(seen) == 2 and _sampler_threads() == []


def test_the_largest_partition_check_of_the_tasks_is_returned():
    gaps = {0: 1e-16, 1024: 3e-15}

    def simulate(first, stop):
        return int(np.float64(gaps[first]).view(np.int64))

    with numba_threads(2):
        assert TaskThreads().run(simulate, (), N, ()) == 3e-15


def test_a_failing_task_is_raised_in_the_calling_thread():
    def simulate(first, stop):
        if first:
            raise ValueError(f"task at {first} failed")
        return 0

    with numba_threads(2), pytest.raises(ValueError, match="task at 1024 failed"):
        TaskThreads().run(simulate, (), N, ())


def test_an_interrupt_waits_for_the_other_tasks_to_finish():
    # They write into the caller's buffers: none may still run once the interrupt is raised.
    finished = threading.Event()

    def simulate(first, stop):
        if first == 0:
            raise KeyboardInterrupt
        time.sleep(0.2)
        finished.set()
        return 0

    with numba_threads(2), TaskThreads() as tasks, pytest.raises(KeyboardInterrupt):
        tasks.run(simulate, (), N, ())
    assert finished.is_set()
