"""Statistics of simulated draws: every reduction of a chunk and its mergeable state.

Probabilities and their errors, prediction and sensitivity counts, quantiles (exact or the
sketch), crossover counts and the partition check. Each reduction follows
:class:`mcinfra.stats.reduction.Reduction`.

Dependency contract: numpy, scipy, :mod:`mcinfra.kernels`, :mod:`mcinfra.language`, the
stored scipy.special values of :mod:`mcinfra.model.special_values` and the Dataset layout
of :mod:`mcinfra.sampling.dataset`; never config, io, run, report or the command line, and
never matplotlib.
"""


def state_part(state, prefix: str) -> dict:
    """The entries of a saved ``state`` mapping whose keys start with ``prefix``, without it.

    Reductions save their parts' arrays under prefixed keys in one mapping (a dict, or the
    file a checkpoint was loaded from); this takes one part back out.
    """
    return {k[len(prefix) :]: state[k] for k in state if k.startswith(prefix)}
