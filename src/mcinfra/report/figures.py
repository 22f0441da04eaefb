"""Matplotlib figures drawn from precomputed summaries; nothing here computes statistics.

Colours come from the Okabe-Ito palette, which stays distinguishable with the common
forms of colour blindness. Every function returns a :class:`matplotlib.figure.Figure`
built without pyplot, styled inside :func:`style`, so that neither matplotlib's backend nor
its global ``rcParams`` change; save with :func:`save`, which applies the same style.
"""

from __future__ import annotations

import functools
import re
import textwrap

import numpy as np

BLUE, ORANGE, GREEN, VERMILLION, PINK, SKY, YELLOW, BLACK = (
    "#0072B2",
    "#E69F00",
    "#009E73",
    "#D55E00",
    "#CC79A7",
    "#56B4E9",
    "#F0E442",
    "#000000",
)
CYCLE = [BLUE, ORANGE, GREEN, VERMILLION, PINK, SKY, BLACK]
GREY = "#999999"  # no direction: a group of inputs, or the shocks
PRIOR_COLOUR, POSTERIOR_COLOUR = ORANGE, BLUE  # an update's report: before and after the news

STYLE = {
    # text as paths (no fonts to fetch) and a fixed id salt, so SVGs are identical run to run
    "svg.fonttype": "path",
    "svg.hashsalt": "mcinfra",
    "font.size": 9,
    "axes.titlesize": 10,
}


def style():
    """A context in which the report's settings (:data:`STYLE`) hold; restored on exit."""
    import matplotlib

    return matplotlib.rc_context(STYLE)


def _styled(build):
    """Run a figure builder inside :func:`style`."""

    @functools.wraps(build)
    def wrapper(*args, **kwargs):
        with style():
            return build(*args, **kwargs)

    return wrapper


def _figure(figsize: tuple[float, float]):
    """A new Figure on the non-interactive base canvas (no pyplot, no backend switch)."""
    from matplotlib.figure import Figure

    return Figure(figsize=figsize)


