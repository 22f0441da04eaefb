"""``mcinfra export --metalog``: each input as a metalog over its own HDR stream and the copula."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from scipy import stats
from scipy.special import ndtri

from mcinfra.cli import main
from mcinfra.model import metalog
from mcinfra.model.distributions import Metalog
from mcinfra.runs.export import (
    HDR_ENTITY,
    METALOG_PROBABILITIES,
    METALOG_SUFFIX,
    METALOG_TOLERANCE,
    hdr_seeds,
    metalog_marginal,
)
from mcinfra.runs.whatif import load_run
from mcinfra.sampling.plan import compile_plan
from mcinfra.sipmath.library import CopulaRef, MetalogSip, StreamRef
from mcinfra.sipmath.reading import read_library
from mcinfra.sipmath.trials import library_trials

ELICITED = Path(__file__).resolve().parents[1] / "configs" / "ai_infrastructure_elicited.toml"
TRIALS = 100_000  # generated from the library: any number, not the run's draws
PROBABILITIES = np.array([0.02, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.98])


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    folder = tmp_path_factory.mktemp("metalog")
    run = folder / "run"
    args = ["run", str(ELICITED), "--draws", "2000", "--seed", "123456789012", "--out"]
    assert main([*args, str(run), "--no-report", "--quiet"]) == 0
    out = folder / "run.SIPmath"
    assert main(["export", str(run), "--metalog", "--trials", "500", "--out", str(out)]) == 0
    loaded, settings = load_run(run)
    plan = compile_plan(loaded.config)
    inputs = [info for info in plan.inputs if not info.spec.is_fixed]
    rows = [k for k, info in enumerate(plan.inputs) if not info.spec.is_fixed]
    correlation = plan.correlation[np.ix_(rows, rows)]
    return out, read_library(out), inputs, correlation, settings.seed


@pytest.fixture(scope="module")
def trials(exported):
    _, library, inputs, _, _ = exported
    names = [info.name + METALOG_SUFFIX for info in inputs]
    return library_trials(library, names, 1, TRIALS)


def test_marginals_match_the_runs_within_fit_and_monte_carlo_error(exported, trials):
    _, library, inputs, _, _ = exported
    step = 1e-4
    for info, values in zip(inputs, trials, strict=True):
        sip = library.sip(info.name + METALOG_SUFFIX)
        assert isinstance(sip, MetalogSip)
        exact = info.spec.value_at_score(ndtri(PROBABILITIES))
        sample = np.quantile(values, PROBABILITIES)
        # standard error of a sample quantile: sqrt(p (1 - p) / n) / density = ... * dx/dp
        slope = (
            info.spec.value_at_score(ndtri(PROBABILITIES + step))
            - info.spec.value_at_score(ndtri(PROBABILITIES - step))
        ) / (2 * step)
        se = np.sqrt(PROBABILITIES * (1 - PROBABILITIES) / TRIALS) * slope
        tolerance = 1.01 * sip.metadata["fitMaxError"] + 5 * se + 1e-12 * abs(exact)
        assert np.all(np.abs(sample - exact) <= tolerance), (info.name, sample - exact, tolerance)
        low, high = info.spec.support()
        assert values.min() >= low and values.max() <= high, info.name


def test_rank_correlations_match_the_configs(exported, trials):
    _, _, inputs, correlation, _ = exported
    ranks = stats.spearmanr(trials, axis=1).statistic
    expected = 6 / math.pi * np.arcsin(correlation / 2)  # of the normal-score correlation
    bound = 5 / math.sqrt(TRIALS)
    off = ~np.eye(len(inputs), dtype=bool)
    assert np.count_nonzero(expected[off]) >= 10  # the config's correlations are there
    worst = np.max(np.abs(ranks - expected)[off])
    assert worst <= bound, worst


def test_the_json_layout(exported):
    out, library, inputs, correlation, seed = exported
    document = json.loads(out.read_text(encoding="utf-8"))
    seed3, seed4 = hdr_seeds(seed)
    assert (seed3, seed4) == (3456789012 % 10**7, 12345)
    rng = document["U01"]["rng"]
    assert rng[0] == {"name": "index", "function": "Index", "arguments": {"counter": "PM_Index"}}
    assert rng[1:] == [
        {
            "name": f"hdr{j}",
            "function": "HDR_2_0",
            "arguments": {
                "counter": "PM_Index",
                "entity": HDR_ENTITY,
                "varId": j,
                "seed3": seed3,
                "seed4": seed4,
            },
        }
        for j in range(1, len(inputs) + 1)
    ]
    linked = [j for j in range(len(inputs)) if np.count_nonzero(correlation[j]) > 1]
    names = [inputs[j].name for j in linked]
    assert document["U01"]["copula"] == [
        {
            "name": "Gaussian",
            "function": "GaussianCopula",
            "arguments": {
                "correlationMatrix": {"type": "globalVariables", "value": "correlation"},
                "rng": [f"hdr{j + 1}" for j in linked],
            },
            "copulaLayer": names,
        }
    ]
    [matrix] = document["globalVariables"]
    assert matrix["name"] == "correlation"
    assert matrix["value"]["rows"] == matrix["value"]["columns"] == names
    entries = matrix["value"]["matrix"]
    assert len(entries) == len(names) * (len(names) + 1) // 2
    for entry in entries:
        i, j = names.index(entry["row"]), names.index(entry["col"])
        assert i <= j and entry["value"] == correlation[linked[i], linked[j]]
    sips = {sip["name"]: sip for sip in document["sips"]}
    for j, info in enumerate(inputs):
        entry = sips[info.name + METALOG_SUFFIX]
        assert entry["function"] == "Metalog_1_0"
        ref = CopulaRef("Gaussian", info.name) if j in linked else StreamRef(f"hdr{j + 1}")
        assert library.sip(info.name + METALOG_SUFFIX).ref == ref
        metadata = entry["metadata"]
        assert metadata["distribution"] == info.spec.describe()
        assert metadata["terms"] == len(entry["arguments"]["aCoefficients"])
        assert metadata["fitProbabilities"] == [0.001, 0.999]
        if isinstance(info.spec, Metalog):  # its own coefficients, exactly
            assert entry["arguments"]["aCoefficients"] == list(info.spec.a)
            assert metadata["fitMaxError"] == 0.0
        low, high = info.spec.support()
        assert entry["arguments"].get("lowerBound") == (low if math.isfinite(low) else None)
        assert entry["arguments"].get("upperBound") == (high if math.isfinite(high) else None)
    network = sips["offering.network.cagr" + METALOG_SUFFIX]["arguments"]
    assert network["lowerBound"] == -0.5 and "upperBound" not in network
    assert "HDR_2_0 streams (entity 1, varId 1..27" in document["provenance"]
    # the SIP_Arrays are still the run's first 500 draws
    assert library.sip("total.cagr").values.size == 500


def test_the_fit_takes_the_fewest_terms_within_the_tolerance():
    y = METALOG_PROBABILITIES
    uniform = metalog.fit_fewest_terms(y, 2 + 3 * y, 1e-12, lower=2.0, upper=5.0)
    assert len(uniform[0].a) == 2 and uniform[1] < 1e-12
    normal = 0.2 + 0.03 * ndtri(y)
    curve, error = metalog.fit_fewest_terms(y, normal, 1e-3 * 0.03)
    assert error <= 1e-3 * 0.03 and metalog.is_feasible(curve.a)
    fewer = metalog.fit(y, normal, len(curve.a) - 1)
    assert np.max(np.abs(fewer.quantile(y) - normal)) > 1e-3 * 0.03 or not metalog.is_feasible(
        fewer.a
    )
    with pytest.raises(ValueError, match="no metalog through these points is a distribution"):
        metalog.fit_fewest_terms(y, -y, 1e-3)


def test_every_family_is_fitted_within_its_stated_accuracy(exported):
    _, _, inputs, _, _ = exported
    for info in inputs:
        _, error = metalog_marginal(info.spec)
        if isinstance(info.spec, Metalog) or info.spec.family == "mixture":
            continue  # its own curve; a mixture of distant sources: its error is stated
        assert error <= METALOG_TOLERANCE * info.spec.scale, (info.name, error)


def test_an_input_no_metalog_follows_exits_2_and_writes_nothing(
    exported, tmp_path, monkeypatch, capsys
):
    out, _, inputs, _, _ = exported
    run = out.parent / "run"

    def refuse(*args, **kwargs):
        raise ValueError("no metalog through these points is a distribution")

    monkeypatch.setattr(metalog, "fit_fewest_terms", refuse)
    target = tmp_path / "refused.SIPmath"
    assert main(["export", str(run), "--metalog", "--out", str(target)]) == 2
    first_fitted = next(info.name for info in inputs if not isinstance(info.spec, Metalog))
    assert capsys.readouterr().err.strip() == (
        f"mcinfra: error: --metalog: input {first_fitted}: no metalog through these points "
        "is a distribution"
    )
    assert not target.exists() and not list(tmp_path.iterdir())
