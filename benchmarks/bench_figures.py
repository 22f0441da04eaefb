"""CPU time of drawing each figure of a run's report, in one warm process.

Usage: python benchmarks/bench_figures.py RUN_DIR [--repeats 5] [--only NAME ...]

For every figure that ``mcinfra report RUN_DIR`` draws, builds it and renders its SVG
(what a drawing worker does for a figure without a PNG) ``--repeats`` times after one
warm-up, and prints the best CPU time (``time.process_time``) per figure in ms, then the
sum. The run directory is only read.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from mcinfra.report import build, figures
from mcinfra.report.data import load_report_data
from mcinfra.report.terminal import significant


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--only", nargs="*", default=None, help="figure names to time")
    args = parser.parse_args()
    data = load_report_data(args.run_dir)
    rows = data.summary["predictions"]
    for row in rows:
        row["shown"] = significant(row["probability"], row["std_error"])
    total = 0.0
    for name, _, (builder, job_args) in build._figure_plan(data, rows, log=False):
        if args.only and name not in args.only:
            continue
        build._svg_file(getattr(figures, builder)(*job_args))  # warm-up
        best = float("inf")
        for _ in range(args.repeats):
            started = time.process_time()
            build._svg_file(getattr(figures, builder)(*job_args))
            best = min(best, time.process_time() - started)
        total += best
        print(f"{name:<28} {builder:<18} {1000 * best:8.1f} ms")
    print(f"{'all figures':<47} {1000 * total:8.1f} ms")


if __name__ == "__main__":
    main()
