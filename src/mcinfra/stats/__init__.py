"""Statistics of simulated draws (numpy and numba kernels only; no plotting)."""


def state_part(state, prefix: str) -> dict:
    """The entries of a saved ``state`` mapping whose keys start with ``prefix``, without it.

    Reductions save their parts' arrays under prefixed keys in one mapping (a dict, or the
    file a checkpoint was loaded from); this takes one part back out.
    """
    return {k[len(prefix) :]: state[k] for k in state if k.startswith(prefix)}
