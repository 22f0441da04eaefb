"""Where a cached short run's start-up goes: the floor set by Python, numpy and numba.

Usage: python benchmarks/bench_startup.py [--repeats 7] [--json FILE]

Times, each in a fresh interpreter (wall clock, best and median of ``--repeats``):

- ``python``: an empty interpreter;
- ``numpy``: ``import numpy``;
- ``numba``: ``import numpy, numba``;
- ``numba ready``: the same, then numba's CPU target set up (``refresh``), which loading any
  cached kernel does first (it registers numba's implementations and, through its BLAS
  check, imports ``scipy.linalg``);
- ``numba ready, scipy.special, pydantic``: what a run's other heavy imports add;
- ``run``: ``mcinfra run --draws 1000 --no-report --quiet`` with its kernels cached.

The difference between the last line and ``numba ready`` is what mcinfra itself costs; the
``numba ready`` line is a floor no change inside mcinfra can go below.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

READY = "from numba.core.registry import cpu_target; cpu_target.target_context.refresh()"
STEPS = {
    "python": "pass",
    "numpy": "import numpy",
    "numba": "import numpy, numba",
    "numba ready": f"import numpy, numba; {READY}",
    "numba ready, scipy.special, pydantic": (
        f"import numpy, numba; {READY}; import scipy.special, pydantic"
    ),
}


def _seconds(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    """Time each step ``--repeats`` times, alternating them, and print best and median."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as scratch:
        out = Path(scratch) / "run"
        run = [sys.executable, "-m", "mcinfra", "run", "--draws", "1000", "--no-report"]
        run += ["--quiet", "--force", "--out", str(out)]
        commands = {name: [sys.executable, "-c", code] for name, code in STEPS.items()}
        commands["run"] = run
        subprocess.run(run, check=True, stdout=subprocess.DEVNULL)  # fill the kernel cache
        times: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(args.repeats):
            for name, command in commands.items():
                times[name].append(_seconds(command))

    rows = {
        name: {"best": min(values), "median": statistics.median(values)}
        for name, values in times.items()
    }
    width = max(map(len, rows))
    for name, row in rows.items():
        print(f"{name:<{width}}  {row['best']:6.3f} s  (median {row['median']:.3f})")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
