"""Assemble the report: figures (SVG, PNG where asked), a self-contained report.html, report.md."""

from __future__ import annotations

import html
import re
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from io import StringIO
from pathlib import Path
from typing import TYPE_CHECKING

from mcinfra.report import figures
from mcinfra.report.terminal import interval, significant

if TYPE_CHECKING:
    from multiprocessing.context import ForkContext
    from multiprocessing.process import BaseProcess
    from multiprocessing.queues import Queue

    from mcinfra.config.schema import SourceFigure
    from mcinfra.report.data import DriverEffects, ReportData

# The config's schema (pydantic) and the run's reader are imported once the drawing workers
# have forked: the first worker imports matplotlib meanwhile.


def _overrides(run: dict) -> str:
    """The run's --set edits, as a clause (empty when there are none)."""
    edits = run.get("config_overrides") or []
    return f", with --set {', '.join(edits)}" if edits else ""


def _quantile_method(summary: dict) -> str:
    """Sentences on how the draws were made and how the quantiles were computed."""
    method = summary.get("quantiles", {})
    if method.get("method") == "sketch":
        accuracy = method.get("relative_accuracy", 0.001)
        text = f"Quantiles from a mergeable sketch, each within relative {accuracy:g} of exact."
    else:
        text = "Quantiles are exact order statistics of every draw."
    run = summary.get("run", {})
    if run.get("sampling_method") == "sobol":
        text = (
            f"Quasi-Monte Carlo: scrambled Sobol' points in {run['replicates']} independent "
            "replicates; probabilities' standard errors and intervals come from the spread of "
            f"the replicates (Student t). {text}"
        )
    return text


def _fan_panels(data: ReportData) -> list[tuple[str, str, list[dict]]]:
    """(figure name, title, panels) for every fan chart."""
    from mcinfra.config.structure import list_series

    q = data.quantiles
    years, probs = q.years, q.probs
    config = data.config
    figures_: dict[str, list[SourceFigure]] = {f.series: [] for f in config.source_figures}
    for f in config.source_figures:
        figures_[f.series].append(f)

    def quantiles(label):
        cube = q.series(label)  # (year, quantile)
        return {p: cube[:, i] for i, p in enumerate(probs)}

    def panel(label, title=None, unit=None):
        marks, paths = [], []
        for f in figures_.get(label, []):
            if f.kind == "value":
                marks.append((f.year, f.value, f"source {f.value:g}"))
            elif f.kind == "share":
                total = q.at("total", f.year, 0.5)
                marks.append((f.year, f.value * total, f"source share {100 * f.value:g} %"))
            else:
                start = q.at(label, f.start_year, 0.5)
                span = list(range(f.start_year, f.end_year + 1))
                paths.append(
                    (
                        span,
                        [start * (1 + f.value) ** (y - f.start_year) for y in span],
                        f"source CAGR {100 * f.value:g} %",
                    )
                )
        return {
            "title": title or label,
            "years": years,
            "marks": marks,
            "paths": paths,
            "fans": [(label, quantiles(label), figures.BLUE)],
            "unit": unit,
        }

    unit = config.model.unit
    out = [("fan_total", f"Total market ({unit})", [panel("total")])]
    for name in config.partitions:
        labels = [
            s.label
            for s in list_series(config)
            if s.partition == name and s.kind in ("segment", "group")
        ]
        out.append(
            (
                f"fan_{name}",
                f"Partition {name}: segments and groups ({unit})",
                [panel(label) for label in labels],
            )
        )
    split = config.function_split
    if split is not None:
        panels = []
        for entity in split.crossover_report:
            both = panel(
                f"{entity}_{split.rising}", title=f"{entity}: {split.rising} vs {split.falling}"
            )
            both["fans"] = [
                (split.rising, quantiles(f"{entity}_{split.rising}"), figures.BLUE),
                (split.falling, quantiles(f"{entity}_{split.falling}"), figures.ORANGE),
            ]
            panels.append(both)
        out.append(
            ("fan_function", f"Function split: {split.rising} vs {split.falling} ({unit})", panels)
        )
    others = [s for s in list_series(config) if s.kind in ("adoption", "derived")]
    if others:
        out.append(
            (
                "fan_other",
                "Adoption curves and derived series",
                [panel(s.label, unit=s.unit) for s in others],
            )
        )
    return out


