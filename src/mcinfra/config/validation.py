"""Checks that relate several tables of a configuration; each problem names its key path."""

from __future__ import annotations

import math

from mcinfra.config.schema import Config
from mcinfra.config.structure import InputInfo, list_inputs, list_series
from mcinfra.errors import did_you_mean
from mcinfra.kernels import inputs as codes
from mcinfra.language.expressions import (
    INPUT,
    SERIES,
    ExpressionProblem,
    compile_expression,
    evaluation_order,
)
from mcinfra.language.predictions import (
    CompiledPrediction,
    PredictionError,
    Scope,
    compile_prediction,
)
from mcinfra.model import copula
from mcinfra.model.distributions import Distribution, SipInput, build_table
from mcinfra.model.special_values import stored

SHARE_TOLERANCE = 1e-6  # fixed shares must sum to 1 within this
UNCERTAIN_SHARE_TOLERANCE = 0.01  # medians of uncertain shares (renormalised every draw)
TAIL = 1e-6  # probability allowed beyond a hard limit for unbounded families


def check_config(config: Config) -> list[str]:
    """Return every cross-table problem of ``config`` (empty when it is valid)."""
    problems: list[str] = []
    inputs = list_inputs(config)
    for info in inputs:
        problems.extend(_check_input(info))
    problems.extend(_check_partitions(config))
    problems.extend(_check_function_split(config))
    problems.extend(_check_labels(config))
    problems.extend(_check_derived(config))
    problems.extend(correlation_problems(config, inputs))
    problems.extend(_check_source_figures(config))
    problems.extend(_check_predictions(config))
    problems.extend(_check_observations(config))
    problems.extend(_check_sensitivity_groups(config, inputs))
    return problems


SHOCKS_PLAYER = "shocks"  # the yearly shocks' player in Shapley effects (mcinfra drivers)


def _check_sensitivity_groups(config: Config, inputs: list[InputInfo]) -> list[str]:
    """Each group names uncertain inputs, none twice, and no group takes a player's name."""
    problems = []
    spec = {info.name: info.spec for info in inputs}
    owner: dict[str, str] = {}
    for group, members in config.sensitivity.groups.items():
        path = f"sensitivity.groups.{group}"
        if group == SHOCKS_PLAYER or group in spec:
            taken = "the yearly shocks" if group == SHOCKS_PLAYER else "an input"
            problems.append(f"{path}: the name '{group}' is taken by {taken}; rename the group")
        if not members:
            problems.append(f"{path}: a group needs at least one input")
        for name in members:
            if name not in spec:
                hint = did_you_mean(name, list(spec))
                problems.append(f"{path}: no input named '{name}'{hint}")
            elif spec[name].is_fixed:
                problems.append(
                    f"{path}: input '{name}' is fixed; only uncertain inputs are players"
                )
            elif name in owner:
                where = (
                    "twice in this group"
                    if owner[name] == group
                    else (f"also in sensitivity.groups.{owner[name]}")
                )
                problems.append(f"{path}: input '{name}' is {where}; an input is in one group")
            else:
                owner[name] = group
    return problems


def prediction_scope(config: Config) -> Scope:
    """Names, years and function split a prediction of ``config`` may use."""
    split = config.function_split
    return Scope(
        series=tuple(s.label for s in list_series(config)),
        years=tuple(config.years),
        parameters=tuple(config.parameters),
        rising=split.rising if split else None,
        falling=split.falling if split else None,
        inputs=tuple(info.name for info in list_inputs(config)),
    )


def _check_observations(config: Config) -> list[str]:
    from mcinfra.language.observations import ObservationError, compile_observation

    problems = []
    scope = prediction_scope(config)
    for n, spec in enumerate(config.observations):
        try:
            compile_observation(spec.quantity, spec.error, scope)
        except ObservationError as exc:
            problems.append(f"observations[{n}]: {exc}")
    return problems


def _check_predictions(config: Config) -> list[str]:
    problems = []
    scope = prediction_scope(config)
    for name, spec in config.predictions.items():
        try:
            compile_prediction(spec.expr, scope)
        except PredictionError as exc:
            problems.append(f"predictions.{name}.expr: {exc}")
    return problems


