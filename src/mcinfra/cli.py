"""Command line: parse arguments, call the public API, map user errors to exit status 2."""

from __future__ import annotations

import argparse
import gc
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from mcinfra.errors import Interrupted, McinfraError, UsageError

EXIT_USAGE = 2
DRIVERS_SHOWN = 5  # players per target that mcinfra drivers prints (all are in drivers.csv)
STOP_SIGNALS = ("SIGINT", "SIGTERM", "SIGHUP")  # Ctrl-C, a scheduler's time limit, a hang-up


class StartUp:
    """Automatic garbage collection held off while a command imports what it needs.

    Importing numba, scipy and pydantic makes some 70,000 long-lived objects and next to
    no garbage, yet the collector would traverse them about 200 times on the way: 40-60 ms
    of a short run (docs/performance.md, "Start-up and exit"). ``with start_up:`` turns
    the collector off for the block; at its end the collector is on again and, with
    ``freeze``, what exists is frozen out of it (``gc.freeze``), so later collections skip
    it. Only the executable freezes (:func:`command`): a process that goes on after
    :func:`main`, a test, would keep any garbage cycle of its own frozen too.
    """

    def __init__(self, freeze: bool = False) -> None:
        self.freeze = freeze
        self._was_enabled = False

    def __enter__(self) -> StartUp:
        self._was_enabled = gc.isenabled()
        gc.disable()
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self.freeze:
            gc.freeze()
        if self._was_enabled:
            gc.enable()


class StopSignals:
    """While entered, SIGINT, SIGTERM and SIGHUP raise :class:`Interrupted` in this process.

    A run treats that as Ctrl-C: it keeps a resumable checkpoint and the command exits with
    128 + the signal's number (130, 143, 129). :meth:`shield` is the run's
    :data:`mcinfra.runs.pipeline.Shield`: a signal arriving inside it is raised at its end,
    so a chunk is never half reduced. A signal that was ignored (``nohup``) stays ignored,
    and the previous handlers are restored on exit. Only the main thread can install
    handlers; elsewhere (a test's thread) nothing changes.
    """

    def __init__(self) -> None:
        self._previous: dict[signal.Signals, object] = {}
        self._depth = 0
        self._pending: int | None = None

    def __enter__(self) -> StopSignals:
        if threading.current_thread() is not threading.main_thread():
            return self
        for name in STOP_SIGNALS:
            number = getattr(signal, name, None)  # no SIGHUP on Windows
            if number is None or signal.getsignal(number) is signal.SIG_IGN:
                continue
            self._previous[number] = signal.signal(number, self._handle)
        return self

    def __exit__(self, *exc_info: object) -> None:
        for number, handler in self._previous.items():
            signal.signal(number, handler)  # type: ignore[arg-type]
        self._previous.clear()

    def _handle(self, signum: int, frame: object) -> None:
        if self._depth:
            if self._pending is None:
                self._pending = signum
            return
        raise Interrupted(signum=signum)

    @contextmanager
    def shield(self) -> Iterator[None]:
        """Hold back the signals' exception until the block ends."""
        self._depth += 1
        try:
            yield
        finally:
            self._depth -= 1
        if not self._depth and self._pending is not None:
            signum, self._pending = self._pending, None
            raise Interrupted(signum=signum)


def _add_set(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        dest="overrides",
        help="change one config value, validated like the file (repeatable; e.g. "
        "--set total.cagr.mode=0.17 --set sampling.draws=2e6); an input may be named as in "
        "[[correlations]] (--set offering.network.cagr.mean=0.3); recorded in the outputs",
    )


def _positive_int(text: str) -> int:
    from mcinfra.config.counts import exact_integer

    value = exact_integer(text)  # read exactly: never rounded through a float
    if value is None or value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive whole number, got '{text}'")
    return value


def _draw_count(text: str) -> int:
    """A draw count read exactly, at most :data:`mcinfra.config.counts.MAX_DRAWS`."""
    from mcinfra.config.counts import MAX_DRAWS, whole_count

    try:
        return whole_count(text, "a draw count", MAX_DRAWS)
    except ValueError as exc:  # argparse would print only "invalid value" for a ValueError
        raise argparse.ArgumentTypeError(str(exc)) from None


