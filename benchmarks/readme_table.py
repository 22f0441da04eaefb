"""The README's performance table and its footnote, from one ``mcinfra bench --json`` file.

Usage::

    mcinfra bench --json benchmarks/readme_bench.json
    python benchmarks/readme_table.py benchmarks/readme_bench.json --write README.md

The table is the only performance figure in the README, and this script its only source:
``--write`` replaces the text between the README's ``<!-- bench-table -->`` and
``<!-- /bench-table -->`` markers; without it the markdown goes to standard output. The
footnote names the machine, the date, the commit and the command, as numbagg's README does.
The bench file records neither the commit nor the repeats, so they are options: the commit
defaults to the working tree's ``git rev-parse --short HEAD``, which is right when the
bench has just been run there.
"""

from __future__ import annotations

import argparse
import inspect
import json
import math
import subprocess
import sys
from pathlib import Path

BEGIN = "<!-- bench-table -->"
END = "<!-- /bench-table -->"
DEFAULT_SIZES = ("100000", "1000000", "10000000")

# (key in draws_per_second, row label); a row is left out when the bench has no figure for it
ROWS = (
    ("sampler", "sampler, all threads"),
    ("sampler_one_thread", "sampler, 1 thread"),
    ("pipeline", "whole run without the report, after start-up"),
    ("process", "`mcinfra run --no-report` process, start-up and exit included"),
    ("numpy_normals", "numpy's fastest generator, drawing only the model's normals"),
    ("numpy_model", "the same model in plain numpy/scipy, `mcinfra.bench.reference`"),
)


def size_label(draws: str) -> str:
    """``1e5`` for ``"100000"``: the sizes as ``mcinfra bench --sizes`` takes them."""
    n = int(draws)
    exponent = len(str(n)) - 1
    return f"1e{exponent}" if n == 10**exponent else f"{n:,}"


def one_size(key: str, sizes: list[str]) -> str:
    """The draws at which ``mcinfra bench`` measures its one-size figures."""
    from mcinfra.bench.throughput import measure

    if key == "numpy_model":
        return str(inspect.signature(measure).parameters["numpy_draws"].default)
    return str(min(max(int(s) for s in sizes), 1_000_000))  # numpy_normals


def nearest(draws: str, sizes: list[str]) -> str:
    """The column of ``sizes`` nearest to ``draws`` on a log scale."""
    return min(sizes, key=lambda s: abs(math.log(int(s) / int(draws))))


def rate(value: float) -> str:
    """Draws per second in millions, three significant digits."""
    return f"{value / 1e6:.3g} M/s"


def startup_figures(bench: dict) -> tuple[float | None, float | None]:
    """Seconds of the first run's compile and of a cached start-up (None when not measured).

    Read from the bench's ``waits`` (best of the repeats), or from the ``startup`` of bench
    files written before the waiting times were measured.
    """
    waits = bench.get("waits") or {}
    if "first_run_compile" in waits:
        return waits["first_run_compile"]["seconds"], waits["cached_startup"]["seconds"]
    startup = bench.get("startup")
    if startup:
        return startup["first_call_compile_seconds"], startup["cached_startup_seconds"]
    return None, None


def command_line(bench: dict, repeats: int) -> str:
    """The ``mcinfra bench`` command that gives this file's measurements."""
    sizes = tuple(bench["draws_per_second"]["sampler"])
    words = ["mcinfra", "bench"]
    if sizes != DEFAULT_SIZES:
        words += ["--sizes", ",".join(size_label(s) for s in sizes)]
    if repeats != 3:
        words += ["--repeats", str(repeats)]
    waits = bench.get("waits")
    if not (bench.get("startup") or (waits and "first_run_compile" in waits)):
        words.append("--no-startup")
    if waits is not None and "report" not in waits:
        words.append("--no-report-timings")
    return " ".join([*words, "--json", "FILE"])


def render(bench: dict, commit: str, repeats: int = 3) -> str:
    """The markdown table and footnote for ``bench``, the parsed ``mcinfra bench --json``."""
    rates = bench["draws_per_second"]
    sizes = list(rates["sampler"])
    lines = [
        "| draws per second | " + " | ".join(f"{size_label(s)} draws" for s in sizes) + " |",
        "| --- |" + " ---: |" * len(sizes),
    ]
    for key, label in ROWS:
        figures = rates.get(key)
        if figures is None:
            continue
        if not isinstance(figures, dict):  # one figure, measured at one size
            measured_at = one_size(key, sizes)
            label += f" ({size_label(measured_at)} draws)"
            figures = {nearest(measured_at, sizes): figures}
        cells = [rate(figures[s]) if s in figures else "" for s in sizes]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    machine = bench["machine"]
    memory = machine.get("memory_bytes")
    memory_text = f", {memory / 2**30:.0f} GiB" if memory else ""
    ratios = bench["ratios"]
    notes = [
        f"Measured on {machine['measured_utc'][:10]} at commit {commit} with "
        f"`{command_line(bench, repeats)}`: {machine['processor']}, {machine['cpu_count']} "
        f"cores ({machine['numba_threads']} numba threads){memory_text}, "
        f"{machine['platform']}; Python {machine['python']}, numba {machine['numba']}, "
        f"numpy {machine['numpy']}. The `{bench['model']}` model ({bench['normals_per_draw']} "
        f"normals per draw); each figure best of {repeats} (the in-process run once at 5e6 "
        f"draws and above, the numpy model best of {max(1, repeats // 2)}). The sampler runs "
        f"{ratios['sampler_vs_numpy_model']:.0f}x the "
        f"plain numpy model; all threads {ratios['thread_speedup']:.2f}x one thread."
    ]
    compile_seconds, cached_seconds = startup_figures(bench)
    if compile_seconds is not None:
        notes.append(
            f"The first run compiles the kernels ({compile_seconds:.0f} s "
            f"here); later runs of 1,000 draws take {cached_seconds:.1f} s "
            "in all."
        )
    footnote = "<sup>" + " ".join(notes) + "</sup>"
    return "\n".join([*lines, "", footnote])


def replace_between_markers(text: str, table: str) -> str:
    """``text`` with the part between :data:`BEGIN` and :data:`END` replaced by ``table``."""
    start, stop = text.find(BEGIN), text.find(END)
    if start < 0 or stop < start:
        raise ValueError(f"the file has no {BEGIN} ... {END} section")
    return text[: start + len(BEGIN)] + "\n" + table + "\n" + text[stop:]


def current_commit() -> str:
    """The working tree's short commit hash."""
    return subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
    ).stdout.strip()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("bench", type=Path, help="the file `mcinfra bench --json` wrote")
    parser.add_argument("--commit", help="the commit measured (default: git rev-parse HEAD)")
    parser.add_argument("--repeats", type=int, default=3, help="the bench's --repeats")
    parser.add_argument("--write", type=Path, metavar="README", help="replace its table")
    args = parser.parse_args(argv)
    table = render(
        json.loads(args.bench.read_text()), args.commit or current_commit(), args.repeats
    )
    if args.write is None:
        print(table)
    else:
        args.write.write_text(replace_between_markers(args.write.read_text(), table))
    return 0


if __name__ == "__main__":
    sys.exit(main())
