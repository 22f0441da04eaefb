"""Exceptions raised for bad user input.

Every user-facing error names the offending key path (or token) and the value, so the
command line can print it as one paragraph and exit with status 2.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class McinfraError(Exception):
    """Base class of every error mcinfra reports to a user (exit status 2)."""


class ConfigError(McinfraError, ValueError):
    """A configuration file or override is malformed or impossible.

    Parameters
    ----------
    problems : list of str
        One line per problem, each starting with the key path it concerns.
    source : str, optional
        File the configuration was read from, used as a prefix of the message.
    """

    def __init__(self, problems: list[str] | str, source: str | None = None) -> None:
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        self.source = source
        head = f"invalid configuration {source}" if source else "invalid configuration"
        if len(self.problems) == 1:
            message = f"{head}: {self.problems[0]}"
        else:
            message = head + ":\n" + "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(message)


class UsageError(McinfraError, ValueError):
    """A command-line argument is out of range or inconsistent."""


class Interrupted(KeyboardInterrupt):
    """A run stopped by a signal (SIGINT, SIGTERM or SIGHUP): exit status 128 + ``signum``.

    A ``KeyboardInterrupt``, so that everything that keeps a resumable checkpoint for
    Ctrl-C does so for a scheduler's SIGTERM too. Only the command line raises it, from its
    signal handlers.

    Parameters
    ----------
    message : str
        What to tell the user (empty: nothing more than the signal's name).
    signum : int
        The signal's number.
    """

    def __init__(self, message: str = "", signum: int = 2) -> None:
        super().__init__(message)
        self.signum = int(signum)

    @property
    def name(self) -> str:
        """The signal's name, e.g. ``"SIGTERM"``."""
        import signal

        try:
            return signal.Signals(self.signum).name
        except ValueError:
            return f"signal {self.signum}"

    @classmethod
    def kept(cls, interruption: KeyboardInterrupt, resume: str) -> Interrupted:
        """The interruption of a command whose checkpoint is kept, saying how to continue.

        ``resume`` is the command that continues it (``mcinfra run --resume DIR``); a plain
        ``KeyboardInterrupt`` (Ctrl-C) counts as SIGINT.
        """
        by = f" by {interruption.name}" if isinstance(interruption, cls) else ""
        return cls(
            f"interrupted{by}; the draws up to the last checkpoint are kept: continue with "
            f"{resume}",
            getattr(interruption, "signum", 2),
        )


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    """Return ``" (did you mean 'x'?)"`` for the closest choice, or an empty string.

    Case is ignored in the comparison (``p3`` finds ``P3``).
    """
    by_lower: dict[str, str] = {}
    for choice in choices:
        by_lower.setdefault(str(choice).lower(), str(choice))
    close = difflib.get_close_matches(str(name).lower(), list(by_lower), n=1, cutoff=0.6)
    return f" (did you mean '{by_lower[close[0]]}'?)" if close else ""