def _standard_error(upper: float) -> Callable[[str], float]:
    """The option parser of a standard error in (0, ``upper``)."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got '{text}'") from None
        if not 0 < value < upper:
            raise argparse.ArgumentTypeError(
                f"a standard error must be in (0, {upper:g}), got {text}"
            )
        return value

    return parse


_probability_error = _standard_error(0.5)  # a probability's
_shapley_error = _standard_error(1.0)  # a Shapley effect's, a share of a variance


def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer seed, got '{text}'") from None
    if not 0 <= value < 2**64:
        raise argparse.ArgumentTypeError(f"seed must be in [0, 2**64), got {value}")
    return value


class _VersionAction(argparse.Action):
    """``--version``: reads the installed version only when asked (importlib.metadata is slow)."""

    def __init__(
        self, option_strings, dest=argparse.SUPPRESS, default=argparse.SUPPRESS, help=None
    ):
        super().__init__(option_strings, dest=dest, default=default, nargs=0, help=help)

    def __call__(self, parser, namespace, values, option_string=None):
        from mcinfra import __version__

        sys.stdout.write(f"mcinfra {__version__}\n")
        parser.exit()


def _add_cluster_options(parser: argparse.ArgumentParser, verb: str) -> None:
    """``--dask-workers N`` or ``--scheduler ADDRESS``: where ``verb`` (e.g. "run the chunks")."""
    cluster = parser.add_mutually_exclusive_group()
    cluster.add_argument(
        "--dask-workers",
        type=_positive_int,
        metavar="N",
        help=f"{verb} on a local dask cluster of N worker processes "
        '(needs "mcinfra[distributed]"); same result',
    )
    cluster.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help=f"{verb} on the dask.distributed scheduler at ADDRESS "
        "(e.g. tcp://10.0.0.5:8786); same result",
    )


def build_parser() -> argparse.ArgumentParser:
    """The ``mcinfra`` argument parser."""
    parser = argparse.ArgumentParser(
        prog="mcinfra",
        description="Monte Carlo uncertainty engine for market forecasts.",
    )
    parser.add_argument(
        "--version", action=_VersionAction, help="show the program's version number and exit"
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = commands.add_parser("run", help="draw trajectories and write a run directory")
    run.add_argument(
        "config", nargs="?", help="TOML config (default: the embedded AI infrastructure model)"
    )
    run.add_argument(
        "--draws",
        type=_draw_count,
        help="number of draws (sampling.draws; accepts 1e6); not with --target-se, whose "
        "cap is --max-draws",
    )
    _add_set(run)
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
        "--force",
        action="store_true",
        help="replace the run already in --out (the default directory is always replaced)",
    )
    run.add_argument(
        "--save-draws",
        action="store_true",
        help="also store every draw as draws.zarr in the run directory",
    )
    run.add_argument(
        "--quantiles",
        choices=("auto", "exact", "sketch"),
        default="auto",
        help="exact order statistics (every draw's values held in memory) or a mergeable "
        "sketch with relative error 1e-3 (bounded memory); auto: exact up to 256 MiB",
    )
    run.add_argument(
        "--resume",
        type=Path,
        metavar="RUN_DIR",
        help="continue the interrupted run that was writing RUN_DIR, from its last "
        "checkpoint, with its own config and settings (same result as uninterrupted)",
    )
    _add_cluster_options(run, "run the chunks")
    run.add_argument(
        "--checkpoint-every",
        type=float,
        default=30.0,
        metavar="SECONDS",
        help="save a resumable checkpoint at most this often (default 30)",
    )
    run.add_argument("--quiet", action="store_true", help="print no progress")
    run.add_argument(
        "--no-report", action="store_true", help="skip report.html, report.md and figures/"
    )
    run.add_argument("--log", action="store_true", help="log scale on the report's fan charts")
    run.add_argument(
        "--png",
        action="store_true",
        help="also write every report figure as PNG (default: only figures/fan_total.png)",
    )
    run.add_argument(
        "--target-se",
        type=_probability_error,
        metavar="SE",
        help="keep drawing chunks until every prediction's standard error is "
        "below SE, up to --max-draws draws (sampling.draws is not used; --draws is refused)",
    )
    run.add_argument(
        "--max-draws",
        type=_draw_count,
        default=None,
        help="cap on draws with --target-se (default 10,000,000)",
    )
    run.add_argument(
        "--drivers",
        action="store_true",
        help="also write drivers.csv and drivers.json: each prediction's Shapley effects "
        "(as mcinfra drivers RUN_DIR)",
    )

    drivers = commands.add_parser(
        "drivers",
        help="Shapley effects: each input's and the shocks' share of a target's variance",
    )
    drivers.add_argument("run_dir", type=Path, help="directory written by mcinfra run")
    drivers.add_argument(
        "--target",
        action="append",
        metavar="EXPR",
        help="a numeric expression of the prediction language, e.g. 'total[2030]' or "
        "'cagr(network, 2024, 2030)' (repeatable; default: every prediction's indicator)",
    )
    drivers.add_argument(
        "--groups",
        choices=("partition", "none"),
        help="players: the inputs grouped by partition, or each input alone (default: the "
        "config's [sensitivity.groups])",
    )
    drivers.add_argument(
        "--target-se",
        type=_shapley_error,
        default=0.01,
        metavar="SE",
        help="add permutations until every effect's standard error is at most SE "
        "(default 0.01), up to --max-permutations",
    )
    drivers.add_argument(
        "--max-permutations",
        type=_positive_int,
        default=40_000,
        metavar="N",
        help="cap on random orders of the players (default 40,000)",
    )
    drivers.add_argument(
        "--threads", type=_positive_int, help="numba threads; results do not depend on it"
    )

    bench = commands.add_parser(
        "bench", help="measure sampler and pipeline throughput on this machine"
    )
    bench.add_argument(
        "--sizes",
        default=None,
        help="comma-separated draw counts (default 1e5,1e6,1e7)",
    )
    bench.add_argument("--repeats", type=_positive_int, default=3, help="best of (default 3)")
    bench.add_argument(
        "--no-startup",
        action="store_true",
        help="skip the first-run compile and cached start-up timings (the compile takes minutes)",
    )
    bench.add_argument(
        "--no-report-timings",
        action="store_true",
        help="skip timing a default run with its report and 'mcinfra report' of it",
    )
    bench.add_argument(
        "--no-drivers-timing",
        action="store_true",
        help="skip timing 'mcinfra drivers' of a default run (about a minute per repeat)",
    )
    bench.add_argument("--json", type=Path, metavar="FILE", help="also write the results here")
    bench.add_argument(
        "--sobol",
        action="store_true",
        help="instead: how many fewer draws sampling.method = 'sobol' needs than plain Monte "
        "Carlo for the same standard error (replicate sizes from --sizes, default 1024,4096,16384)",
    )

    compare = commands.add_parser(
        "compare", help="compare finished runs: probabilities, differences, fan charts"
    )
    compare.add_argument(
        "run_dirs",
        type=Path,
        nargs="+",
        metavar="RUN_DIR",
        help="directories written by mcinfra run or mcinfra update",
    )
    compare.add_argument(
        "--out", type=Path, default=Path("reports/compare"), help="default reports/compare"
    )
    compare.add_argument("--force", action="store_true", help="replace an earlier comparison")

    sweep = commands.add_parser(
        "sweep", help="one run per value of a config key, with common random numbers"
    )
    sweep.add_argument("config", nargs="?", help="TOML config (default: the embedded model)")
    sweep.add_argument(
        "--param",
        required=True,
        metavar="KEY.PATH",
        help="the key to sweep, e.g. total.cagr.mode, or an input named as in "
        "[[correlations]] and a key inside it, e.g. offering.network.cagr.mean",
    )
    sweep.add_argument(
        "--values", required=True, help="comma-separated values, e.g. 0.15,0.17,0.19,0.21"
    )
    _add_set(sweep)
    sweep.add_argument("--draws", type=_draw_count, help="draws per run (sampling.draws)")
    sweep.add_argument("--seed", type=_seed, help="the seed every run shares (sampling.seed)")
    sweep.add_argument("--chunk-size", type=_positive_int)
    sweep.add_argument("--threads", type=_positive_int)
    sweep.add_argument("--out", type=Path, help="default reports/sweep_<KEY.PATH>")
    sweep.add_argument("--force", action="store_true", help="replace an earlier sweep")
    sweep.add_argument("--quiet", action="store_true", help="print no progress")

    report = commands.add_parser(
        "report", help="rebuild the report of a finished run or of an updated one"
    )
    report.add_argument(
        "run_dir", type=Path, help="directory written by mcinfra run or mcinfra update"
    )
    report.add_argument("--log", action="store_true", help="log scale on the fan charts")
    report.add_argument("--quiet", action="store_true", help="print no progress")
    report.add_argument(
        "--png",
        action="store_true",
        help="also write every figure as PNG (default: only figures/fan_total.png)",
    )

    whatif = commands.add_parser(
        "whatif", help="P(prediction | condition) over the same draws as a finished run"
    )
    whatif.add_argument("run_dir", type=Path, help="directory written by mcinfra run")
    whatif.add_argument(
        "--given",
        required=True,
        metavar="EXPR",
        help="condition, e.g. 'input(\"channel.hyperscale_cloud.crossover\") < 2025.5'",
    )
    whatif.add_argument(
        "--prediction",
        action="append",
        metavar="ID",
        help="only this prediction (repeatable; default: all)",
    )

    score = commands.add_parser(
        "score", help="calibration of finished runs against actual values: PIT, bands, CRPS"
    )
    score.add_argument(
        "run_dirs",
        type=Path,
        nargs="+",
        metavar="RUN_DIR",
        help="directories written by mcinfra run or mcinfra update (scored as its posterior)",
    )
    score.add_argument(
        "--actual",
        action="append",
        default=[],
        metavar="EXPR=VALUE",
        help="a quantity's actual value, e.g. 'total[2025]=158.2' (repeatable); EXPR is any "
        "numeric expression of the prediction language",
    )
    score.add_argument(
        "--actuals",
        type=Path,
        action="append",
        default=[],
        metavar="FILE",
        help="a TOML ([[actuals]] with expression, value) or CSV (expression,value) file "
        "(repeatable)",
    )
    score.add_argument(
        "--out", type=Path, help="also write scores.csv, scores.json and scores.html here"
    )
    score.add_argument("--force", action="store_true", help="replace an earlier scoring")
    score.add_argument(
        "--threads", type=_positive_int, help="numba threads; results do not depend on it"
    )

    update = commands.add_parser(
        "update", help="reweight a finished run's draws by new observations (posterior)"
    )
    update.add_argument("run_dir", type=Path, nargs="?", help="directory written by mcinfra run")
    update.add_argument(
        "--observe",
        action="append",
        default=[],
        metavar="OBS",
        help="a measured quantity and its error, e.g. "
        "'total[2025] ~ lognormal(median=158, log_sd=0.03)' (repeatable)",
    )
    update.add_argument(
        "--observations",
        action="append",
        default=[],
        type=Path,
        metavar="FILE",
        help="TOML file of [[observations]] tables (quantity, error); repeatable",
    )
    update.add_argument("--out", type=Path, help="updated run directory (default: RUN_DIR-updated)")
    update.add_argument("--force", action="store_true", help="replace the update already in --out")
    update.add_argument(
        "--no-report", action="store_true", help="skip report.html, report.md and figures/"
    )
    update.add_argument("--quiet", action="store_true", help="print no progress of the report")
    update.add_argument(
        "--resume",
        type=Path,
        metavar="OUT",
        help="continue the interrupted update of OUT from its last checkpoint",
    )
    update.add_argument(
        "--checkpoint-every",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="save the update's progress at most this often (default 60)",
    )
    update.add_argument(
        "--threads",
        type=_positive_int,
        help="numba threads (default: all cores); results do not depend on it",
    )
    _add_cluster_options(update, "stream the draws")

    export = commands.add_parser(
        "export", help="write a finished run's draws as a SIPmath 3.0 library (spreadsheets)"
    )
    export.add_argument("run_dir", type=Path, help="directory written by mcinfra run")
    export.add_argument(
        "--format", choices=("sipmath",), default="sipmath", help="file format (sipmath)"
    )
    export.add_argument(
        "--out", type=Path, required=True, metavar="FILE", help="the library, e.g. run.SIPmath"
    )
    export.add_argument(
        "--trials",
        type=_positive_int,
        metavar="N",
        help="the run's first N draws as trials 1..N (default: all draws, at most 10,000)",
    )
    export.add_argument(
        "--series",
        metavar="LABELS",
        help="comma-separated series, e.g. total,network (default: the total and every "
        "partition's segments)",
    )
    export.add_argument(
        "--years", metavar="YEARS", help="comma-separated years, e.g. 2026,2030 (default: the last)"
    )
    export.add_argument(
        "--predictions", action="store_true", help="also each prediction as a 0/1 SIP"
    )
    export.add_argument(
        "--metalog",
        action="store_true",
        help="also each input as a metalog SIP over its own HDR stream and the config's "
        "Gaussian copula, for more trials in a spreadsheet",
    )
    export.add_argument("--force", action="store_true", help="replace an existing FILE")

    validate = commands.add_parser("validate", help="check a config and show its diagnostics")
    validate.add_argument("config", nargs="?", help="TOML config (default: the embedded model)")
    _add_set(validate)
    validate.add_argument(
        "--target-se",
        type=_probability_error,
        metavar="SE",
        help="also estimate, from a pilot run, the draws each prediction "
        "needs for a standard error below SE",
    )
    return parser


def main(argv: list[str] | None = None, *, executable: bool = False) -> int:
    """Entry point of the ``mcinfra`` command; returns the exit status.

    ``executable`` is for :func:`command` alone: objects made while the command starts up
    are then frozen out of the garbage collector (see :class:`StartUp`).
    """
    args = build_parser().parse_args(argv)
    args.start_up = StartUp(freeze=executable)
    try:
        handlers = {
            "run": _run,
            "whatif": _whatif,
            "update": _update,
            "report": _report,
            "bench": _bench,
            "compare": _compare,
            "sweep": _sweep,
            "validate": _validate,
            "export": _export,
            "score": _score,
            "drivers": _drivers,
        }
        return handlers[args.command](args)
    except McinfraError as exc:
        print(f"mcinfra: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt as exc:
        by = f" by {exc.name}" if isinstance(exc, Interrupted) else ""
        message = str(exc) or f"interrupted{by}; nothing was written"
        print(f"mcinfra: {message}", file=sys.stderr)
        return 128 + getattr(exc, "signum", signal.SIGINT)
    except BrokenPipeError:  # output piped into a program that stopped reading (e.g. head)
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


def _run(args: argparse.Namespace) -> int:
    with args.start_up:
        from mcinfra.config import load_config
        from mcinfra.report.progress import Progress
        from mcinfra.runs.pipeline import DEFAULT_MAX_DRAWS, check_sequential, run_to_directory
        from mcinfra.sampling.engine import settings_from

    if args.resume is not None:
        return _resume(args)
    if args.target_se is not None and args.draws is not None:
        raise UsageError(
            f"--draws {args.draws} and --target-se cannot be combined: --target-se draws "
            "until every standard error is below its target; cap it with --max-draws "
            f"(default {DEFAULT_MAX_DRAWS:,})"
        )
    loaded = load_config(args.config, tuple(args.overrides))
    check_sequential(args.target_se, loaded.config.sampling.method)
    draws = args.draws
    if args.target_se is not None:
        draws = args.max_draws or DEFAULT_MAX_DRAWS
    elif args.max_draws is not None:
        raise UsageError("--max-draws caps a run with --target-se; use --draws otherwise")
    settings = settings_from(
        loaded, draws=draws, seed=args.seed, chunk_size=args.chunk_size, threads=args.threads
    )
    out = args.out if args.out is not None else Path("reports") / loaded.config.model.name
    progress = Progress(enabled=not args.quiet)
    with _cluster(args) as client, StopSignals() as signals:
        summary = run_to_directory(
            loaded,
            settings,
            out,
            client=client,
            replace=args.force or args.out is None,
            save_draws=args.save_draws,
            target_se=args.target_se,
            quantiles=args.quantiles,
            checkpoint_seconds=args.checkpoint_every,
            progress=progress,
            report=not args.no_report,
            log=args.log,
            png=args.png,
            notify=_notifier(args),
            shield=signals.shield,
            drivers=args.drivers,
        )
    progress.close()
    _print_summary(summary, out)
    return 0


def _drivers(args: argparse.Namespace) -> int:
    from mcinfra.report.terminal import significant
    from mcinfra.runs.drivers import drivers

    def warn(text: str) -> None:
        print(f"mcinfra: warning: {text}", file=sys.stderr)

    document = drivers(
        args.run_dir,
        targets=args.target,
        groups=args.groups,
        target_se=args.target_se,
        threads=args.threads,
        max_permutations=args.max_permutations,
        notify=warn,
        progress=lambda text: print(f"mcinfra: {text}", file=sys.stderr),
    )
    rows = []
    for entry in document["targets"]:
        for player in entry["players"][:DRIVERS_SHOWN]:
            effect, error = player["shapley"], player["std_error"]
            shown = "-" if effect is None else significant(effect, error)
            spread = "" if error is None else f"{error:.2g}"
            first = player["first_order"]
            rows.append(
                [
                    entry["target"],
                    player["player"],
                    shown,
                    spread,
                    "" if first is None else f"{first:.3f}",
                ]
            )
    print(_table(["target", "player", "shapley", "std error", "first order"], rows))
    print(
        f"\nthe {DRIVERS_SHOWN} largest of each target; {document['permutations']:,} "
        f"permutations, {document['evaluations']:,} model evaluations, "
        f"{document['seconds']:.1f} s; each effect is its player's share of the target's "
        "variance (the effects sum to one)"
    )
    print(f"wrote {args.run_dir}/drivers.csv and drivers.json")
    return 0


def _bench(args: argparse.Namespace) -> int:
    import json

    from mcinfra.bench.throughput import machine_facts, measure, sobol_efficiency
    from mcinfra.io.run_directory import write_json

    text = args.sizes or ("1024,4096,16384" if args.sobol else "1e5,1e6,1e7")
    try:
        sizes = [_draw_count(item.strip()) for item in text.split(",") if item.strip()]
    except argparse.ArgumentTypeError as exc:
        raise UsageError(f"--sizes: {exc}") from None
    if not sizes:
        raise UsageError(f"--sizes needs at least one draw count, got {args.sizes!r}")
    if args.sobol and any(size & (size - 1) for size in sizes):
        raise UsageError(f"--sizes with --sobol: replicate sizes must be powers of two, got {text}")
    if args.json is not None and not args.json.parent.is_dir():
        raise UsageError(f"cannot write {args.json}: no directory {args.json.parent}")
    log = lambda text: print(text, flush=True)  # noqa: E731
    if args.sobol:
        result = {"machine": machine_facts(), "sobol": sobol_efficiency(sizes, log=log)}
        _print_sobol(result["sobol"])
    else:
        result = measure(
            sizes,
            args.repeats,
            startup=not args.no_startup,
            log=log,
            report=not args.no_report_timings,
            drivers=not args.no_drivers_timing,
        )
        for name, ratio in result["ratios"].items():
            print(f"{name:<28} {ratio:8.2f}x")
        if result["waits"]:
            print(f"what a user waits for (best of {args.repeats}, median beside it):")
        for name, wait in result["waits"].items():
            state = "met" if wait["met"] else "NOT met"
            print(
                f"  {name:<20} {wait['seconds']:8.2f} s  median {wait['median_seconds']:8.2f} s"
                f"  goal <= {wait['goal']:g} s  {state}   {wait['command']}"
            )
        for name, row in result["targets"].items():
            state = {True: "met", False: "NOT met", None: "not measured"}[row["met"]]
            print(f"target {name:<32} {row['target']:>12,} {state}")
    if args.json is not None:
        staging = args.json.with_name(f".{args.json.name}.partial")
        write_json(staging, result)
        staging.replace(args.json)
    else:
        print(json.dumps(result["machine"]))
    return 0


def _print_sobol(result: dict) -> None:
    """The Sobol' study as a table: draws-saved factor per estimand and replicate size."""
    sizes = list(result["sizes"])
    spread = result["interval_factor90"]
    print(
        f"\nplain Monte Carlo needs this many times the draws of scrambled Sobol' for the same "
        f"standard error ({result['replicates']} replicates of each size; each factor is "
        f"uncertain within about x/{spread:.1f} (90 %)):"
    )
    print(f"  {'estimand':<28}" + "".join(f"{int(size):>10,}" for size in sizes))
    for estimand in result["estimands"]:
        factors = [result["sizes"][size]["draws_saved_factor"][estimand] for size in sizes]
        print(f"  {estimand:<28}" + "".join(f"{factor:>9.1f}x" for factor in factors))
    costs = [result["sizes"][size]["sobol_cost_per_draw_vs_mc"] for size in sizes]
    print(f"  {'cost per draw vs MC':<28}" + "".join(f"{cost:>9.1f}x" for cost in costs))


