"""The values of SIP inputs (``dist = "sip"``) for a chunk of draws, outside the kernel.

Draw d of a run takes trial d + 1 of its SIPs (the standard's ``PM_Index``): a
``SIP_Array``'s value at index d, a ``Metalog_1_0`` SIP's metalog at the uniform of its
HDR_2_0 stream or Gaussian copula layer for counter d + 1. A value depends on the draw index
only, so every chunking, thread count, dask worker and resume point gives the same bits;
the sampler reads them from :attr:`mcinfra.kernels.model.KernelPlan.sip_values` instead
of transforming the input's latent normal, which it ignores (a Sobol' run's coordinate
for the input as well). Each value comes with a normal score whose Phi is its rank, for
the sensitivity: the metalog's uniform, or a stored trial's mid-rank among the trials.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from mcinfra.config.sips import SipSource
from mcinfra.config.structure import InputInfo
from mcinfra.errors import UsageError
from mcinfra.model.distributions import SipInput

if TYPE_CHECKING:  # the SIPmath reader loads only where a config has SIP inputs
    from mcinfra.sipmath.library import Library


@dataclass(frozen=True, eq=False)
class _Group:
    """The metalog SIPs of one library: rows of the chunk arrays and SIP names."""

    library: Library
    rows: tuple[int, ...]
    names: tuple[str, ...]


@dataclass(frozen=True, eq=False)
class SipInputs:
    """Every SIP input of a plan: row j of the chunk arrays is ``paths[j]``'s input.

    Build it with :func:`sip_inputs`.
    """

    paths: tuple[str, ...]  # key path of each row's input
    sources: tuple[SipSource, ...]
    groups: tuple[_Group, ...]  # metalog SIPs, by library
    stored: tuple[tuple[int, np.ndarray, np.ndarray], ...]  # (row, values, scores) of arrays

    @property
    def count(self) -> int:
        """The number of SIP inputs (rows)."""
        return len(self.paths)

    def check_draws(self, draws: int) -> None:
        """Refuse a run of more draws than a ``SIP_Array`` input holds trials.

        Raises
        ------
        UsageError
            Naming the input's key path, the library, the SIP and both lengths.
        """
        for row, values, _ in self.stored:
            if draws > values.size:
                source = self.sources[row]
                raise UsageError(
                    f"{self.paths[row]}: SIP '{source.name}' of the SIPmath library "
                    f"{source.library.path} holds {values.size:,} trials, fewer than the "
                    f"run's {draws:,} draws (draw d takes trial d + 1); run at most "
                    f"{values.size:,} draws"
                )

    def chunk(self, first: int, n: int) -> tuple[np.ndarray, np.ndarray]:
        """Values and normal scores of draws ``first .. first + n - 1``, each (rows, n).

        Raises
        ------
        UsageError
            When a ``SIP_Array`` holds fewer trials than these draws need.
        """
        self.check_draws(first + n)
        values = np.empty((self.count, n))
        scores = np.empty((self.count, n))
        for row, stored, stored_score in self.stored:
            values[row] = stored[first : first + n]
            scores[row] = stored_score[first : first + n]
        from mcinfra.sipmath.trials import library_trials_and_scores

        for group in self.groups:
            v, s = library_trials_and_scores(group.library, group.names, first + 1, n)
            rows = list(group.rows)
            values[rows] = v
            scores[rows] = s
        return values, scores


def sip_inputs(inputs: list[InputInfo]) -> SipInputs:
    """The SIP inputs among ``inputs`` (of a config validated with its libraries read)."""
    paths: list[str] = []
    sources: list[SipSource] = []
    stored: list[tuple[int, np.ndarray, np.ndarray]] = []
    metalogs: dict[int, tuple[Library, list[int], list[str]]] = {}
    for info in inputs:
        if not isinstance(info.spec, SipInput):
            continue
        from mcinfra.sipmath.library import ArraySip

        source = info.spec.trials_source
        assert isinstance(source, SipSource)
        row = len(paths)
        paths.append(info.path)
        sources.append(source)
        sip = source.library.sip(source.name)
        if isinstance(sip, ArraySip):
            from mcinfra.sipmath.trials import stored_scores

            scores = stored_scores(sip.values)
            scores.flags.writeable = False
            stored.append((row, sip.values, scores))
        else:
            group = metalogs.setdefault(id(source.library), (source.library, [], []))
            group[1].append(row)
            group[2].append(source.name)
    groups = tuple(
        _Group(library, tuple(rows), tuple(names)) for library, rows, names in metalogs.values()
    )
    return SipInputs(tuple(paths), tuple(sources), groups, tuple(stored))
