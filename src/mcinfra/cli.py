"""Command line: parse arguments, call the public API, map user errors to exit status 2."""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

from mcinfra.errors import McinfraError

EXIT_USAGE = 2


def _positive_int(text: str) -> int:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got '{text}'") from None
    if not math.isfinite(value) or value != int(value) or value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive whole number, got '{text}'")
    return int(value)


def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer seed, got '{text}'") from None
    if not 0 <= value < 2**64:
        raise argparse.ArgumentTypeError(f"seed must be in [0, 2**64), got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The ``mcinfra`` argument parser."""
    from mcinfra import __version__

    parser = argparse.ArgumentParser(
        prog="mcinfra",
        description="Monte Carlo uncertainty engine for market forecasts.",
    )
    parser.add_argument("--version", action="version", version=f"mcinfra {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = commands.add_parser("run", help="draw trajectories and write a run directory")
    run.add_argument(
        "config", nargs="?", help="TOML config (default: the embedded AI infrastructure model)"
    )
    run.add_argument(
        "--draws", type=_positive_int, help="number of draws (sampling.draws; accepts 1e6)"
    )
    run.add_argument("--seed", type=_seed, help="random seed (sampling.seed)")
    run.add_argument(
        "--chunk-size",
        type=_positive_int,
        help="draws per chunk (sampling.chunk_size); results do not depend on it",
    )
    run.add_argument(
        "--threads",
        type=_positive_int,
        help="numba threads (default: all cores); results do not depend on it",
    )
    run.add_argument("--out", type=Path, help="run directory (default: reports/<model name>)")
    run.add_argument(
        "--save-draws",
        action="store_true",
        help="also store every draw as draws.zarr in the run directory",
    )
    run.add_argument("--quiet", action="store_true", help="print no progress")

    validate = commands.add_parser("validate", help="check a config and show its diagnostics")
    validate.add_argument("config", nargs="?", help="TOML config (default: the embedded model)")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``mcinfra`` command; returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        if args.command == "run":
            return _run(args)
        return _validate(args)
    except McinfraError as exc:
        print(f"mcinfra: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("mcinfra: interrupted; nothing was written", file=sys.stderr)
        return 130


def _run(args: argparse.Namespace) -> int:
    from mcinfra.config import load_config
    from mcinfra.engine import settings_from, stream, warm_up
    from mcinfra.output import DrawWriter, atomic_directory, write_json
    from mcinfra.plan import compile_plan
    from mcinfra.progress import Progress
    from mcinfra.report_text import (
        crossover_table,
        prediction_rows,
        prediction_table,
        run_summary,
        summary_keys,
        summary_table,
        write_prediction_csv,
        write_sensitivity_csv,
    )
    from mcinfra.results import provenance
    from mcinfra.stats.crossover import CrossoverCounter
    from mcinfra.stats.indicators import PredictionCounter, compile_predictions
    from mcinfra.stats.summary import ColumnCollector, PartitionCheck

    loaded = load_config(args.config)
    settings = settings_from(
        loaded, draws=args.draws, seed=args.seed, chunk_size=args.chunk_size, threads=args.threads
    )
    out = args.out if args.out is not None else Path("reports") / loaded.config.model.name
    with atomic_directory(out) as staging:
        started = time.perf_counter()
        plan = compile_plan(loaded.config)
        warm_up(plan)
        compile_seconds = time.perf_counter() - started
        if compile_seconds > 5 and not args.quiet:
            print(
                f"mcinfra: compiled the kernels in {compile_seconds:.0f} s; later runs load "
                "them from cache",
                file=sys.stderr,
            )
        attrs = provenance(loaded, settings)
        labels = [s.label for s in plan.series]
        collector = ColumnCollector(
            summary_keys(labels, plan.years, loaded.config.source_figures),
            labels,
            plan.years,
            settings.draws,
        )
        check = PartitionCheck([s.kind for s in plan.series], [s.partition for s in plan.series])
        counter = PredictionCounter(
            compile_predictions(loaded.config),
            labels,
            plan.years,
            [i.name for i in plan.inputs],
            [not i.spec.is_fixed for i in plan.inputs],
        )
        split = loaded.config.function_split
        crossovers = (
            CrossoverCounter(
                split.crossover_report,
                split.rising,
                split.falling,
                labels,
                plan.years,
                settings.draws,
            )
            if split is not None
            else None
        )
        writer = (
            DrawWriter(staging / "draws.zarr", plan, attrs, settings.chunk_size)
            if args.save_draws
            else None
        )

        def on_chunk(first, values, inputs, scores):
            collector.add(first, values)
            check.add(values)
            counter.add(values, inputs, scores)
            if crossovers is not None:
                crossovers.add(first, values)
            if writer is not None:
                writer.write(first, values, inputs, scores)

        progress = Progress(enabled=not args.quiet)
        sampling_seconds = stream(plan, settings, on_chunk, progress)
        progress.close()
        if writer is not None:
            writer.close()
        summary = run_summary(
            collector.columns, plan, loaded, settings, attrs, check.worst, sampling_seconds
        )
        summary["predictions"] = prediction_rows(counter)
        summary["crossovers"] = crossovers.rows() if crossovers is not None else []
        write_prediction_csv(staging / "predictions.csv", summary["predictions"])
        write_sensitivity_csv(staging / "sensitivity.csv", counter)
        (staging / "config.toml").write_text(loaded.text, encoding="utf-8")
        summary["timing"]["total_seconds"] = time.perf_counter() - started
        write_json(staging / "summary.json", summary)
    print(
        summary_table(summary)
        + crossover_table(summary["crossovers"])
        + prediction_table(summary["predictions"])
    )
    print(f"\nwrote {out}/ ({', '.join(_listing(out))})")
    return 0


def _listing(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


def _validate(args: argparse.Namespace) -> int:
    from mcinfra.config import load_config
    from mcinfra.diagnostics import diagnostics_text

    loaded = load_config(args.config)
    print(diagnostics_text(loaded))
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
