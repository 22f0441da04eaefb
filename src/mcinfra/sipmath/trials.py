"""The trials of a SIPmath 3.0 library: HDR_2_0 uniforms, the Gaussian copula, the metalog.

Trial i (the standard's ``PM_Index``, 1 for the first trial) of every SIP depends only on i,
so any range of trials is computed on its own and equals the same trials computed in any
other range: each function here is elementwise in the trials, in a fixed order of
operations.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from mcinfra.model.metalog import MetalogCurve
from mcinfra.sipmath.library import (
    ArraySip,
    CopulaRef,
    GaussianCopula,
    HdrStream,
    Library,
    LibraryError,
    MetalogSip,
)

_MODULUS_1 = 7450589
_MODULUS_2 = 7450987
_COUNTER_FACTORS = (2499997, 2246527)
_SEED_FACTORS = (  # (varId, entity, seed3, seed4) for s1 and s2
    (1800451, 2000371, 1796777, 2299603),
    (2399993, 2100869, 1918303, 1624729),
)
_DIVIDEND = 999999999999989


def hdr_uniforms(
    counters: np.ndarray | Sequence[int],
    entity: int,
    var_id: int,
    seed3: int = 0,
    seed4: int = 0,
) -> np.ndarray:
    """The HDR_2_0 generator's uniforms for trial counters ``counters`` (1 = first trial).

    Integer arithmetic only, exact for every counter in [0, 2**63): the counter and the
    seeds are reduced modulo the first two moduli before they are multiplied, so no
    intermediate exceeds about 1e15 in int64 (the published formula's products reach 2**53
    near counter 3.6e9, where a floating-point implementation starts to round).

    Parameters
    ----------
    counters : array of int, shape (n,)
        Trial counters, each at least 0.
    entity, var_id, seed3, seed4 : int
        The stream's arguments (``entity``, ``varId``, ``seed3``, ``seed4``).

    Returns
    -------
    numpy.ndarray, shape (n,)
        ``(((t1 * 7440893 + t2) * 1343) mod 2**32 + 0.5) / 2**32``, in (0, 1).
    """
    counters = np.asarray(counters, dtype=np.int64)
    if counters.size and counters.min() < 0:
        raise ValueError(f"HDR trial counters must be at least 0, got {counters.min()}")
    seeds = (var_id, entity, seed3, seed4)
    s = []
    for modulus, factor, seed_factors in zip(
        (_MODULUS_1, _MODULUS_2), _COUNTER_FACTORS, _SEED_FACTORS, strict=True
    ):
        offset = sum(seed * f for seed, f in zip(seeds, seed_factors, strict=True)) % modulus
        s.append(((counters % modulus) * factor + offset) % modulus)
    t1 = ((_DIVIDEND % (s[0] * 4658 + 7450581)) * 383) % 99991
    t2 = ((_DIVIDEND % (s[1] * 7580 + 7560584)) * 17669) % 7440893
    k = ((t1 * 7440893 + t2) * 1343) % 2**32
    return (k + 0.5) / 2**32  # exact: k < 2**32


def metalog_quantile(
    coefficients: Sequence[float],
    probabilities: np.ndarray,
    lower: float | None = None,
    upper: float | None = None,
) -> np.ndarray:
    """Evaluate a library's Metalog_1_0 SIP: its metalog quantile function at ``probabilities``.

    The standard's metalog (Keelin 2016) is the one the config's ``metalog`` family samples,
    so both evaluate it through :class:`mcinfra.model.metalog.MetalogCurve`: with y in (0, 1),
    L = ln(y / (1 - y)) and c = y - 1/2, M(y) = sum_j a_j b_j(y) with b_1 = 1, b_2 = L,
    b_3 = c L, b_4 = c, and for j >= 5 b_j = c^((j - 1) / 2) for odd j, c^(j / 2 - 1) L for
    even j. Bounds: lower only, x = bl + e^M; upper only, x = bu - e^(-M); both,
    x = (bl + bu e^M) / (1 + e^M), evaluated so that no exponential overflows.

    Parameters
    ----------
    coefficients : sequence of float
        ``aCoefficients``, 1 to 16 of them.
    probabilities : array of float, shape (n,)
        The uniforms y, in (0, 1).
    lower, upper : float, optional
        ``lowerBound`` and ``upperBound``.

    Returns
    -------
    numpy.ndarray, shape (n,)
    """
    curve = MetalogCurve(tuple(float(v) for v in coefficients), lower, upper)
    return curve.quantile(np.asarray(probabilities, dtype=float))


def gaussian_copula_uniforms(uniforms: np.ndarray, correlation: np.ndarray) -> np.ndarray:
    """The layers' uniforms of a Gaussian copula driven by ``uniforms``.

    z_k = Phi^-1(u_k); x = L z with L the lower Cholesky factor of ``correlation`` (each
    row's sum taken in column order, so every trial's value is the same whatever the number
    of trials computed together); the layers' uniforms are Phi(x).

    Parameters
    ----------
    uniforms : array of float, shape (k, n)
        The uniforms of the copula's k streams, in the order of its ``rng``.
    correlation : array of float, shape (k, k)
        The correlation matrix in the order of its rows.

    Returns
    -------
    numpy.ndarray, shape (k, n)
    """
    from scipy.special import ndtr

    return ndtr(gaussian_copula_scores(uniforms, correlation))


def gaussian_copula_scores(uniforms: np.ndarray, correlation: np.ndarray) -> np.ndarray:
    """The layers' normal scores x = L Phi^-1(u) of :func:`gaussian_copula_uniforms`."""
    from scipy.special import ndtri

    z = ndtri(np.asarray(uniforms, dtype=float))
    factor = np.linalg.cholesky(np.asarray(correlation, dtype=float))
    x = np.empty_like(z)
    for row in range(factor.shape[0]):
        total = factor[row, 0] * z[0]
        for col in range(1, row + 1):
            total = total + factor[row, col] * z[col]
        x[row] = total
    return x


