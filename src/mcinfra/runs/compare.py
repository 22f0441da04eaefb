"""Comparing finished runs: probabilities side by side, and each one's difference to the first.

Runs with the same seed use the same random numbers draw for draw (common random numbers),
so a prediction tends to hold in the same draws of both and the difference of the two
probabilities is estimated with much less noise than from independent runs. The paired
estimate re-streams both runs' draws together and counts, per prediction, the draws in
which only the baseline holds (n10) and only the other run holds (n01): with n draws,
d = (n01 - n10) / n and SE(d) = sqrt(((n01 + n10) / n - d^2) / n). Runs whose seeds or draw
counts differ are independent: SE(d) = sqrt(SE_a^2 + SE_b^2), which is also reported for
paired runs to show what the pairing saved.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from mcinfra.config import LoadedConfig
from mcinfra.config.validation import compile_predictions
from mcinfra.runs.whatif import load_run_and_summary
from mcinfra.sampling.engine import RunSettings, TaskThreads, draw_chunk, sobol_source, stream
from mcinfra.sampling.plan import compile_plan
from mcinfra.stats.indicators import chunk_context


@dataclass(frozen=True)
class Difference:
    """Probability of a prediction in ``run`` minus that in ``baseline``."""

    prediction: str
    run: str
    baseline: str
    difference: float
    std_error: float
    std_error_independent: float
    paired: bool


def paired_counts(
    a: tuple[LoadedConfig, RunSettings], b: tuple[LoadedConfig, RunSettings], ids: list[str]
) -> dict[str, tuple[int, int, int]]:
    """Per prediction: (draws, draws where only ``a`` holds, draws where only ``b`` holds).

    Both runs must share seed and draw count; their draws are regenerated chunk by chunk.
    """
    (loaded_a, settings), (loaded_b, _) = a, b
    plan_a, plan_b = compile_plan(loaded_a.config), compile_plan(loaded_b.config)
    found_a = {p.id: p for p in compile_predictions(loaded_a.config)}
    found_b = {p.id: p for p in compile_predictions(loaded_b.config)}
    size = min(settings.chunk_size, settings.draws)
    values_b = np.empty((len(plan_b.series), len(plan_b.years), size))
    inputs_b, scores_b = np.empty((len(plan_b.inputs), size)), np.empty((len(plan_b.inputs), size))
    counts = {i: [0, 0, 0] for i in ids}
    sobol_b = sobol_source(plan_b, settings)  # b's normals, continued chunk by chunk

    def scope(plan):
        """The plan's names, bound once: a chunk's prediction context from its arrays."""
        labels, names = [s.label for s in plan.series], [i.name for i in plan.inputs]
        return lambda values, inputs: chunk_context(values, inputs, labels, plan.years, names)

    scope_a, scope_b = scope(plan_a), scope(plan_b)

    def on_chunk(first, values, inputs, scores, gap):
        n = values.shape[-1]
        out_b = (values_b, inputs_b, scores_b)
        draw_chunk(plan_b, settings, first, n, out_b, 0, sobol_b, tasks_b)
        context_a = scope_a(values, inputs)
        context_b = scope_b(values_b[:, :, :n], inputs_b[:, :n])
        for i in ids:
            holds_a = found_a[i].compiled.holds(context_a)
            holds_b = found_b[i].compiled.holds(context_b)
            counts[i][0] += n
            counts[i][1] += int(np.count_nonzero(holds_a & ~holds_b))
            counts[i][2] += int(np.count_nonzero(holds_b & ~holds_a))

    with TaskThreads() as tasks_b:  # b's chunks drawn on threads kept for the run
        stream(plan_a, settings, on_chunk)
    return {i: (c[0], c[1], c[2]) for i, c in counts.items()}


def _load(path: Path) -> tuple[LoadedConfig, RunSettings, dict]:
    """A finished run, or an updated one (its posterior predictions, ``updated`` set)."""
    from mcinfra.runs.update import is_updated_run, read_updated_run

    if is_updated_run(path):
        updated = read_updated_run(path)
        return updated.loaded, updated.settings, updated.summary | {"updated": True}
    return load_run_and_summary(path)


def compare_runs(run_dirs: list[Path]) -> dict:
    """Everything ``compare.json`` holds: each run's predictions and differences to the first.

    An updated run (``mcinfra update``) counts with its posterior probabilities. Its
    difference to any run takes the independent error sqrt(SE_a^2 + SE_b^2): beside its
    prior it shares the draws, but each draw's indicator (I - p_a)(I - p_b) >= 0 makes the
    covariance of the two estimates non-negative, so that error is an upper bound.
    """
    runs = []
    for path in run_dirs:
        loaded, settings, summary = _load(Path(path))
        runs.append((Path(path), loaded, settings, summary))
    base_path, base_loaded, base_settings, base_summary = runs[0]
    base_rows = {r["id"]: r for r in base_summary["predictions"]}
    differences: list[Difference] = []
    for path, loaded, settings, summary in runs[1:]:
        rows = {r["id"]: r for r in summary["predictions"]}
        ids = [i for i in base_rows if i in rows]
        paired = (settings.seed, settings.draws) == (base_settings.seed, base_settings.draws)
        # Sobol' draws are not independent, so the binomial pairing formula does not hold.
        paired &= settings.method == base_settings.method == "mc"
        # weighted draws: the binomial pairing formula does not hold either
        paired &= not summary.get("updated") and not base_summary.get("updated")
        counts = (
            paired_counts((base_loaded, base_settings), (loaded, settings), ids) if paired else {}
        )
        for i in ids:
            a, b = base_rows[i], rows[i]
            independent = math.hypot(a["std_error"], b["std_error"])
            if paired:
                n, only_a, only_b = counts[i]
                d = (only_b - only_a) / n
                se = math.sqrt(max((only_a + only_b) / n - d * d, 0.0) / n)
            else:
                d, se = b["probability"] - a["probability"], independent
            differences.append(Difference(i, str(path), str(base_path), d, se, independent, paired))
    return {
        "runs": [
            {
                "path": str(path),
                "model": summary["model"]["name"],
                "seed": settings.seed,
                "draws": settings.draws,
                "config_overrides": summary["run"].get("config_overrides", []),
                "predictions": summary["predictions"],
            }
            | (
                {
                    "updated": True,
                    "observations": summary["observations"],
                    "effective_draws": summary["effective_draws"],
                }
                if summary.get("updated")
                else {}
            )
            for path, _, settings, summary in runs
        ],
        "differences": [asdict(d) for d in differences],
    }
