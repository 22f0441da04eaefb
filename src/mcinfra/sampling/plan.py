"""Compile a validated configuration into the plain arrays of a :class:`KernelPlan`."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mcinfra.config.schema import Config
from mcinfra.config.structure import InputInfo, SeriesInfo, function_label, list_inputs, list_series
from mcinfra.config.validation import correlation_pairs
from mcinfra.kernels import inputs as codes
from mcinfra.kernels.model import KernelPlan
from mcinfra.language.expressions import INPUT, SERIES, compile_expression, evaluation_order
from mcinfra.model import copula
from mcinfra.model.distributions import build_table, table_params
from mcinfra.sampling.sips import SipInputs, sip_inputs

_I = np.int64


@dataclass(frozen=True)
class Plan:
    """A compiled model: kernel arrays plus the labels needed to read its output."""

    kernel: KernelPlan
    inputs: list[InputInfo]
    series: list[SeriesInfo]
    years: list[int]
    correlation: np.ndarray  # normal-score correlation of all inputs, as sampled
    repaired: bool  # whether the requested correlations were repaired
    sips: SipInputs  # the inputs taken from SIPmath libraries (values computed per chunk)

    @property
    def n_normals(self) -> int:
        """Standard normals consumed per draw."""
        return self.kernel.n_normals

    @property
    def copies(self) -> dict[str, str]:
        """Series that are sums of one member, each with that member: equal to it bit for bit.

        Chains are followed to a series that is not a copy.
        """
        single = {s.label: s.members[0] for s in self.series if len(s.members) == 1}
        out = {}
        for label, member in single.items():
            while member in single:
                member = single[member]
            out[label] = member
        return out


def _ints(values) -> np.ndarray:
    return np.ascontiguousarray(np.array(list(values), dtype=_I).reshape(-1))


def compile_plan(config: Config) -> Plan:
    """Build the kernel plan of a configuration that passed :func:`check_config`."""
    inputs = list_inputs(config)
    series = list_series(config)
    input_index = {info.name: i for i, info in enumerate(inputs)}
    row = {s.label: i for i, s in enumerate(series)}
    years = config.years
    horizon = len(years) - 1

    # Inputs: family code, packed parameters, spline tables for tabulated families.
    family = np.zeros(len(inputs), dtype=_I)
    params = np.zeros((len(inputs), 4))
    table_start = np.zeros(len(inputs), dtype=_I)
    tables = [np.zeros((1, 4))]
    n_rows = 1
    sips = sip_inputs(inputs)
    for k, info in enumerate(inputs):
        code, packed = info.spec.pack()
        if code == codes.SIP:
            table_start[k] = sips.paths.index(info.path)
        elif code == codes.TABULATED:
            table = build_table(info.spec)
            packed = table_params(table.shape[0])
            table_start[k] = n_rows
            tables.append(table)
            n_rows += table.shape[0]
        family[k] = code
        params[k] = packed

    # Copula: one normal slot per uncertain input, in input order.
    uncertain = [k for k, info in enumerate(inputs) if not info.spec.is_fixed]
    slot = {k: n for n, k in enumerate(uncertain)}
    full = copula.correlation_matrix(len(inputs), correlation_pairs(config, inputs))
    reduced = full[np.ix_(uncertain, uncertain)]
    repaired = False
    if config.sampling.repair_correlations and not copula.is_positive_definite(reduced):
        reduced = copula.nearest_correlation(reduced)
        repaired = True
        full[np.ix_(uncertain, uncertain)] = reduced
    if uncertain:
        ptr_u, col_u, val_u = copula.sparse_cholesky(reduced)
    else:
        ptr_u, col_u, val_u = _ints([0]), _ints([]), np.zeros(0)
    chol_ptr = np.zeros(len(inputs) + 1, dtype=_I)
    cols: list[int] = []
    vals: list[float] = []
    for k in range(len(inputs)):
        if k in slot:
            n = slot[k]
            cols.extend(int(c) for c in col_u[ptr_u[n] : ptr_u[n + 1]])
            vals.extend(float(v) for v in val_u[ptr_u[n] : ptr_u[n + 1]])
        chol_ptr[k + 1] = len(cols)

    # Partitions.
    part_ptr = [0]
    part_shock = []
    seg_share, seg_cagr, seg_series = [], [], []
    for p, partition in config.partitions.items():
        for s in partition.segments:
            seg_share.append(input_index[f"{p}.{s}.share"])
            seg_cagr.append(input_index[f"{p}.{s}.cagr"])
            seg_series.append(row[s])
        part_ptr.append(len(seg_series))
        part_shock.append((partition.shock.sd, partition.shock.phi))

    # Function split of the host partition's segments.
    fn: dict[str, list[int]] = {
        key: [] for key in ("series", "crossover", "steepness", "rising", "falling")
    }
    split = config.function_split
    if split is not None:
        for s in config.partitions[split.partition].segments:
            fn["series"].append(row[s])
            fn["crossover"].append(input_index[f"{split.partition}.{s}.crossover"])
            fn["steepness"].append(input_index[f"{split.partition}.{s}.steepness"])
            fn["rising"].append(row[function_label(s, split.rising)])
            fn["falling"].append(row[function_label(s, split.falling)])

    # Sums: groups first, then function aggregates (which sum function series only).
    sums = [s for s in series if s.members]
    sum_ptr = [0]
    members: list[int] = []
    for total in sums:
        members.extend(row[m] for m in total.members)
        sum_ptr.append(len(members))

    names = [a for a in config.adoption]

    # Derived series, in dependency order.
    symbols = {s.label: (SERIES, i) for i, s in enumerate(series)}
    symbols.update({name: (INPUT, input_index[name]) for name in config.parameters})
    programs = {d: compile_expression(v.expr, symbols) for d, v in config.derived.items()}
    order = evaluation_order({d: p.names & set(programs) for d, p in programs.items()})
    dv_ptr = [0]
    dv_op: list[int] = []
    dv_arg: list[int] = []
    dv_const: list[float] = []
    max_stack = 1
    for d in order:
        program = programs[d]
        dv_op += program.op
        dv_arg += program.arg
        dv_const += program.const
        dv_ptr.append(len(dv_op))
        max_stack = max(max_stack, program.max_stack)

    n_uncertain = len(uncertain)
    n_segments = len(seg_series)
    kernel = KernelPlan(
        in_family=family,
        in_params=np.ascontiguousarray(params),
        in_table=table_start,
        tab_coef=np.ascontiguousarray(np.concatenate(tables)),
        chol_ptr=chol_ptr,
        chol_col=_ints(cols),
        chol_val=np.array(vals, dtype=np.float64),
        years=np.array(years, dtype=np.float64),
        total_inputs=_ints([input_index["total.base"], input_index["total.cagr"]]),
        total_shock=np.array([config.total.shock.sd, config.total.shock.phi]),
        part_ptr=_ints(part_ptr),
        part_shock=np.array(part_shock, dtype=np.float64).reshape(-1, 2),
        seg_share=_ints(seg_share),
        seg_cagr=_ints(seg_cagr),
        seg_series=_ints(seg_series),
        fn_series=_ints(fn["series"]),
        fn_crossover=_ints(fn["crossover"]),
        fn_steepness=_ints(fn["steepness"]),
        fn_rising=_ints(fn["rising"]),
        fn_falling=_ints(fn["falling"]),
        sum_ptr=_ints(sum_ptr),
        sum_members=_ints(members),
        sum_target=_ints(row[s.label] for s in sums),
        ad_initial=_ints(input_index[f"{a}.initial_share"] for a in names),
        ad_rate=_ints(input_index[f"{a}.logit_rate"] for a in names),
        ad_series=_ints(row[a] for a in names),
        dv_ptr=_ints(dv_ptr),
        dv_op=_ints(dv_op),
        dv_arg=_ints(dv_arg),
        dv_const=np.array(dv_const, dtype=np.float64),
        dv_series=_ints(row[d] for d in order),
        n_uncertain=n_uncertain,
        n_normals=n_uncertain + horizon * (1 + n_segments),
        max_segments=max([part_ptr[i + 1] - part_ptr[i] for i in range(len(part_ptr) - 1)] + [1]),
        max_stack=max_stack,
        growth_floor=float(config.model.growth_factor_floor),
        sip_values=np.zeros((sips.count, 0)),
        sip_scores=np.zeros((sips.count, 0)),
    )
    return Plan(kernel, inputs, series, years, full, repaired, sips)
