"""A run on dask workers against the same run on the local engine, on the same machine.

Usage: python benchmarks/bench_dask.py [--draws 2e7] [--repeats 3] [--json FILE]
                                       [-- EXTRA RUN OPTIONS]

Times ``mcinfra run --no-report --quiet`` end to end (a fresh process each time, wall clock)
three ways, alternating them and keeping each one's best and median:

- ``local``: the local engine;
- ``dask-workers 2``: ``--dask-workers 2``, the local cluster the run starts itself;
- ``scheduler``: ``--scheduler ADDRESS`` with a ``dask scheduler`` and one ``dask worker
  ADDRESS`` with its default options, both started once before the timings.

Each line gives the seconds and the ratio of the local time to that time (1.0: as fast as
the local engine; the goal is at least 0.8), and the best sampling seconds of
``summary.json`` (summed over the workers' tasks in a dask run). The outputs of every dask
run are compared byte for byte with the local run's.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

FILES = ("predictions.csv", "sensitivity.csv", "quantiles.csv")


def _dask_command() -> list[str]:
    """The ``dask`` command line of this interpreter's environment."""
    beside = Path(sys.executable).with_name("dask")
    return [str(beside)] if beside.exists() else [sys.executable, "-m", "dask"]


def _start_scheduler(directory: Path) -> tuple[subprocess.Popen, str]:
    """A ``dask scheduler`` on a free local port, and its address once it listens."""
    address_file = directory / "scheduler.json"
    scheduler = subprocess.Popen(
        [
            *_dask_command(),
            "scheduler",
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--no-dashboard",
            "--scheduler-file",
            str(address_file),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while not address_file.exists():
        if time.monotonic() > deadline or scheduler.poll() is not None:
            scheduler.kill()
            raise SystemExit("the dask scheduler did not start")
        time.sleep(0.1)
    time.sleep(0.2)  # the file may be written in two steps
    return scheduler, json.loads(address_file.read_text())["address"]


def _wait_for_workers(address: str, count: int) -> None:
    from dask.distributed import Client

    with Client(address, timeout="30s") as client:
        client.wait_for_workers(count, timeout=60)


def _run(args: list[str], out: Path) -> tuple[float, float]:
    """Seconds one ``mcinfra run`` takes end to end, and its sampling seconds.

    The sampling seconds are ``summary.json``'s: the sampler's own time, summed over the
    workers' tasks in a dask run.
    """
    command = [sys.executable, "-m", "mcinfra", "run", "--no-report", "--quiet", "--force"]
    started = time.perf_counter()
    subprocess.run([*command, "--out", str(out), *args], check=True, stdout=subprocess.DEVNULL)
    seconds = time.perf_counter() - started
    summary = json.loads((out / "summary.json").read_text())
    return seconds, summary["timing"]["sampling_seconds"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--draws", type=float, default=2e7)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument("extra", nargs="*", help="more options for every run (after --)")
    args = parser.parse_args()
    draws = str(int(args.draws))
    common = ["--draws", draws, *args.extra]
    workdir = Path(tempfile.mkdtemp(prefix="bench-dask-"))
    scheduler, address = _start_scheduler(workdir)
    worker = subprocess.Popen(
        [*_dask_command(), "worker", address],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=os.environ.copy(),
    )
    try:
        _wait_for_workers(address, 1)
        ways = {
            "local": [],
            "dask-workers 2": ["--dask-workers", "2"],
            "scheduler": ["--scheduler", address],
        }
        _run(["--draws", "1000"], workdir / "warm")  # numba's cache, the first imports
        times: dict[str, list[float]] = {name: [] for name in ways}
        sampling: dict[str, list[float]] = {name: [] for name in ways}
        for _ in range(args.repeats):
            for name, options in ways.items():
                out = workdir / name.replace(" ", "-")
                seconds, sampler = _run([*common, *options], out)
                times[name].append(seconds)
                sampling[name].append(sampler)
                print(f"  {name}: {seconds:.2f} s, sampling {sampler:.2f} s", file=sys.stderr)
        for name in ways:
            if name == "local":
                continue
            here, there = workdir / "local", workdir / name.replace(" ", "-")
            for file in FILES:
                if (here / file).read_bytes() != (there / file).read_bytes():
                    raise SystemExit(f"{name}: {file} differs from the local run's")
    finally:
        worker.terminate()
        scheduler.terminate()
        worker.wait()
        scheduler.wait()
        shutil.rmtree(workdir, ignore_errors=True)
    local = min(times["local"])
    figures = {}
    print(f"mcinfra run --draws {draws} {' '.join(args.extra)}".rstrip())
    print(f"{'':16} {'best s':>8} {'median s':>9} {'local/this':>11} {'sampling s':>11}")
    for name, seconds in times.items():
        best, median = min(seconds), statistics.median(seconds)
        figures[name] = {
            "seconds": seconds,
            "best": best,
            "median": median,
            "ratio": local / best,
            "sampling_seconds": sampling[name],
        }
        sampler = min(sampling[name])
        print(f"{name:16} {best:8.2f} {median:9.2f} {local / best:11.2f} {sampler:11.2f}")
    if args.json is not None:
        args.json.write_text(json.dumps({"draws": int(draws), "runs": figures}, indent=2) + "\n")


if __name__ == "__main__":
    main()