def library_trials(library: Library, names: Sequence[str], first_trial: int, n: int) -> np.ndarray:
    """Trials ``first_trial .. first_trial + n - 1`` of the SIPs ``names`` of ``library``.

    Trial i is the run's draw i - 1. A ``SIP_Array`` gives its stored values; a
    ``Metalog_1_0`` SIP evaluates its metalog at the uniforms of its HDR stream or copula
    layer for those trial counters.

    Parameters
    ----------
    library : Library
    names : sequence of str
        SIP names.
    first_trial : int
        The first trial's counter, at least 1.
    n : int
        Number of trials, at least 0.

    Returns
    -------
    numpy.ndarray, shape (len(names), n)

    Raises
    ------
    LibraryError
        For an unknown name, or a ``SIP_Array`` holding fewer trials than asked for.
    """
    return library_trials_and_scores(library, names, first_trial, n)[0]


def library_trials_and_scores(
    library: Library, names: Sequence[str], first_trial: int, n: int
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`library_trials` and each trial's normal score.

    A ``Metalog_1_0`` SIP's score is Phi^-1 of the uniform its metalog was evaluated at
    (its HDR stream's, or its copula layer's x before Phi), so Phi(score) is the trial's
    rank in the SIP's distribution; a ``SIP_Array``'s is :func:`stored_scores` of its
    values.

    Returns
    -------
    values, scores : numpy.ndarray, shape (len(names), n) each
    """
    from scipy.special import ndtr, ndtri

    if first_trial < 1 or n < 0:
        raise ValueError(f"trials start at 1 and number at least 0, got {first_trial} and {n}")
    counters = np.arange(first_trial, first_trial + n, dtype=np.int64)
    values = np.empty((len(names), n))
    scores = np.empty((len(names), n))
    layer_scores: dict[str, np.ndarray] = {}  # per copula, shape (layers, n)
    for row, name in enumerate(names):
        sip = library.sip(name)
        if isinstance(sip, ArraySip):
            stored = sip.values.size
            if first_trial - 1 + n > stored:
                raise LibraryError(
                    library.path,
                    f"SIP '{name}'",
                    f"holds {stored:,} trials; trials {first_trial:,} to "
                    f"{first_trial + n - 1:,} were asked for",
                )
            window = slice(first_trial - 1, first_trial - 1 + n)
            values[row] = sip.values[window]
            scores[row] = stored_scores(sip.values)[window]
            continue
        assert isinstance(sip, MetalogSip)
        if isinstance(sip.ref, CopulaRef):
            copula = library.copula(sip.ref.copula)
            if copula.name not in layer_scores:
                layer_scores[copula.name] = _copula_trials(library, copula, counters)
            scores[row] = layer_scores[copula.name][copula.layers.index(sip.ref.layer)]
            uniforms = ndtr(scores[row])
        else:
            uniforms = _stream_trials(library, sip.ref.stream, counters)
            scores[row] = ndtri(uniforms)
        values[row] = metalog_quantile(sip.coefficients, uniforms, sip.lower, sip.upper)
    return values, scores


def stored_scores(values: np.ndarray) -> np.ndarray:
    """Each stored trial's normal score: Phi^-1 of its mid-rank among the trials.

    The trial of rank r (0 for the smallest) among n gets Phi^-1((r + 1/2) / n); tied
    trials share the mean of their ranks. Phi(score) is then the trial's position in the
    SIP's empirical distribution, as an input's rank is in its own.
    """
    from scipy.special import ndtri

    values = np.asarray(values, dtype=float)
    ordered = np.sort(values)
    below = np.searchsorted(ordered, values, side="left")
    through = np.searchsorted(ordered, values, side="right")
    return ndtri((below + through) / (2.0 * values.size))


def _stream_trials(library: Library, name: str, counters: np.ndarray) -> np.ndarray:
    stream = library.stream(name)
    if not isinstance(stream, HdrStream):
        raise LibraryError(library.path, "U01.rng", f"'{name}' is not an HDR_2_0 stream")
    return hdr_uniforms(counters, stream.entity, stream.var_id, stream.seed3, stream.seed4)


def _copula_trials(library: Library, copula: GaussianCopula, counters: np.ndarray) -> np.ndarray:
    """The copula layers' normal scores x for ``counters``, shape (layers, n)."""
    uniforms = np.array([_stream_trials(library, s, counters) for s in copula.streams])
    uniforms = uniforms.reshape(len(copula.streams), counters.size)
    return gaussian_copula_scores(uniforms, library.matrix(copula.matrix).array())