def _grid(fig, rows: int, cols: int, count: int) -> list:
    """The first ``count`` cells of a ``rows`` by ``cols`` grid as Axes, row by row.

    The cells left empty get no Axes (an Axes is costly to build, even hidden).
    """
    cells = fig.add_gridspec(rows, cols)
    return [fig.add_subplot(cells[i // cols, i % cols]) for i in range(count)]


def save(fig, target, **kwargs) -> None:
    """``fig.savefig(target, **kwargs)`` inside :func:`style` (the SVG settings apply on save)."""
    with style():
        fig.savefig(target, **kwargs)


# resolution of the PNG files (dots per inch)
PNG_DPI = 110
# space around text in font sizes: tight_layout's default padding
_PAD = 1.08
# a line of text is this many font sizes high, as matplotlib spaces lines
_LINE = 1.2


@functools.cache
def _measuring_renderer():
    """An Agg renderer at :data:`PNG_DPI`, whose hinted text is the widest the report draws."""
    from matplotlib.backends.backend_agg import RendererAgg

    return RendererAgg(1, 1, PNG_DPI)


def _text_width(text: str, size: float) -> float:
    """The width in points of the widest line of ``text`` at font size ``size``.

    Measured as the PNG draws it: hinting at that resolution widens text a little beyond
    the SVG's outlines, so a margin that fits the PNG fits the SVG.
    """
    from matplotlib import cbook
    from matplotlib.font_manager import FontProperties

    renderer = _measuring_renderer()
    font = FontProperties(size=size)
    widths = [
        renderer.get_text_width_height_descent(line, font, ismath=cbook.is_math_text(line))[0]
        for line in text.split("\n")
    ]
    return max(widths, default=0.0) * 72 / PNG_DPI


def _text_height(text: str, size: float) -> float:
    """The height in points of ``text`` at font size ``size`` (empty text: none)."""
    return (text.count("\n") + 1) * _LINE * size if text else 0.0


def _decorations(ax, figure_width: float) -> tuple[float, float, float, float]:
    """How far (points) the Axes' labels reach beyond its box: left, right, top, bottom.

    Measured from the strings of its tick labels, axis labels, title and the texts set
    beside it, so that no layout pass has to draw them; ``figure_width`` in points
    places the texts positioned in Axes coordinates.
    """
    import matplotlib

    rc = matplotlib.rcParams
    ticks = {
        name: [t for t in axis.get_ticklabels() + axis.get_ticklabels(minor=True) if t.get_text()]
        for name, axis in (("x", ax.xaxis), ("y", ax.yaxis))
    }
    y_labels = max((_text_width(t.get_text(), t.get_fontsize()) for t in ticks["y"]), default=0)
    x_labels = max((_text_height(t.get_text(), t.get_fontsize()) for t in ticks["x"]), default=0)
    left = y_labels + rc["ytick.major.size"] + rc["ytick.major.pad"]
    bottom = x_labels + rc["xtick.major.size"] + rc["xtick.major.pad"]
    for label, reach in ((ax.yaxis.label, "left"), (ax.xaxis.label, "bottom")):
        if label.get_text():
            extent = _text_height(label.get_text(), label.get_fontsize()) + rc["axes.labelpad"]
            if reach == "left":
                left += extent
            else:
                bottom += extent
    top = 0.0
    if ax.title.get_text():
        top = _text_height(ax.title.get_text(), ax.title.get_fontsize()) + rc["axes.titlepad"]
    # an x tick label at either end of the axis reaches half its width beyond the box
    low, high = ax.get_xlim()
    right = 0.0
    for t in ticks["x"]:
        where = (t.get_position()[0] - low) / (high - low)
        half = _text_width(t.get_text(), t.get_fontsize()) / 2
        if where < 0.05:
            left = max(left, half)
        if where > 0.95:
            right = max(right, half)
    for t in ax.texts:  # written in the right margin, at Axes x beyond 1
        x = t.get_position()[0]
        if x > 1:
            right = max(right, (x - 1) * figure_width + _text_width(t.get_text(), t.get_fontsize()))
    return left, right, top, bottom


def _minor_ticks_in_one_line(ax) -> None:
    """Draw the x axis's unlabelled minor ticks as one line of tick marks.

    matplotlib builds each tick as its own handful of artists, copied from the first; a
    log axis has eight minor ticks a decade, which took 41-70 % of the convergence chart's
    drawing time (docs/performance.md). The marks are the same markers as the
    ticks', at the places the axis would draw them, in the same style, on the same
    ``tick1`` transform. Where the minor ticks carry labels (an axis spanning about a
    decade or less), the axis keeps drawing them itself. Call it once the data are plotted
    and the Axes placed: the places follow the view limits and, through how many ticks
    fit, the Axes' size.
    """
    import matplotlib
    from matplotlib.lines import Line2D
    from matplotlib.markers import TICKDOWN, TICKUP, MarkerStyle
    from matplotlib.ticker import NullLocator

    axis = ax.xaxis
    low, high = sorted(axis.get_view_interval())
    places = axis.get_minorticklocs()
    scale = axis.get_transform()
    ends = scale.transform([low, high])
    # as the axis keeps a tick: inside the view limits, up to rounding in scale units
    tolerance = 1e-10 * (ends[1] - ends[0])
    shown = scale.transform(places)
    places = places[(shown >= ends[0] - tolerance) & (shown <= ends[1] + tolerance)]
    if not len(places) or any(axis.get_minor_formatter().format_ticks(places)):
        return
    axis.set_minor_locator(NullLocator())
    rc = matplotlib.rcParams
    shapes: dict[str, int | str] = {"out": TICKDOWN, "in": TICKUP, "inout": "|"}
    marker = MarkerStyle(shapes[rc["xtick.direction"]])
    marks = Line2D(
        places, np.zeros(len(places)), transform=ax.get_xaxis_transform("tick1"),
        linestyle="none", marker=marker, markersize=rc["xtick.minor.size"],
        markeredgewidth=rc["xtick.minor.width"], color=rc["xtick.color"],
        markeredgecolor=rc["xtick.color"], zorder=Line2D.zorder, clip_on=False,
    )  # fmt: skip
    ax.add_artist(marks)


def _layout(fig) -> None:
    """Place a grid of Axes so that its labels and titles fit, in one cheap pass.

    What ``tight_layout`` computes from drawn text, estimated from the strings
    (:func:`_decorations`): the same padding, at the edges and between the Axes.
    """
    width, height = fig.get_size_inches() * 72
    shown = [ax for ax in fig.axes if ax.get_visible()]
    rows, cols = fig.axes[0].get_subplotspec().get_geometry()[:2]
    reach = {}
    for ax in shown:
        spec = ax.get_subplotspec()
        reach[spec.rowspan.start, spec.colspan.start] = _decorations(ax, width)
    pad = _PAD * fig.axes[0].xaxis.label.get_fontsize()

    def most(index: int, cells) -> float:
        return max((reach[cell][index] for cell in cells if cell in reach), default=0.0)

    column = lambda c: [(r, c) for r in range(rows)]  # noqa: E731
    row = lambda r: [(r, c) for c in range(cols)]  # noqa: E731
    left = most(0, column(0)) + pad
    right = most(1, column(cols - 1)) + pad
    top = most(2, row(0)) + pad
    if fig._suptitle is not None and fig._suptitle.get_text():
        top += _text_height(fig._suptitle.get_text(), fig._suptitle.get_fontsize()) + pad
    bottom = most(3, row(rows - 1)) + pad
    across = max(
        (most(1, column(c)) + most(0, column(c + 1)) + pad for c in range(cols - 1)), default=0.0
    )
    down = max((most(3, row(r)) + most(2, row(r + 1)) + pad for r in range(rows - 1)), default=0.0)
    axes_width = (width - left - right - across * (cols - 1)) / cols
    axes_height = (height - top - bottom - down * (rows - 1)) / rows
    fig.subplots_adjust(
        left=left / width,
        right=1 - right / width,
        top=1 - top / height,
        bottom=bottom / height,
        wspace=across / axes_width,
        hspace=down / axes_height,
    )


def _wrap(text: str, width: int) -> str:
    """``text`` in lines of at most ``width`` characters, breaking ids after ``.`` or ``_``.

    Words and ids break at spaces, dots and underscores; a piece longer than ``width`` is
    cut, so no line is wider than ``width``.
    """
    lines = []
    for paragraph in text.split("\n"):
        line = ""
        for piece in re.split(r"(?<=[ ._])", paragraph):
            while len(piece) > width:
                if line:
                    lines.append(line.rstrip())
                    line = ""
                lines.append(piece[:width])
                piece = piece[width:]
            if len((line + piece).rstrip()) > width:
                lines.append(line.rstrip())
                line = piece.lstrip()
            else:
                line += piece
        lines.append(line.rstrip())
    return "\n".join(lines)


def fan(ax, years, quantiles: dict, colour=BLUE, label=None) -> None:
    """Median line with 50, 90 and 98 % bands from a {probability: values} mapping."""
    for (low, high), alpha in (((0.01, 0.99), 0.12), ((0.05, 0.95), 0.25), ((0.25, 0.75), 0.45)):
        if low in quantiles and high in quantiles:
            ax.fill_between(
                years, quantiles[low], quantiles[high], color=colour, alpha=alpha, linewidth=0
            )
    ax.plot(years, quantiles[0.5], color=colour, linewidth=1.8, label=label)


@_styled
def fan_charts(
    panels: list[dict],
    title: str,
    unit: str,
    log: bool = False,
    columns: int = 3,
    held: str = "draws",
):
    """Small multiples of fan charts, one per panel.

    The subtitle says the bands hold 50, 90 and 98 % of ``held`` (the draws; for a
    posterior, their weight).

    Each panel has ``title``, ``years``, ``fans`` (list of (label, quantiles, colour)),
    ``marks`` (source points: (year, value, text)), ``paths`` (source growth paths) and
    optionally ``observed`` (observations: (year, figure, low, high, text), drawn with
    their error bars).
    A source point's text goes to the legend, with its year, so it never sits on a band.
    """
    rows = max(1, int(np.ceil(len(panels) / columns)))
    cols = min(columns, len(panels))
    size = (7.0, 4.0) if len(panels) == 1 else (3.6 * cols, 2.8 * rows + 0.4)
    fig = _figure(size)
    axes = _grid(fig, rows, cols, len(panels))
    for ax, panel in zip(axes, panels, strict=True):
        for label, quantiles, colour in panel["fans"]:
            fan(ax, panel["years"], quantiles, colour, label)
        for year, value, text in panel.get("marks", []):
            ax.plot(
                [year], [value], linestyle="none", marker="D", color=VERMILLION, markersize=5,
                zorder=5, label=f"{text} ({year})",
            )  # fmt: skip
        for years, values, text in panel.get("paths", []):
            ax.plot(years, values, linestyle="--", color=VERMILLION, linewidth=1, label=text)
        for year, central, low, high, text in panel.get("observed", []):  # news, error bars
            ax.errorbar(
                [year], [central], yerr=[[central - low], [high - central]], fmt="s",
                color=VERMILLION, markersize=4, capsize=3, zorder=6, label=f"{text} ({year})",
            )  # fmt: skip
        ax.set_title(_wrap(panel["title"], 44 if len(panels) > 1 else 80))
        ax.set_xlabel("year")
        ax.set_ylabel(panel.get("unit") or unit)
        if log:
            ax.set_yscale("log")
        ax.set_xticks(panel["years"][::2])
        ax.grid(alpha=0.3)
        if (
            len(panel["fans"]) > 1
            or panel.get("paths")
            or panel.get("marks")
            or panel.get("observed")
        ):
            ax.legend(fontsize=7, frameon=False)
    fig.suptitle(
        f"{_wrap(title, max(80, 40 * cols))}\n"
        f"median line; bands hold 50 %, 90 % and 98 % of {held}",
        fontsize=9,
    )
    _layout(fig)
    return fig


def _prediction_axes(ax, y, labels: list[str], shown: list[str]) -> None:
    """Predictions down ``ax`` at ``y`` in their own words, probability from 0 to 1 across.

    Each prediction's ``shown`` probability is printed in the right margin, so that it never
    overlaps a bar.
    """
    ax.set_yticks(y, labels, fontsize=7)
    for yi, text in zip(y, shown, strict=True):
        ax.text(1.02, yi, text, va="center", fontsize=8, transform=ax.get_yaxis_transform())
    ax.set_xlim(0, 1)
    ax.set_xlabel("probability that the prediction holds (bars), 95 % interval (whiskers)")


@_styled
def probability_chart(rows: list[dict]):
    """Each prediction's probability with its 95 % interval, labelled with its own words."""
    fig = _figure((9, 0.8 * len(rows) + 1.2))
    ax = fig.subplots()
    y = np.arange(len(rows))[::-1]
    p = np.array([r["probability"] for r in rows])
    low = np.array([r["ci95"][0] for r in rows])
    high = np.array([r["ci95"][1] for r in rows])
    ax.barh(y, p, color=SKY, height=0.6)
    ax.errorbar(p, y, xerr=[p - low, high - p], fmt="none", ecolor=BLACK, capsize=4)
    labels = [textwrap.fill(f"{r['id']}: {r['text']}", 48) for r in rows]
    _prediction_axes(ax, y, labels, [r.get("shown", "") for r in rows])
    ax.set_title("Predictions")
    _layout(fig)
    return fig


@_styled
def tornado(prediction: str, drivers: list[dict], top: int = 8):
    """Inputs ranked by first-order index; bar colour shows the rank correlation's sign."""
    shown = drivers[:top][::-1]
    title = _wrap(f"{prediction}: top drivers", 60)
    fig = _figure((6.5, 0.35 * len(shown) + 1.4 + 0.15 * title.count("\n")))
    ax = fig.subplots()
    values = [max(d["first_order_index"], 0.0) for d in shown]
    colours = [BLUE if d["rank_correlation"] >= 0 else ORANGE for d in shown]
    ax.barh(range(len(shown)), values, color=colours)
    ax.set_yticks(range(len(shown)), [_wrap(d["input"], 48) for d in shown], fontsize=7)
    ax.set_xlabel("first-order index (share of the indicator's variance)")
    ax.set_title(f"{title}\nblue: raises the probability, orange: lowers it", fontsize=9)
    ax.grid(axis="x", alpha=0.3)
    _layout(fig)
    return fig


@_styled
def shapley_tornado(target: str, effects: list[dict], top: int = 8):
    """Players ranked by Shapley effect, each with its 95 % interval (effect +- ``interval``).

    Each effect has ``player``, ``shapley``, ``interval`` (the half-width, 1.96 standard
    errors) and ``rank_correlation`` (None for a group or the shocks: drawn grey).
    """
    shown = effects[:top][::-1]
    title = _wrap(f"{target}: top drivers by Shapley effect", 60)
    fig = _figure((6.5, 0.35 * len(shown) + 1.6 + 0.15 * title.count("\n")))
    ax = fig.subplots()
    colours = [
        GREY if e["rank_correlation"] is None else BLUE if e["rank_correlation"] >= 0 else ORANGE
        for e in shown
    ]
    positions = range(len(shown))
    ax.barh(positions, [e["shapley"] for e in shown], color=colours)
    ax.errorbar(
        [e["shapley"] for e in shown], positions, xerr=[e["interval"] for e in shown],
        fmt="none", ecolor=BLACK, capsize=3, linewidth=1,
    )  # fmt: skip
    ax.set_yticks(positions, [_wrap(e["player"], 48) for e in shown], fontsize=7)
    ax.axvline(0, color=BLACK, linewidth=0.6)
    ax.set_xlabel("Shapley effect (share of the variance) with 95 % interval")
    ax.set_title(f"{title}\nblue: raises it, orange: lowers it, grey: group or shocks", fontsize=9)
    ax.grid(axis="x", alpha=0.3)
    _layout(fig)
    return fig


@_styled
def elicited_cdfs(panels: list[dict], columns: int = 3):
    """Small multiples: each input's fitted CDF (line) through its elicited points (dots).

    Each panel has ``title``, ``curve`` (values, probabilities) and ``points`` (values,
    probabilities).
    """
    rows = max(1, int(np.ceil(len(panels) / columns)))
    cols = min(columns, len(panels))
    fig = _figure((3.4 * cols, 2.6 * rows + 0.4))
    axes = _grid(fig, rows, cols, len(panels))
    for ax, panel in zip(axes, panels, strict=True):
        values, probabilities = panel["curve"]
        ax.plot(values, probabilities, color=BLUE, linewidth=1.5)
        points_x, points_p = panel["points"]
        ax.plot(
            points_x, points_p, linestyle="none", marker="o", color=VERMILLION, markersize=5,
            zorder=5,
        )  # fmt: skip
        ax.set_title(_wrap(panel["title"], 40))
        ax.set_xlabel("value")
        ax.set_ylabel("P(input <= value)")
        ax.set_ylim(0, 1)
        ax.grid(alpha=0.3)
    fig.suptitle(
        "Inputs given by percentiles: fitted CDF (line) and the elicited points (dots)",
        fontsize=9,
    )
    _layout(fig)
    return fig


@_styled
def crossover_chart(rows: list[dict]):
    """Crossover year: probability per year (bars) and cumulative (lines), per entity."""
    fig = _figure((9, 3.2))
    bars, lines = fig.subplots(1, 2)
    width = 0.8 / max(len(rows), 1)
    for i, row in enumerate(rows):
        years = [int(y) for y in row["probability_by_year"]]
        cumulative = np.array(list(row["probability_by_year"].values()))
        per_year = np.diff(np.concatenate([[0.0], cumulative]))
        colour = CYCLE[i % len(CYCLE)]
        bars.bar(
            np.array(years) + (i - (len(rows) - 1) / 2) * width,
            per_year,
            width=width,
            color=colour,
            label=row["entity"],
        )
        lines.step(years, cumulative, where="post", color=colour, label=row["entity"])
    bars.set_title("probability of crossing in each year")
    lines.set_title("probability of having crossed by each year")
    for ax in (bars, lines):
        ax.set_xlabel("year")
        ax.set_ylabel("probability")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, frameon=False)
    _layout(fig)
    return fig


@_styled
def convergence_chart(series: dict):
    """Each probability against draws with its 95 % band: {id: (draws, p, low, high)}."""
    count = len(series)
    cols = min(count, 3)
    rows = int(np.ceil(count / cols))
    fig = _figure((3.4 * cols, 2.6 * rows))
    axes = _grid(fig, rows, cols, count)
    for i, (ax, (name, (draws, p, low, high))) in enumerate(zip(axes, series.items(), strict=True)):
        colour = CYCLE[i % len(CYCLE)]
        ax.fill_between(draws, low, high, color=colour, alpha=0.3, linewidth=0)
        ax.plot(draws, p, color=colour, marker=".", markersize=3)
        ax.set_xscale("log")
        ax.set_title(_wrap(name, 40))
        ax.set_xlabel("draws")
        ax.set_ylabel("probability")
        ax.grid(alpha=0.3)
    fig.suptitle("Convergence: each probability with its 95 % band as draws accumulate", fontsize=9)
    _layout(fig)
    for ax in axes:  # once the Axes have their size: it sets how many ticks fit
        _minor_ticks_in_one_line(ax)
    return fig


@_styled
def sweep_chart(result: dict):
    """Each prediction's probability, with its 95 % interval, against the swept value."""
    labels = [str(point["value"]) for point in result["points"]]
    try:
        positions = [float(label) for label in labels]
    except ValueError:  # values that are not numbers are placed in order
        positions = list(range(len(labels)))
    fig = _figure((7.0, 4.0))
    ax = fig.subplots()
    ids = [p["id"] for p in result["points"][0]["predictions"]]
    for i, pid in enumerate(ids):
        rows = [
            next(p for p in point["predictions"] if p["id"] == pid) for point in result["points"]
        ]
        probability = [r["probability"] for r in rows]
        low = [r["probability"] - r["ci95"][0] for r in rows]
        high = [r["ci95"][1] - r["probability"] for r in rows]
        ax.errorbar(
            positions, probability, yerr=[low, high], marker="o", capsize=3,
            color=CYCLE[i % len(CYCLE)], label=pid,
        )  # fmt: skip
    ax.set_xticks(positions, labels)
    ax.set_xlabel(result["param"])
    ax.set_ylabel("probability the prediction holds")
    ax.set_ylim(-0.02, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, frameon=False)
    fig.tight_layout()
    return fig


@_styled
def prior_posterior_chart(rows: list[dict]):
    """Each prediction's prior and posterior probability side by side, 95 % whiskers."""
    fig = _figure((9, 1.0 * len(rows) + 1.4))
    ax = fig.subplots()
    y = np.arange(len(rows))[::-1].astype(float)
    height = 0.36
    for offset, (name, key, low, high, colour) in zip(
        (height / 2, -height / 2),
        (("prior", "prior", "prior_ci95_low", "prior_ci95_high", PRIOR_COLOUR),
         ("posterior", "posterior", "ci95_low", "ci95_high", POSTERIOR_COLOUR)),
        strict=True,
    ):  # fmt: skip
        p = np.array([r[key] for r in rows])
        lows = np.array([r.get(low, r[key]) for r in rows])
        highs = np.array([r.get(high, r[key]) for r in rows])
        ax.barh(y + offset, p, height=height, color=colour, alpha=0.8, label=name)
        ax.errorbar(
            p, y + offset, xerr=[p - lows, highs - p], fmt="none", ecolor=BLACK,
            capsize=3,
        )  # fmt: skip
    labels = [_wrap(f"{r['id']}: {r['text']}", 48) for r in rows]
    shown = [f"{r['shown_prior']} -> {r['shown_posterior']}" for r in rows]
    _prediction_axes(ax, y, labels, shown)
    ax.set_title("Predictions before (prior) and after (posterior) the observations")
    ax.legend(fontsize=7, frameon=False, loc="lower right")
    _layout(fig)
    return fig


@_styled
def moved_inputs_chart(rows: list[dict]):
    """Prior and posterior median and 90 % range of each input, in the prior's SDs."""
    fig = _figure((8, 0.45 * len(rows) + 1.5))
    ax = fig.subplots()
    y = np.arange(len(rows))[::-1].astype(float)
    for offset, key, colour, name in (
        (0.12, "prior_range", PRIOR_COLOUR, "prior"),
        (-0.12, "posterior_range", POSTERIOR_COLOUR, "posterior"),
    ):
        low, median, high = (np.array([r[key][k] for r in rows]) for k in range(3))
        ax.hlines(y + offset, low, high, color=colour, linewidth=2.5, label=f"{name} 90 % range")
        ax.plot(median, y + offset, "o", color=colour, markersize=5, label=f"{name} median")
    ax.axvline(0.0, color=BLACK, linewidth=0.8, alpha=0.5)
    ax.set_yticks(y, [_wrap(r["input"], 44) for r in rows], fontsize=7)
    ax.set_xlabel("prior standard deviations from the prior median (SD = 90 % range / 3.29)")
    ax.set_title(
        "Inputs the observations moved most (largest |median shift| first)\n"
        "orange: prior, blue: posterior; dot: median, line: 90 % range",
        fontsize=9,
    )
    ax.grid(axis="x", alpha=0.3)
    _layout(fig)
    return fig
