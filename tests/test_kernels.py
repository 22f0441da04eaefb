"""The numba sampler against the independent numpy twin, on the same normals."""

from __future__ import annotations

import numpy as np
import pytest
from numba import njit

from conftest import MINIMAL
from mcinfra import parse_config
from mcinfra.bench import reference as numpy_model
from mcinfra.kernels import model as kernels
from mcinfra.kernels.random import seed_key
from mcinfra.kernels.stream import store_fence, stream_copy
from mcinfra.sampling.engine import simulate_normals, simulate_streams, task_ranges

N = 3_000  # not a multiple of the block size, so partial blocks are exercised


@pytest.fixture(scope="module")
def kernel_run(default_plan):
    plan = default_plan
    normals = np.empty((N, plan.n_normals))
    kernels.draw_normals(seed_key(42), 0, normals)
    values = np.empty((len(plan.series), len(plan.years), N))
    inputs = np.empty((len(plan.inputs), N))
    scores = np.empty((len(plan.inputs), N))
    simulate_normals(normals, plan.kernel, (values, inputs, scores), 0)
    # Back to (draw, series, year) and (draw, input) for comparison with the numpy twin.
    return normals, np.moveaxis(values, -1, 0), inputs.T


def test_inputs_match_scipy_inverse_cdfs(default_config, default_plan, kernel_run):
    normals, _, inputs = kernel_run
    n_scores = default_plan.kernel.n_uncertain
    expected = numpy_model.sample_inputs(default_config.config, normals[:, :n_scores])
    scale = np.array([info.spec.scale for info in default_plan.inputs])
    assert np.max(np.abs(inputs - expected) / scale) < 1e-8


def test_trajectories_match_numpy_twin_to_rounding(default_config, default_plan, kernel_run):
    normals, values, inputs = kernel_run
    n_scores = default_plan.kernel.n_uncertain
    series = numpy_model.trajectories(default_config.config, inputs, normals[:, n_scores:])
    assert set(series) == {s.label for s in default_plan.series}
    for row, info in enumerate(default_plan.series):
        np.testing.assert_allclose(
            values[:, row, :], series[info.label], rtol=1e-12, err_msg=info.label
        )


def test_numpy_twin_gives_constant_derived_series_every_draw_and_year():
    # A derived series of parameters and numbers alone is the same every year; the twin
    # once returned it as (n, 1) or a bare number instead of (n, Y).
    text = MINIMAL + (
        '[parameters]\nk = 2.5\n\n[derived.flat]\nexpr = "k * 2"\n\n'
        '[derived.four]\nexpr = "4"\n\n[derived.both]\nexpr = "total + flat"\n'
    )
    series = numpy_model.simulate(parse_config(text).config, 7, 1)
    assert {label: np.shape(v) for label, v in series.items()} == {
        label: (7, 7) for label in ("total", "flat", "four", "both")
    }
    np.testing.assert_array_equal(series["flat"], 5.0)
    np.testing.assert_array_equal(series["four"], 4.0)
    np.testing.assert_array_equal(series["both"], series["total"] + 5.0)


def test_fused_sampler_equals_normals_then_model(default_plan, kernel_run):
    _, values, inputs = kernel_run
    fused = np.empty((values.shape[1], values.shape[2], N + 10))
    fused_inputs = np.empty((inputs.shape[1], N + 10))
    scores = np.empty_like(fused_inputs)
    out = (fused, fused_inputs, scores)
    simulate_streams(seed_key(42), 0, N, default_plan.kernel, out, 10)
    np.testing.assert_array_equal(np.moveaxis(fused[:, :, 10:], -1, 0), values)
    np.testing.assert_array_equal(fused_inputs[:, 10:].T, inputs)


def test_normals_per_draw_match_layout(default_config, default_plan):
    assert default_plan.n_normals == numpy_model.n_normals(default_config.config) == 111


