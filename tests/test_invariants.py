"""Invariants of every draw: partitions and groups sum up, shares are shares, all finite."""

from __future__ import annotations

import numpy as np
import pytest

from mcinfra import RunSettings, simulate


@pytest.fixture(scope="module")
def run(default_config):
    return simulate(default_config, RunSettings(draws=20_000, seed=3, chunk_size=7_000))


def test_no_nan_or_inf(run):
    assert np.isfinite(run["value"].values).all()
    assert np.isfinite(run["inputs"].values).all()


def test_every_partition_sums_to_the_total(run):
    value = run["value"]
    total = value.sel(segment="total")
    for part in ("offering", "channel", "region"):
        rows = (run.kind == "segment") & (run.partition == part)
        summed = value.sel(segment=rows).sum("segment")
        assert float(np.max(np.abs(summed / total - 1))) < 1e-9, part


def test_every_group_is_the_sum_of_its_members(run, default_plan):
    value = run["value"]
    for info in default_plan.series:
        if info.members:
            summed = value.sel(segment=list(info.members)).sum("segment")
            np.testing.assert_allclose(value.sel(segment=info.label), summed, rtol=1e-12)


@pytest.mark.parametrize(
    "grouping", [["cloud", "on_premises"], ["hyperscalers", "enterprises", "government"]]
)
def test_complete_groupings_sum_to_the_total(run, grouping):
    value = run["value"]
    summed = value.sel(segment=grouping).sum("segment")
    total = value.sel(segment="total")
    assert float(np.max(np.abs(summed / total - 1))) < 1e-9


def test_function_split_sums_to_host(run):
    value = run["value"]
    for entity in ("hyperscale_cloud", "cloud", "enterprises", "total"):
        both = value.sel(segment=f"{entity}_inference") + value.sel(segment=f"{entity}_training")
        np.testing.assert_allclose(both, value.sel(segment=entity), rtol=1e-12)


def test_shares_are_in_unit_interval(run):
    value = run["value"]
    total = value.sel(segment="total")
    segments = value.sel(segment=(run.kind == "segment").values)
    shares = segments / total
    assert float(shares.min()) >= 0 and float(shares.max()) <= 1
    adoption = value.sel(segment="custom_silicon")
    assert float(adoption.min()) >= 0 and float(adoption.max()) <= 1
    assert (value.sel(segment=["hbm", "lpddr"]) >= 0).all()


def test_dataset_layout(run, default_plan):
    assert run["value"].dims == ("draw", "segment", "year")
    assert run["inputs"].dims == ("draw", "input")
    assert run["value"].values.strides[0] == 8  # draw-last in memory: columns are contiguous
    assert list(run.year.values) == list(range(2024, 2031))
    assert run.kind.sel(segment="total") == "total"
    assert run.kind.sel(segment="network") == "segment"
    assert run.partition.sel(segment="network") == "offering"
    assert run.kind.sel(segment="cloud") == "group"
    assert run.kind.sel(segment="cloud_inference") == "function"
    assert run.kind.sel(segment="custom_silicon") == "adoption"
    assert run.unit.sel(segment="custom_silicon") == "fraction"
    assert run.kind.sel(segment="hbm") == "derived"
    assert run.unit.sel(segment="hbm") == "USD billion"
    assert len(set(run.segment.values)) == run.sizes["segment"]
    for key in ("config_sha256", "seed", "draws", "mcinfra_version", "numba_version"):
        assert key in run.attrs
    assert run.origin.sel(input="offering.network.cagr") == "mixed"
    assert run.family.sel(input="total.cagr") == "pert"


@pytest.mark.parametrize(
    "settings",
    [
        RunSettings(draws=5_000, seed=4, chunk_size=1_500),
        RunSettings(draws=4_096, seed=4, chunk_size=1_500, method="sobol", replicates=2),
    ],
    ids=["streams", "sobol"],
)
def test_the_samplers_partition_check_is_the_check_of_the_values_it_wrote(default_plan, settings):
    # The sampler computes each chunk's partition check on the rows it has just written,
    # still in cache; for every chunk (short ones too) it must be, to the bit, what the
    # separate check computes from the values, whose kernel has tests of its own.
    from mcinfra.sampling.engine import stream
    from mcinfra.stats.reduction import Chunk
    from mcinfra.stats.summary import PartitionCheck

    series = default_plan.series
    found = []

    def on_chunk(first, values, inputs, scores, gap):
        check = PartitionCheck([s.kind for s in series], [s.partition for s in series])
        check.add(Chunk(first, values))
        found.append((values.shape[-1], gap, check.worst))

    stream(default_plan, settings, on_chunk)
    assert sum(n for n, _, _ in found) == settings.draws and len(found) >= 4
    assert all(gap == worst for _, gap, worst in found), found
    # Only rounding: a partition of n segments V_i = A_i fl(T / S) sums S = sum A_j with
    # (n - 1) roundings, divides once, multiplies once per segment and adds the V_i with
    # n - 1 more, then divides by T (x - 1 near 1 is exact): at most (2 n + 1) units of
    # 2**-53 to first order, and a gap is a whole number of them.
    bound = (2 * default_plan.kernel.max_segments + 1) * 2.0**-53
    assert all(0.0 < gap <= bound for _, gap, _ in found), (bound, found)
