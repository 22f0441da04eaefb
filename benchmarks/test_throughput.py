"""Throughput benchmarks (pytest-benchmark), run by ``pytest benchmarks --benchmark-only``.

Install with ``pip install ".[bench]"``.
Each group times mcinfra against its baselines in the same process, so pytest-benchmark's
table reads as ratios: the sampler against numpy drawing only the model's normals and
against the plain numpy model; quasi-Monte Carlo against plain sampling. Every case records
its draws per second in ``extra_info`` (kept by ``--benchmark-json``). ``mcinfra bench``
measures the same things with machine facts and the project's targets.
"""

from __future__ import annotations

import dataclasses

import numba
import numpy as np
import pytest

pytest.importorskip("pytest_benchmark")

from mcinfra import load_config, settings_from
from mcinfra.bench.reference import simulate as numpy_simulate
from mcinfra.runs.pipeline import run_to_directory
from mcinfra.sampling.engine import draw_chunk, numba_threads, warm_up
from mcinfra.sampling.plan import compile_plan

CHUNK = 65_536


@pytest.fixture(scope="module")
def model():
    loaded = load_config()
    plan = compile_plan(loaded.config)
    warm_up(plan)
    buffers = (
        np.zeros((len(plan.series), len(plan.years), CHUNK)),
        np.zeros((len(plan.inputs), CHUNK)),
        np.zeros((len(plan.inputs), CHUNK)),
    )
    return loaded, plan, buffers


def _rate(benchmark, draws: int) -> None:
    benchmark.extra_info["draws"] = draws
    benchmark.extra_info["threads"] = numba.get_num_threads()
    if benchmark.stats is not None:  # None with --benchmark-disable (a single plain run)
        benchmark.extra_info["draws_per_second"] = draws / benchmark.stats.stats.min


@pytest.mark.benchmark(group="sampler, 65,536 draws")
@pytest.mark.parametrize("threads", [None, 1], ids=["all-threads", "one-thread"])
def test_sampler(benchmark, model, threads):
    loaded, plan, buffers = model
    settings = settings_from(loaded, draws=CHUNK, chunk_size=CHUNK)
    with numba_threads(threads):
        benchmark(draw_chunk, plan, settings, 0, CHUNK, buffers, 0)
    _rate(benchmark, CHUNK)
    assert np.isfinite(buffers[0]).all()


@pytest.mark.benchmark(group="sampler, 65,536 draws")
def test_numpy_normals_alone(benchmark, model):
    _, plan, _ = model
    generator = np.random.Generator(np.random.SFC64(1))
    normals = np.empty((CHUNK, plan.kernel.n_normals))
    benchmark(generator.standard_normal, out=normals)
    _rate(benchmark, CHUNK)
    assert np.isfinite(normals).all()


@pytest.mark.benchmark(group="sampler, 65,536 draws")
def test_numpy_model(benchmark, model):
    loaded, _, _ = model
    values = benchmark.pedantic(numpy_simulate, args=(loaded.config, CHUNK, 1), rounds=3)
    _rate(benchmark, CHUNK)
    assert all(np.isfinite(v).all() for v in values.values())


@pytest.mark.benchmark(group="sampling method, 65,536 draws")
@pytest.mark.parametrize("method", ["mc", "sobol"])
def test_sampling_method(benchmark, model, method):
    loaded, plan, buffers = model
    settings = settings_from(loaded, draws=16 * CHUNK, chunk_size=CHUNK)
    settings = dataclasses.replace(settings, method=method)
    benchmark(draw_chunk, plan, settings, 0, CHUNK, buffers, 0)
    _rate(benchmark, CHUNK)
    assert np.isfinite(buffers[0]).all()


@pytest.mark.benchmark(group="pipeline")
@pytest.mark.parametrize("draws", [100_000, 1_000_000])
def test_pipeline(benchmark, model, tmp_path, draws):
    loaded, _, _ = model
    settings = settings_from(loaded, draws=draws)
    out = tmp_path / "run"
    benchmark.pedantic(run_to_directory, args=(loaded, settings, out), rounds=2, iterations=1)
    _rate(benchmark, draws)
    assert (out / "summary.json").is_file()
