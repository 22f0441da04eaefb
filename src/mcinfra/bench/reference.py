"""A straightforward vectorised numpy/scipy implementation of the market model.

It follows docs/model.md directly, array by array over all draws, with scipy's inverse
CDFs for the inputs. It serves twice: as the baseline the benchmark compares the numba
sampler against, and as the independent twin the tests check the kernels against.
It shares only the config loader and the declared order of inputs and series.
"""

from __future__ import annotations

import ast
import operator

import numpy as np
from scipy.special import ndtr

from mcinfra.config.schema import Config
from mcinfra.config.structure import list_inputs, list_series

_OPS = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
}


def copula_matrix(config: Config) -> np.ndarray:
    """Normal-score correlation matrix of the uncertain inputs (in input order)."""
    names = [i.name for i in list_inputs(config) if not i.spec.is_fixed]
    matrix = np.eye(len(names))
    for corr in config.correlations:
        a, b = (names.index(n) for n in corr.between)
        matrix[a, b] = matrix[b, a] = 2 * np.sin(np.pi * corr.rank / 6)
    return matrix


def sample_inputs(config: Config, scores: np.ndarray) -> np.ndarray:
    """Input values (n, K) from independent normals ``scores`` (n, n_uncertain)."""
    infos = list_inputs(config)
    z = scores @ np.linalg.cholesky(copula_matrix(config)).T
    out = np.empty((scores.shape[0], len(infos)))
    column = 0
    for k, info in enumerate(infos):
        if info.spec.is_fixed:
            out[:, k] = info.spec.median()
        else:
            out[:, k] = info.spec.frozen().ppf(ndtr(z[:, column]))
            column += 1
    return out


def _ar1(eps: np.ndarray, phi: float) -> np.ndarray:
    e = np.empty_like(eps)
    e[:, 0] = eps[:, 0]
    for t in range(1, eps.shape[1]):
        e[:, t] = phi * e[:, t - 1] + np.sqrt(1 - phi**2) * eps[:, t]
    return e


def trajectories(config: Config, inputs: np.ndarray, shocks: np.ndarray) -> dict[str, np.ndarray]:
    """Every series (label -> (n, Y)) from input values and shock normals (n, H * (1 + N))."""
    names = [i.name for i in list_inputs(config)]
    x = {name: inputs[:, k] for k, name in enumerate(names)}
    years = np.array(config.years, dtype=float)
    horizon = len(years) - 1
    floor = config.model.growth_factor_floor
    n = inputs.shape[0]
    series: dict[str, np.ndarray] = {}

    e = _ar1(shocks[:, :horizon], config.total.shock.phi)
    factors = np.maximum(1 + x["total.cagr"][:, None] + config.total.shock.sd * e, floor)
    total = np.empty((n, len(years)))
    total[:, 0] = x["total.base"]
    total[:, 1:] = total[:, :1] * np.cumprod(factors, axis=1)
    series["total"] = total
    pos = horizon
    for p, partition in config.partitions.items():
        levels = []
        for s in partition.segments:
            e = _ar1(shocks[:, pos : pos + horizon], partition.shock.phi)
            pos += horizon
            growth = np.maximum(1 + x[f"{p}.{s}.cagr"][:, None] + partition.shock.sd * e, floor)
            level = np.empty((n, len(years)))
            level[:, 0] = x[f"{p}.{s}.share"]
            level[:, 1:] = level[:, :1] * np.cumprod(growth, axis=1)
            levels.append(level)
        level_sum = np.sum(levels, axis=0)
        for s, level in zip(partition.segments, levels, strict=True):
            series[s] = total * (level / level_sum)

    split = config.function_split
    if split is not None:
        for s in config.partitions[split.partition].segments:
            k = x[f"{split.partition}.{s}.steepness"][:, None]
            crossover = x[f"{split.partition}.{s}.crossover"][:, None]
            q = 1 / (1 + np.exp(-k * (years[None, :] - crossover)))
            series[f"{s}_{split.rising}"] = series[s] * q
            series[f"{s}_{split.falling}"] = series[s] * (1 - q)
    for info in list_series(config):
        if info.members:
            series[info.label] = np.sum([series[m] for m in info.members], axis=0)
    for a in config.adoption:
        logit0 = np.log(x[f"{a}.initial_share"] / (1 - x[f"{a}.initial_share"]))
        t = np.arange(len(years))
        series[a] = 1 / (1 + np.exp(-(logit0[:, None] + x[f"{a}.logit_rate"][:, None] * t)))
    pending = dict(config.derived)
    shape = (n, len(years))
    while pending:
        for d, derived in list(pending.items()):
            try:
                value = _evaluate(ast.parse(derived.expr, mode="eval").body, series, x)
            except KeyError:
                continue  # depends on a derived series not evaluated yet
            if not (isinstance(value, np.ndarray) and value.shape == shape):
                # Of constants and inputs alone, a number or (n, 1): the same every year.
                value = np.broadcast_to(value, shape).copy()
            series[d] = value
            del pending[d]
    return series


def _evaluate(node: ast.AST, series: dict, x: dict) -> np.ndarray | float:
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
        return node.value
    if isinstance(node, ast.Name):
        return series[node.id] if node.id in series else x[node.id][:, None]
    if isinstance(node, ast.UnaryOp):
        return -_evaluate(node.operand, series, x)
    if isinstance(node, ast.BinOp):
        left = _evaluate(node.left, series, x)
        return _OPS[type(node.op)](left, _evaluate(node.right, series, x))
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        a, b = (_evaluate(arg, series, x) for arg in node.args)  # min(a, b) or max(a, b)
        return (np.minimum if node.func.id == "min" else np.maximum)(a, b)
    raise ValueError(ast.dump(node))


def n_normals(config: Config) -> int:
    """Standard normals the model needs per draw."""
    uncertain = sum(not i.spec.is_fixed for i in list_inputs(config))
    segments = sum(len(p.segments) for p in config.partitions.values())
    return uncertain + (len(config.years) - 1) * (1 + segments)


def simulate(config: Config, draws: int, seed: int) -> dict[str, np.ndarray]:
    """The whole model with numpy's default generator: normals, inputs, trajectories."""
    rng = np.random.default_rng(seed)
    normals = rng.standard_normal((draws, n_normals(config)))
    uncertain = sum(not i.spec.is_fixed for i in list_inputs(config))
    inputs = sample_inputs(config, normals[:, :uncertain])
    return trajectories(config, inputs, normals[:, uncertain:])