# PNGs drawn whatever is asked: the README shows this one
ALWAYS_PNG = ("fan_total",)
# The drawing workers' garbage collector thresholds: a figure allocates hundreds of
# thousands of small objects, and the default (700, 10, 10) spent about a sixth of the
# drawing time collecting them (docs/performance.md, "A run's own report").
DRAWING_GC_THRESHOLDS = (50_000, 50, 50)


def _svg_file(fig) -> str:
    """The figure as an SVG file's text (no date, so identical run to run)."""
    buffer = StringIO()
    figures.save(fig, buffer, format="svg", metadata={"Date": None})
    return buffer.getvalue()


def _svg(fig) -> str:
    """The figure's ``<svg>`` element, for embedding in a page."""
    return _svg_element(_svg_file(fig))


def _svg_element(text: str) -> str:
    """The ``<svg>`` element of an SVG file's text (without the XML prolog)."""
    return text[text.index("<svg") :]


def _figure_plan(data: ReportData, rows: list[dict], log: bool) -> list[tuple[str, str, tuple]]:
    """(name, title, (builder, args)) of every figure of the report, in the page's order.

    ``builder`` names a function of :mod:`mcinfra.report.figures`, called with ``args``;
    names and plain data (not closures) so that a worker process can draw the figure.
    """
    unit = data.config.model.unit
    plan: list[tuple[str, str, tuple]] = [
        (name, title, ("fan_charts", (panels, title, unit, log)))
        for name, title, panels in _fan_panels(data)
    ]
    if rows:
        plan.append(("probabilities", "Predictions", ("probability_chart", (rows,))))
        for row in rows:
            effects = _shapley_effects(data, row["id"])
            if effects:
                plan.append(
                    (
                        f"tornado_{row['id']}",
                        f"{row['id']}: drivers",
                        ("shapley_tornado", (row["id"], effects)),
                    )
                )
                continue
            drivers = [d for d in data.sensitivity if d["prediction"] == row["id"]]
            drivers = [
                {
                    "input": d["input"],
                    "first_order_index": float(d["first_order_index"]),
                    "rank_correlation": float(d["rank_correlation"]),
                }
                for d in drivers
                if d["first_order_index"] not in ("nan", "")
            ]
            if drivers:
                plan.append(
                    (
                        f"tornado_{row['id']}",
                        f"{row['id']}: drivers",
                        ("tornado", (row["id"], drivers)),
                    )
                )
    if data.drivers is not None:  # numeric expressions, after the predictions' drivers
        ids = {row["id"] for row in rows}
        others = [target for target in data.drivers.targets if target not in ids]
        for number, target in enumerate(others, start=1):
            plan.append(
                (
                    f"tornado_expression_{number}",
                    f"{target}: drivers",
                    ("shapley_tornado", (target, _shapley_effects(data, target))),
                )
            )
    crossovers = data.summary.get("crossovers")
    if crossovers:
        plan.append(("crossover", "Crossover year", ("crossover_chart", (crossovers,))))
    if data.convergence:
        plan.append(("convergence", "Convergence", ("convergence_chart", (data.convergence,))))
    if data.elicited:
        panels = [
            {
                "title": f"{fit['input']} ({fit['component']})"
                if fit["component"]
                else fit["input"],
                "curve": fit["curve"],
                "points": ([x for _, x in fit["points"]], [p for p, _ in fit["points"]]),
            }
            for fit in data.elicited
        ]
        plan.append(("elicited", "Elicited inputs", ("elicited_cdfs", (panels,))))
    return plan


