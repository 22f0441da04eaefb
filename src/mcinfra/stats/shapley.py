"""Shapley effects by random permutations with conditional sampling in a Gaussian latent space.

The model's randomness is a vector of standard normal scores ``z`` (the copula scores of
the uncertain inputs, correlated with correlation matrix ``R``, and the yearly shocks,
independent), and every output is a function of ``z``. A *player* is a set of those
scores (one input, a group of inputs, or all the shocks). With the cost of a set ``J`` of
players

    c(J) = E[ Var(Y | z_{-J}) ]   (c of no player is 0, c of all players is Var(Y)),

the Shapley effect of player ``j`` is the average, over all orders of the players, of
``c(P ∪ {j}) - c(P)``, ``P`` the players before ``j``, divided by Var(Y) (Owen 2014;
Song, Nelson and Staum 2016). The effects sum to one and remain a split of the variance
when the players are dependent.

The estimator follows Song, Nelson and Staum (2016, algorithm 1) with one outer sample
and one inner sample per prefix, in the pick-freeze form of the cost:

    c(J) = E[ (Y - Y^J)^2 ] / 2,

``Y^J`` the output when ``z_J`` is drawn again from its law given ``z_{-J}`` (the two
outputs are independent given ``z_{-J}``). Each random order draws one outer sample ``z``
and, for each non-empty prefix ``J`` of the order, evaluates ``Y^J``; the differences of
consecutive costs are the order's contributions, and they sum to the cost of the full
set, an estimate of Var(Y). An effect is a player's mean contribution over the orders
divided by the mean full cost, so the effects sum to one; its standard error is the delta
method's for that ratio of means, from the spread over the (independent) orders.
Two refinements:

- common random numbers along the order: every prefix's ``z_J`` comes from the same
  standard normals ``u`` (``z_A = mean + chol(cov) u_A``), so consecutive prefixes differ
  only in the block of the player just added and their costs are strongly correlated
  (for independent scores this is the reuse of consecutive samples of Castaing and of
  Plischke, Rabitti and Borgonovo);
- for a 0/1 target, c(J) = P(Y = r) P(Y^J != r | Y = r) for either value ``r``: the
  outer samples are drawn among the draws in which the target takes its rarer value, so
  a rare prediction costs no more than a common one.

Conditional sampling is closed form: ``z`` is Gaussian, so ``z_A | z_C`` is normal with
mean ``R_AC R_CC^-1 z_C`` and covariance ``R_AA - R_AC R_CC^-1 R_CA``. Scores in different
connected blocks of ``R`` (every shock, most inputs) are independent, so each block is
conditioned on its own.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


def connected_blocks(correlation: np.ndarray) -> list[np.ndarray]:
    """Index sets of the connected components of the nonzero off-diagonal entries."""
    n = correlation.shape[0]
    block = np.full(n, -1, dtype=np.int64)
    blocks: list[np.ndarray] = []
    for start in range(n):
        if block[start] >= 0:
            continue
        members = [start]
        block[start] = len(blocks)
        for i in members:  # grows while it is read: a breadth-first search
            for j in np.nonzero(correlation[i])[0]:
                if block[j] < 0:
                    block[j] = len(blocks)
                    members.append(int(j))
        blocks.append(np.array(sorted(members), dtype=np.int64))
    return blocks


@dataclass
class ConditionalSampler:
    """Conditional draws of parts of a Gaussian vector of scores given the other parts.

    The scores are standard normals with correlation ``correlation``; the factors of each
    (block, drawn scores) pair are computed once and kept.

    Parameters
    ----------
    correlation : ndarray (n, n)
        Positive definite correlation matrix of the latent scores (identity rows for the
        independent ones).
    """

    correlation: np.ndarray
    blocks: list[np.ndarray] = field(init=False)
    block_of: np.ndarray = field(init=False)
    _factors: dict = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        self.blocks = connected_blocks(self.correlation)
        self.block_of = np.empty(self.correlation.shape[0], dtype=np.int64)
        for b, members in enumerate(self.blocks):
            self.block_of[members] = b

    def factors(self, block: int, free: tuple[int, ...]):
        """Conditional law of the scores ``free`` of ``block`` given the block's others.

        Returns ``(weights, given, lower)``: the conditional mean is ``given_values @
        weights.T`` for the scores ``given`` (the block's members outside ``free``), and
        ``lower`` is the Cholesky factor of the conditional covariance.
        """
        key = (block, free)
        found = self._factors.get(key)
        if found is not None:
            return found
        members = self.blocks[block]
        given = np.array([m for m in members if m not in free], dtype=np.int64)
        free_index = np.array(free, dtype=np.int64)
        r_ff = self.correlation[np.ix_(free_index, free_index)]
        if given.size:
            r_fg = self.correlation[np.ix_(free_index, given)]
            r_gg = self.correlation[np.ix_(given, given)]
            weights = np.linalg.solve(r_gg, r_fg.T).T
            covariance = r_ff - weights @ r_fg.T
        else:
            weights = np.zeros((free_index.size, 0))
            covariance = r_ff
        covariance = 0.5 * (covariance + covariance.T)
        lower = np.linalg.cholesky(covariance)
        found = (weights, given, lower)
        self._factors[key] = found
        return found

    def prefix_samples(
        self, outer: np.ndarray, inner: np.ndarray, players: list[np.ndarray], orders: np.ndarray
    ) -> np.ndarray:
        """Samples of every non-empty prefix of each order of the players.

        Parameters
        ----------
        outer : ndarray (m, n)
            Each order's outer sample of every score (correlated).
        inner : ndarray (m, n)
            Independent standard normals, one row per order, shared by its prefixes.
        players : list of ndarray
            Each player's score indices (disjoint, covering every score).
        orders : ndarray (m, d)
            The orders of the players.

        Returns
        -------
        ndarray (m, d, n)
            ``[p, k]`` holds the sample in which the first ``k + 1`` players of order ``p``
            are drawn from their law given the other scores at ``outer[p]`` (the last:
            every score drawn anew).
        """
        m, d = orders.shape
        n = outer.shape[1]
        position = np.empty_like(orders)
        np.put_along_axis(position, orders, np.broadcast_to(np.arange(d), (m, d)), axis=1)
        slot_position = np.empty((m, n), dtype=np.int64)
        for j, slots in enumerate(players):
            slot_position[:, slots] = position[:, j : j + 1]
        free = slot_position[:, None, :] <= np.arange(d)[None, :, None]
        rows = np.where(free, inner[:, None, :], outer[:, None, :])
        for b, members in enumerate(self.blocks):
            if members.size == 1:
                continue
            pattern = free[:, :, members].reshape(-1, members.size)
            if members.size < 63:  # each pattern as the bits of one integer: a fast unique
                codes = pattern @ (np.int64(1) << np.arange(members.size, dtype=np.int64))
                found, which = np.unique(codes, return_inverse=True)
                kinds = (found[:, None] >> np.arange(members.size)) & 1 == 1
            else:
                kinds, which = np.unique(pattern, axis=0, return_inverse=True)
            which = which.reshape(-1)
            for kind, chosen_mask in enumerate(kinds):
                if not chosen_mask.any():
                    continue
                chosen = members[chosen_mask]
                weights, given, lower = self.factors(b, tuple(int(c) for c in chosen))
                order_index, step = np.divmod(np.nonzero(which == kind)[0], d)
                values = inner[order_index][:, chosen] @ lower.T
                if given.size:
                    values += outer[order_index][:, given] @ weights.T
                rows[order_index[:, None], step[:, None], chosen[None, :]] = values
        return rows


def pick_freeze_costs(reference: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Costs of the prefixes, one estimate each: ``(Y - Y^J)^2 / 2``.

    ``reference`` (m,) is Y at the outer samples, ``values`` (m, d) Y^J at the prefixes.
    """
    return 0.5 * np.square(values - reference[:, None])


def indicator_costs(values: np.ndarray, rare: float, probability: float) -> np.ndarray:
    """Costs of the prefixes of a 0/1 target whose outer samples all have Y = ``rare``.

    ``probability`` is P(Y = rare); each estimate is ``probability * [Y^J != rare]``.
    """
    return probability * (values != rare)


def contributions(costs: np.ndarray, order: np.ndarray) -> np.ndarray:
    """Each player's contribution c(P ∪ {j}) - c(P) in each order, indexed by player.

    ``costs`` (m, d) are the estimated costs of the non-empty prefixes of the orders
    ``order`` (m, d); each row of the result sums to the row's last cost, that of all
    the players.
    """
    steps = np.diff(costs, axis=1, prepend=0.0)
    out = np.empty_like(steps)
    np.put_along_axis(out, order, steps, axis=1)
    return out


@dataclass
class ShapleyTotals:
    """Sums over orders of each target's contributions, for effects and standard errors.

    An effect is the ratio of a player's mean contribution to the mean cost of all the
    players, so the effects of a target sum to one, and its standard error follows from
    the spread of the per-order residuals ``contribution - effect * full cost`` (the
    delta method for a ratio of means).
    """

    n_targets: int
    n_players: int
    orders: np.ndarray = field(init=False)
    sums: np.ndarray = field(init=False)  # (T, d) contributions
    squares: np.ndarray = field(init=False)  # (T, d) their squares
    cross: np.ndarray = field(init=False)  # (T, d) contribution x full cost
    full: np.ndarray = field(init=False)  # (T,) full costs
    full_squares: np.ndarray = field(init=False)  # (T,) their squares

    def __post_init__(self) -> None:
        shape = (self.n_targets, self.n_players)
        self.orders = np.zeros(self.n_targets, dtype=np.int64)
        self.sums, self.squares, self.cross = np.zeros(shape), np.zeros(shape), np.zeros(shape)
        self.full, self.full_squares = np.zeros(self.n_targets), np.zeros(self.n_targets)

    def add(self, target: int, costs: np.ndarray, order: np.ndarray) -> None:
        """Add the costs (m, d) of the prefixes of ``m`` orders ``order`` of target ``target``."""
        contribution = contributions(costs, order)
        full = costs[:, -1]
        self.sums[target] += contribution.sum(axis=0)
        self.squares[target] += np.square(contribution).sum(axis=0)
        self.cross[target] += full @ contribution
        self.full[target] += full.sum()
        self.full_squares[target] += full @ full
        self.orders[target] += costs.shape[0]

    def effects(self) -> tuple[np.ndarray, np.ndarray]:
        """Shapley effects and their standard errors, (T, d) each.

        NaN for a target without orders or whose full cost is still zero in every order.
        """
        m = np.where(self.orders > 0, self.orders, np.nan)[:, None]
        with np.errstate(divide="ignore", invalid="ignore"):
            scale = np.where(self.full > 0, self.full, np.nan)[:, None] / m
            shapley = self.sums / m / scale
            residual = (
                self.squares / m
                - 2 * shapley * self.cross / m
                + shapley**2 * (self.full_squares[:, None] / m)
            )
            spread = np.maximum(residual, 0.0) * m / np.maximum(m - 1, 1)
            error = np.sqrt(spread / m) / scale
        return shapley, error


def indicator_side(holds: int, draws: int) -> tuple[float, float]:
    """The rarer value of a 0/1 target that holds in ``holds`` of ``draws`` draws.

    Returns that value and its probability (the outer samples of
    :func:`indicator_costs` take that value).
    """
    p = holds / draws
    return (1.0, p) if p <= 0.5 else (0.0, 1.0 - p)
