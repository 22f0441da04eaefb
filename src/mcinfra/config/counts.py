"""Whole-number counts read exactly, and the largest draw count a run can serve.

Draw ``d`` of a run seeds its private random stream from the SplitMix64 counters
``4 d + 1 .. 4 d + 4`` taken modulo 2**64 (:mod:`mcinfra.kernels.random`), so draws
``0 .. 2**62 - 1`` use every counter once and draw ``2**62`` would repeat draw 0's stream.
Draw indexes reach the kernels as int64, which holds them all.
"""

from __future__ import annotations

import math
import numbers
from decimal import Decimal, InvalidOperation

MAX_DRAWS = 2**62
"""The most draws one run may make: beyond it, draws would share random streams."""

_EXACT_FLOAT = 2**53  # above it, floats skip whole numbers: 1e16 + 1 is read as 1e16
_HUGE_DIGITS = 40  # written counts of more digits are all "too large", never expanded


def whole_count(value: object, name: str, maximum: int | None = None) -> int:
    """``value`` as a positive whole number, read exactly, or a ValueError naming ``name``.

    Parameters
    ----------
    value : int, float or str
        An int; a float that is a whole number below 2**53 (where floats are exact); or a
        string holding an integer (``18446744073709551617``, ``1_000_000``) or a decimal
        or ``1e6``-style number whose exact value is whole (``1.5e6``, not ``1.5``). A
        string is never rounded through a float.
    name : str
        What the value is (``--draws``, ``sampling.draws``), the start of every message.
    maximum : int, optional
        The largest count allowed (:data:`MAX_DRAWS` for draw counts).

    Returns
    -------
    int
        The count, at least 1.

    Raises
    ------
    ValueError
        When ``value`` is not a whole number, is below 1 or above ``maximum``.
    """
    shown = repr(value) if not isinstance(value, str) else repr(value.strip())
    maximum = 10**_HUGE_DIGITS - 1 if maximum is None else maximum
    count = 10**_HUGE_DIGITS if _huge(value) else exact_integer(value)
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        count = int(value) if value > _EXACT_FLOAT and value > maximum else count
    if count is None:
        if isinstance(value, float) and math.isfinite(value) and value.is_integer():
            raise ValueError(
                f"{name} must be a whole number given as an integer: the float {value!r} lies "
                f"beyond 2**53, where floats skip whole numbers, so it may have been rounded"
            )
        raise ValueError(f"{name} must be a positive whole number, got {shown}")
    if count < 1:
        raise ValueError(f"{name} must be a positive whole number, got {shown}")
    if count > maximum:
        raise ValueError(f"{name} must be at most {_limit(maximum)}, got {shown}")
    return count


def _limit(maximum: int) -> str:
    if maximum == MAX_DRAWS:
        return (
            f"{MAX_DRAWS:,} (2**62, the draws whose random streams are all distinct; "
            "beyond it, draws would repeat earlier draws' streams)"
        )
    return f"{maximum:,}"


def _huge(value: object) -> bool:
    """Whether ``value`` is a string of a number of more than ``_HUGE_DIGITS`` digits."""
    try:
        number = Decimal(value.strip()) if isinstance(value, str) else None
    except InvalidOperation:
        return False
    return number is not None and number.is_finite() and number.adjusted() >= _HUGE_DIGITS


def exact_integer(value: object) -> int | None:
    """The integer ``value`` denotes exactly, or None when it is not a whole number.

    ``value`` is an int, a float (a whole number up to 2**53, where floats are exact) or
    a string (an integer, or a number such as ``2e6`` whose exact value is whole, of at
    most 40 digits). Booleans are not numbers here.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, float):
        exact = math.isfinite(value) and value.is_integer() and abs(value) <= _EXACT_FLOAT
        return int(value) if exact else None
    if not isinstance(value, str):
        return None
    text = value.strip()
    try:
        return int(text)
    except ValueError:
        pass
    try:
        number = Decimal(text)
    except InvalidOperation:
        return None
    # 1e999999999 would take long to expand: such counts are refused before they are.
    if not number.is_finite() or number.adjusted() >= _HUGE_DIGITS:
        return None
    return int(number) if number == number.to_integral_value() else None