def _shapley_effects(data: ReportData, target: str) -> list[dict]:
    """The Shapley effects on ``target`` as a tornado draws them (empty when not estimated)."""
    if data.drivers is None or target not in data.drivers.targets:
        return []
    return [
        {
            "player": effect.player,
            "shapley": effect.shapley,
            "interval": Z95 * effect.std_error,
            "rank_correlation": effect.rank_correlation,
        }
        for effect in data.drivers.targets[target].players
    ]


def _draw(job: tuple[str, tuple, Path | None]) -> str:
    """Draw one figure, write its PNG when ``job`` names one, return its SVG file's text."""
    builder, args, png = job
    fig = getattr(figures, builder)(*args)
    if png is not None:
        figures.save(fig, png, dpi=figures.PNG_DPI)
    return _svg_file(fig)  # rendered once, for the file and the page


def _workers() -> int:
    """How many worker processes draw the figures: 0 (draw here) or one per core.

    A process whose numba threads are running (a run that has just sampled) is not forked,
    since forking a process with live OpenMP threads can hang the child.
    """
    import multiprocessing
    import os

    if "fork" not in multiprocessing.get_all_start_methods():
        return 0
    parallel = sys.modules.get("numba.np.ufunc.parallel")
    if parallel is not None and getattr(parallel, "_is_initialized", True):
        return 0
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    cores = cores or 1
    return cores if cores > 1 else 0


def _import_matplotlib() -> None:
    """What every figure needs from matplotlib."""
    import matplotlib.backends.backend_agg
    import matplotlib.backends.backend_svg
    import matplotlib.figure  # noqa: F401


class _DrawingWorkers:
    """Forked processes that draw figures, fed one job at a time, costliest first.

    The first worker is forked at once and imports matplotlib while this process reads
    the run; it then forks the others, which inherit that import: matplotlib is imported
    once, off this process's path (importing it in each worker takes more CPU and longer on
    two cores). Every worker exits when this process does.
    """

    def __init__(self, count: int) -> None:
        import multiprocessing

        context = multiprocessing.get_context("fork")
        self.count = count
        self._jobs: Queue = context.Queue()
        self._results = _Results(context)
        self._first: BaseProcess = context.Process(
            target=_first_worker, args=(self._jobs, self._results, count - 1)
        )
        self._first.start()
        self._exited = False

    def draw(
        self, jobs: list[tuple[str, tuple, Path | None]], announce: Callable[[int], None]
    ) -> Iterator[str]:
        """Each job's SVG text, in the jobs' order."""
        order = iter(sorted(range(len(jobs)), key=lambda i: -_cost(jobs[i])))
        for index in [next(order) for _ in range(min(self.count, len(jobs)))]:
            self._jobs.put((index, jobs[index]))
        drawn: dict[int, str] = {}
        for number in range(len(jobs)):
            announce(number)
            while number not in drawn:
                index, text = self._result()
                drawn[index] = text
                following = next(order, None)
                if following is not None:  # the worker that finished takes the next
                    self._jobs.put((following, jobs[following]))
            yield drawn.pop(number)

    def _result(self) -> tuple[int, str]:
        """The next figure drawn; a worker's exception is raised here."""
        kind, index, payload = self._results.get(self._first.sentinel)
        if kind == "exit":
            self._exited = True
            raise RuntimeError("the drawing workers stopped before drawing every figure")
        if kind == "error":
            raise payload
        return index, payload

    def close(self) -> None:
        """Stop every worker, once it has finished the figure it draws."""
        for _ in range(self.count):
            self._jobs.put(None)
        while not self._exited:  # drain what is left: no worker may wait to hand over a figure
            kind, _, _ = self._results.get(self._first.sentinel)
            self._exited = kind == "exit"  # the first worker has joined the others
        self._first.join()
        self._jobs.close()
        self._jobs.join_thread()