def _compare(args: argparse.Namespace) -> int:
    from mcinfra.io.run_directory import atomic_directory, check_target
    from mcinfra.report.comparison import difference_text, write_comparison
    from mcinfra.runs.compare import compare_runs

    if len(args.run_dirs) < 2:
        raise UsageError("compare needs at least two run directories")
    check_target(args.out, args.force, marker="compare.json", kind="comparison")
    result = compare_runs(args.run_dirs)
    with atomic_directory(args.out) as staging:
        write_comparison(result, staging)
    width = max([6, *(len(d["prediction"]) for d in result["differences"])])
    for d in result["differences"]:
        kind = "paired" if d["paired"] else "independent"
        print(
            f"{d['prediction']:<{width}} {d['run']} - {d['baseline']}: "
            f"{difference_text(d)} "
            f"(se {d['std_error']:.2g}, {kind}; independent runs: {d['std_error_independent']:.2g})"
        )
    print(f"wrote {args.out}/ (compare.json, compare.csv, compare.html)")
    return 0


def _sweep(args: argparse.Namespace) -> int:
    from mcinfra.io.run_directory import atomic_directory, check_target
    from mcinfra.report.comparison import write_sweep
    from mcinfra.report.progress import Progress
    from mcinfra.report.terminal import significant
    from mcinfra.runs.sweep import run_sweep

    values = [v.strip() for v in args.values.split(",") if v.strip()]
    if not values:
        raise UsageError(f"--values needs at least one value, got {args.values!r}")
    out = args.out if args.out is not None else Path("reports") / f"sweep_{args.param}"
    check_target(out, args.force, marker="sweep.json", kind="sweep")
    progress = Progress(enabled=not args.quiet)
    with atomic_directory(out) as staging:
        result = run_sweep(
            args.config, args.param, values, staging, tuple(args.overrides),
            args.draws, args.seed, args.chunk_size, args.threads, progress,
        )  # fmt: skip
        write_sweep(result, staging)
    progress.close()
    ids = [p["id"] for p in result["points"][0]["predictions"]]
    rows = [
        [point["value"]]
        + [significant(p["probability"], p["std_error"]) for p in point["predictions"]]
        for point in result["points"]
    ]
    print(_table([args.param, *ids], rows))
    print(f"wrote {out}/ (sweep.json, sweep.csv, sweep.html, run_00 ..)")
    return 0


