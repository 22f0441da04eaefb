"""A run on a dask cluster gives exactly the single-machine result."""

from __future__ import annotations

import itertools
import json

import pytest

from conftest import interrupt_at
from mcinfra.cli import main
from mcinfra.config import load_config
from mcinfra.runs.distributed import dask_client
from mcinfra.runs.pipeline import run_to_directory
from mcinfra.sampling.engine import settings_from

distributed = pytest.importorskip("dask.distributed")

FILES = ("predictions.csv", "sensitivity.csv", "quantiles.csv")


def _summary(path):
    summary = json.loads((path / "summary.json").read_text())
    keys = ("predictions", "series", "source_figures", "crossovers", "convergence", "checks")
    return {key: summary[key] for key in keys} | {"draws": summary["run"]["draws"]}


@pytest.fixture(scope="module")
def client(two_worker_client):
    return two_worker_client


@pytest.mark.parametrize("quantiles", ["exact", "sketch"])
def test_cluster_run_equals_local_run(tmp_path, client, quantiles):
    loaded = load_config()
    settings = settings_from(loaded, draws=24_000, chunk_size=3_000, seed=7)
    local, remote = tmp_path / "local", tmp_path / "remote"
    run_to_directory(loaded, settings, local, quantiles=quantiles)
    run_to_directory(loaded, settings, remote, quantiles=quantiles, client=client)
    for name in FILES:
        assert (local / name).read_bytes() == (remote / name).read_bytes(), name
    assert _summary(local) == _summary(remote)


def test_cluster_sobol_run_equals_local_run(tmp_path, client):
    loaded = load_config(None, ('sampling.method="sobol"',))
    settings = settings_from(loaded, draws=16 * 1024, chunk_size=3_000, seed=7)
    local, remote = tmp_path / "local", tmp_path / "remote"
    run_to_directory(loaded, settings, local)
    run_to_directory(loaded, settings, remote, client=client)
    for name in FILES:
        assert (local / name).read_bytes() == (remote / name).read_bytes(), name
    assert _summary(local) == _summary(remote)


def test_sequential_stopping_stops_at_the_same_chunk(tmp_path, client):
    loaded = load_config()
    settings = settings_from(loaded, draws=200_000, chunk_size=4_000)
    runs = []
    for name, on in (("local", None), ("remote", client)):
        run_to_directory(loaded, settings, tmp_path / name, target_se=0.01, client=on)
        runs.append(_summary(tmp_path / name))
    assert runs[0] == runs[1]
    assert runs[0]["draws"] < 200_000


def test_scheduler_address_from_the_command_line(tmp_path, client):
    out = tmp_path / "cli"
    args = ["run", "--draws", "6000", "--chunk-size", "2000", "--no-report", "--quiet"]
    assert main([*args, "--scheduler", client.scheduler.address, "--out", str(out)]) == 0
    assert main([*args, "--out", str(tmp_path / "here")]) == 0
    assert _summary(out) == _summary(tmp_path / "here")


def test_unreachable_scheduler_exits_2(tmp_path, capsys):
    out = tmp_path / "none"
    assert (
        main(["run", "--draws", "10", "--scheduler", "tcp://127.0.0.1:1", "--out", str(out)]) == 2
    )
    assert "cannot reach the dask scheduler" in capsys.readouterr().err
    assert not out.exists()


def test_a_client_needs_workers_or_an_address():
    # Neither used to fail with a TypeError (cpu_count // None) after importing dask.
    needs = "needs a number of local workers or a scheduler address"
    with pytest.raises(ValueError, match=needs), dask_client():
        pass


def test_cluster_run_stopped_by_a_signal_checkpoints_at_once(tmp_path, client):
    import signal
    from contextlib import nullcontext

    import numpy as np

    from mcinfra.errors import Interrupted
    from mcinfra.io.run_directory import CHECKPOINT

    loaded = load_config()
    settings = settings_from(loaded, draws=24_000, chunk_size=3_000, seed=7)
    local, remote = tmp_path / "local", tmp_path / "remote"
    run_to_directory(loaded, settings, local)
    with pytest.raises(Interrupted, match="--resume"):
        run_to_directory(
            loaded,
            settings,
            remote,
            client=client,
            progress=interrupt_at(9_000, signal.SIGTERM),
            checkpoint_seconds=1e9,
            shield=nullcontext,
        )
    (checkpoint,) = tmp_path.glob(".remote.partial-*/" + CHECKPOINT)
    with np.load(checkpoint) as saved:
        assert int(saved["draws_done"]) == 9_000
    assert main(["run", "--resume", str(remote), "--quiet"]) == 0
    for name in FILES:
        assert (local / name).read_bytes() == (remote / name).read_bytes(), name


def _run_in_tasks_of(monkeypatch, task_draws):
    """Make a run's tasks hold ``task_draws`` draws (None: sized by their pace)."""
    import functools

    from mcinfra.runs import distributed as module

    sized = functools.partial(module.stream_distributed, task_draws=task_draws)
    monkeypatch.setattr(module, "stream_distributed", sized)


