"""A run that will take long says so, in human units, before it samples and after a chunk."""

from __future__ import annotations

import pytest

from mcinfra.config import load_config
from mcinfra.config.counts import MAX_DRAWS
from mcinfra.runs import pipeline
from mcinfra.runs.pipeline import compute_run
from mcinfra.sampling.engine import RunSettings


class Stop(Exception):
    """Ends a test run once it has said what the test reads."""


def _notices(draws: int, stop_after: int, target_se: float | None = None) -> list[str]:
    """What a run of ``draws`` tells ``notify``, stopped at its ``stop_after``-th notice."""
    said: list[str] = []

    def notify(text: str) -> None:
        said.append(text)
        if len(said) == stop_after:
            raise Stop

    with pytest.raises(Stop):
        compute_run(load_config(), RunSettings(draws, 1, 20_000), target_se, notify=notify)
    return said


def test_the_largest_run_says_before_it_samples_that_it_takes_millennia(monkeypatch):
    def no_sampling(*args, **kwargs):
        raise AssertionError("the notice comes before any chunk is drawn")

    monkeypatch.setattr(pipeline, "stream", no_sampling)
    (said,) = _notices(MAX_DRAWS, stop_after=1)
    # 2**62 draws at 50 M draws/s: 9.2e10 s, 2,900 years
    assert said == (
        "4,611,686,018,427,387,904 draws to make: at least about 2,900 years, even at 50 M "
        "draws/s; stop with Ctrl-C and ask for fewer draws if that is too long"
    )


def test_a_long_run_says_after_its_first_chunk_how_long_it_takes():
    said = _notices(10**13, stop_after=2)
    assert said[0].startswith("10,000,000,000,000 draws to make: at least about 2 days,")
    assert said[1].startswith("9,999,999,980,000 draws left: about ")
    # at any pace from 0.1 to 100 M draws/s sampling, 1e13 draws take days or years
    assert said[1].split(" at the first chunk's pace")[0].split()[-1] in {"days", "years"}
    assert said[1].endswith(
        " M draws/s sampling); stop with Ctrl-C and ask for fewer draws if that is too long"
    )


def test_a_sequential_run_says_its_cap_may_not_be_reached():
    said = _notices(10**13, stop_after=1, target_se=1e-9)
    assert said[0].startswith("up to 10,000,000,000,000 draws to make: at least about 2 days")


def test_a_short_run_says_nothing_of_its_length():
    said: list[str] = []
    compute_run(load_config(), RunSettings(100_000, 1, 20_000), notify=said.append)
    assert not [text for text in said if "draws" in text]
