"""exp, log and the normal CDF in plain IEEE arithmetic, for the kernels' loops over draws.

The sampler's loops over the draws of a block vectorise only when their bodies call no
library function; a call to libm's ``exp`` or ``erfc`` keeps a whole loop scalar, and
those two calls took a large share of the sampler's time. These versions are plain IEEE
arithmetic (no fused multiply-adds, no table gathers), so they give the same bits on every
machine, vectorised or not.

- :func:`exp`: Cody-Waite range reduction ``x = n ln 2 + r``, a degree-13 Taylor
  polynomial on ``|r| <= ln 2 / 2`` (by Estrin's scheme, faster than Horner's chain of 13
  dependent steps; figures in docs/performance.md) and a two-step
  scaling by ``2**n`` that rounds subnormal results once. Within 2 ulp of the true value
  (tested against 50-digit mpmath), 0 below -745.2, inf above 709.8, NaN for NaN.
- :func:`lower_tail`: ``Phi(z)`` as ``0.5 erfcx(x) exp(-z**2 / 2)`` with ``x = -z / sqrt(2)``
  for ``z <= 0``, and ``1 - Phi(-z)`` above. ``erfcx`` is a polynomial in
  ``t = (x - 3) / (x + 3)`` of ``erfcx(x) (x + 3) / 3`` (bounded on ``[0, inf)``, so the
  series is accurate in relative terms everywhere), degree 24, from 50-digit mpmath values:
  truncation error below 1e-17. ``exp(-z**2 / 2)`` is taken as
  ``exp(-h**2 / 2) exp(-l (z + h) / 2)`` with ``z = h + l`` and ``h`` holding 26 bits,
  so the large exponent is exact. Relative error within 1e-15 (3 ulp) down to the
  underflow near z = -38.5 (tested against 50-digit mpmath).
- :func:`log`: ``x = 2**k m`` with ``m`` in ``[sqrt(2) / 2, sqrt(2))`` read from the bits,
  then ``log(m) = 2 atanh(s)``, ``s = (m - 1) / (m + 1)``, as ``f - f**2 / 2 + s (f**2 / 2
  + R(s**2))`` with ``f = m - 1`` (exact) and ``R`` the atanh series to ``s**20``
  (truncation below 1e-18 relative for ``|s| <= 0.172``); ``k ln 2`` is added in two
  parts as in :func:`exp`. Within 1 ulp (tested against 50-digit mpmath), -inf at 0, NaN
  below 0 and for NaN, inf at inf; those special values are chosen by a select, not a
  branch, so a loop calling it vectorises. With :func:`exp` it gives the growth rates of
  :mod:`mcinfra.kernels.growth` more cheaply than the C library's ``pow``.
"""

from __future__ import annotations

import math

import numpy as np

from mcinfra.kernels.jit import inline

_LOG2E = 1.4426950408889634
_LN2_HI = 6.93147180369123816490e-01  # 32 significant bits: n * _LN2_HI is exact
_LN2_LO = 1.90821492927058770002e-10
_ROUND = 6755399441055744.0  # 1.5 * 2**52: adding it rounds |y| < 2**51 to an integer
_ROUND_BITS = np.uint64(0x4338000000000000)  # bits of _ROUND; + n for _ROUND + n
_BIAS = np.uint64(1023)
_U52 = np.uint64(52)
_EXP_LOW = -746.0  # below: 0 (exp(-745.14) is half the smallest subnormal)
_EXP_HIGH = 710.0  # above: inf (exp(709.79) is the largest double)
_EXP_TAYLOR = np.array([1.0 / math.factorial(k) for k in range(14)])  # degree 13

# Bit fields of a double, shared with the other kernels that read values' bits
FRACTION_MASK = np.uint64((1 << 52) - 1)
ONE_BITS = np.uint64(0x3FF0000000000000)  # exponent field of [1, 2)
_HALF_BITS = np.uint64(0x3FE0000000000000)  # exponent field of [0.5, 1)
_SQRT2_BITS = np.uint64(0x3FF6A09E667F3BCD)  # sqrt(2)
SMALLEST_NORMAL = 2.0**-1022
_TWO_54 = 2.0**54
_ATANH_SERIES = np.array([2.0 / (2 * i + 1) for i in range(1, 11)])  # R(z) / z, z = s**2

_HIGH_MASK = np.uint64(0xFFFFFFFFF8000000)  # keeps 26 of the 53 significand bits
_INV_SQRT2 = 0.7071067811865476
_TAIL_END = 40.0
_ERFCX_K = 3.0
# erfcx(x) (x + K) / K as a polynomial in t = (x - K) / (x + K), K = 3: the degree-24
# Chebyshev interpolant (50-digit mpmath values) converted to powers of t in mpmath, then
# rounded. The sum of |coefficients| is 1.003, so evaluating them loses no accuracy.
_ERFCX_POLY = (
    0.3580023023627799,
    -0.29446481772329447,
    0.19674278570136725,
    -0.10348908730019453,
    0.039842587095765526,
    -0.008942411541347221,
    -0.0004041388757936664,
    0.0010113539986468072,
    -0.00018276989641738932,
    -9.225927107779572e-05,
    3.5853822251279296e-05,
    1.0132682786548133e-05,
    -5.823491992514211e-06,
    -1.5830066026471314e-06,
    9.217159972005492e-07,
    3.329341506078094e-07,
    -1.3585628142274327e-07,
    -7.794578660145061e-08,
    1.521823345741905e-08,
    1.7056980515505438e-08,
    -2.3845837151650604e-10,
    -2.8963907655785435e-09,
    -3.598345759503592e-10,
    2.700889541334419e-10,
    6.034271894545842e-11,
)


