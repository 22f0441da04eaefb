"""Where the sampler's time goes: switch model parts off, one at a time, on one kernel.

Usage: python benchmarks/bench_parts.py [--draws 2e5] [--repeats 6]

Every variant is the same compiled kernel run on a plan with one part emptied (so no
recompilation hides or adds cost), one thread, alternating variants and keeping each one's
best time. The cost of a part is the full model's time minus the time without it. A last
line times a kernel that only writes the model's output (2.7 KB per draw) from two threads:
the memory-bandwidth ceiling.
"""

from __future__ import annotations

import argparse
import time

import numba
import numpy as np
from numba import prange

from mcinfra import load_config
from mcinfra.kernels.random import seed_key
from mcinfra.sampling.engine import simulate_streams
from mcinfra.sampling.plan import compile_plan


@numba.njit(parallel=True, cache=True)
def write_only(out, inputs):
    n = out.shape[2]
    for task in prange((n + 511) // 512):
        stop = min(n, (task + 1) * 512)
        for s in range(out.shape[0]):
            for t in range(out.shape[1]):
                for i in range(task * 512, stop):
                    out[s, t, i] = i * 0.5 + s
        for k in range(inputs.shape[0]):
            for i in range(task * 512, stop):
                inputs[k, i] = i * 0.25


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--draws", type=float, default=2e5)
    parser.add_argument("--repeats", type=int, default=6)
    args = parser.parse_args()
    n = int(args.draws)
    plan = compile_plan(load_config().config)
    full = plan.kernel
    none = np.zeros(0, dtype=np.int64)
    variants = {
        "full model": full,
        "without group and aggregate sums": full._replace(sum_target=none),
        "without derived series": full._replace(dv_series=none),
        "without input transforms": full._replace(
            in_family=np.zeros_like(full.in_family), chol_ptr=np.zeros_like(full.chol_ptr)
        ),
        "without partitions": full._replace(part_ptr=np.zeros(1, dtype=np.int64)),
        "without function split": full._replace(fn_series=none),
        "without adoption": full._replace(ad_series=none),
    }
    shape = (len(plan.series), len(plan.years), n)
    values, inputs = np.zeros(shape), np.zeros((len(plan.inputs), n))
    scores = np.zeros_like(inputs)
    key = seed_key(1)
    threads = numba.get_num_threads()
    numba.set_num_threads(1)
    best = dict.fromkeys(variants, np.inf)
    for kernel in variants.values():
        simulate_streams(key, 0, n, kernel, (values, inputs, scores), 0)
    for _ in range(args.repeats):
        for name, kernel in variants.items():
            started = time.perf_counter()
            simulate_streams(key, 0, n, kernel, (values, inputs, scores), 0)
            best[name] = min(best[name], time.perf_counter() - started)
    total = best["full model"] / n * 1e6
    print(f"{'full model, 1 thread':<36} {total:6.3f} us/draw")
    for name in list(variants)[1:]:
        part = total - best[name] / n * 1e6
        print(f"  cost of {name.removeprefix('without '):<27} {part:6.3f} us/draw")
    numba.set_num_threads(threads)
    write_only(values, inputs)
    seconds = min(_timed(write_only, values, inputs) for _ in range(args.repeats))
    print(f"{'write-only kernel, all threads':<36} {n / seconds / 1e6:6.2f} M draws/s")


def _timed(function, *arguments) -> float:
    started = time.perf_counter()
    function(*arguments)
    return time.perf_counter() - started


if __name__ == "__main__":
    main()
