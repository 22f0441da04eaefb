"""SIPmath 3.0 libraries: generating, writing and reading trials.

Usage: python benchmarks/bench_sipmath.py [--trials 1e6] [--repeats 5]

Times, best of the repeats: the HDR_2_0 generator alone; the trials of three metalog SIPs,
two of them under a two-stream Gaussian copula (``library_trials``); writing a library of
46 SIP_Arrays of 10,000 trials (the size ``mcinfra export --predictions`` writes for the
default model) as JSON text, and reading it back with its checks. Figures are nanoseconds
per trial (generating) and milliseconds per library (writing, reading).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from mcinfra.sipmath.library import (
    ArraySip,
    CopulaRef,
    CorrelationMatrix,
    GaussianCopula,
    HdrStream,
    IndexStream,
    Library,
    MetalogSip,
    StreamRef,
    library_json,
)
from mcinfra.sipmath.reading import read_library
from mcinfra.sipmath.trials import hdr_uniforms, library_trials


def best(function: Callable[[], object], repeats: int) -> float:
    """The shortest of ``repeats`` timings of ``function()``, in seconds."""
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        function()
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=float, default=1e6)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    n = int(args.trials)
    counters = np.arange(1, n + 1, dtype=np.int64)
    seconds = best(lambda: hdr_uniforms(counters, 424242, 1), args.repeats)
    print(f"HDR_2_0 uniforms                  {seconds / n * 1e9:8.1f} ns per trial")

    recipes = Library(
        name="recipes",
        sips=(
            MetalogSip("a", (100.0, 12.0, 3.0, -4.0), CopulaRef("gc", "l1"), lower=0.0),
            MetalogSip("b", (0.1, 0.9, -0.2), CopulaRef("gc", "l2"), lower=5.0, upper=15.0),
            MetalogSip("c", (50.0, 5.0), StreamRef("h3"), upper=90.0),
        ),
        streams=(HdrStream("h1", 1, 1), HdrStream("h2", 1, 2), HdrStream("h3", 1, 3)),
        copulas=(GaussianCopula("gc", "m", ("h1", "h2"), ("l1", "l2")),),
        matrices=(CorrelationMatrix("m", ("x", "y"), ((1.0, -0.65), (-0.65, 1.0))),),
    )
    seconds = best(lambda: library_trials(recipes, ["a", "b", "c"], 1, n), args.repeats)
    print(f"3 metalog SIPs, 2 under a copula  {seconds / n * 1e9:8.1f} ns per trial")

    rng = np.random.default_rng(1)
    arrays = Library(
        name="arrays",
        sips=tuple(
            ArraySip(f"sip{i}", rng.lognormal(3, 1, 10_000), StreamRef("index")) for i in range(46)
        ),
        streams=(IndexStream("index"),),
    )
    seconds = best(lambda: library_json(arrays), args.repeats)
    print(f"write 46 SIP_Arrays x 10,000      {seconds * 1e3:8.1f} ms")
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "arrays.SIPmath"
        path.write_text(library_json(arrays), encoding="utf-8")
        seconds = best(lambda: read_library(path), args.repeats)
    print(f"read 46 SIP_Arrays x 10,000       {seconds * 1e3:8.1f} ms")


if __name__ == "__main__":
    main()
