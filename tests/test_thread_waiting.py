"""Numba's OpenMP threads wait passively between kernels unless the user says otherwise."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import mcinfra

SRC = Path(mcinfra.__file__).parents[1]
PARALLEL_KERNEL = """
import mcinfra.kernels.jit
import numba, numpy as np

@numba.njit(parallel=True)
def total(a):
    s = 0.0
    for i in numba.prange(a.size):
        s += a[i]
    return s

total(np.ones(1000))
print(numba.threading_layer())
"""


def _wait_policy(environment: dict[str, str]) -> str:
    """The wait policy the OpenMP runtime reports after a parallel kernel has run."""
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    env.update(environment, OMP_DISPLAY_ENV="TRUE", PYTHONPATH=str(SRC))
    done = subprocess.run(
        [sys.executable, "-c", PARALLEL_KERNEL], env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    if done.stdout.strip() != "omp":
        pytest.skip(f"numba's threading layer here is {done.stdout.strip()}, not OpenMP")
    lines = [line for line in done.stderr.splitlines() if "OMP_WAIT_POLICY" in line]
    assert lines, done.stderr
    return lines[0].split("=", 1)[1].strip().strip("'")


def test_threads_wait_passively_by_default():
    assert _wait_policy({}) == "PASSIVE"


def test_a_policy_set_in_the_environment_is_kept():
    assert _wait_policy({"OMP_WAIT_POLICY": "ACTIVE"}) == "ACTIVE"
