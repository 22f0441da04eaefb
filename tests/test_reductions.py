"""Every reduction follows the Reduction protocol: split, merged and restored, it equals one pass.

A run's reductions are computed chunk by chunk, in parts on other processes (merged with
``absorb``) and across an interruption (``state`` saved mid-run, ``restore``d later). Each way must
give the state a single pass gives, at any chunk size, to the count.
"""

from __future__ import annotations

import io
import itertools

import numpy as np
import pytest

from mcinfra import RunSettings
from mcinfra.config.validation import compile_predictions
from mcinfra.runs.reductions import Reductions, ReplicateCounts
from mcinfra.sampling.engine import stream
from mcinfra.stats.crossover import CrossoverCounter
from mcinfra.stats.indicators import PredictionCounter
from mcinfra.stats.reduction import Chunk, Reduction
from mcinfra.stats.sensitivity import SensitivityAccumulator
from mcinfra.stats.sketch import QuantileSketch, SketchColumns
from mcinfra.stats.summary import ColumnCollector, PartitionCheck

DRAWS = 600  # past the history checkpoints 100, 200 and 500
SHORT = 150  # the draws split into chunks of one draw (each chunk costs its fixed overhead)
REPLICATE = 64  # Sobol'-like replicates: chunks are cut at their boundaries


@pytest.fixture(scope="module")
def run(default_config, default_plan):
    """The draws of a small run, and each draw's prediction indicators."""
    plan = default_plan
    values = np.empty((len(plan.series), len(plan.years), DRAWS))
    inputs, scores = (np.empty((len(plan.inputs), DRAWS)) for _ in range(2))
    stream(plan, RunSettings(draws=DRAWS, seed=3, chunk_size=DRAWS), out=(values, inputs, scores))
    counter = _counter(default_config, plan, 0)
    indicators = counter.indicators(Chunk(0, values, inputs, scores))
    return default_config, plan, (values, inputs, scores, indicators)


def _counter(loaded, plan, start):
    counter = PredictionCounter(
        compile_predictions(loaded.config),
        [s.label for s in plan.series],
        plan.years,
        [i.name for i in plan.inputs],
        [not i.spec.is_fixed for i in plan.inputs],
    )
    counter.start_at(start)
    return counter


def _labels(plan):
    return [s.label for s in plan.series]


# Each factory builds the reduction for the part of a run that starts at draw ``start``.
FACTORIES = {
    "PredictionCounter": _counter,
    "SensitivityAccumulator": lambda loaded, plan, start: SensitivityAccumulator(
        len(compile_predictions(loaded.config)),
        [i.name for i in plan.inputs],
        [not i.spec.is_fixed for i in plan.inputs],
    ),
    "PartitionCheck": lambda loaded, plan, start: PartitionCheck(
        [s.kind for s in plan.series], [s.partition for s in plan.series]
    ),
    "ColumnCollector": lambda loaded, plan, start: ColumnCollector(
        [(label, y) for label in _labels(plan)[:3] for y in plan.years],
        _labels(plan),
        plan.years,
    ),
    "ColumnCollector(capacity)": lambda loaded, plan, start: ColumnCollector(
        [(label, y) for label in _labels(plan)[:3] for y in plan.years],
        _labels(plan),
        plan.years,
        DRAWS if start == 0 else None,  # a part elsewhere does not hold the whole run
    ),
    "SketchColumns": lambda loaded, plan, start: SketchColumns(
        _labels(plan), plan.years, loaded.config.source_figures, copies=plan.copies
    ),
    "QuantileSketch": lambda loaded, plan, start: QuantileSketch(
        len(plan.series) * len(plan.years)
    ),
    "CrossoverCounter": lambda loaded, plan, start: CrossoverCounter(
        loaded.config.function_split.crossover_report,
        loaded.config.function_split.rising,
        loaded.config.function_split.falling,
        _labels(plan),
        plan.years,
    ),
    "ReplicateCounts": lambda loaded, plan, start: ReplicateCounts(
        REPLICATE, len(compile_predictions(loaded.config))
    ),
    "Reductions(exact)": lambda loaded, plan, start: Reductions(
        loaded, plan, True, DRAWS if start == 0 else None, start, REPLICATE
    ),
    "Reductions(sketch)": lambda loaded, plan, start: Reductions(
        loaded, plan, False, None, start, REPLICATE
    ),
}