def _table(header: list[str], rows: list[list[str]]) -> str:
    """Columns as wide as their longest cell, two spaces apart: the first left-aligned."""
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        first = f"{cells[0]:<{widths[0]}}"
        return first + "".join(f"  {c:>{w}}" for c, w in zip(cells[1:], widths[1:], strict=True))

    return "\n".join(line([str(c) for c in cells]) for cells in [header, *rows])


def _notifier(args: argparse.Namespace):
    """What a command tells the user while it works (stderr), or None under ``--quiet``."""
    if args.quiet:
        return None
    return lambda text: print(f"mcinfra: {text}", file=sys.stderr)


def _cluster(args: argparse.Namespace):
    """A dask client for --dask-workers / --scheduler, else a context giving None."""
    from contextlib import nullcontext

    if args.dask_workers is None and args.scheduler is None:
        return nullcontext(None)
    from mcinfra.runs.distributed import dask_client

    return dask_client(args.dask_workers, args.scheduler)


def _resume(args: argparse.Namespace) -> int:
    from mcinfra.report.progress import Progress
    from mcinfra.runs.pipeline import resume_run

    given = (
        [
            f"--{name.replace('_', '-')}"
            for name in ("draws", "seed", "chunk_size", "target_se", "max_draws", "out")
            if getattr(args, name) is not None
        ]
        + (["CONFIG"] if args.config else [])
        + (["--save-draws"] if args.save_draws else [])
        + (["--drivers"] if args.drivers else [])
        + (["--set"] if args.overrides else [])
    )
    if given:
        raise UsageError(f"--resume continues a run with its own settings; drop {', '.join(given)}")
    progress = Progress(enabled=not args.quiet)
    with _cluster(args) as client, StopSignals() as signals:
        summary = resume_run(
            args.resume,
            threads=args.threads,
            report=not args.no_report,
            progress=progress,
            client=client,
            checkpoint_seconds=args.checkpoint_every,
            notify=_notifier(args),
            shield=signals.shield,
        )
    progress.close()
    _print_summary(summary, args.resume)
    return 0