def _check_source_figures(config: Config) -> list[str]:
    labels = [s.label for s in list_series(config)]
    years = config.years
    problems = []
    for n, figure in enumerate(config.source_figures):
        path = f"source_figures[{n}]"
        if figure.series not in labels:
            problems.append(
                f"{path}.series: no series named '{figure.series}'"
                f"{did_you_mean(figure.series, labels)}"
            )
        needed = ("start_year", "end_year") if figure.kind == "cagr" else ("year",)
        for key in needed:
            year = getattr(figure, key)
            if year is None:
                problems.append(f"{path}.{key}: required for kind = '{figure.kind}'")
            elif year not in years:
                problems.append(
                    f"{path}.{key}: {year} is outside the horizon {years[0]}-{years[-1]}"
                )
        if (
            figure.kind == "cagr"
            and figure.start_year is not None
            and figure.end_year is not None
            and figure.start_year >= figure.end_year
        ):
            problems.append(f"{path}: start_year must be before end_year")
    return problems


def _probability_below(spec: Distribution, limit: float) -> float:
    low, high = spec.support()
    if high <= limit:
        return 1.0
    if low > limit:
        return 0.0
    if isinstance(spec, SipInput):  # its CDF follows its library's data, not the config
        return spec.cdf(limit)
    # the config determines it in full: kept, so that a later run needs no scipy.special
    return stored(
        "probability below", f"{spec.model_dump_json()} {limit!r}", lambda: spec.cdf(limit)
    )


def _check_input(info: InputInfo) -> list[str]:
    spec = info.spec
    if spec.pack()[0] == codes.TABULATED:
        try:
            build_table(spec)  # cached: the plan reuses it
        except ValueError as exc:
            return [f"{info.path}: {exc}"]
    low, high = spec.support()
    if info.role == "cagr" and _probability_below(spec, -1.0) > TAIL:
        return [f"{info.path}: growth must stay above -100 % (got {spec.describe()})"]
    if info.role == "base" and _probability_below(spec, 0.0) > TAIL:
        return [f"{info.path}: the base-year value must be positive (got {spec.describe()})"]
    if info.role == "share" and low < 0:
        return [
            f"{info.path}: a share cannot be negative (got {spec.describe()}); "
            "use a bounded family such as beta, pert or triangular"
        ]
    if info.role == "steepness" and low < 0:
        return [f"{info.path}: steepness cannot be negative (got {spec.describe()})"]
    if info.role == "initial_share" and (low < 0 or high > 1):
        return [f"{info.path}: an adoption share must lie in [0, 1] (got {spec.describe()})"]
    return []


def _check_partitions(config: Config) -> list[str]:
    problems = []
    for p, partition in config.partitions.items():
        medians = [segment.share.median() for segment in partition.segments.values()]
        uncertain = any(not s.share.is_fixed for s in partition.segments.values())
        tolerance = UNCERTAIN_SHARE_TOLERANCE if uncertain else SHARE_TOLERANCE
        total = math.fsum(medians)
        if abs(total - 1.0) > tolerance:
            pairs = zip(partition.segments, medians, strict=True)
            listed = ", ".join(f"{s}={m:g}" for s, m in pairs)
            problems.append(
                f"partitions.{p}.segments: shares must sum to 1, they sum to {total:.6g} ({listed})"
            )
        for grouping, groups in partition.groupings.items():
            seen: dict[str, str] = {}
            for g, members in groups.items():
                path = f"partitions.{p}.groupings.{grouping}.{g}"
                if not members:
                    problems.append(f"{path}: a group needs at least one segment")
                for m in members:
                    if m not in partition.segments:
                        problems.append(
                            f"{path}: '{m}' is not a segment of partition '{p}'"
                            f"{did_you_mean(m, partition.segments)}"
                        )
                    elif m in seen and seen[m] == g:
                        problems.append(f"{path}: segment '{m}' is listed twice")
                    elif m in seen:
                        problems.append(
                            f"{path}: segment '{m}' is already in group '{seen[m]}' "
                            f"of grouping '{grouping}'"
                        )
                    seen.setdefault(m, g)
    return problems


def _check_function_split(config: Config) -> list[str]:
    split = config.function_split
    if split is None:
        return []
    if split.partition not in config.partitions:
        return [
            f"function_split.partition: no partition named '{split.partition}'"
            f"{did_you_mean(split.partition, config.partitions)}"
        ]
    problems = []
    if split.rising == split.falling:
        problems.append(f"function_split: rising and falling must differ (both '{split.rising}')")
    host = config.partitions[split.partition].segments
    for s in split.segments:
        if s not in host:
            problems.append(
                f"function_split.segments.{s}: not a segment of partition "
                f"'{split.partition}'{did_you_mean(s, host)}"
            )
    entities = {"total", *host}
    for groups in config.partitions[split.partition].groupings.values():
        entities.update(groups)
    for n, entity in enumerate(split.crossover_report):
        if entity not in entities:
            problems.append(
                f"function_split.crossover_report[{n}]: '{entity}' is not the total, "
                f"a segment or a group of '{split.partition}'"
                f"{did_you_mean(entity, entities)}"
            )
    missing = [s for s in host if s not in split.segments]
    if missing:
        problems.append(
            f"function_split.segments: missing crossover and steepness for {', '.join(missing)}"
        )
    return problems


