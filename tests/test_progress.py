"""Progress: silent for short runs, plain lines in logs, a bar on terminals."""

from __future__ import annotations

import io
import json

from mcinfra.report.progress import LOG_EVERY_SECONDS, SHOW_AFTER_SECONDS, Progress


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
        "mcinfra: 2,000,000 / 4,000,000 draws (50 %), sampling at 2.00 M draws/s, 6 s left",
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
    assert (
        line == "mcinfra: 540,000 / 1,000,000 draws (54 %), sampling at 2.00 M draws/s, 10 s left"
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
    assert progress.pace(500, 1000, clock.now - 1, 0.0005) == "sampling at 1.00 M draws/s, 4 s left"


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