@inline
def _power_of_two(n):
    """2**n for an integer-valued double n in [-1022, 1023], from its bits."""
    word = np.float64(n + _ROUND).view(np.uint64) - _ROUND_BITS + _BIAS
    return np.uint64(word << _U52).view(np.float64)


@inline
def _cubic(c, k, t, t2):
    """c[k] + c[k+1] t + c[k+2] t**2 + c[k+3] t**3 as two independent halves (``t2`` = t**2).

    The first level of Estrin's scheme, which :func:`_taylor_13` and :func:`_scaled_erfc`
    build on.
    """
    return (c[k] + c[k + 1] * t) + (c[k + 2] + c[k + 3] * t) * t2


@inline
def _taylor_13(r):
    """The degree-13 Taylor polynomial of e**r by Estrin's scheme (see :func:`_scaled_erfc`)."""
    c = _EXP_TAYLOR
    r2 = r * r
    r4 = r2 * r2
    high = _cubic(c, 8, r, r2) + (c[12] + c[13] * r) * r4
    return (_cubic(c, 0, r, r2) + _cubic(c, 4, r, r2) * r4) + high * (r4 * r4)


@inline
def exp(x):
    """e**x, within 2 ulp, with no branches or calls (see the module docstring)."""
    x = _EXP_LOW if x < _EXP_LOW else x  # comparisons are false for NaN, which stays
    x = _EXP_HIGH if x > _EXP_HIGH else x
    n = (x * _LOG2E + _ROUND) - _ROUND
    r = (x - n * _LN2_HI) - n * _LN2_LO
    p = _taylor_13(r)
    # Two steps keep each factor normal; one rounding at the end. np.floor stays a double:
    # math.floor's integer would need conversions that AVX2 cannot vectorise.
    half = np.floor(n * 0.5)
    return (p * _power_of_two(half)) * _power_of_two(n - half)


@inline
def log(x):
    """Natural logarithm, within 1 ulp, with no branches (see the module docstring).

    Zero, negatives, infinities and NaN take their values by a select at the end, so a
    loop calling it vectorises; the arithmetic before it runs on them too and is discarded.
    """
    special = -math.inf if x == 0.0 else (x if x == math.inf else math.nan)
    usable = 0.0 < x < math.inf
    subnormal = x < SMALLEST_NORMAL
    x = x * _TWO_54 if subnormal else x  # scaled into the normal range first
    bits = np.float64(x).view(np.uint64)
    k = np.float64(np.int64(bits >> _U52) - 1023) - (54.0 if subnormal else 0.0)
    fraction = bits & FRACTION_MASK
    upper = (fraction | ONE_BITS) >= _SQRT2_BITS  # m in [sqrt(2) / 2, 1) instead
    m = np.uint64(fraction | (_HALF_BITS if upper else ONE_BITS)).view(np.float64)
    k += 1.0 if upper else 0.0
    f = m - 1.0  # exact (Sterbenz)
    s = f / (2.0 + f)
    z = s * s
    r = _ATANH_SERIES[9]
    for i in range(8, -1, -1):
        r = r * z + _ATANH_SERIES[i]
    r *= z
    half_square = 0.5 * f * f
    result = k * _LN2_HI - ((half_square - (s * (half_square + r) + k * _LN2_LO)) - f)
    return result if usable else special


@inline
def _scaled_erfc(x):
    """erfcx(x) = exp(x**2) erfc(x) for x >= 0.

    The polynomial is evaluated by Estrin's scheme: five levels of independent pairs
    instead of a chain of 24 dependent steps (Clenshaw's recurrence on the Chebyshev form
    was slower: the vector units waited on each step).
    """
    c = _ERFCX_POLY
    t = (x - _ERFCX_K) / (x + _ERFCX_K)
    t2 = t * t
    t4 = t2 * t2
    t8 = t4 * t4
    t16 = t8 * t8
    low = (_cubic(c, 0, t, t2) + _cubic(c, 4, t, t2) * t4) + (
        _cubic(c, 8, t, t2) + _cubic(c, 12, t, t2) * t4
    ) * t8
    high = (_cubic(c, 16, t, t2) + _cubic(c, 20, t, t2) * t4) + c[24] * t8
    return (low + high * t16) * (_ERFCX_K / (x + _ERFCX_K))


@inline
def upper_tail(a):
    """Phi(-a) for a >= 0 (or NaN): :func:`lower_tail` without its sign handling."""
    a = _TAIL_END if a > _TAIL_END else a  # Phi(-a) underflows to 0 well before
    high = np.uint64(np.float64(a).view(np.uint64) & _HIGH_MASK).view(np.float64)
    low = a - high
    # exp(-a**2 / 2) = exp(-high**2 / 2) exp(-low (a + high) / 2); high**2 is exact
    small = -0.5 * low * (a + high)
    gauss = exp(-0.5 * (high * high)) * (1.0 + small * (1.0 + small * (0.5 + small / 6.0)))
    return 0.5 * _scaled_erfc(a * _INV_SQRT2) * gauss


@inline
def lower_tail(z):
    """Standard normal CDF Phi(z), accurate in relative terms for z << 0."""
    tail = upper_tail(abs(z))
    return tail if z <= 0.0 else 1.0 - tail
