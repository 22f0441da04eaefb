"""The sampler's exp and normal CDF (mcinfra.kernels.special) against the C library's.

Usage: python benchmarks/bench_special.py [--values 1e6] [--repeats 7]

Each function runs in a numba loop over standard normal arguments, as the sampler's loops
over a block's draws do: the branch-free versions let the loop vectorise, a call to libm's
``exp`` or ``erfc`` keeps it scalar. Figures are nanoseconds per value, median and best of
the repeats, all in one process.
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np
from numba import njit

from mcinfra.kernels.jit import elementwise
from mcinfra.kernels.special import exp, lower_tail

_INV_SQRT2 = 1.0 / math.sqrt(2.0)


@njit(error_model="numpy")
def _phi_via_erfc(z):
    return 0.5 * math.erfc(-z * _INV_SQRT2)


@njit(error_model="numpy")
def _exp_libm(x):
    return math.exp(x)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--values", type=float, default=1e6)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    z = np.random.default_rng(1).standard_normal(int(args.values))
    out = np.empty_like(z)
    cases = {
        "Phi, mcinfra.kernels.special": elementwise(lower_tail),
        "Phi, libm erfc": elementwise(_phi_via_erfc),
        "exp, mcinfra.kernels.special": elementwise(exp),
        "exp, libm": elementwise(_exp_libm),
    }
    for kernel in cases.values():
        kernel(z[:8], out[:8])  # compile
    times: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(args.repeats):  # interleaved, so drifts of the machine hit all alike
        for name, kernel in cases.items():
            started = time.perf_counter()
            kernel(z, out)
            times[name].append((time.perf_counter() - started) / z.size * 1e9)
    for name, values in times.items():
        print(f"{name:<32} median {np.median(values):6.2f} ns  best {min(values):6.2f} ns")


if __name__ == "__main__":
    main()