class _Results:
    """Messages from the drawing workers to the reader: ``(kind, index, payload)``.

    A pipe the workers write to in turn; the reader also watches the first worker, so a
    worker that dies without saying so (killed) reads as its ``exit``, not as a wait forever.
    """

    def __init__(self, context: ForkContext) -> None:
        self._receiving, self._sending = context.Pipe(duplex=False)
        self._lock = context.Lock()

    def put(self, message: tuple) -> None:
        """Send ``message`` (from a worker)."""
        with self._lock:
            self._sending.send(message)

    def get(self, first_worker: int) -> tuple:
        """The next message; ``exit`` once the first worker (its ``sentinel``) has gone."""
        from multiprocessing.connection import wait

        wait([self._receiving, first_worker])
        if self._receiving.poll():
            return self._receiving.recv()
        return ("exit", -1, None)


def _first_worker(jobs: Queue, results: _Results, others: int) -> None:
    """Import matplotlib, fork ``others`` workers that inherit it, draw, then join them.

    Its last message, whatever happens, is ``exit``: the reader waits for it.
    """
    import gc
    import multiprocessing
    import signal

    _ignore_stop_signals(signal)
    gc.set_threshold(*DRAWING_GC_THRESHOLDS)  # inherited by the workers forked below
    reader = multiprocessing.parent_process()  # every worker stops when it has gone
    workers = []
    try:
        _import_matplotlib()
        context = multiprocessing.get_context("fork")
        workers = [
            context.Process(target=_serve, args=(jobs, results, reader)) for _ in range(others)
        ]
        for worker in workers:
            worker.start()
        _serve(jobs, results, reader)
    except Exception as exc:
        _send_error(results, -1, exc)
    finally:
        for worker in workers:
            worker.join()
        results.put(("exit", -1, None))


def _serve(jobs: Queue, results: _Results, reader: BaseProcess | None) -> None:
    """Draw jobs until told to stop or ``reader``, who hands them out, has gone."""
    import queue
    import signal

    _ignore_stop_signals(signal)
    while True:
        try:
            item = jobs.get(timeout=1.0)
        except queue.Empty:
            if reader is not None and not reader.is_alive():
                return
            continue
        if item is None:
            return
        index, job = item
        try:
            results.put(("svg", index, _draw(job)))
        except Exception as exc:  # raised in the process that reads the results
            _send_error(results, index, exc)


def _ignore_stop_signals(signal) -> None:
    """Leave Ctrl-C and a scheduler's SIGTERM or SIGHUP to the reader, which stops the workers.

    A worker killed by the signal sent to the whole process group could not report that it
    has exited, and the reader would wait for it.
    """
    for name in ("SIGINT", "SIGTERM", "SIGHUP"):
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), signal.SIG_IGN)


def _send_error(results: _Results, index: int, exc: Exception) -> None:
    """Hand ``exc`` to the reader, as itself or, where it cannot be pickled, as its repr."""
    try:
        results.put(("error", index, exc))
    except Exception:
        results.put(("error", index, RuntimeError(repr(exc))))


@contextmanager
def drawing_workers() -> Iterator[_DrawingWorkers | None]:
    """Workers that draw figures, or None where they are drawn here (see :func:`_workers`).

    A run that writes its report enters this before it samples: the workers are forked
    while the process has no numba threads yet and import matplotlib while the run
    samples, so the report is drawn on every core as soon as the run's files are written.
    """
    count = _workers()
    if count == 0:
        yield None
        return
    workers = _DrawingWorkers(count)
    try:
        yield workers
    finally:
        workers.close()


def _draw_all(
    jobs: list[tuple[str, tuple, Path | None]],
    announce: Callable[[int], None],
    workers: _DrawingWorkers | None,
) -> Iterator[str]:
    """Each job's SVG text, in order, drawn by ``workers`` or here."""
    if workers is None:
        for number, job in enumerate(jobs):
            announce(number)
            yield _draw(job)
        return
    yield from workers.draw(jobs, announce)


def _cost(job: tuple[str, tuple, Path | None]) -> int:
    """A figure's drawing time in units of about 40 ms of CPU, as measured per kind.

    A fan chart (or the elicited inputs' small multiples) costs one unit and one per
    panel, a convergence chart three per panel (minor ticks on every log axis), the
    crossover chart's two Axes four, any other two.
    """
    builder, args, _ = job
    if builder in ("fan_charts", "elicited_cdfs"):
        return 1 + len(args[0])
    if builder == "convergence_chart":
        return 3 * len(args[0])
    return 4 if builder == "crossover_chart" else 2


