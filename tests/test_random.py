"""Per-draw random streams: distribution, independence from chunking, seeds."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from conftest import ALPHA, Z
from mcinfra.kernels.random import fill_normals, fill_uniforms, seed_key

pytestmark = pytest.mark.statistical


def test_normals_fit_the_standard_normal():
    out = np.empty((20_000, 50))
    fill_normals(seed_key(11), 0, out)
    x = out.ravel()
    n = x.size
    assert abs(x.mean()) < Z / np.sqrt(n)
    assert abs(x.var() - 1) < Z * np.sqrt(2 / n)
    assert stats.kstest(x, "norm").pvalue > ALPHA
    # The ziggurat's tail (|z| > r = 3.654) must carry exactly its normal probability.
    p_tail = 2 * stats.norm.sf(3.654152885361009)
    observed = np.mean(np.abs(x) > 3.654152885361009)
    assert abs(observed - p_tail) < Z * np.sqrt(p_tail * (1 - p_tail) / n)


def test_far_tail_counts_match_the_normal():
    out = np.empty((200_000, 50))
    fill_normals(seed_key(12), 0, out)
    x = np.abs(out.ravel())
    for threshold in (2.0, 3.0, 4.0, 4.5):
        p = 2 * stats.norm.sf(threshold)
        count = np.sum(x > threshold)
        assert abs(count - p * x.size) < Z * np.sqrt(p * (1 - p) * x.size), threshold


def test_uniforms_are_uniform_and_in_range():
    out = np.empty((10_000, 100))
    fill_uniforms(seed_key(3), 0, out)
    assert out.min() >= 0.0 and out.max() < 1.0
    assert stats.kstest(out.ravel(), "uniform").pvalue > ALPHA


def test_draw_streams_depend_only_on_seed_and_draw():
    whole = np.empty((300, 20))
    fill_normals(seed_key(5), 0, whole)
    part = np.empty((100, 20))
    fill_normals(seed_key(5), 150, part)
    np.testing.assert_array_equal(part, whole[150:250])


def test_consecutive_draws_are_uncorrelated():
    out = np.empty((100_000, 2))
    fill_normals(seed_key(8), 0, out)
    r = np.corrcoef(out[:-1, 0], out[1:, 0])[0, 1]
    assert abs(r) < Z / np.sqrt(out.shape[0])
    r_within = np.corrcoef(out[:, 0], out[:, 1])[0, 1]
    assert abs(r_within) < Z / np.sqrt(out.shape[0])


def test_different_seeds_give_different_streams():
    a = np.empty((10, 10))
    b = np.empty((10, 10))
    fill_normals(seed_key(1), 0, a)
    fill_normals(seed_key(2), 0, b)
    assert not np.any(a == b)


@pytest.mark.parametrize("seed", [-1, 2**64])
def test_seed_key_rejects_out_of_range(seed):
    with pytest.raises(ValueError, match="seed must be in"):
        seed_key(seed)


@pytest.mark.parametrize("seed", [0, 3, 2**64 - 1])
def test_lanes_in_step_equal_draw_by_draw_streams(seed):
    # the sampler's block filler, the ziggurat's slow path and tail included (1 % of normals)
    from mcinfra.kernels.random import fill_block_normals

    key = seed_key(seed)
    expected = np.empty((4_000, 111))
    fill_normals(key, 10**12, expected)
    lanes = np.empty((5, 64), dtype=np.uint64)
    got = np.empty((111, 64))
    for first in range(0, 4_000, 64):
        nb = min(64, 4_000 - first)
        fill_block_normals(key, 10**12 + first, nb, got, lanes)
        np.testing.assert_array_equal(got[:, :nb].T, expected[first : first + nb])
