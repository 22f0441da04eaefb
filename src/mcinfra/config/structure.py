"""What a configuration declares: its uncertain inputs and its output series, in order."""

from __future__ import annotations

from dataclasses import dataclass

from mcinfra.config.schema import Config
from mcinfra.model.distributions import Distribution

TOTAL = "total"
FRACTION = "fraction"


@dataclass(frozen=True)
class InputInfo:
    """One scalar input of the model (a number or a distribution)."""

    name: str  # e.g. "offering.network.cagr"; used in correlations and outputs
    path: str  # config key path, e.g. "partitions.offering.segments.network.cagr"
    role: str  # base, cagr, share, crossover, steepness, initial_share, logit_rate, parameter
    spec: Distribution
    description: str = ""


@dataclass(frozen=True)
class SeriesInfo:
    """One output series (a row of the ``segment`` dimension)."""

    label: str
    kind: str  # total, segment, group, function, adoption, derived
    partition: str  # the partition a series belongs to, "" otherwise
    unit: str
    path: str  # config key path that declares it
    members: tuple[str, ...] = ()  # labels summed into a group or aggregate


def list_inputs(config: Config) -> list[InputInfo]:
    """Every input in a fixed order: total, partitions, function split, adoption, parameters."""
    found = [
        InputInfo("total.base", "total.base", "base", config.total.base, "total in the base year"),
        InputInfo("total.cagr", "total.cagr", "cagr", config.total.cagr, "trend CAGR of the total"),
    ]
    for p, partition in config.partitions.items():
        for s, segment in partition.segments.items():
            path = f"partitions.{p}.segments.{s}"
            share = segment.share
            if share.is_fixed and not share.source:
                # A plain-number share takes the partition's statement of where it came from.
                share = share.model_copy(
                    update={"origin": partition.origin, "source": partition.source}
                )
            found.append(
                InputInfo(
                    f"{p}.{s}.share",
                    f"{path}.share",
                    "share",
                    share,
                    f"{s} share of {p} in the base year",
                )
            )
            found.append(
                InputInfo(f"{p}.{s}.cagr", f"{path}.cagr", "cagr", segment.cagr, f"{s} trend CAGR")
            )
    split = config.function_split
    if split is not None:
        for s, host in split.segments.items():
            path = f"function_split.segments.{s}"
            found.append(
                InputInfo(
                    f"{split.partition}.{s}.crossover",
                    f"{path}.crossover",
                    "crossover",
                    host.crossover,
                    f"year {split.rising} overtakes {split.falling} in {s}",
                )
            )
            found.append(
                InputInfo(
                    f"{split.partition}.{s}.steepness",
                    f"{path}.steepness",
                    "steepness",
                    host.steepness,
                    f"steepness of the {split.rising} share curve in {s}",
                )
            )
    for a, curve in config.adoption.items():
        found.append(
            InputInfo(
                f"{a}.initial_share",
                f"adoption.{a}.initial_share",
                "initial_share",
                curve.initial_share,
                f"{a} share in the base year",
            )
        )
        found.append(
            InputInfo(
                f"{a}.logit_rate",
                f"adoption.{a}.logit_rate",
                "logit_rate",
                curve.logit_rate,
                f"yearly growth of logit({a})",
            )
        )
    for name, spec in config.parameters.items():
        found.append(InputInfo(name, f"parameters.{name}", "parameter", spec, "parameter"))
    return found


def function_label(entity: str, function: str) -> str:
    """Label of the series of ``function`` (e.g. inference) within ``entity``."""
    return f"{entity}_{function}"


def list_series(config: Config) -> list[SeriesInfo]:
    """Every output series in row order."""
    unit = config.model.unit
    rows = [SeriesInfo(TOTAL, "total", "", unit, "total")]
    for p, partition in config.partitions.items():
        for s in partition.segments:
            rows.append(SeriesInfo(s, "segment", p, unit, f"partitions.{p}.segments.{s}"))
        for grouping, groups in partition.groupings.items():
            for g, members in groups.items():
                rows.append(
                    SeriesInfo(
                        g,
                        "group",
                        p,
                        unit,
                        f"partitions.{p}.groupings.{grouping}.{g}",
                        tuple(members),
                    )
                )
    split = config.function_split
    if split is not None and split.partition in config.partitions:
        host = config.partitions[split.partition]
        path = "function_split"
        for s in host.segments:
            for f in (split.rising, split.falling):
                label = function_label(s, f)
                rows.append(SeriesInfo(label, "function", split.partition, unit, path))
        for groups in host.groupings.values():
            for g, members in groups.items():
                for f in (split.rising, split.falling):
                    rows.append(
                        SeriesInfo(
                            function_label(g, f),
                            "function",
                            split.partition,
                            unit,
                            path,
                            tuple(function_label(m, f) for m in members),
                        )
                    )
        for f in (split.rising, split.falling):
            rows.append(
                SeriesInfo(
                    function_label(TOTAL, f),
                    "function",
                    "",
                    unit,
                    path,
                    tuple(function_label(s, f) for s in host.segments),
                )
            )
    for a in config.adoption:
        rows.append(SeriesInfo(a, "adoption", "", FRACTION, f"adoption.{a}"))
    for d, derived in config.derived.items():
        rows.append(SeriesInfo(d, "derived", "", derived.unit or unit, f"derived.{d}"))
    return rows
