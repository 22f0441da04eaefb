"""Sampler throughput against plain numpy, measured in one process.

Usage: python benchmarks/bench_sampler.py [--draws 1e6] [--repeats 5] [--json FILE]

Three timings of the default model, each the best of ``--repeats`` runs:

- mcinfra: the numba sampler filling preallocated (draw, segment, year) and (draw, input)
  arrays (inputs to trajectories, in memory), with all threads and with one thread;
- numpy model: the straightforward vectorised numpy/scipy implementation of the same model
  (benchmarks/numpy_model.py), including its random numbers;
- numpy normals: numpy's fastest bit generator drawing only the standard normals the model
  needs (PCG64 and SFC64 are both timed; the faster counts).

Ratios are what to compare across machines; absolute rates move with load and clock.
Output arrays are touched once before timing: on some virtual machines the first write to
fresh memory costs more than the whole simulation, which is not what this measures.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numba
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import numpy_model
from mcinfra import load_config
from mcinfra.engine import warm_up
from mcinfra.kernels.model import simulate_chunk
from mcinfra.kernels.random import seed_key
from mcinfra.plan import compile_plan


def best_of(repeats: int, function) -> float:
    """Shortest wall time of ``repeats`` calls."""
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        function()
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--draws", type=float, default=1e6)
    parser.add_argument(
        "--numpy-draws",
        type=float,
        default=2e5,
        help="draws for the (slow) numpy model; its rate is per draw",
    )
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    draws, numpy_draws = int(args.draws), int(args.numpy_draws)

    loaded = load_config()
    plan = compile_plan(loaded.config)
    warm_up(plan)
    values = np.zeros((len(plan.series), len(plan.years), draws))
    inputs = np.zeros((len(plan.inputs), draws))
    scores = np.zeros((len(plan.inputs), draws))
    key = seed_key(1)
    threads = numba.get_num_threads()

    def sampler():
        simulate_chunk(key, 0, draws, plan.kernel, values, inputs, scores, 0)

    results = {}
    results["mcinfra_all_threads"] = draws / best_of(args.repeats, sampler)
    numba.set_num_threads(1)
    results["mcinfra_one_thread"] = draws / best_of(args.repeats, sampler)
    numba.set_num_threads(threads)

    normals = np.zeros((draws, plan.n_normals))
    for name, bit_generator in (("pcg64", np.random.PCG64), ("sfc64", np.random.SFC64)):
        generator = np.random.Generator(bit_generator(1))
        seconds = best_of(args.repeats, lambda g=generator: g.standard_normal(out=normals))
        results[f"numpy_normals_{name}"] = draws / seconds
    results["numpy_normals_fastest"] = max(
        results["numpy_normals_pcg64"], results["numpy_normals_sfc64"]
    )
    config = loaded.config
    numpy_seconds = best_of(
        max(1, args.repeats // 2), lambda: numpy_model.simulate(config, numpy_draws, 1)
    )
    results["numpy_model"] = numpy_draws / numpy_seconds

    report = {
        "draws": draws,
        "numpy_model_draws": numpy_draws,
        "normals_per_draw": plan.n_normals,
        "threads": threads,
        "draws_per_second": results,
        "ratios": {
            "mcinfra_vs_numpy_model": results["mcinfra_all_threads"] / results["numpy_model"],
            "mcinfra_vs_numpy_normals_alone": results["mcinfra_all_threads"]
            / results["numpy_normals_fastest"],
            "threads_speedup": results["mcinfra_all_threads"] / results["mcinfra_one_thread"],
        },
        "machine": {
            "python": platform.python_version(),
            "numpy": np.__version__,
            "numba": numba.__version__,
            "cpu_count": os.cpu_count(),
            "processor": platform.processor() or platform.machine(),
        },
    }
    for name, rate in results.items():
        print(f"{name:<28} {rate / 1e6:8.3f} M draws/s")
    for name, ratio in report["ratios"].items():
        print(f"{name:<32} {ratio:8.2f}x")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
