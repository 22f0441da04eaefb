"""``mcinfra export``: a finished run's draws as a SIPmath 3.0 library.

Draw d's numbers depend only on (seed, d), so re-streaming the run's config, seed and
settings gives its draws bit for bit (as :mod:`mcinfra.runs.whatif` does); the first N of
them become the trials of the library's SIPs, trial i being draw i - 1 in every SIP, so
that a spreadsheet that combines SIPs trial by trial keeps the run's joint distribution:
its correlations, and the coherence of inputs, series and predictions within a draw.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from mcinfra.config.structure import TOTAL, InputInfo
from mcinfra.config.validation import compile_predictions
from mcinfra.errors import UsageError, did_you_mean
from mcinfra.io.run_directory import write_text_atomically
from mcinfra.model import metalog
from mcinfra.model.distributions import Distribution, Metalog
from mcinfra.runs.whatif import load_run_and_summary
from mcinfra.sampling.engine import stream
from mcinfra.sampling.plan import Plan, compile_plan
from mcinfra.sipmath.library import (
    ArraySip,
    CopulaRef,
    CorrelationMatrix,
    GaussianCopula,
    HdrStream,
    IndexStream,
    Library,
    MetalogSip,
    Sip,
    Stream,
    StreamRef,
    library_json,
)
from mcinfra.stats.indicators import chunk_context

DEFAULT_TRIALS = 10_000
"""Trials exported when ``--trials`` is not given (or all draws of a smaller run)."""
MAX_TRIALS = 1_048_576
"""The rows of a spreadsheet (Excel's limit), which SIP_Array libraries are read into."""
PERCENTILES = tuple(range(5, 100, 5))
"""Percentiles in each SIP's metadata, as ``P5`` .. ``P95``."""
INDEX_STREAM = "index"
METALOG_SUFFIX = ".metalog"
"""An input's Metalog_1_0 SIP is named after it: ``offering.network.cagr.metalog``."""
METALOG_PROBABILITIES = np.linspace(0.001, 0.999, 999)
"""Where an input's quantile function is fitted and its error measured: P0.1 to P99.9."""
METALOG_TOLERANCE = 1e-3
"""Largest error of a fitted metalog over :data:`METALOG_PROBABILITIES`, in the input's scale."""
HDR_ENTITY = 1
HDR_SEED_BASE = 10**7
"""seed3 and seed4 are the run's seed in base 10^7 (low digits first), so that a spreadsheet's
HDR formula, which sums the seeds' products in floating point, stays exact."""
COPULA = "Gaussian"
CORRELATION = "correlation"


def hdr_seeds(seed: int) -> tuple[int, int]:
    """The HDR_2_0 ``seed3`` and ``seed4`` of a run's metalog SIPs: its seed in base 10^7."""
    return seed % HDR_SEED_BASE, (seed // HDR_SEED_BASE) % HDR_SEED_BASE


def metalog_marginal(spec: Distribution) -> tuple[metalog.MetalogCurve, float]:
    """A metalog quantile function of an input's distribution, and its largest error.

    A ``metalog`` input is its own curve (error 0). Any other family is fitted by least
    squares to its quantiles at :data:`METALOG_PROBABILITIES`, with the fewest terms whose
    largest error there is at most :data:`METALOG_TOLERANCE` of the input's scale (else the
    most accurate feasible fit); a finite end of the family's support is a bound of the
    metalog, so that its trials never leave the support.
    """
    if isinstance(spec, Metalog):
        return spec.curve, 0.0
    from scipy.special import ndtri

    low, high = spec.support()
    values = spec.value_at_score(ndtri(METALOG_PROBABILITIES))
    inside = (values > low) & (values < high)  # a bound's log-odds is infinite
    return metalog.fit_fewest_terms(
        METALOG_PROBABILITIES[inside],
        values[inside],
        METALOG_TOLERANCE * spec.scale,
        low if math.isfinite(low) else None,
        high if math.isfinite(high) else None,
    )


def metalog_sips(
    inputs: list[InputInfo], correlation: np.ndarray, seed: int
) -> tuple[list[Sip], list[Stream], list[GaussianCopula], list[CorrelationMatrix]]:
    """Each input as a ``Metalog_1_0`` SIP over its own ``HDR_2_0`` stream, and the copula.

    Input j (1-based) draws its uniforms from the stream ``hdr<j>``: entity
    :data:`HDR_ENTITY`, varId j, seed3 and seed4 from :func:`hdr_seeds`. The inputs that
    the engine correlates (a nonzero entry of ``correlation``, the normal-score matrix it
    samples with) take their uniforms from the layers of one ``GaussianCopula`` over their
    streams, whose matrix (a global variable, rows and layers named after the inputs) is
    that matrix's block; the others take their stream's uniforms directly.
    """
    seed3, seed4 = hdr_seeds(seed)
    streams: list[Stream] = [
        HdrStream(f"hdr{j}", HDR_ENTITY, j, seed3, seed4) for j in range(1, len(inputs) + 1)
    ]
    off_diagonal = correlation - np.diag(np.diag(correlation))
    linked = [j for j in range(len(inputs)) if np.any(off_diagonal[j] != 0)]
    names = [info.name for info in inputs]
    copulas, matrices = [], []
    if linked:
        block = correlation[np.ix_(linked, linked)]
        labels = tuple(names[j] for j in linked)
        matrices.append(
            CorrelationMatrix(CORRELATION, labels, tuple(tuple(map(float, r)) for r in block))
        )
        copulas.append(
            GaussianCopula(COPULA, CORRELATION, tuple(streams[j].name for j in linked), labels)
        )
    sips: list[Sip] = []
    for j, info in enumerate(inputs):
        try:
            curve, error = metalog_marginal(info.spec)
        except ValueError as exc:  # a quantile function no metalog follows
            raise UsageError(f"--metalog: input {info.name}: {exc}") from None
        aim = 0.0 if isinstance(info.spec, Metalog) else METALOG_TOLERANCE * info.spec.scale
        ref: StreamRef | CopulaRef = (
            CopulaRef(COPULA, names[j]) if j in linked else StreamRef(streams[j].name)
        )
        metadata = {
            "distribution": info.spec.describe(),
            "terms": len(curve.a),
            "fitMaxError": error,
            "fitTolerance": aim,
            "fitProbabilities": [float(METALOG_PROBABILITIES[0]), float(METALOG_PROBABILITIES[-1])],
        }
        sips.append(
            MetalogSip(names[j] + METALOG_SUFFIX, curve.a, ref, curve.lower, curve.upper, metadata)
        )
    return sips, streams, copulas, matrices


def series_year_name(label: str, year: int) -> str:
    """A series-year SIP's name, as the prediction language writes it: ``network[2030]``."""
    return f"{label}[{year}]"


def default_series(plan: Plan) -> list[str]:
    """The total and every partition's segments: the parts the market is split into."""
    return [s.label for s in plan.series if s.kind in (TOTAL, "segment")]


def _listed(text: str, option: str) -> list[str]:
    items = [item.strip() for item in text.split(",") if item.strip()]
    if not items:
        raise UsageError(f"{option} needs at least one value, got {text!r}")
    return items


def _choose_series(text: str | None, plan: Plan) -> list[str]:
    if text is None:
        return default_series(plan)
    labels = [s.label for s in plan.series]
    chosen = _listed(text, "--series")
    for label in chosen:
        if label not in labels:
            raise UsageError(
                f"--series: no series named '{label}' in the run{did_you_mean(label, labels)}; "
                f"its series are {', '.join(labels)}"
            )
    return list(dict.fromkeys(chosen))


def _choose_years(text: str | None, plan: Plan) -> list[int]:
    if text is None:
        return [plan.years[-1]]
    chosen = []
    for item in _listed(text, "--years"):
        try:
            year = int(item)
        except ValueError:
            raise UsageError(f"--years: expected a year such as 2030, got '{item}'") from None
        if year not in plan.years:
            raise UsageError(
                f"--years: {year} is not a year of the run ({plan.years[0]}-{plan.years[-1]})"
            )
        chosen.append(year)
    return list(dict.fromkeys(chosen))


def sip_metadata(values: np.ndarray) -> dict[str, float]:
    """``min``, ``mean``, ``max`` and the percentiles ``P5`` .. ``P95`` of one SIP's trials.

    The mean is the correctly rounded sum over the count; percentiles interpolate linearly
    between order statistics (numpy's default, Excel's ``PERCENTILE.INC``).
    """
    quantiles = np.quantile(values, np.array(PERCENTILES) / 100)
    return {
        "min": float(values.min()),
        "mean": math.fsum(values.tolist()) / values.size,
        "max": float(values.max()),
        **{f"P{p}": float(q) for p, q in zip(PERCENTILES, quantiles, strict=True)},
    }


def check_library_target(out: Path, replace: bool) -> None:
    """Refuse to write the library file ``out`` where that would destroy something."""
    out = Path(out)
    if out.is_dir():
        raise UsageError(f"--out {out} is a directory; name the library file to write")
    if not out.parent.is_dir():
        raise UsageError(f"--out {out}: no directory {out.parent}")
    if out.exists() and not replace:
        raise UsageError(f"--out {out} already exists; use --force to replace it")


def export_sipmath(
    run_dir: Path,
    out: Path,
    trials: int | None = None,
    series: str | None = None,
    years: str | None = None,
    predictions: bool = False,
    replace: bool = False,
    metalogs: bool = False,
) -> tuple[Library, int]:
    """Write the first ``trials`` draws of a finished run as a SIPmath 3.0 library ``out``.

    The library holds one ``SIP_Array`` per uncertain input (named as in
    ``[[correlations]]``), per series and year (``network[2030]``: ``series`` and
    ``years`` are comma-separated; by default the total and every partition's segments in
    the last year) and, with ``predictions``, per prediction (its id; 1 in the trials
    where it holds, else 0). Trial i of every SIP is draw i - 1 of the run. With
    ``metalogs``, each uncertain input is also a ``Metalog_1_0`` SIP over its own
    ``HDR_2_0`` stream and the config's Gaussian copula (see :func:`metalog_sips`), from
    which a spreadsheet generates any number of trials with the run's marginals and
    correlations (not the run's draws). Every option is checked before anything is drawn;
    the file is written atomically.

    Returns
    -------
    tuple of (Library, int)
        What was written, and its number of trials.
    """
    from mcinfra import __version__

    run_dir = Path(run_dir)
    check_library_target(out, replace)
    loaded, settings, _ = load_run_and_summary(run_dir)
    n = min(settings.draws, DEFAULT_TRIALS) if trials is None else trials
    if n > settings.draws:
        raise UsageError(
            f"--trials {n:,} is more than the run's {settings.draws:,} draws; "
            "export at most as many trials as the run has draws"
        )
    if n > MAX_TRIALS:
        raise UsageError(f"--trials {n:,} is more than {MAX_TRIALS:,}, the rows of a spreadsheet")
    plan = compile_plan(loaded.config)
    labels = [s.label for s in plan.series]
    cells = [
        (labels.index(label), plan.years.index(year))
        for label in _choose_series(series, plan)
        for year in _choose_years(years, plan)
    ]
    cell_names = [series_year_name(labels[s], plan.years[y]) for s, y in cells]
    input_rows = [k for k, info in enumerate(plan.inputs) if not info.spec.is_fixed]
    input_names = [info.name for info in plan.inputs]
    compiled = compile_predictions(loaded.config) if predictions else []
    names = [input_names[k] for k in input_rows] + cell_names + [p.id for p in compiled]
    every_name = names + [input_names[k] + METALOG_SUFFIX for k in input_rows if metalogs]
    repeated = sorted({name for name in every_name if every_name.count(name) > 1})
    if repeated:
        raise UsageError(
            f"SIP names must differ: {', '.join(repeated)} names both an input and a "
            "prediction; export without --predictions"
        )
    fitted_sips, hdr_streams, copulas, matrices = (
        metalog_sips(
            [plan.inputs[k] for k in input_rows],
            plan.correlation[np.ix_(input_rows, input_rows)],
            settings.seed,
        )
        if metalogs
        else ([], [], [], [])
    )
    trials_out = np.empty((len(names), n))

    def on_chunk(first, values, inputs, scores, gap):
        window = slice(first, first + values.shape[-1])
        trials_out[: len(input_rows), window] = inputs[input_rows]
        row = len(input_rows)
        for s, y in cells:
            trials_out[row, window] = values[s, y]
            row += 1
        if compiled:
            context = chunk_context(values, inputs, labels, plan.years, input_names)
            for prediction in compiled:
                trials_out[row, window] = prediction.compiled.holds(context)
                row += 1

    stream(plan, settings, on_chunk, end=n)
    arrays = [
        ArraySip(name, values, StreamRef(INDEX_STREAM), sip_metadata(values))
        for name, values in zip(names, trials_out, strict=True)
    ]
    provenance = (
        f"mcinfra {__version__}; config sha256 {loaded.sha256}; seed {settings.seed}; "
        f"{settings.draws} draws ({settings.method}); trial i is draw i - 1 of the run"
    )
    if metalogs:
        seed3, seed4 = hdr_seeds(settings.seed)
        provenance += (
            f"; the {METALOG_SUFFIX} SIPs are metalogs of the inputs' distributions over "
            f"HDR_2_0 streams (entity {HDR_ENTITY}, varId 1..{len(hdr_streams)}, seed3 "
            f"{seed3}, seed4 {seed4}: the seed in base 10^7) and the config's Gaussian "
            "copula, for more trials of the same inputs"
        )
    library = Library(
        name=loaded.config.model.name,
        sips=(*arrays, *fitted_sips),
        streams=(IndexStream(INDEX_STREAM), *hdr_streams),
        copulas=tuple(copulas),
        matrices=tuple(matrices),
        provenance=provenance,
        date_created=datetime.now(UTC).date().isoformat(),
        version="1",
        path=str(out),
    )
    try:
        text = library_json(library)
    except ValueError as exc:  # a draw JSON cannot hold (not finite)
        raise UsageError(f"cannot export {run_dir}: {exc}") from None
    write_text_atomically(out, text)
    return library, n