def _check_labels(config: Config) -> list[str]:
    seen: dict[str, str] = {}
    problems = []
    named = [(s.label, s.path) for s in list_series(config)]
    named += [(name, f"parameters.{name}") for name in config.parameters]
    for label, path in named:
        if label in seen and seen[label] != path:
            problems.append(
                f"{path}: label '{label}' is already used by {seen[label]}; "
                "every series and parameter name must be unique"
            )
        seen.setdefault(label, path)
    return problems


def _check_derived(config: Config) -> list[str]:
    """Expressions compile, refer to known names, and derived series do not form a cycle."""
    symbols = {s.label: (SERIES, 0) for s in list_series(config)}
    symbols.update({name: (INPUT, 0) for name in config.parameters})
    depends: dict[str, set[str]] = {}
    problems = []
    for d, derived in config.derived.items():
        try:
            program = compile_expression(derived.expr, symbols)
        except ExpressionProblem as exc:
            shown = derived.expr in str(exc)  # a syntax error prints the expression
            problems.append(f"derived.{d}.expr: {exc}" + ("" if shown else f" in '{derived.expr}'"))
            continue
        depends[d] = program.names & set(config.derived)
    try:
        evaluation_order(depends)
    except ExpressionProblem as exc:
        problems.append(f"derived.{exc.args[1]}.expr: {exc.args[0]}")
    return problems


def correlation_problems(config: Config, inputs: list[InputInfo]) -> list[str]:
    """Unknown, constant, repeated or jointly impossible rank correlations."""
    index = {info.name: i for i, info in enumerate(inputs)}
    problems = []
    seen: set[frozenset[str]] = set()
    pairs: list[tuple[int, int, float]] = []
    for n, corr in enumerate(config.correlations):
        path = f"correlations[{n}]"
        a, b = corr.between
        bad = False
        for name in (a, b):
            if name not in index:
                hint = did_you_mean(name, index)
                problems.append(f"{path}.between: no input named '{name}'{hint}")
                bad = True
            elif inputs[index[name]].spec.is_fixed:
                problems.append(
                    f"{path}.between: '{name}' is a fixed number and cannot be correlated"
                )
                bad = True
            elif isinstance(sip := inputs[index[name]].spec, SipInput):
                problems.append(
                    f"{path}.between: '{name}' is SIP '{sip.name}' of the SIPmath library "
                    f"{sip.library}: its dependence on other inputs comes from that "
                    "library's trials, so it cannot be in [[correlations]]"
                )
                bad = True
        if bad:
            continue
        if a == b:
            problems.append(f"{path}.between: an input cannot be correlated with itself ('{a}')")
        elif frozenset((a, b)) in seen:
            problems.append(f"{path}.between: the pair ('{a}', '{b}') is given twice")
        else:
            seen.add(frozenset((a, b)))
            pairs.append((index[a], index[b], corr.rank))
    if problems or config.sampling.repair_correlations:
        return problems
    matrix = copula.correlation_matrix(len(inputs), pairs)
    for members, smallest in copula.failing_blocks(matrix):
        involved = [
            f"{inputs[i].name}~{inputs[j].name}={rank:g}"
            for i, j, rank in pairs
            if i in members and j in members
        ]
        problems.append(
            "correlations: the rank correlations among "
            + ", ".join(inputs[i].name for i in members)
            + f" are not jointly possible (smallest eigenvalue {smallest:.3g}); pairs involved: "
            + "; ".join(involved)
            + ". Fix them, or set sampling.repair_correlations = true to use the nearest "
            "valid correlation matrix"
        )
    return problems


def correlation_pairs(config: Config, inputs: list[InputInfo]) -> list[tuple[int, int, float]]:
    """Validated ``(i, j, spearman)`` pairs of input indexes."""
    index = {info.name: i for i, info in enumerate(inputs)}
    return [(index[c.between[0]], index[c.between[1]], c.rank) for c in config.correlations]


__all__ = ["check_config", "correlation_pairs"]


def compile_predictions(config: Config) -> list[CompiledPrediction]:
    """Compile every ``[predictions.ID]`` of a validated config, in config order."""
    scope = prediction_scope(config)
    return [
        CompiledPrediction(name, spec.text, spec.expr, compile_prediction(spec.expr, scope))
        for name, spec in config.predictions.items()
    ]
