"""The report: built from summaries only, self-contained, and reproducible from a run."""

from __future__ import annotations

import base64
import contextlib
import io
import json
import multiprocessing
import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

import mcinfra
from conftest import MINIMAL, boxes_fit_apart
from mcinfra.cli import main
from mcinfra.report import figures

FIGURES = [
    "fan_total",
    "fan_offering",
    "fan_channel",
    "fan_region",
    "fan_function",
    "fan_other",
    "probabilities",
    "tornado_P1",
    "tornado_P5",
    "crossover",
    "convergence",
]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("report") / "run"
    args = ["run", "--draws", "4000", "--chunk-size", "1000", "--out", str(out), "--quiet"]
    assert main([*args, "--set", "total.shock.phi=0.35"]) == 0
    return out


def test_report_states_the_overrides_and_the_quantile_method(run_dir):
    text = (run_dir / "report.md").read_text()
    assert "with --set total.shock.phi=0.35" in text
    assert "Quantiles are exact order statistics" in text  # 4000 draws fit in memory
    assert "with --set total.shock.phi=0.35" in (run_dir / "report.html").read_text()


def test_report_holds_every_figure_and_table_and_nothing_external(run_dir):
    page = (run_dir / "report.html").read_text()
    for name in FIGURES:
        assert f"<figure id='{name}'>" in page, name
        assert (run_dir / "figures" / f"{name}.svg").exists()
        # PNGs only where asked (--png), and the README's figure
        assert (run_dir / "figures" / f"{name}.png").exists() == (name == "fan_total")
    assert (run_dir / "figures" / "fan_total.png").stat().st_size > 1000
    assert "Executive summary" in page and "Assumptions" in page
    assert page.count("<li>") == 5  # one sentence per prediction
    assert "offering.network.cagr" in page and "mixed" in page and "assumption" in page
    assert not re.search(r"(src|href)\s*=\s*['\"]?https?:", page)
    assert not re.search(r"url\(\s*['\"]?https?:", page)
    assert "<script" not in page


def test_assumptions_show_every_rank_correlation(run_dir):
    import tomllib

    config = tomllib.loads((run_dir / "config.toml").read_text())
    text = (run_dir / "report.md").read_text()
    section = text[text.index("## Assumptions") :]
    assert "### Rank correlations" in section
    assert len(config["correlations"]) == 8
    for c in config["correlations"]:
        first, second = c["between"]
        row = f"| {first} | {second} | {c['rank']:g} | assumption | {c['source']} |"
        assert row in section, row
    page = (run_dir / "report.html").read_text()
    assert "<h3>Rank correlations</h3>" in page
    assert "<td>offering.compute.cagr</td><td>offering.network.cagr</td><td>0.3</td>" in page


def test_report_png_option_writes_every_figure_as_png(run_dir, tmp_path, capsys):
    copy = tmp_path / "copy"
    shutil.copytree(run_dir, copy)
    assert main(["report", str(copy), "--quiet", "--png"]) == 0
    for name in FIGURES:
        assert (copy / "figures" / f"{name}.png").stat().st_size > 1000, name
    svgs = len(list((copy / "figures").glob("*.svg")))
    assert f"and {2 * svgs} figure files" in capsys.readouterr().out
    assert main(["report", str(copy), "--quiet"]) == 0  # stale PNGs do not stay behind
    assert sorted(p.name for p in (copy / "figures").glob("*.png")) == ["fan_total.png"]


def test_run_png_option_writes_every_figure_as_png(tmp_path):
    out = tmp_path / "run"
    args = ["run", "--draws", "2000", "--chunk-size", "1000", "--out", str(out), "--quiet"]
    assert main([*args, "--png"]) == 0
    svgs = sorted(p.stem for p in (out / "figures").glob("*.svg"))
    assert sorted(p.stem for p in (out / "figures").glob("*.png")) == svgs
    assert set(FIGURES) <= set(svgs)