def _print_summary(summary: dict, out: Path) -> None:
    from mcinfra.report.data import read_drivers
    from mcinfra.report.terminal import crossover_table, prediction_table, summary_table

    print(
        summary_table(summary)
        + crossover_table(summary["crossovers"], summary["run"]["draws"])
        + prediction_table(summary["predictions"], read_drivers(out))
    )
    if "sequential" in summary:
        seq = summary["sequential"]
        state = "met" if seq["target_met"] else "NOT met (cap reached)"
        print(
            f"\ntarget standard error {seq['target_std_error']:g} {state} after "
            f"{seq['draws_used']:,} draws"
        )
    print(f"\nwrote {out}/ ({', '.join(_listing(out))})")


def _report(args: argparse.Namespace) -> int:
    if (args.run_dir / "update.json").is_file():  # an updated run: the report of the news
        from mcinfra.report.news import build_news_report as build_report
    else:
        from mcinfra.report.build import build_report

    written = build_report(args.run_dir, log=args.log, notify=_notifier(args), png=args.png)
    print(f"wrote {written[0]}, {written[1].name} and {len(written) - 2} figure files")
    return 0


def _whatif(args: argparse.Namespace) -> int:
    from mcinfra.report.terminal import interval, significant
    from mcinfra.runs.whatif import conditional, load_run

    loaded, settings = load_run(args.run_dir)
    results, given = conditional(loaded, settings, args.given, args.prediction)
    p, low, high = interval(given.probability, given.std_error, *given.interval())
    print(
        f"condition {args.given} holds in {given.holds:,} of {given.draws:,} draws "
        f"(P = {p}, 95 % [{low}, {high}])"
    )
    width = max([6, *(len(r.id) for r in results)])
    for r in results:
        line = f"  {r.id:<{width}} P = {significant(r.overall.probability, r.overall.std_error)}"
        if r.given is None:
            line += "   | given: no draw meets the condition"
        else:
            p, low, high = interval(r.given.probability, r.given.std_error, *r.given.interval())
            line += f"   P(given) = {p} [{low}, {high}]"
        print(line)
    return 0


