"""Statistics of simulated draws (numpy and numba kernels only; no plotting)."""