def test_embedded_images_are_valid_svg(run_dir):
    page = (run_dir / "report.html").read_text()
    svgs = re.findall(r"<svg.*?</svg>", page, flags=re.S)
    assert len(svgs) == page.count("<figure id=") >= len(FIGURES)
    for svg in svgs:
        root = ET.fromstring(svg)
        assert root.tag.endswith("svg")
    for data in re.findall(r"data:image/png;base64,([A-Za-z0-9+/=]+)", page):
        assert base64.b64decode(data).startswith(b"\x89PNG")


def test_report_command_reproduces_the_tables(run_dir, tmp_path, capsys):
    copy = tmp_path / "copy"
    shutil.copytree(run_dir, copy)
    for path in ("report.html", "report.md"):
        (copy / path).unlink()
    shutil.rmtree(copy / "figures")
    assert main(["report", str(copy)]) == 0
    original = (run_dir / "report.md").read_text()
    rebuilt = (copy / "report.md").read_text()
    assert original == rebuilt
    assert "| P1 |" in rebuilt and "## Assumptions" in rebuilt


def test_figures_draw_from_summaries_only():
    rows = [
        {"id": "P1", "text": "something", "probability": 0.3, "ci95": [0.25, 0.35], "shown": "0.3"}
    ]
    fig = figures.probability_chart(rows)
    bars = [p for p in fig.axes[0].patches]
    assert len(bars) == 1 and bars[0].get_width() == pytest.approx(0.3)
    drivers = [
        {"input": "a", "first_order_index": 0.5, "rank_correlation": -0.4},
        {"input": "b", "first_order_index": 0.1, "rank_correlation": 0.2},
    ]
    fig = figures.tornado("P1", drivers)
    widths = sorted(p.get_width() for p in fig.axes[0].patches)
    assert widths == [0.1, 0.5]
    assert fig.axes[0].patches[1].get_facecolor()[:3] != fig.axes[0].patches[0].get_facecolor()[:3]


_GLOBAL_STATE = """
import json, sys
import matplotlib
def state():
    # dict's own items: RcParams.items() would resolve (and so import) the backend
    params = {key: repr(value) for key, value in dict.items(matplotlib.rcParams)}
    return params, dict.__getitem__(matplotlib.rcParams, "backend")
before = state()
from mcinfra.report.build import build_report
build_report(sys.argv[1])
after = state()
print(json.dumps({
    "changed": sorted(k for k in before[0] if before[0][k] != after[0].get(k)),
    "backend": [repr(before[1]), repr(after[1])],
    "pyplot": "matplotlib.pyplot" in sys.modules,
}))
"""


def _python(code: str, *args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    """Run ``code`` in a fresh interpreter that imports this checkout's mcinfra."""
    env = dict(os.environ, PYTHONPATH=str(Path(mcinfra.__file__).parents[1]))
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True, text=True, env=env, timeout=timeout, check=True,
    )  # fmt: skip