def _score(args: argparse.Namespace) -> int:
    from mcinfra.report.scores import HEADER, score_rows
    from mcinfra.runs.score import score

    result = score(
        args.run_dirs,
        args.actual,
        actuals_file=args.actuals,
        out=args.out,
        force=args.force,
        threads=args.threads,
    )
    print(_table(HEADER, score_rows(result)))
    draws = "; ".join(f"{run['draws']:,}" for run in result["runs"])
    print(
        f"\nPIT: share of draws below the actual (ties count half); CRPS exact from every "
        f"draw ({draws} draws); log score -ln f(actual), f a Gaussian kernel density with "
        "Silverman's bandwidth (not defined for 0/1 quantities, years, atoms)"
    )
    if args.out is not None:
        print(f"wrote {args.out}/ (scores.csv, scores.json, scores.html)")
    return 0


def _update(args: argparse.Namespace) -> int:
    from mcinfra.io.run_directory import check_target
    from mcinfra.report.terminal import interval
    from mcinfra.runs.update import (
        default_output,
        observations_from,
        resume_update,
        update_to_directory,
    )
    from mcinfra.runs.whatif import load_run
    from mcinfra.sampling.engine import settings_from

    if args.resume is not None:
        given = [
            option
            for option, value in (
                ("RUN_DIR", args.run_dir),
                ("--observe", args.observe),
                ("--observations", args.observations),
                ("--out", args.out),
                ("--force", args.force),
            )
            if value
        ]
        if given:
            raise UsageError(
                f"--resume continues an update with its own settings; drop {', '.join(given)}"
            )
        out = args.resume
        with _cluster(args) as client, StopSignals() as signals:
            result = resume_update(
                out,
                threads=args.threads,
                client=client,
                report=False if args.no_report else None,
                notify=_notifier(args),
                shield=signals.shield,
                checkpoint_seconds=args.checkpoint_every,
            )
    else:
        if args.run_dir is None:
            raise UsageError("update needs RUN_DIR, a directory written by mcinfra run")
        loaded, settings = load_run(args.run_dir)
        observations = observations_from(args.observe, loaded, args.observations)
        out = args.out or default_output(args.run_dir)
        check_target(out, args.force, marker="update.json", kind="updated run")
        settings = settings_from(
            loaded, settings.draws, settings.seed, settings.chunk_size, threads=args.threads
        )
        with _cluster(args) as client, StopSignals() as signals:
            result = update_to_directory(
                loaded,
                settings,
                observations,
                out,
                args.force,
                prior_dir=str(args.run_dir),
                client=client,
                report=not args.no_report,
                notify=_notifier(args),
                shield=signals.shield,
                checkpoint_seconds=args.checkpoint_every,
            )
    share = result.effective_draws / result.draws
    print(
        f"effective draws {result.effective_draws:,.0f} of {result.draws:,} "
        f"({share:.2%}); Pareto k-hat {result.khat:.2f} (threshold {result.khat_threshold:.2f})"
    )
    if result.khat_warning:
        print(f"mcinfra: warning: {result.khat_warning}", file=sys.stderr)
    width = max([6, *(len(p.id) for p in result.predictions)])
    for p in result.predictions:
        estimate = p.posterior
        shown, low, high = interval(estimate.probability, estimate.std_error, *estimate.interval())
        print(f"  {p.id:<{width}} prior {p.prior:.4g}   posterior {shown} [{low}, {high}]")
    print(f"wrote {out}")
    return 0