def test_outputs_strided_along_draws_get_the_same_values(default_plan, kernel_run):
    # A buffer whose draws are not contiguous takes plain stores instead of streaming ones.
    _, values, inputs = kernel_run
    strided = np.empty((values.shape[1], values.shape[2], 2 * N))[:, :, ::2]
    strided_inputs = np.empty((inputs.shape[1], 2 * N))[:, ::2]
    scores = np.empty_like(strided_inputs)
    key = seed_key(42)
    simulate_streams(key, 0, N, default_plan.kernel, (strided, strided_inputs, scores), 0)
    np.testing.assert_array_equal(np.moveaxis(strided, -1, 0), values)
    np.testing.assert_array_equal(strided_inputs.T, inputs)


@njit
def _copy_runs(dst, src, starts, lengths):
    for i in range(starts.shape[0]):
        stream_copy(dst, starts[i] * 8, src, 8 * i, lengths[i])
    store_fence()


def test_stream_copy_writes_every_value_at_any_alignment_and_length():
    # Runs of 0 to 13 values starting at every offset modulo the 32-byte stores: heads,
    # aligned middles and tails, each value where a plain copy would put it.
    rng = np.random.default_rng(5)
    src = rng.normal(size=80)
    starts, lengths, position = [], [], 0
    for length in range(14):
        for shift in range(4):
            starts.append(position + shift)
            lengths.append(length)
            position += 20
    dst = np.zeros(position + 40)
    expected = np.zeros_like(dst)
    for i, (start, length) in enumerate(zip(starts, lengths, strict=True)):
        expected[start : start + length] = src[i : i + length]
    _copy_runs(dst, src, np.array(starts), np.array(lengths))
    np.testing.assert_array_equal(dst, expected)


@pytest.mark.parametrize("n_draws", [1, 255, 256, 3_000, 60_000])
@pytest.mark.parametrize("n_tasks", [1, 2, 3, 7])
def test_tasks_share_whole_blocks_and_cover_every_draw(n_draws, n_tasks):
    ranges = np.array(task_ranges(n_draws, n_tasks))
    assert len(ranges) == min(n_tasks, -(-n_draws // kernels.BLOCK))  # at least a block each
    assert ranges[0, 0] == 0 and ranges[-1, 1] == n_draws
    np.testing.assert_array_equal(ranges[1:, 0], ranges[:-1, 1])  # contiguous, in order
    sizes = np.ceil((ranges[:, 1] - ranges[:, 0]) / kernels.BLOCK)
    assert sizes.min() >= 1 and sizes.max() - sizes.min() <= 1  # an even share of blocks
    assert np.all(ranges[:-1, 1] % kernels.BLOCK == 0)  # every task but the last ends a block


def test_growth_factors_are_the_largest_that_reproduce_the_end_value():
    from mcinfra.kernels.growth import growth_factor

    rng = np.random.default_rng(5)
    start = rng.lognormal(3.0, 3.0, 100_000)
    factor = np.where(rng.random(start.size) < 0.5, 0.05, rng.lognormal(0.0, 0.5, start.size))
    end = start * factor
    got = growth_factor(end, start)
    assert np.all(start * got <= end) and np.all(start * np.nextafter(got, np.inf) > end)
    assert np.all(got >= factor)  # the applied factor is one that reproduces the end value
    assert np.all(got[factor == 0.05] >= 0.05)
    # Factors and starts at the edges of binades, where an ulp of the factor is half or
    # twice an ulp of the end value relative to each: the widest neighbourhoods.
    k = rng.integers(-8, 8, start.size)
    edge = 2.0**k * (1 + rng.integers(-3, 4, start.size) * 2.0**-52)
    start = 2.0 ** rng.integers(-900, 900, start.size) * (
        1 + rng.integers(0, 4, start.size) * 2.0**-52
    )
    end = start * edge
    got = growth_factor(end, start)
    assert np.all(start * got <= end) and np.all(start * np.nextafter(got, np.inf) > end)
    assert np.all(got >= edge)
    # Zeros, signs, non-finite and subnormal values: numpy's quotient.
    odd = np.array([0.0, -2.0, 3.0, np.inf, np.nan, 5e-324, 2.0, -1.0])
    by = np.array([1.0, 4.0, 0.0, 2.0, 1.0, 1.0, np.inf, -3.0])
    with np.errstate(divide="ignore", invalid="ignore"):
        np.testing.assert_array_equal(growth_factor(odd, by), odd / by)