@pytest.mark.parametrize(
    ("quantiles", "chunk_size", "task_draws"),
    [
        ("sketch", 3_000, 1),
        ("sketch", 3_000, 7_000),
        ("sketch", 2_000, 50_000),
        ("sketch", 5_000, None),
        ("exact", 3_000, 7_000),
        ("exact", 4_000, None),
    ],
)
def test_any_task_size_gives_the_local_run(
    tmp_path, client, monkeypatch, quantiles, chunk_size, task_draws
):
    loaded = load_config()
    settings = settings_from(loaded, draws=20_000, chunk_size=chunk_size, seed=11)
    local, remote = tmp_path / "local", tmp_path / "remote"
    run_to_directory(loaded, settings, local, quantiles=quantiles)
    seen = []
    _run_in_tasks_of(monkeypatch, task_draws)
    run_to_directory(
        loaded,
        settings,
        remote,
        quantiles=quantiles,
        client=client,
        progress=lambda done, total, seconds: seen.append(done),
    )
    for name in FILES:
        assert (local / name).read_bytes() == (remote / name).read_bytes(), name
    assert _summary(local) == _summary(remote)
    # every task ends on a chunk boundary and, but the last, holds about task_draws draws
    assert all(stop % chunk_size == 0 for stop in seen[:-1]) and seen[-1] == 20_000
    if task_draws is not None:
        sizes = [stop - first for first, stop in zip([0, *seen], seen, strict=False)]
        assert all(size >= min(task_draws, chunk_size) for size in sizes[:-1])
        assert all(size < task_draws + chunk_size for size in sizes)


def test_sobol_tasks_keep_to_the_replicates(tmp_path, client, monkeypatch):
    loaded = load_config(None, ('sampling.method="sobol"',))
    settings = settings_from(loaded, draws=16 * 1024, chunk_size=3_000, seed=7)
    local, remote = tmp_path / "local", tmp_path / "remote"
    run_to_directory(loaded, settings, local)
    _run_in_tasks_of(monkeypatch, 5_000)
    run_to_directory(loaded, settings, remote, client=client)
    for name in FILES:
        assert (local / name).read_bytes() == (remote / name).read_bytes(), name
    assert _summary(local) == _summary(remote)


def test_task_sizes_follow_the_pace_and_shrink_at_the_end():
    from mcinfra.runs.distributed import TaskSizes

    loaded = load_config()
    settings = settings_from(loaded, draws=1_000_000, chunk_size=1_000)
    sizes = TaskSizes(settings, start=10_000, workers=2, seconds=1.0)
    tasks = [sizes.next(), sizes.next()]
    assert tasks == [(10_000, 11_000), (11_000, 12_000)]  # one chunk until the pace is known
    sizes.done(1_000, 0.01)  # 100k draws/s: tasks of about 100k draws
    sizes.done(1_000, 0.02)  # the best pace counts
    while (task := sizes.next()) is not None:
        tasks.append(task)
    lengths = [stop - first for first, stop in tasks]
    assert [first for first, _ in tasks[1:]] == [stop for _, stop in tasks[:-1]]
    assert tasks[-1][1] == 1_000_000
    assert lengths[2] == 100_000
    assert max(lengths) == 100_000
    assert all(later <= earlier for earlier, later in itertools.pairwise(lengths[2:]))
    assert lengths[-1] == 1_000  # the last tasks are a chunk each
    assert all(length % 1_000 == 0 for length in lengths)


def test_sequential_stopping_sends_one_chunk_per_task():
    from mcinfra.runs.distributed import TaskSizes

    settings = settings_from(load_config(), draws=10_000, chunk_size=1_000)
    sizes = TaskSizes(settings, start=0, workers=1, task_draws=5_000, one_chunk=True)
    sizes.done(1_000, 1e-6)
    assert [sizes.next() for _ in range(3)] == [(0, 1_000), (1_000, 2_000), (2_000, 3_000)]


def test_a_worker_reuses_its_chunk_buffers():
    from mcinfra.runs.distributed import WorkerCache

    cache = WorkerCache()
    _, plan = cache.plan(load_config().text, "default")
    assert cache.plan(load_config().text, "default")[1] is plan
    with cache.buffers(plan, 100) as first, cache.buffers(plan, 100) as second:
        assert first is not second  # two tasks at once each get their own
    with cache.buffers(plan, 100) as again:
        assert again in (first, second)
    with cache.buffers(plan, 200) as larger:
        assert larger not in (first, second)
    with cache.buffers(plan, 100) as after:
        assert after not in (first, second)  # another shape let the old buffers go


def test_each_task_gets_its_share_of_the_cores(client):
    from mcinfra.runs.distributed import _task_threads, host_threads, usable_cores

    sharing = host_threads(client)
    assert sorted(sharing.values()) == [2, 2]  # two one-thread workers on this host
    cores = client.submit(usable_cores, pure=False).result()
    for address in sharing:
        one = {address: 1}
        assert client.submit(_task_threads, one, workers=[address], pure=False).result() == cores
        assert client.submit(_task_threads, sharing, workers=[address], pure=False).result() == max(
            1, cores // 2
        )


def test_workers_load_the_kernels_before_the_first_task(client):
    from mcinfra.runs.distributed import WORKER_CACHE, _warm_workers

    for future in _warm_workers(client):
        future.result()

    def plans(dask_worker):
        return len(getattr(dask_worker, WORKER_CACHE)._plans)

    assert set(client.run(plans).values()) >= {1}


def test_local_cluster_workers_keep_the_dynamic_mmap_threshold(monkeypatch):
    # A nanny sets MALLOC_TRIM_THRESHOLD_ in the environment it spawns from; clear any
    # left by an earlier cluster of this process, which would be inherited instead.
    import os

    import dask

    from mcinfra.runs.distributed import NANNY_MALLOC_SETTING

    monkeypatch.delenv("MALLOC_TRIM_THRESHOLD_", raising=False)
    before = dask.config.get(NANNY_MALLOC_SETTING, default=None)

    def environment():
        return {
            name: os.environ.get(name) for name in ("MALLOC_TRIM_THRESHOLD_", "NUMBA_NUM_THREADS")
        }

    with dask_client(workers=1) as client:
        (found,) = client.run(environment).values()
    assert found == {"MALLOC_TRIM_THRESHOLD_": None, "NUMBA_NUM_THREADS": str(os.cpu_count() or 1)}
    assert dask.config.get(NANNY_MALLOC_SETTING, default=None) == before