def build_report(
    run_dir: Path,
    log: bool = False,
    notify: Callable[[str], None] | None = None,
    png: bool = False,
    workers: _DrawingWorkers | None = None,
) -> list[Path]:
    """Write report.html, report.md and figures/*.svg (and PNGs) into ``run_dir``; return them.

    Parameters
    ----------
    run_dir : Path
        A finished run's directory.
    log : bool
        Log scale on the fan charts.
    notify : callable, optional
        Called with a line naming each figure as it is drawn, then the pages.
    png : bool
        Also write every figure as a PNG file; without it only those of :data:`ALWAYS_PNG`
        are (a PNG costs as much to draw as the SVG).
    workers : optional
        Drawing workers entered earlier with :func:`drawing_workers`; without them the
        report starts its own (or draws here, where it cannot fork).

    Returns
    -------
    list of Path
        report.html, report.md, then every figure file.
    """
    if workers is not None:
        return _build(Path(run_dir), log, notify, png, workers)
    with drawing_workers() as started:
        return _build(Path(run_dir), log, notify, png, started)


def _build(
    run_dir: Path,
    log: bool,
    notify: Callable[[str], None] | None,
    png: bool,
    workers: _DrawingWorkers | None,
) -> list[Path]:
    """:func:`build_report`, its figures drawn by ``workers`` (or here when None)."""
    from mcinfra.report.data import load_report_data

    data = load_report_data(run_dir)
    figure_dir = run_dir / "figures"
    figure_dir.mkdir(exist_ok=True)
    rows = data.summary["predictions"]
    for row in rows:
        row["shown"] = significant(row["probability"], row["std_error"])
    plan = _figure_plan(data, rows, log)
    svgs, written = draw_figures(plan, figure_dir, png or ALWAYS_PNG, notify, workers)
    if notify is not None:
        notify("report: writing report.html and report.md")
    (run_dir / "report.html").write_text(_html(data, rows, svgs), encoding="utf-8")
    (run_dir / "report.md").write_text(
        _markdown(data, rows, [name for name, _, _ in plan]), encoding="utf-8"
    )
    return [run_dir / "report.html", run_dir / "report.md", *written]


def draw_figures(
    plan: list[tuple[str, str, tuple]],
    figure_dir: Path,
    png: bool | tuple[str, ...],
    notify: Callable[[str], None] | None,
    workers: _DrawingWorkers | None,
) -> tuple[dict[str, tuple[str, str]], list[Path]]:
    """Draw the figures of ``plan`` into ``figure_dir`` as NAME.svg (and NAME.png).

    ``plan`` holds ``(name, title, (builder, args))``, ``builder`` the name of a function
    of :mod:`mcinfra.report.figures`; ``png`` is True for every figure's PNG, or the names
    of the figures that get one (an earlier PNG of any other is deleted: it would no
    longer match). ``workers`` draw them (here when None); ``notify`` gets a line per
    figure. Returns ``{name: (title, <svg> element)}`` in the plan's order, for the
    pages, and the files written.
    """
    figure_dir.mkdir(exist_ok=True)
    jobs: list[tuple[str, tuple, Path | None]] = []
    for name, _, (builder, args) in plan:
        path = figure_dir / f"{name}.png"
        if png if isinstance(png, bool) else name in png:
            jobs.append((builder, args, path))
        else:
            path.unlink(missing_ok=True)
            jobs.append((builder, args, None))

    def announce(number: int) -> None:
        if notify is not None:
            notify(f"report: drawing figure {number + 1} of {len(plan)}, {plan[number][0]}")

    svgs: dict[str, tuple[str, str]] = {}
    written: list[Path] = []
    for (name, title, _), (_, _, png_file), text in zip(
        plan, jobs, _draw_all(jobs, announce, workers), strict=True
    ):
        if png_file is not None:
            written.append(png_file)
        (figure_dir / f"{name}.svg").write_text(text, encoding="utf-8")
        written.append(figure_dir / f"{name}.svg")
        svgs[name] = (title, _svg_element(text))
    return svgs, written


