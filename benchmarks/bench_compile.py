"""What a first run compiles, and what a cached run loads: numba's time per kernel.

Usage: python benchmarks/bench_compile.py [--repeats 1] [--args "run --draws 1000 --no-report"]

Each repeat starts a new process with an empty numba cache (``NUMBA_CACHE_DIR`` set to a
fresh temporary directory, so the checkout's own cache is left alone) that runs
``mcinfra ARGS --quiet --out TMP --force`` in-process with numba's event recorder
installed, every kernel compiled in that process (no worker process), and prints every
function numba compiled: its signature, its own CPU seconds
(``self``, compiling nested helpers excluded) and its CPU seconds with them (``total``).
Compiling runs on one thread, so CPU seconds are what a quiet machine's wall clock shows,
and they hold on a shared machine, where wall seconds do not. A second process then runs
the same command on the cache the first one filled and times each kernel numba loads
from it (``load``, wall seconds), and the command as a whole. Last, ``python -m mcinfra
ARGS`` runs as a command on another empty cache, as a first run after installing does
(with its worker process compiling beside it, :func:`mcinfra.runs.pipeline.compile_reductions`):
its wall seconds, and the CPU seconds of all its processes.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shlex
import subprocess
import sys
import tempfile
import time

_CHILD = "--child"


def _name(function) -> str:
    return f"{function.__module__.removeprefix('mcinfra.kernels.')}.{function.__qualname__}"


def _child(mode: str, argv: list[str]) -> None:
    """Run ``mcinfra argv`` here and print its compile or load events as JSON."""
    started = time.perf_counter()
    from numba.core import caching, event

    loads: list[tuple[str, float]] = []
    if mode == "load":
        # The kernels' own cache class where there is one (mcinfra.kernels.jit), else numba's.
        try:
            from mcinfra.kernels.jit import KernelCache as loading
        except ImportError:
            loading = caching.Cache
        original = loading.load_overload

        def timed_load(self, sig, target_context):
            load_started = time.perf_counter()
            result = original(self, sig, target_context)
            seconds = time.perf_counter() - load_started
            loads.append((_name(self._py_func), seconds, result is not None))
            return result

        loading.load_overload = timed_load  # type: ignore[method-assign]

    import mcinfra.runs.pipeline
    from mcinfra.cli import main

    if mode == "compile" and hasattr(mcinfra.runs.pipeline, "_start_reduction_compiler"):
        # Every kernel compiles here, one after another, so each one is recorded.
        mcinfra.runs.pipeline._start_reduction_compiler = lambda *args: None

    class CpuRecorder(event.Listener):
        """Numba's compile events stamped with this process's CPU time (compiling is serial)."""

        def __init__(self) -> None:
            self.buffer: list[tuple[float, event.Event]] = []

        def on_start(self, record: event.Event) -> None:
            self.buffer.append((time.process_time(), record))

        def on_end(self, record: event.Event) -> None:
            self.buffer.append((time.process_time(), record))

    recorder = CpuRecorder()
    with event.install_listener("numba:compile", recorder):
        status = main(argv)
    wall = time.perf_counter() - started
    cpu = time.process_time()
    stack: list[list] = []
    compiled = []
    for stamp, record in recorder.buffer:
        if record.is_start:
            stack.append([record.data, stamp, 0.0])
            continue
        data, began, nested = stack.pop()
        total = stamp - began
        if stack:
            stack[-1][2] += total
        signature = ", ".join(str(a) for a in data["args"])
        compiled.append(
            {
                "name": _name(data["dispatcher"].py_func),
                "signature": signature,
                "self": total - nested,
                "total": total,
                "depth": len(stack),
            }
        )
    result = {"status": status, "wall": wall, "cpu": cpu, "compiled": compiled, "loads": loads}
    print(json.dumps(result))


def _run_child(mode: str, cache: str, argv: list[str]) -> dict:
    env = dict(os.environ, NUMBA_CACHE_DIR=cache)
    done = subprocess.run(
        [sys.executable, __file__, _CHILD, mode, *argv],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        sys.exit(f"{mode} run failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == _CHILD:
        _child(sys.argv[2], sys.argv[3:])
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--args", default="run --draws 1000 --no-report")
    args = parser.parse_args()
    for repeat in range(args.repeats):
        with tempfile.TemporaryDirectory() as cache, tempfile.TemporaryDirectory() as out:
            argv = [*shlex.split(args.args), "--quiet", "--out", f"{out}/run", "--force"]
            started = time.perf_counter()
            first = _run_child("compile", cache, argv)
            first_wall = time.perf_counter() - started
            started = time.perf_counter()
            cached = _run_child("load", cache, argv)
            cached_wall = time.perf_counter() - started
        with tempfile.TemporaryDirectory() as cache, tempfile.TemporaryDirectory() as out:
            argv = [*shlex.split(args.args), "--quiet", "--out", f"{out}/run", "--force"]
            env = dict(os.environ, NUMBA_CACHE_DIR=cache)
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            started = time.perf_counter()
            subprocess.run(
                [sys.executable, "-m", "mcinfra", *argv],
                env=env,
                check=True,
                stdout=subprocess.DEVNULL,
            )
            command_wall = time.perf_counter() - started
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            command_cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        print(f"repeat {repeat + 1}: mcinfra {args.args}")
        print(f"{'function':<40} {'signature':<60} {'self s':>7} {'total s':>8}  (CPU)")
        for entry in first["compiled"]:
            indent = "  " * entry["depth"]
            signature = entry["signature"]
            signature = signature if len(signature) <= 60 else signature[:57] + "..."
            print(
                f"{indent + entry['name']:<40} {signature:<60} "
                f"{entry['self']:>7.2f} {entry['total']:>8.2f}"
            )
        top = sum(e["total"] for e in first["compiled"] if e["depth"] == 0)
        print(
            f"compiling: {top:.1f} s CPU, every kernel in one process; that run {first_wall:.1f} s "
            f"wall, {first['cpu']:.1f} s CPU"
        )
        print(
            f"first run as a command (its worker processes included): {command_wall:.1f} s "
            f"wall, {command_cpu:.1f} s user+sys CPU"
        )
        print(f"{'cached kernel':<40} {'load s':>7}")
        for name, seconds, hit in cached["loads"]:
            print(f"{name:<40} {seconds:>7.3f}{'' if hit else '  (not cached: compiled)'}")
        loading = sum(seconds for _, seconds, _ in cached["loads"])
        print(f"loading: {loading:.2f} s of a cached run of {cached_wall:.2f} s (whole process)")


if __name__ == "__main__":
    main()
