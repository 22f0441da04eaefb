"""Progress: silent for short runs, plain lines in logs, a bar on terminals."""

from __future__ import annotations

import io

from mcinfra.report.progress import LOG_EVERY_SECONDS, SHOW_AFTER_SECONDS, Progress


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_short_runs_print_nothing():
    stream = io.StringIO()
    progress = Progress(stream)
    progress(10, 100, 0.1)
    progress(100, 100, SHOW_AFTER_SECONDS / 2)
    assert stream.getvalue() == ""


def test_logs_get_periodic_plain_lines_with_rate():
    stream = io.StringIO()
    progress = Progress(stream)
    progress(1_000_000, 4_000_000, SHOW_AFTER_SECONDS + 1)
    progress(1_500_000, 4_000_000, SHOW_AFTER_SECONDS + 2)  # too soon for another line
    progress(4_000_000, 4_000_000, SHOW_AFTER_SECONDS + 1 + LOG_EVERY_SECONDS / 2)
    lines = stream.getvalue().splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("mcinfra: 1,000,000 / 4,000,000 draws (25 %)")
    assert "M draws/s" in lines[0] and "\r" not in stream.getvalue()
    assert "(100 %)" in lines[1]


def test_terminals_get_a_bar():
    stream = Terminal()
    progress = Progress(stream)
    progress(500, 1000, SHOW_AFTER_SECONDS + 1)
    progress(1000, 1000, SHOW_AFTER_SECONDS + 2)
    progress.close()
    assert "mcinfra" in stream.getvalue() and "1.00k/1.00k" in stream.getvalue()


def test_quiet_prints_nothing():
    stream = io.StringIO()
    Progress(stream, enabled=False)(1000, 1000, 100.0)
    assert stream.getvalue() == ""