# half-width of a 95 % normal interval, in standard errors
Z95 = 1.959963984540054


def _top_driver(row: dict, drivers: DriverEffects | None) -> str:
    """The prediction's top driver, as the summary and the predictions table name it.

    By Shapley effect (shown beside it) where the run has them, else by first-order index;
    empty when there is none.
    """
    top = drivers.top(row["id"]) if drivers is not None else None
    if top is not None:
        return f"{top.player} (Shapley effect {significant(top.shapley, top.std_error)})"
    return row["drivers"][0]["input"] if row.get("drivers") else ""


def _sentence(row: dict, drivers: DriverEffects | None = None) -> str:
    p, low, high = interval(row["probability"], row["std_error"], *row["ci95"])
    top = _top_driver(row, drivers) or "none"
    return f"{row['id']}: probability {p} (95 % interval {low} to {high}); top driver: {top}."


def _how_to_read(drivers: DriverEffects) -> str:
    """What a Shapley effect of a driver chart means, for a 0/1 prediction in particular."""
    settings = drivers.settings
    how = (
        f" Estimated from {settings['permutations']:,} random permutations of the players "
        f"(seed {settings['seed']})."
        if isinstance(settings.get("permutations"), int) and "seed" in settings
        else ""
    )
    return (
        "How to read the driver charts: each bar is a Shapley effect, the share of the "
        "target's variance that the input accounts for, its interactions with the other "
        "inputs (correlated ones included) shared fairly among them, so the effects of one "
        "target sum to one. For a prediction the target is its 0/1 indicator, whose variance "
        "is p(1 - p): an effect of 0.4 means the input accounts for 40 % of that variance. "
        '"shocks" is the share due to the year-to-year noise. Whiskers show each effect\'s '
        f"95 % interval (1.96 standard errors either side).{how}"
    )