def test_building_the_report_leaves_matplotlib_global_state_alone(run_dir, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(run_dir, copy)
    shutil.rmtree(copy / "figures")
    done = _python(_GLOBAL_STATE, str(copy))
    state = json.loads(done.stdout.splitlines()[-1])
    assert state["changed"] == []
    assert state["backend"][0] == state["backend"][1]  # never chosen, never switched
    assert not state["pyplot"]
    assert (copy / "figures" / "fan_total.svg").read_text() == (
        run_dir / "figures" / "fan_total.svg"
    ).read_text()  # the style still applies: same SVG as the run wrote


def test_figures_keep_their_style_without_changing_rcparams():
    import matplotlib

    before = {key: repr(value) for key, value in dict.items(matplotlib.rcParams)}
    fig = figures.tornado("P1", [{"input": "a", "first_order_index": 0.5, "rank_correlation": 1}])
    after = {key: repr(value) for key, value in dict.items(matplotlib.rcParams)}
    assert before == after
    assert fig.axes[0].xaxis.label.get_fontsize() == figures.STYLE["font.size"]


_PARALLEL = """
import sys
from pathlib import Path
from mcinfra.report import build
assert build._workers() == int(sys.argv[3]), build._workers()
build.build_report(Path(sys.argv[1]))  # figures drawn in forked workers
build._workers = lambda: 0
build.build_report(Path(sys.argv[2]))  # and here
"""


@pytest.mark.skipif(
    "fork" not in multiprocessing.get_all_start_methods() or len(os.sched_getaffinity(0)) < 2,
    reason="figures are drawn in forked workers only where fork and two cores exist",
)
def test_figures_drawn_in_worker_processes_equal_those_drawn_in_one(run_dir, tmp_path):
    copies = [tmp_path / "workers", tmp_path / "one"]
    for copy in copies:
        shutil.copytree(run_dir, copy)
    cores = str(len(os.sched_getaffinity(0)))
    _python(_PARALLEL, *map(str, copies), cores)
    names = sorted(p.name for p in (copies[0] / "figures").iterdir())
    assert names == sorted(p.name for p in (copies[1] / "figures").iterdir())
    for name in ["report.html", "report.md", *(f"figures/{n}" for n in names)]:
        assert (copies[0] / name).read_bytes() == (copies[1] / name).read_bytes(), name


_FAILING_WORKER = """
from mcinfra.report import build
workers = build._DrawingWorkers(2)
good = ("tornado", ("P1", [{"input": "a", "first_order_index": 0.5, "rank_correlation": 1}]), None)
try:
    list(workers.draw([good, ("no_such_figure", (), None), good], lambda number: None))
except AttributeError as exc:
    print("raised:", exc)
finally:
    workers.close()
print("closed")
"""


@pytest.mark.skipif(
    "fork" not in multiprocessing.get_all_start_methods(),
    reason="figures are drawn in forked workers only where fork exists",
)
def test_a_figure_that_fails_in_a_worker_fails_here_and_stops_the_workers():
    done = _python(_FAILING_WORKER, timeout=120)
    lines = done.stdout.splitlines()
    assert lines[0].startswith("raised: ") and "no_such_figure" in lines[0]
    assert lines[1] == "closed"


_KILLED_WORKER = """
import os, signal
from mcinfra.report import build
workers = build._DrawingWorkers(1)
good = ("tornado", ("P1", [{"input": "a", "first_order_index": 0.5, "rank_correlation": 1}]), None)
print(len(list(workers.draw([good], lambda number: None))))
os.kill(workers._first.pid, signal.SIGTERM)  # ignored: the reader stops the workers
print(len(list(workers.draw([good, good], lambda number: None))))
os.kill(workers._first.pid, signal.SIGKILL)
try:
    list(workers.draw([good], lambda number: None))
except RuntimeError as exc:
    print("raised:", exc)
workers.close()
print("closed")
"""


@pytest.mark.skipif(
    "fork" not in multiprocessing.get_all_start_methods(),
    reason="figures are drawn in forked workers only where fork exists",
)
def test_drawing_workers_ignore_a_scheduler_signal_and_a_killed_one_ends_the_wait():
    done = _python(_KILLED_WORKER, timeout=120)
    assert done.stdout.splitlines() == [
        "1",
        "2",
        "raised: the drawing workers stopped before drawing every figure",
        "closed",
    ]


_RUN_WITH_REPORT = """
import sys
from mcinfra.config import load_config
from mcinfra.report import build
from mcinfra.runs.pipeline import run_to_directory
from mcinfra.sampling.engine import settings_from

forked = []
start = build._DrawingWorkers.__init__
build._DrawingWorkers.__init__ = lambda self, count: forked.append(count) or start(self, count)
loaded = load_config(sys.argv[1], ())
run_to_directory(loaded, settings_from(loaded, draws=20_000, seed=5), sys.argv[2], report=True)
print(forked)
"""


@pytest.mark.skipif(
    "fork" not in multiprocessing.get_all_start_methods() or len(os.sched_getaffinity(0)) < 2,
    reason="figures are drawn in forked workers only where fork and two cores exist",
)
def test_a_run_draws_its_report_in_workers_forked_before_it_samples(tmp_path):
    config = tmp_path / "minimal.toml"
    config.write_text(MINIMAL)
    done = _python(_RUN_WITH_REPORT, str(config), str(tmp_path / "run"))
    assert done.stdout.splitlines()[-1] == f"[{len(os.sched_getaffinity(0))}]"
    copy = tmp_path / "again"
    shutil.copytree(tmp_path / "run", copy)
    assert main(["report", str(copy), "--quiet"]) == 0
    for name in [
        "report.html",
        "report.md",
        *(f"figures/{p.name}" for p in (copy / "figures").iterdir()),
    ]:
        assert (copy / name).read_bytes() == (tmp_path / "run" / name).read_bytes(), name


def test_report_command_shows_what_it_draws_unless_quiet(run_dir, tmp_path, capsys):
    copy = tmp_path / "copy"
    shutil.copytree(run_dir, copy)
    assert main(["report", str(copy)]) == 0
    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    count = len(list((run_dir / "figures").glob("*.svg")))
    assert lines[0] == f"mcinfra: report: drawing figure 1 of {count}, fan_total"
    drawn = [
        re.fullmatch(rf"mcinfra: report: drawing figure \d+ of {count}, (\w+)", line)
        for line in lines[:-1]
    ]
    assert all(drawn) and len(drawn) == count
    assert set(FIGURES) <= {match.group(1) for match in drawn}
    assert lines[-1] == "mcinfra: report: writing report.html and report.md"
    assert "report: " not in captured.out
    assert main(["report", str(copy), "--quiet"]) == 0
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize("quiet", [False, True])
def test_run_shows_the_report_being_drawn_unless_quiet(write_config, tmp_path, capsys, quiet):
    out = tmp_path / "run"
    args = ["run", str(write_config(MINIMAL)), "--out", str(out)]
    assert main(args + (["--quiet"] if quiet else [])) == 0
    err = capsys.readouterr().err
    if quiet:
        assert err == ""
    else:
        assert "mcinfra: report: drawing figure 1 of 1, fan_total" in err.splitlines()
        assert "mcinfra: report: writing report.html and report.md" in err.splitlines()
    assert "Rank correlations" not in (out / "report.md").read_text()  # the model has none


DENSE = """
[model]
name = "dense"
start_year = 2024
end_year = 2030

[sampling]
draws = 2000
seed = 3

[total]
base = 100.0
cagr = { dist = "normal", mean = 0.10, sd = 0.02 }
shock = { sd = 0.02, phi = 0.0 }

[partitions.deployment_density_class]
shock = { sd = 0.02, phi = 0.0 }

[partitions.deployment_density_class.segments.liquid_cooled_high_density_racks_of_accelerators]
share = 0.4
cagr = { dist = "normal", mean = 0.15, sd = 0.03 }

[partitions.deployment_density_class.segments.air_cooled]
share = 0.6
cagr = { dist = "normal", mean = 0.06, sd = 0.03 }

[function_split]
partition = "deployment_density_class"
rising = "high_density"
falling = "standard"
crossover_report = ["total"]

[function_split.segments.liquid_cooled_high_density_racks_of_accelerators]
crossover = { dist = "uniform", low = 2025.0, high = 2029.0 }
steepness = { dist = "uniform", low = 0.3, high = 0.6 }

[function_split.segments.air_cooled]
crossover = { dist = "uniform", low = 2026.0, high = 2030.0 }
steepness = { dist = "uniform", low = 0.3, high = 0.6 }

[[correlations]]
between = ["deployment_density_class.air_cooled.cagr", "total.cagr"]
rank = 0.4
source = "assumption: dense racks follow the market"

[[source_figures]]
series = "air_cooled"
year = 2024
value = 60
description = "air-cooled spend, 2024"

[predictions.high_density_overtakes_standard_by_2027_everywhere]
text = "High-density spending overtakes standard spending by 2027."
expr = "total_high_density[2027] > total_standard[2027]"

[predictions.P2]
text = "The market grows."
expr = "total[2030] > 150"
"""
LONG_ID = "high_density_overtakes_standard_by_2027_everywhere"


@pytest.fixture(scope="module")
def dense_run(tmp_path_factory):
    """A run of a model with long ids and a function split high_density vs standard."""
    root = tmp_path_factory.mktemp("dense")
    config = root / "dense.toml"
    config.write_text(DENSE, encoding="utf-8")
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        assert main(["run", str(config), "--out", str(root / "run"), "--quiet"]) == 0
    return root / "run", printed.getvalue()


def test_headings_show_ids_as_written(dense_run):
    page = (dense_run[0] / "report.html").read_text()
    assert "<h2>Function split: high_density vs standard (USD billion)</h2>" in page
    assert "<h2>Partition deployment_density_class: segments and groups (USD billion)</h2>" in page
    assert "High_density" not in page and "Deployment_density" not in page


def _outside(fig) -> list[str]:
    """The titles and labels of ``fig`` that reach beyond its edges once drawn."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    renderer = canvas.get_renderer()
    edges = fig.bbox.padded(0.5)
    texts = [fig._suptitle] if fig._suptitle is not None else []
    for ax in fig.axes:
        texts += [ax.title, ax.xaxis.label, ax.yaxis.label, *ax.get_yticklabels()]
        texts += ax.get_legend().get_texts() if ax.get_legend() else []
    cut = []
    for text in texts:
        box = text.get_window_extent(renderer)
        inside = edges.x0 <= box.x0 and box.x1 <= edges.x1 and edges.y0 <= box.y0
        if text.get_text() and not (inside and box.y1 <= edges.y1):
            cut.append(text.get_text())
    return cut


def test_long_ids_fit_inside_their_figures():
    long_input = "deployment_density_class.liquid_cooled_high_density_racks_of_accelerators.cagr"
    drivers = [
        {"input": long_input, "first_order_index": 0.4, "rank_correlation": 0.5},
        {"input": "total.cagr", "first_order_index": 0.1, "rank_correlation": -0.2},
    ]
    fig = figures.tornado(LONG_ID, drivers)
    assert _outside(fig) == []
    title = fig.axes[0].get_title()
    assert " ".join(title.split()).startswith(f"{LONG_ID}: top drivers")  # wrapped, not cut
    years = list(range(2024, 2031))
    quantiles = {
        p: np.linspace(40, 90, 7) * (1 + p) for p in (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99)
    }
    panel = {"years": years, "fans": [("a", quantiles, figures.BLUE)]}
    panels = [
        panel | {"title": "liquid_cooled_high_density_racks_of_accelerators_high_density"},
        panel | {"title": "air_cooled"},
    ]
    fig = figures.fan_charts(panels, "Partition deployment_density_class: segments", "USD")
    assert _outside(fig) == []


def test_source_figures_are_named_in_the_legend_not_on_the_band():
    years = list(range(2024, 2031))
    quantiles = {
        p: np.linspace(55, 90, 7) * (0.5 + p) for p in (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99)
    }
    panel = {
        "title": "air_cooled", "years": years, "fans": [("air_cooled", quantiles, figures.BLUE)],
        "marks": [(2024, 60.0, "source 60")],
    }  # fmt: skip
    fig = figures.fan_charts([panel], "Total", "USD")
    ax = fig.axes[0]
    assert len(ax.texts) == 0  # nothing written over the bands
    assert "source 60 (2024)" in [t.get_text() for t in ax.get_legend().get_texts()]
    marker = [line for line in ax.lines if line.get_label() == "source 60 (2024)"]
    assert marker and marker[0].get_xydata().tolist() == [[2024.0, 60.0]]


def test_bad_run_directory_exits_2(tmp_path, capsys):
    assert main(["report", str(tmp_path)]) == 2
    assert "is not a finished mcinfra run" in capsys.readouterr().err


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if path := shutil.which(name):
            return path
    return None


@pytest.mark.skipif(
    _chromium() is None,
    reason="Chromium is not installed (.ci/run installs Debian's chromium where it can)",
)
def test_report_renders_in_headless_chromium(run_dir, tmp_path):
    shot = tmp_path / "shot.png"
    profile = tmp_path / "profile"
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--user-data-dir={profile}",
    ]
    page = Path(run_dir / "report.html").as_uri()
    result = subprocess.run(
        [
            _chromium(),
            *flags,
            "--enable-logging=stderr",
            "--v=0",
            f"--screenshot={shot}",
            "--window-size=1200,2000",
            page,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    # A blank page at this window size screenshots to about 11 KB, this report to ~250 KB.
    assert shot.exists() and shot.stat().st_size > 20_000
    console = [line for line in result.stderr.splitlines() if "CONSOLE" in line]
    assert not [line for line in console if "error" in line.lower()], console
    dom = subprocess.run(
        [_chromium(), *flags, "--dump-dom", page], capture_output=True, text=True, timeout=120
    )
    assert "Executive summary" in dom.stdout and dom.stdout.count("<svg") >= len(FIGURES)


def test_report_reads_the_quantiles_of_the_netcdf_file_from_the_csv(run_dir):
    import xarray as xr

    from mcinfra.report.data import load_report_data

    cube = load_report_data(run_dir).quantiles
    with xr.open_dataset(run_dir / "quantiles.nc", engine="scipy") as opened:
        dataset = opened.load()
    assert cube.segments == [str(s) for s in dataset.segment.values]
    assert cube.years == [int(y) for y in dataset.year.values]
    assert cube.probs == [float(p) for p in dataset["quantile"].values]
    np.testing.assert_array_equal(cube.value, dataset["value"].values)
    assert cube.at("total", 2030, 0.5) == float(
        dataset["value"].sel(segment="total", year=2030, quantile=0.5)
    )


def test_report_fills_the_cells_a_series_does_not_tabulate_with_nan():
    from mcinfra.report.data import QuantileCube

    rows = [
        {"segment": "a", "year": "2025", "quantile": "0.5", "value": "2.0"},
        {"segment": "a", "year": "2024", "quantile": "0.5", "value": "1.0"},
        {"segment": "b", "year": "2025", "quantile": "0.5", "value": "3.0"},
    ]
    cube = QuantileCube.from_rows(rows)
    assert (cube.segments, cube.years, cube.probs) == (["a", "b"], [2024, 2025], [0.5])
    np.testing.assert_array_equal(cube.series("a"), [[1.0], [2.0]])
    assert np.isnan(cube.at("b", 2024, 0.5)) and cube.at("b", 2025, 0.5) == 3.0


def test_report_of_a_run_with_a_broken_quantile_table_exits_2(run_dir, tmp_path, capsys):
    copy = tmp_path / "copy"
    shutil.copytree(run_dir, copy)
    (copy / "quantiles.csv").write_text("segment,year\ntotal,twenty\n", encoding="utf-8")
    assert main(["report", str(copy)]) == 2
    err = capsys.readouterr().err
    assert "quantiles.csv: not a table of quantiles: " in err and "Traceback" not in err


def test_report_of_an_edited_config_checks_it_in_full(run_dir, tmp_path, capsys):
    # The run's own config.toml is read for its structure only; another text is checked.
    copy = tmp_path / "copy"
    shutil.copytree(run_dir, copy)
    text = (copy / "config.toml").read_text(encoding="utf-8")
    edited = re.sub(
        r"(\[predictions\.\w+\]\n(?:.*\n)*?)expr = .*",
        r'\1expr = "nosuch[2030] > 1"',
        text,
        count=1,
    )
    assert edited != text
    (copy / "config.toml").write_text(edited, encoding="utf-8")
    (copy / "report.html").unlink()
    assert main(["report", str(copy)]) == 2
    err = capsys.readouterr().err
    assert "expr: unknown series 'nosuch'" in err and "Traceback" not in err
    assert not (copy / "report.html").exists()


def test_every_figure_keeps_its_labels_on_its_canvas_and_apart(run_dir):
    from mcinfra.report import build
    from mcinfra.report.data import load_report_data

    data = load_report_data(run_dir)
    rows = data.summary["predictions"]
    for row in rows:
        row["shown"] = "0.5"
    plan = build._figure_plan(data, rows, log=False)
    assert {name for name, _, _ in plan} >= set(FIGURES)
    for name, _, (builder, args) in plan:
        boxes_fit_apart(getattr(figures, builder)(*args), name)


@pytest.mark.parametrize("labels", [["1", "2"], ["a much longer label of an input " * 2, "b"]])
def test_a_tornado_fits_labels_of_any_length(labels):
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    drivers = [{"input": s, "first_order_index": 0.5, "rank_correlation": 1} for s in labels]
    fig = figures.tornado("P1", drivers)
    fig.set_dpi(figures.PNG_DPI)
    with figures.style():
        box = fig.get_tightbbox(FigureCanvasAgg(fig).get_renderer())
    width, height = fig.get_size_inches()
    assert box.x0 >= 0 and box.y0 >= 0 and box.x1 <= width and box.y1 <= height


def _convergence_series(first: int, last: int) -> dict:
    draws = np.unique(np.geomspace(first, last, 12).astype(int))
    p = np.linspace(0.3, 0.4, draws.size)
    return {"P1": (draws, p, p - 0.05, p + 0.05), "P2": (draws, 1 - p, 0.6 - p, 0.8 - p)}


def _png_pixels(fig) -> np.ndarray:
    import matplotlib.image

    buffer = io.BytesIO()
    figures.save(fig, buffer, format="png", dpi=figures.PNG_DPI)
    buffer.seek(0)
    return matplotlib.image.imread(buffer)


@pytest.mark.parametrize(
    ("first", "last", "minor"), [(1_000, 1_000_000, True), (200, 5_000_000_000, False)]
)
def test_minor_ticks_drawn_in_one_line_look_as_the_axis_draws_them(first, last, minor, monkeypatch):
    from matplotlib.markers import TICKDOWN

    series = _convergence_series(first, last)
    fig = figures.convergence_chart(series)
    ax = fig.axes[0]
    assert len(ax.xaxis.get_minorticklocs()) == 0  # the axis draws no minor tick itself
    marks = [line for line in ax.lines if line.get_marker() == TICKDOWN]
    assert len(marks) == minor  # none where these panels are too narrow for minor ticks
    drawn = _png_pixels(fig)
    monkeypatch.setattr(figures, "_minor_ticks_in_one_line", lambda ax: None)
    by_the_axis = figures.convergence_chart(series)
    places = by_the_axis.axes[0].xaxis.get_minorticklocs()
    low, high = by_the_axis.axes[0].get_xlim()
    places = places[(places >= low) & (places <= high)]  # those the axis draws
    if minor:
        assert len(marks[0].get_xdata()) > 10
        np.testing.assert_array_equal(marks[0].get_xdata(), places)
    np.testing.assert_array_equal(drawn, _png_pixels(by_the_axis))


def test_labelled_minor_ticks_are_left_to_the_axis():
    # less than a decade: the log axis labels some minor ticks, so it draws them itself
    fig = figures.convergence_chart(_convergence_series(20_000, 90_000))
    ax = fig.axes[0]
    assert len(ax.xaxis.get_minorticklocs()) > 0
    assert [line.get_marker() for line in ax.lines] == ["."] * len(ax.lines)
