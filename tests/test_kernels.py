"""The numba sampler against the independent numpy twin, on the same normals."""

from __future__ import annotations

import numpy as np
import pytest

from mcinfra import reference as numpy_model
from mcinfra.kernels import model as kernels
from mcinfra.kernels.random import seed_key

N = 3_000  # not a multiple of the block size, so partial blocks are exercised


@pytest.fixture(scope="module")
def kernel_run(default_plan):
    plan = default_plan
    normals = np.empty((N, plan.n_normals))
    kernels.draw_normals(seed_key(42), 0, normals)
    values = np.empty((len(plan.series), len(plan.years), N))
    inputs = np.empty((len(plan.inputs), N))
    scores = np.empty((len(plan.inputs), N))
    kernels.simulate_from_normals(normals, plan.kernel, values, inputs, scores, 0)
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


def test_fused_sampler_equals_normals_then_model(default_plan, kernel_run):
    _, values, inputs = kernel_run
    fused = np.empty((values.shape[1], values.shape[2], N + 10))
    fused_inputs = np.empty((inputs.shape[1], N + 10))
    scores = np.empty_like(fused_inputs)
    kernels.simulate_chunk(seed_key(42), 0, N, default_plan.kernel, fused, fused_inputs, scores, 10)
    np.testing.assert_array_equal(np.moveaxis(fused[:, :, 10:], -1, 0), values)
    np.testing.assert_array_equal(fused_inputs[:, 10:].T, inputs)


def test_normals_per_draw_match_layout(default_config, default_plan):
    assert default_plan.n_normals == numpy_model.n_normals(default_config.config) == 111
