"""Progress reporting that suits both terminals and non-interactive logs."""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable
from typing import Any, TextIO

SHOW_AFTER_SECONDS = 2.0  # short runs print nothing
LOG_EVERY_SECONDS = 10.0  # plain-line interval when stderr is not a terminal
BAR_FORMAT = "{desc}: {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} [{elapsed}{postfix}]"
_UNITS = (  # (unit, its seconds, the largest count shown before the next unit)
    ("s", 1.0, 99.5),
    ("min", 60.0, 99.5),
    ("h", 3600.0, 47.5),
    ("days", 86400.0, 730.0),
)
_YEAR = 365.25 * 86400.0


def format_duration(seconds: float) -> str:
    """A duration in the unit a person reads at a glance: ``"42 s"`` .. ``"18 years"``.

    Seconds below 100, then minutes below 100, hours below 48, days below two years, then
    years (two significant digits from 100 years on: ``"44,000 years"``). The count is
    rounded, so callers say "about"; every unit past the first is plural by construction
    (at least 2).

    Parameters
    ----------
    seconds : float
        The duration; a negative one reads as ``"0 s"``, an infinite or NaN one as
        ``"forever"``.

    Returns
    -------
    str
    """
    if not math.isfinite(seconds):
        return "forever"
    seconds = max(seconds, 0.0)
    for unit, size, largest in _UNITS:
        if seconds / size < largest:
            return f"{seconds / size:.0f} {unit}"
    years = seconds / _YEAR
    if years >= 100:
        years = round(years, 1 - math.floor(math.log10(years)))
    return f"{years:,.0f} years"


class Progress:
    """Callable ``(done, total, sampling_seconds)``: a bar on a terminal, lines in a log.

    ``done`` of ``total`` draws are made and ``sampling_seconds`` is the sampler's own
    time for draws ``0 .. done - 1`` (see :data:`mcinfra.sampling.engine.ProgressCallback`).
    The rate shown is ``done / sampling_seconds``, as ``summary.json``'s
    ``timing.draws_per_second`` is ``draws / sampling_seconds``: neither counts the
    reductions nor any compilation. The time left is the wall time the remaining draws
    take at the pace since the first chunk was reported (that chunk may have loaded or
    compiled the reductions' kernels); it is left out until a second chunk is done.
    Nothing is shown in the first ``SHOW_AFTER_SECONDS`` after the first chunk. One
    ``Progress`` may follow several runs in turn (a sweep): ``done`` falling starts anew.

    Parameters
    ----------
    stream : file-like, optional
        Where to write (default: standard error).
    enabled : bool
        False prints nothing (``--quiet``).
    clock : callable, optional
        Wall clock in seconds (default :func:`time.perf_counter`).
    """

    def __init__(
        self,
        stream: TextIO | None = None,
        enabled: bool = True,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.stream = sys.stderr if stream is None else stream
        self.enabled = enabled
        self.interactive = bool(getattr(self.stream, "isatty", lambda: False)())
        self.clock = clock
        self._bar: Any = None  # a tqdm bar while one is drawn
        self._first: tuple[int, float] = (0, 0.0)  # (done, wall time) at the first chunk
        self._done = 0
        self._last_line = float("-inf")

    def __call__(self, done: int, total: int, sampling_seconds: float) -> None:
        now = self.clock()
        if done <= self._done or self._done == 0:  # the first chunk of a run
            self.close()
            self._first, self._last_line = (done, now), float("-inf")
        self._done = done
        if not self.enabled or now - self._first[1] < SHOW_AFTER_SECONDS:
            return
        if self.interactive:
            self._update_bar(done, total, now, sampling_seconds)
        elif now - self._last_line >= LOG_EVERY_SECONDS or done == total:
            self._last_line = now
            print(
                f"mcinfra: {done:,} / {total:,} draws ({100 * done / total:.0f} %), "
                + self.pace(done, total, now, sampling_seconds),
                file=self.stream,
                flush=True,
            )

    def pace(self, done: int, total: int, now: float, sampling_seconds: float) -> str:
        """``"sampling at R M draws/s, about T left"``, the time left where it is known.

        T is :func:`format_duration`'s: ``about 18 years left``, not ``578071424 s left``.
        """
        text = (
            f"sampling at {done / sampling_seconds / 1e6:.2f} M draws/s"
            if sampling_seconds > 0
            else "sampling"
        )
        first_done, first_time = self._first
        if first_done < done < total and now > first_time:
            wall_rate = (done - first_done) / (now - first_time)
            text += f", about {format_duration((total - done) / wall_rate)} left"
        return text

    def _update_bar(self, done: int, total: int, now: float, sampling_seconds: float) -> None:
        from tqdm import tqdm

        if self._bar is None:
            self._bar = tqdm(
                total=total,
                unit="draw",
                unit_scale=True,
                file=self.stream,
                desc="mcinfra",
                leave=True,
                bar_format=BAR_FORMAT,  # tqdm's own rate and time left would count compiling
            )
        self._bar.set_postfix_str(self.pace(done, total, now, sampling_seconds), refresh=False)
        self._bar.update(done - self._bar.n)
        if done >= total:
            self.close()

    def close(self) -> None:
        """Finish the bar, if one was drawn."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None
