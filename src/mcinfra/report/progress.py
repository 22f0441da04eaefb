"""Progress reporting that suits both terminals and non-interactive logs."""

from __future__ import annotations

import sys
from typing import TextIO

SHOW_AFTER_SECONDS = 2.0  # short runs print nothing
LOG_EVERY_SECONDS = 10.0  # plain-line interval when stderr is not a terminal


class Progress:
    """Callable ``(done, total, elapsed)`` that draws a bar on a terminal, lines in a log."""

    def __init__(self, stream: TextIO | None = None, enabled: bool = True) -> None:
        self.stream = sys.stderr if stream is None else stream
        self.enabled = enabled
        self.interactive = bool(getattr(self.stream, "isatty", lambda: False)())
        self._bar = None
        self._last_line = float("-inf")

    def __call__(self, done: int, total: int, elapsed: float) -> None:
        if not self.enabled or (elapsed < SHOW_AFTER_SECONDS and done < total):
            return
        if elapsed < SHOW_AFTER_SECONDS:
            return
        if self.interactive:
            self._update_bar(done, total)
        elif elapsed - self._last_line >= LOG_EVERY_SECONDS or done == total:
            self._last_line = elapsed
            rate = done / elapsed if elapsed > 0 else float("nan")
            left = (total - done) / rate if rate > 0 else float("nan")
            print(
                f"mcinfra: {done:,} / {total:,} draws ({100 * done / total:.0f} %), "
                f"{rate / 1e6:.2f} M draws/s, {left:.0f} s left",
                file=self.stream,
                flush=True,
            )

    def _update_bar(self, done: int, total: int) -> None:
        from tqdm import tqdm

        if self._bar is None:
            self._bar = tqdm(
                total=total,
                unit="draw",
                unit_scale=True,
                file=self.stream,
                desc="mcinfra",
                leave=True,
            )
        self._bar.update(done - self._bar.n)
        if done >= total:
            self.close()

    def close(self) -> None:
        """Finish the bar, if one was drawn."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None