def _chunks(arrays, start: int, stop: int, size: int):
    """Chunks of ``size`` draws from ``start`` (cut at replicate boundaries), contiguous."""
    first = start
    while first < stop:
        end = min(first + size, stop, (first // REPLICATE + 1) * REPLICATE)
        window = [np.ascontiguousarray(a[..., first:end]) for a in arrays]
        yield Chunk(first, window[0], window[1], window[2], indicators=window[3])
        first = end


def _reduce(make, arrays, start: int, stop: int, size: int, reduction=None):
    reduction = make(start) if reduction is None else reduction
    for chunk in _chunks(arrays, start, stop, size):
        reduction.add(chunk)
    return reduction


def _saved(state) -> np.lib.npyio.NpzFile:
    """The state through a checkpoint file, as a resumed run reads it."""
    buffer = io.BytesIO()
    np.savez(buffer, **state)
    buffer.seek(0)
    return np.load(buffer)


def _canonical(state) -> dict:
    """A state's content: sketches as their counts per row (their page layout may differ)."""
    state = {key: np.asarray(state[key]) for key in state}
    sketches = {key[: -len("hull")] for key in state if key.endswith("hull")}
    out = {}
    for prefix in sketches:
        sketch = QuantileSketch.from_state(state, prefix)
        for row in range(sketch.n_rows):
            values, counts = sketch.distribution(row)
            out[f"{prefix}row{row}"] = np.concatenate([values, counts])
        out[f"{prefix}special"] = sketch.special
    for key, value in state.items():
        if not any(key.startswith(prefix) for prefix in sketches):
            out[key] = value
    return out


def _assert_same(got: Reduction, expected: Reduction) -> None:
    a, b = _canonical(got.state()), _canonical(expected.state())
    assert a.keys() == b.keys()
    for key in a:
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)


@pytest.mark.parametrize(("size", "draws"), [(1, SHORT), (7, DRAWS // 2), (100, DRAWS)])
@pytest.mark.parametrize("name", list(FACTORIES))
def test_split_merged_and_restored_equal_one_pass(run, name, size, draws):
    # Chunks of one draw, of a size that divides neither the draws nor a replicate, and of
    # one that divides the draws; parts that start off the chunk grid.
    loaded, plan, arrays = run
    arrays = [a[..., :draws] for a in arrays]

    def make(start):
        return FACTORIES[name](loaded, plan, start)

    one_pass = _reduce(make, arrays, 0, draws, draws)
    assert isinstance(one_pass, Reduction)

    chunked = _reduce(make, arrays, 0, draws, size)
    _assert_same(chunked, one_pass)

    merged = make(0)
    bounds = [0, round(0.42 * draws), round(0.73 * draws), draws]
    for start, stop in itertools.pairwise(bounds):
        merged.absorb(start, _saved(_reduce(make, arrays, start, stop, size).state()))
    _assert_same(merged, one_pass)

    halfway = _reduce(make, arrays, 0, draws // 2, size)
    resumed = make(0)
    resumed.restore(_saved(halfway.state()))
    _assert_same(_reduce(make, arrays, draws // 2, draws, size, resumed), one_pass)


def test_counts_are_not_all_zero(run):
    # The comparisons above would pass on empty reductions: the run must count something.
    loaded, plan, arrays = run
    reductions = _reduce(
        lambda s: FACTORIES["Reductions(exact)"](loaded, plan, s), arrays, 0, DRAWS, 128
    )
    assert 0 < reductions.counter.holds.sum() < DRAWS * reductions.counter.holds.size
    assert reductions.counter.sensitivity.hits.sum() > 0
    assert reductions.crossovers.counts.sum() == DRAWS * len(reductions.crossovers.entities)
    assert reductions.replicates.holds.sum() == reductions.counter.holds.sum()
    assert reductions.check.worst < 1e-9 and reductions.collector.columns.draws == DRAWS


def test_chunks_out_of_draw_order_are_refused(run):
    loaded, plan, arrays = run
    counter = _counter(loaded, plan, 0)
    chunks = list(_chunks(arrays, 0, 20, 10))
    with pytest.raises(ValueError, match="chunks must come in draw order: expected draw 0"):
        counter.add(chunks[1])
    counter.add(chunks[0])
    with pytest.raises(ValueError, match="parts must be merged in draw order: expected 10"):
        counter.absorb(0, counter.state())


def test_chunk_needs_an_array():
    with pytest.raises(ValueError, match="a chunk needs at least one array of draws"):
        _ = Chunk(3).draws
    assert Chunk(3, scores=np.zeros((2, 5))).stop == 8


def test_a_reduction_names_the_array_its_chunk_lacks():
    scores = np.zeros((2, 5))
    collector = ColumnCollector([("a", 2030)], ["a"], [2030])
    with pytest.raises(ValueError, match="reads the chunk's values, which it lacks"):
        collector.add(Chunk(0, scores=scores))
    sensitivity = SensitivityAccumulator(1, ["x", "y"], [True, True])
    with pytest.raises(ValueError, match="reads the chunk's indicators, which it lacks"):
        sensitivity.add(Chunk(0, scores=scores))
    assert Chunk(0, scores=scores).require("scores") is scores
