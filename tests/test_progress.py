"""Progress: silent for short runs, plain lines in logs, a bar on terminals."""

from __future__ import annotations

import io
import json

import pytest

from mcinfra.report.progress import (
    LOG_EVERY_SECONDS,
    SHOW_AFTER_SECONDS,
    Progress,
    format_duration,
)


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


class Clock:
    """A wall clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_short_runs_print_nothing():
    stream, clock = io.StringIO(), Clock()
    progress = Progress(stream, clock=clock)
    progress(10, 100, 0.01)
    clock.now += SHOW_AFTER_SECONDS / 2
    progress(100, 100, 0.05)
    assert stream.getvalue() == ""


def test_logs_get_periodic_plain_lines_with_the_sampling_rate():
    stream, clock = io.StringIO(), Clock()
    progress = Progress(stream, clock=clock)
    progress(1_000_000, 4_000_000, 0.5)
    clock.now += SHOW_AFTER_SECONDS + 1
    progress(2_000_000, 4_000_000, 1.0)
    clock.now += 1
    progress(2_500_000, 4_000_000, 1.25)  # too soon for another line
    clock.now += LOG_EVERY_SECONDS / 2
    progress(4_000_000, 4_000_000, 2.0)
    lines = stream.getvalue().splitlines()
    assert "\r" not in stream.getvalue()
    # 1e6 draws in the 3 s after the first chunk: 2e6 left take 6 s
    assert lines == [
        "mcinfra: 2,000,000 / 4,000,000 draws (50 %), sampling at 2.00 M draws/s, about 6 s left",
        "mcinfra: 4,000,000 / 4,000,000 draws (100 %), sampling at 2.00 M draws/s",
    ]


def test_a_first_chunk_that_compiles_moves_neither_the_rate_nor_the_time_left():
    # The first chunk's reductions compile for 16 s, its sampling takes 0.03 s: the rate is
    # the sampler's, and the time left is measured from the chunks after it.
    stream, clock = io.StringIO(), Clock()
    progress = Progress(stream, clock=clock)
    clock.now += 16.0
    progress(60_000, 1_000_000, 0.03)
    clock.now += 10.0
    progress(540_000, 1_000_000, 0.27)
    line = stream.getvalue().splitlines()[-1]
    assert line == (
        "mcinfra: 540,000 / 1,000,000 draws (54 %), sampling at 2.00 M draws/s, about 10 s left"
    )


def test_a_sweep_starts_each_run_anew():
    stream, clock = io.StringIO(), Clock()
    progress = Progress(stream, clock=clock)
    for _ in range(2):
        progress(100_000, 1_000_000, 0.05)
        clock.now += SHOW_AFTER_SECONDS + 1
        progress(1_000_000, 1_000_000, 0.5)
        clock.now += 1
    lines = stream.getvalue().splitlines()
    assert lines == ["mcinfra: 1,000,000 / 1,000,000 draws (100 %), sampling at 2.00 M draws/s"] * 2


def test_terminals_get_a_bar_with_the_sampling_rate():
    stream, clock = Terminal(), Clock()
    progress = Progress(stream, clock=clock)
    progress(100, 1000, 0.0001)
    clock.now += SHOW_AFTER_SECONDS + 1
    progress(500, 1000, 0.0005)
    clock.now += 1
    progress(1000, 1000, 0.001)
    progress.close()
    shown = stream.getvalue()
    assert "mcinfra" in shown and "1.00k/1.00k" in shown
    assert "1.00k/1.00k [00:00, sampling at 1.00 M draws/s]" in shown
    assert "<" not in shown  # no time left of tqdm's, which would count the first chunk
    # 400 draws in the 3 s after the first chunk: 500 left take about 4 s
    assert progress.pace(500, 1000, clock.now - 1, 0.0005) == (
        "sampling at 1.00 M draws/s, about 4 s left"
    )


def test_quiet_prints_nothing():
    stream, clock = io.StringIO(), Clock()
    progress = Progress(stream, enabled=False, clock=clock)
    progress(10, 1000, 0.01)
    clock.now += 100.0
    progress(1000, 1000, 1.0)
    assert stream.getvalue() == ""


def test_the_last_rate_shown_is_the_summarys(tmp_path):
    from mcinfra.config import load_config
    from mcinfra.runs.pipeline import run_to_directory
    from mcinfra.sampling.engine import settings_from

    calls = []
    loaded = load_config()
    settings = settings_from(loaded, draws=6_000, chunk_size=2_000)
    summary = run_to_directory(
        loaded, settings, tmp_path / "run", progress=lambda *call: calls.append(call)
    )
    assert [call[0] for call in calls] == [2_000, 4_000, 6_000]
    assert calls[0][2] < calls[1][2] < calls[2][2]
    done, total, seconds = calls[-1]
    timing = json.loads((tmp_path / "run" / "summary.json").read_text())["timing"]
    assert total == done == 6_000 and timing == summary["timing"]
    assert done / seconds == timing["draws_per_second"]


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [
        (0.0, "0 s"),
        (-3.0, "0 s"),
        (42.4, "42 s"),
        (99.4, "99 s"),
        (99.5, "2 min"),  # never "100 s"
        (5_939.0, "99 min"),
        (5_970.0, "2 h"),
        (170_999.0, "47 h"),
        (171_000.0, "2 days"),
        (729.9 * 86400, "730 days"),
        (730 * 86400, "2 years"),
        (578_071_424.0, "18 years"),  # issue 20's example
        (4_611_686_018_427_387_904 / 3.3e6, "44,000 years"),  # 2**62 draws at 3.3 M/s
        (float("inf"), "forever"),
        (float("nan"), "forever"),
    ],
)
def test_durations_read_in_the_unit_a_person_uses(seconds, shown):
    assert format_duration(seconds) == shown


def test_a_long_run_says_its_time_left_in_years():
    stream, clock = io.StringIO(), Clock()
    progress = Progress(stream, clock=clock)
    progress(1_000_000, 10**15, 0.5)
    clock.now += 10.0
    progress(11_000_000, 10**15, 5.5)  # 1 M draws/s of wall time: 1e15 draws take 31.7 years
    assert (
        stream.getvalue()
        .splitlines()[-1]
        .endswith("sampling at 2.00 M draws/s, about 32 years left")
    )
