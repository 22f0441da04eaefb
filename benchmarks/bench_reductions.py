"""Where a run's time goes: sampling and each reduction, per draw, on the default model.

Usage: python benchmarks/bench_reductions.py [--draws 1e6] [--chunk-size 60000]

Draws chunks as a run does (all threads, reused buffers) and times the sampler and each
reduction of :class:`mcinfra.runs.reductions.Reductions` on every chunk, in the order a run
applies them, with the quantile sketch (the choice for runs above 256 MiB of values). The
partition check is part of sampling: the sampler computes it on the rows it writes. The
first chunk, which also sizes the sketch's pages, is timed like the others. Figures are
microseconds per draw (sum over chunks / draws); the machine's noise is tens of percent.
"""

from __future__ import annotations

import argparse
import time

from mcinfra import load_config
from mcinfra.kernels.random import seed_key
from mcinfra.runs.reductions import Reductions
from mcinfra.sampling.engine import ChunkBuffers, simulate_streams
from mcinfra.sampling.plan import compile_plan
from mcinfra.stats.reduction import Chunk


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--draws", type=float, default=1e6)
    parser.add_argument("--chunk-size", type=int, default=60_000)
    args = parser.parse_args()
    loaded = load_config()
    plan = compile_plan(loaded.config)
    n, draws = args.chunk_size, int(args.draws)
    buffers = ChunkBuffers(plan, n)  # C-contiguous chunks of any size, as a run's
    key = seed_key(1)
    warm = buffers.chunk(2)
    simulate_streams(key, 0, 2, plan.kernel, warm, 0)  # compile or load
    Reductions(loaded, plan, exact=False).add(Chunk(0, *warm))
    reductions = Reductions(loaded, plan, exact=False)
    steps = {
        "quantile sketch": reductions.collector,
        "predictions and sensitivity": reductions.counter,
        "crossovers": reductions.crossovers,
    }
    seconds = dict.fromkeys(["sampling", *steps], 0.0)
    done = 0
    while done < draws:
        m = min(n, draws - done)
        window = buffers.chunk(m)
        started = time.perf_counter()
        gap = simulate_streams(key, done, m, plan.kernel, window, 0)
        seconds["sampling"] += time.perf_counter() - started
        chunk = Chunk(done, *window, gap=gap)
        reductions.check.add(chunk)
        for name, reduction in steps.items():
            started = time.perf_counter()
            reduction.add(chunk)
            seconds[name] += time.perf_counter() - started
        done += m
    for name, total in seconds.items():
        print(f"{name:<42} {total / draws * 1e6:6.3f} us/draw")
    print(f"{'all':<42} {sum(seconds.values()) / draws * 1e6:6.3f} us/draw")


if __name__ == "__main__":
    main()