def _table_markdown(header: list[str], body: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    lines += ["| " + " | ".join(str(c).replace("|", "/") for c in r) + " |" for r in body]
    return "\n".join(lines)


def _table_html(header: list[str], body: list[list[str]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    rows = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in r) + "</tr>" for r in body
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"


def _prediction_table(
    rows: list[dict], drivers: DriverEffects | None = None
) -> tuple[list[str], list[list[str]]]:
    header = ["id", "prediction", "probability", "95 % interval", "top driver"]
    body = []
    for r in rows:
        p, low, high = interval(r["probability"], r["std_error"], *r["ci95"])
        body.append([r["id"], r["text"], p, f"{low} to {high}", _top_driver(r, drivers)])
    return header, body


# the assumptions table's column of fit residuals, where inputs are given by percentiles
_RESIDUALS = "fit residual at each point (fitted quantile minus elicited value)"


def _assumption_table(data: ReportData) -> tuple[list[str], list[list[str]]]:
    header = ["input", "distribution", "from", "source or basis"]
    body = [[a["input"], a["distribution"], a["origin"], a["source"]] for a in data.assumptions]
    if data.elicited:
        header.append(_RESIDUALS)
        for cells, a in zip(body, data.assumptions, strict=True):
            cells.append(a["residuals"])
    return header, body


_ELICITED = (
    "Each input given by percentiles (a mixture's components one by one): the CDF of the "
    "distribution fitted to its points, and the points themselves. The assumptions table "
    "gives the fit's residual at each point: the fitted quantile at the point's probability "
    "minus the elicited value (zero, to rounding, where the points determine the family's "
    "parameters; a least-squares metalog with fewer terms than points leaves some)."
)


def _correlation_table(data: ReportData) -> tuple[list[str], list[list[str]]]:
    header = ["input", "input", "rank correlation", "from", "source or basis"]
    return header, [
        [*c.between, f"{c.rank:g}", c.origin, c.source] for c in data.config.correlations
    ]


_CORRELATIONS = "Rank (Spearman) correlations between inputs, as the config states them."


_STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;max-width:1100px;
margin:2em auto;padding:0 1em;color:#222;line-height:1.45}
h1{font-size:1.6em}h2{font-size:1.25em;margin-top:1.8em;border-bottom:1px solid #ccc}
table{border-collapse:collapse;font-size:.85em;margin:.6em 0}
td,th{border:1px solid #ccc;padding:.25em .5em;text-align:left;vertical-align:top}
th{background:#f2f2f2}figure{margin:1em 0}svg{max-width:100%;height:auto}
.summary li{margin:.3em 0}
"""


def _html(data: ReportData, rows: list[dict], svgs: dict) -> str:
    model = data.summary["model"]
    run = data.summary["run"]
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>{html.escape(model['title'] or model['name'])}: mcinfra report</title>",
        f"<style>{_STYLE}</style></head><body>",
        f"<h1>{html.escape(model['title'] or model['name'])}</h1>",
        f"<p>{run['draws']:,} draws, seed {run['seed']}, {model['start_year']}-"
        f"{model['end_year']}, {html.escape(model['unit'])}. mcinfra {run['mcinfra_version']}; "
        f"config sha256 {run['config_sha256'][:16]}{html.escape(_overrides(run))}. "
        f"{_quantile_method(data.summary)}</p>",
        "<h2>Executive summary</h2><ul class='summary'>",
        *(
            f"<li>{html.escape(_sentence(r, data.drivers))} <em>{html.escape(r['text'])}</em></li>"
            for r in rows
        ),
        "</ul>",
        "<h2>Predictions</h2>",
        _table_html(*_prediction_table(rows, data.drivers)),
    ]
    if data.drivers is not None:
        parts.append(f"<p class='how-to-read'>{html.escape(_how_to_read(data.drivers))}</p>")
    for name, (title, svg) in svgs.items():
        parts += [
            f"<h2>{html.escape(title)}</h2>" if not name.startswith("tornado") else "",
            f"<p>{html.escape(_ELICITED)}</p>" if name == "elicited" else "",
            f"<figure id='{name}'>{svg}</figure>",
        ]
    parts += [
        "<h2>Assumptions</h2>",
        "<p>Every input, its distribution, and whether it comes from the source "
        "analysis or is assumed.</p>",
        _table_html(*_assumption_table(data)),
    ]
    if data.config.correlations:
        parts += [
            "<h3>Rank correlations</h3>",
            f"<p>{html.escape(_CORRELATIONS)}</p>",
            _table_html(*_correlation_table(data)),
        ]
    parts += ["</body></html>"]
    return re.sub(r"\n\s*\n", "\n", "\n".join(parts))


def _markdown(data: ReportData, rows: list[dict], names: list[str]) -> str:
    model = data.summary["model"]
    run = data.summary["run"]

    parts = [
        f"# {model['title'] or model['name']}",
        "",
        f"{run['draws']:,} draws, seed {run['seed']}, {model['start_year']}-"
        f"{model['end_year']}, {model['unit']}{_overrides(run)}. {_quantile_method(data.summary)}",
        "",
        "## Executive summary",
        "",
    ]
    parts += [f"- {_sentence(r, data.drivers)} *{r['text']}*" for r in rows]
    parts += ["", "## Predictions", "", _table_markdown(*_prediction_table(rows, data.drivers)), ""]
    if data.drivers is not None:
        parts += [_how_to_read(data.drivers), ""]
    parts += ["## Figures", ""]
    parts += [f"![{n}](figures/{n}.svg)" for n in names]
    if data.elicited:
        parts += ["", _ELICITED]
    parts += ["", "## Assumptions", "", _table_markdown(*_assumption_table(data)), ""]
    if data.config.correlations:
        correlations = _table_markdown(*_correlation_table(data))
        parts += ["### Rank correlations", "", _CORRELATIONS, "", correlations, ""]
    return "\n".join(parts)
