"""Gaussian copula: rank correlations to a Cholesky factor, with positive-definiteness checks."""

from __future__ import annotations

import numpy as np


def pearson_from_spearman(rank: float | np.ndarray) -> float | np.ndarray:
    """Normal-score correlation giving rank correlation ``rank``: 2 sin(pi rank / 6)."""
    return 2.0 * np.sin(np.pi * np.asarray(rank) / 6.0)


def correlation_matrix(n: int, pairs: list[tuple[int, int, float]]) -> np.ndarray:
    """N x n normal-score correlation matrix from ``(i, j, spearman)`` pairs."""
    matrix = np.eye(n)
    for i, j, rank in pairs:
        matrix[i, j] = matrix[j, i] = pearson_from_spearman(rank)
    return matrix


def is_positive_definite(matrix: np.ndarray) -> bool:
    """Whether a Cholesky factorisation exists."""
    try:
        np.linalg.cholesky(matrix)
    except np.linalg.LinAlgError:
        return False
    return True


def failing_blocks(matrix: np.ndarray) -> list[tuple[list[int], float]]:
    """Connected blocks of correlated variables whose submatrix is not positive definite.

    Returns each block's indices and its smallest eigenvalue.
    """
    n = matrix.shape[0]
    parent = list(range(n))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, j in zip(*np.nonzero(np.triu(matrix, 1)), strict=True):
        parent[root(int(i))] = root(int(j))
    blocks: dict[int, list[int]] = {}
    for i in range(n):
        blocks.setdefault(root(i), []).append(i)
    failing = []
    for members in blocks.values():
        sub = matrix[np.ix_(members, members)]
        if len(members) > 1 and not is_positive_definite(sub):
            failing.append((members, float(np.linalg.eigvalsh(sub)[0])))
    return failing


def nearest_correlation(
    matrix: np.ndarray, min_eigenvalue: float = 1e-6, max_iterations: int = 1000
) -> np.ndarray:
    """Nearest correlation matrix (Higham 2002, alternating projections with Dykstra's correction).

    The result has unit diagonal and eigenvalues of at least ``min_eigenvalue``.
    """
    y = matrix.copy()
    correction = np.zeros_like(matrix)
    for _ in range(max_iterations):
        r = y - correction
        values, vectors = np.linalg.eigh(r)
        x = (vectors * np.maximum(values, min_eigenvalue)) @ vectors.T
        correction = x - r
        previous = y
        y = x.copy()
        np.fill_diagonal(y, 1.0)
        if np.linalg.norm(y - previous, "fro") <= 1e-12 * max(1.0, float(np.linalg.norm(y, "fro"))):
            break
    # Final clean-up so the Cholesky factorisation succeeds despite rounding.
    values, vectors = np.linalg.eigh(y)
    y = (vectors * np.maximum(values, min_eigenvalue)) @ vectors.T
    d = np.sqrt(np.diag(y))
    return y / np.outer(d, d)


def sparse_cholesky(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Lower Cholesky factor in compressed rows: (row pointers, columns, values)."""
    lower = np.linalg.cholesky(matrix)
    lower[np.abs(lower) < 1e-300] = 0.0
    ptr = [0]
    cols: list[int] = []
    vals: list[float] = []
    for row in range(lower.shape[0]):
        nonzero = np.nonzero(lower[row, : row + 1])[0]
        cols.extend(int(c) for c in nonzero)
        vals.extend(float(lower[row, c]) for c in nonzero)
        ptr.append(len(cols))
    return np.array(ptr, dtype=np.int64), np.array(cols, dtype=np.int64), np.array(vals)