def _export(args: argparse.Namespace) -> int:
    from mcinfra.runs.export import export_sipmath

    library, trials = export_sipmath(
        args.run_dir,
        args.out,
        trials=args.trials,
        series=args.series,
        years=args.years,
        predictions=args.predictions,
        replace=args.force,
        metalogs=args.metalog,
    )
    fitted = sum(sip.name.endswith(".metalog") for sip in library.sips) if args.metalog else 0
    arrays = len(library.sips) - fitted
    print(
        f"wrote {args.out} ({arrays} SIPs of {trials:,} trials: trial i is draw "
        f"i - 1 of {args.run_dir})"
        + (f"; {fitted} metalog SIPs of the inputs for any number of trials" if fitted else "")
    )
    return 0


def _listing(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


def _validate(args: argparse.Namespace) -> int:
    from mcinfra.config import load_config
    from mcinfra.runs.diagnostics import PILOT_DRAWS, diagnostics_text, draws_for_target
    from mcinfra.sampling.engine import settings_from

    loaded = load_config(args.config, tuple(args.overrides))
    settings_from(loaded)  # checks the sampling settings together (e.g. Sobol' draw counts)
    print(diagnostics_text(loaded))
    if args.target_se is not None:
        rows = draws_for_target(loaded, args.target_se)
        print(
            f"\ndraws needed for a standard error below {args.target_se:g} "
            f"(pilot of {PILOT_DRAWS:,} draws):"
        )
        for name, probability, draws in rows:
            print(f"  {name:<12} pilot P = {probability:.3f}  {draws:>12,} draws")
        if rows:
            print(f"  {'all':<12} {'':>15}  {max(d for _, _, d in rows):>12,} draws")
    return 0


def command() -> int:
    """The ``mcinfra`` executable: :func:`main` with the interpreter's objects frozen.

    Importing numba and loading the kernels leaves over a hundred thousand objects that the
    garbage collector would traverse at every full collection and at exit, a visible part
    of a short run's time (figures in docs/performance.md).
    ``gc.freeze`` moves the objects that exist to a generation the collector skips;
    reference counting still frees them, so files, ``atexit`` handlers and finalizers run
    as usual. Only the executable does this, not :func:`main`, which tests call in-process.
    The process then ends by :func:`end_process`, without tearing the interpreter down.
    """
    gc.freeze()  # what importing the command line made
    status = main(executable=True)  # freezes what a command's imports make (StartUp)
    gc.freeze()  # and what loading the kernels and the run made
    end_process(status)
    return status  # where this Python cannot end a process early


def end_process(status: int) -> None:
    """End the process with ``status`` once its exit duties are done, skipping the teardown.

    Freeing every module's objects one by one and unloading numba's compiled code took
    38-57 ms of a short run, after its results were written (docs/performance.md,
    "Start-up and exit"). An exit's duties come first, as ``sys.exit`` does them: other
    threads are waited for (``threading``'s own shutdown, which also stops idle thread
    pools), ``atexit`` handlers run (multiprocessing's children, temporary directories,
    logging) and the standard streams are flushed. Returns without ending anything where
    this Python lacks those shutdown steps, so ``sys.exit`` does the whole exit.
    """
    import atexit
    import os

    shutdown_threads = getattr(threading, "_shutdown", None)
    run_exit_handlers = getattr(atexit, "_run_exitfuncs", None)
    if shutdown_threads is None or run_exit_handlers is None:
        return
    shutdown_threads()
    run_exit_handlers()
    for stream in (sys.stdout, sys.stderr):
        with suppress(OSError, ValueError):  # a closed pipe or stream: nothing more to say
            stream.flush()
    os._exit(status)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(command())
