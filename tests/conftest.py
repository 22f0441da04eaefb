"""Shared fixtures and the statistical tolerance used by every stochastic test."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import settings
from scipy.stats import norm

# CI explores the same examples every run, so a submission never fails by chance; local
# runs explore new ones (a failure found there is added as an explicit regression case).
# No per-example deadline: first calls compile numba kernels, and these 2-core machines are
# noisy, so timing would fail examples that are correct.
settings.register_profile("ci", derandomize=True, deadline=None)
settings.register_profile("local", deadline=None)
settings.load_profile("ci" if os.environ.get("CI") else "local")


ALPHA = 1e-6
"""False-alarm rate of one statistical comparison."""
Z = float(norm.isf(ALPHA / 2))
"""Two-sided critical value for ALPHA (about 4.89 standard errors)."""


def interrupt_at(draws: int, signum: int | None = None):
    """A run's progress callback that interrupts it once ``draws`` draws are done.

    With ``signum`` it raises the command line's :class:`~mcinfra.errors.Interrupted` for
    that signal; without, a plain ``KeyboardInterrupt`` (Ctrl-C in the API).
    """
    from mcinfra.errors import Interrupted

    def progress(done, total, seconds):
        if done >= draws:
            raise KeyboardInterrupt if signum is None else Interrupted(signum=signum)

    return progress


@pytest.fixture(scope="session")
def default_config():
    from mcinfra import load_config

    return load_config()


@pytest.fixture(scope="session")
def default_plan(default_config):
    from mcinfra.sampling.plan import compile_plan

    return compile_plan(default_config.config)


MINIMAL = """
[model]
name = "mini"
start_year = 2024
end_year = 2030

[sampling]
draws = 1000
seed = 7

[total]
base = 100.0
cagr = { dist = "normal", mean = 0.10, sd = 0.02 }
shock = { sd = 0.0, phi = 0.0 }
"""


@pytest.fixture
def write_config(tmp_path):
    """Write TOML text to a file and return its path."""

    def write(text: str, name: str = "config.toml") -> Path:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return path

    return write


@pytest.fixture(scope="module")
def two_worker_client():
    """A client of a local dask cluster of two one-thread worker processes."""
    distributed = pytest.importorskip("dask.distributed")
    with (
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=":0",
            env={"NUMBA_NUM_THREADS": "1"},
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        yield client


def boxes_fit_apart(fig, label: str = "") -> None:
    """Every Axes' labels and the title of ``fig`` lie on its canvas, and no two overlap.

    ``label`` names the figure in the assertion messages.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    from mcinfra.report import figures

    fig.set_dpi(figures.PNG_DPI)  # hinting at the PNG's resolution draws the widest text
    renderer = FigureCanvasAgg(fig).get_renderer()
    with figures.style():
        canvas = fig.bbox
        boxes = [ax.get_tightbbox(renderer) for ax in fig.axes if ax.get_visible()]
        if fig._suptitle is not None:
            boxes.append(fig._suptitle.get_window_extent(renderer))
    for box in boxes:
        assert canvas.x0 <= box.x0 and box.x1 <= canvas.x1, (label, box, canvas)
        assert canvas.y0 <= box.y0 and box.y1 <= canvas.y1, (label, box, canvas)
    for i, a in enumerate(boxes):
        for b in boxes[i + 1 :]:
            overlap = max(0.0, min(a.x1, b.x1) - max(a.x0, b.x0)) * max(
                0.0, min(a.y1, b.y1) - max(a.y0, b.y0)
            )
            assert overlap == 0, (label, a, b)
