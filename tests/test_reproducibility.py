"""Same seed, same bits: for any thread count and any chunk size."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys

import numpy as np
import pytest

from mcinfra import RunSettings, simulate

DRAWS = 5_000


def digest(ds) -> str:
    return hashlib.sha256(ds["value"].values.tobytes() + ds["inputs"].values.tobytes()).hexdigest()


@pytest.fixture(scope="module")
def reference(default_config):
    return simulate(default_config, RunSettings(draws=DRAWS, seed=99, chunk_size=DRAWS))


@pytest.mark.parametrize("chunk_size", [1, 999, 1024, 4096])
def test_chunk_size_does_not_change_bits(default_config, reference, chunk_size):
    draws = 2_000 if chunk_size == 1 else DRAWS
    ds = simulate(default_config, RunSettings(draws=draws, seed=99, chunk_size=chunk_size))
    np.testing.assert_array_equal(ds["value"].values, reference["value"].values[:draws])
    np.testing.assert_array_equal(ds["inputs"].values, reference["inputs"].values[:draws])


@pytest.mark.parametrize("threads", [1, 2])
def test_thread_count_does_not_change_bits(default_config, reference, threads):
    ds = simulate(
        default_config, RunSettings(draws=DRAWS, seed=99, chunk_size=DRAWS, threads=threads)
    )
    assert digest(ds) == digest(reference)


def test_separate_processes_with_one_and_two_threads_agree(default_config, reference):
    code = (
        "import hashlib, mcinfra;"
        f"ds = mcinfra.simulate(mcinfra.load_config(), mcinfra.RunSettings({DRAWS}, 99, 1500));"
        "print(hashlib.sha256(ds['value'].values.tobytes()"
        " + ds['inputs'].values.tobytes()).hexdigest())"
    )
    digests = set()
    for threads in ("1", "2"):
        env = dict(os.environ, NUMBA_NUM_THREADS=threads)
        result = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
        )
        digests.add(result.stdout.strip())
    assert digests == {digest(reference)}


def test_different_seeds_differ(default_config, reference):
    other = simulate(default_config, RunSettings(draws=DRAWS, seed=100, chunk_size=DRAWS))
    assert not np.array_equal(other["value"].values, reference["value"].values)


def test_streamed_chunks_are_contiguous_and_equal_the_whole_run(default_config, reference):
    # Every chunk, the shorter last one too, reaches the reductions C-contiguous (one
    # compiled version of each kernel), and together they are the in-memory run.
    from mcinfra.sampling.engine import stream
    from mcinfra.sampling.plan import compile_plan

    plan = compile_plan(default_config.config)
    settings = RunSettings(draws=DRAWS, seed=99, chunk_size=999)
    seen = []

    def on_chunk(first, values, inputs, scores, gap):
        assert all(a.flags.c_contiguous for a in (values, inputs, scores))
        seen.append((first, values.copy(), inputs.copy()))

    stream(plan, settings, on_chunk)
    assert [first for first, _, _ in seen] == list(range(0, DRAWS, 999))
    assert seen[-1][1].shape[-1] == DRAWS % 999
    values = np.concatenate([v for _, v, _ in seen], axis=-1)
    inputs = np.concatenate([x for _, _, x in seen], axis=-1)
    np.testing.assert_array_equal(np.moveaxis(values, -1, 0), reference["value"].values)
    np.testing.assert_array_equal(inputs.T, reference["inputs"].values)
