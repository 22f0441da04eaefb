"""A run on a dask cluster gives exactly the single-machine result."""

from __future__ import annotations

import json

import pytest

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
def client():
    with (
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
            env={"NUMBA_NUM_THREADS": "1"},
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        yield client


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

    def stop(done, total, seconds):
        if done >= 9_000:
            raise Interrupted(signum=signal.SIGTERM)

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
            progress=stop,
            checkpoint_seconds=1e9,
            shield=nullcontext,
        )
    (checkpoint,) = tmp_path.glob(".remote.partial-*/" + CHECKPOINT)
    with np.load(checkpoint) as saved:
        assert int(saved["draws_done"]) == 9_000
    assert main(["run", "--resume", str(remote), "--quiet"]) == 0
    for name in FILES:
        assert (local / name).read_bytes() == (remote / name).read_bytes(), name
