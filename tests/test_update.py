"""Updates: importance weights of a run's draws given observations with measurement error."""

from __future__ import annotations

import csv
import dataclasses
import json
import math
from contextlib import nullcontext

import numpy as np
import pytest
from scipy import stats

import mcinfra
from mcinfra.cli import main
from mcinfra.config import load_config, parse_config
from mcinfra.errors import UsageError
from mcinfra.io.run_directory import CHECKPOINT, load_checkpoint
from mcinfra.runs.update import (
    observations_from,
    resume_update,
    update_files,
    update_run,
    update_summary,
    update_to_directory,
)
from mcinfra.runs.whatif import load_run
from mcinfra.sampling.engine import settings_from
from mcinfra.stats.weights import (
    WeightedBuckets,
    WeightedSums,
    effective_sample_size,
    exact_sum,
    fixed_point,
    generalized_pareto_fit,
    khat_threshold,
    pareto_khat,
    weighted_quantiles,
    weighted_ranks,
    weighted_sensitivity,
)

DRAWS = 20_000
Z_LIMIT = 4.9
LOGNORMAL_BASE = 'input("total.base") ~ lognormal(median=140, log_sd=0.05)'
NORMAL_CAGR = 'input("offering.compute.cagr") ~ normal(mean=0.2, sd=0.03)'
EXTRA_PREDICTIONS = """
[predictions.Q1]
text = "compute grows faster than 19 % a year"
expr = 'input("offering.compute.cagr") > 0.19'

[predictions.Q2]
text = "the 2024 market is above 138"
expr = 'input("total.base") > 138'
"""


@pytest.fixture(scope="module")
def loaded():
    default = load_config()
    return parse_config(default.text + EXTRA_PREDICTIONS, origin="test")


def _update(loaded, texts, draws=DRAWS, chunk_size=6000, threads=None):
    settings = settings_from(loaded, draws, 11, chunk_size, threads=threads)
    return update_run(loaded, settings, observations_from(texts, loaded))


# -- weights ---------------------------------------------------------------------------


def test_effective_sample_size_of_known_weights():
    assert effective_sample_size(np.ones(1000)) == pytest.approx(1000)
    assert effective_sample_size(np.r_[np.ones(500), np.zeros(500)]) == pytest.approx(500)
    # w = (1, 2): (1 + 2)^2 / (1 + 4)
    assert effective_sample_size(np.array([1.0, 2.0])) == pytest.approx(9 / 5)


def test_fixed_point_sums_do_not_depend_on_order_or_split():
    rng = np.random.default_rng(3)
    log_weights = rng.normal(size=10_001) * 3
    top = log_weights.max()
    whole = WeightedSums(1)
    indicators = (rng.random(log_weights.size) < 0.3)[None, :]
    whole.add(log_weights, top, indicators)
    order = rng.permutation(log_weights.size)
    parts = WeightedSums(1)
    for piece in np.array_split(order, 7):
        part = WeightedSums(1)
        part.add(log_weights[piece], top, indicators[:, piece])
        parts.merge(part)
    assert (parts.weight, parts.square, parts.holds, parts.draws) == (
        whole.weight,
        whole.square,
        whole.holds,
        whole.draws,
    )
    weights = np.exp(log_weights - top)
    assert whole.weight / 2**60 == pytest.approx(weights.sum(), rel=1e-12)
    assert whole.effective_draws == pytest.approx(effective_sample_size(weights), rel=1e-9)
    assert exact_sum(fixed_point(np.ones(3))) == 3 * 2**60


def test_weighted_probability_and_its_error_match_the_direct_formula():
    rng = np.random.default_rng(5)
    log_weights = rng.normal(size=5000)
    holds = rng.random(5000) < 0.4
    sums = WeightedSums(1)
    sums.add(log_weights, log_weights.max(), holds[None, :])
    estimate = sums.probability(0)
    w = np.exp(log_weights - log_weights.max())
    w /= w.sum()
    p = float(np.sum(w * holds))
    assert estimate.probability == pytest.approx(p, rel=1e-12)
    assert estimate.std_error == pytest.approx(math.sqrt(np.sum(w**2 * (holds - p) ** 2)))
    low, high = estimate.interval()
    assert low < p < high


@pytest.mark.parametrize("shape", [0.2, 0.5, 0.9])
def test_khat_recovers_the_shape_of_pareto_weights(shape):
    rng = np.random.default_rng(int(shape * 10))
    weights = (rng.random(40_000) ** -shape - 1) / shape  # generalized Pareto, scale 1
    tail = weights[weights > np.quantile(weights, 0.9)]
    assert generalized_pareto_fit(tail - tail.min())[0] == pytest.approx(shape, abs=0.2)
    assert pareto_khat(np.log(weights)) == pytest.approx(shape, abs=0.2)


def test_khat_of_bounded_weights_is_small_and_threshold_follows_the_draws():
    rng = np.random.default_rng(2)
    assert pareto_khat(np.log(rng.random(20_000))) < 0.2
    assert khat_threshold(1_000_000) == pytest.approx(0.7)
    assert khat_threshold(1000) == pytest.approx(1 - 1 / 3)


def test_weighted_ranks_and_sensitivity_of_known_relations():
    values = np.array([3.0, 1.0, 2.0, 2.0])
    ranks = weighted_ranks(values, np.array([1.0, 1.0, 1.0, 1.0]))
    assert ranks.tolist() == [0.875, 0.125, 0.5, 0.5]
    assert weighted_ranks(values, np.array([0.0, 2.0, 1.0, 1.0])).tolist() == [
        1.0,
        0.25,
        0.75,
        0.75,
    ]
    rng = np.random.default_rng(4)
    u = weighted_ranks(rng.random(20_000), np.ones(20_000))
    index, correlation = weighted_sensitivity(u, u > 0.5, np.ones(20_000))
    assert index == pytest.approx(1.0, abs=1e-9)  # a step at a bin edge: all variance between
    assert correlation == pytest.approx(math.sqrt(3) / 2, abs=0.01)  # corr(U, 1{U > 1/2})
    assert math.isnan(weighted_sensitivity(u, np.ones(20_000, dtype=bool), np.ones(20_000))[0])


def test_weighted_quantiles():
    values = np.array([3.0, 1.0, 2.0, 4.0])
    assert weighted_quantiles(values, np.ones(4), (0.25, 0.5, 1.0)) == [1.0, 2.0, 4.0]
    assert weighted_quantiles(values, np.array([0, 0, 0, 1.0]), (0.1, 0.9)) == [4.0, 4.0]


def test_weighted_buckets_merge_exactly_and_stay_within_their_accuracy():
    rng = np.random.default_rng(8)
    values = np.vstack(
        [
            rng.normal(size=30_000) * 3 + 1,
            rng.lognormal(4, 0.5, size=30_000),
            np.where(rng.random(30_000) < 0.4, 0.0, rng.lognormal(0, 1, size=30_000)),
        ]
    )
    units = fixed_point(rng.random(30_000))
    whole = WeightedBuckets(3)
    whole.add(values, units)
    parts = WeightedBuckets(3)
    for piece in np.array_split(rng.permutation(30_000), 5):
        part = WeightedBuckets(3)
        part.add(values[:, piece], units[piece])
        parts.merge(part)
    assert [parts.table(r) for r in range(3)] == [whole.table(r) for r in range(3)]
    assert sum(whole.table(2).values()) == exact_sum(units)
    levels = (0.01, 0.3, 0.5, 0.97)
    for row in range(3):
        exact = weighted_quantiles(values[row], units / 2**60, levels)
        for found, want in zip(whole.quantiles(row, levels), exact, strict=True):
            assert abs(found - want) <= 1e-3 * abs(want)


# -- conjugate closed forms ------------------------------------------------------------


def _input(update, name):
    return next(i for i in update.inputs if i.name == name)


def _prediction(update, ident):
    return next(p for p in update.predictions if p.id == ident)


def _check_quantiles(update, name, posterior):
    found = _input(update, name)
    for level, value in zip((0.05, 0.5, 0.95), found.posterior, strict=True):
        exact = posterior.ppf(level)
        se = math.sqrt(level * (1 - level) / update.effective_draws) / posterior.pdf(exact)
        assert abs(value - exact) < Z_LIMIT * se, (name, level, value, exact, se)


def test_lognormal_base_observed_with_lognormal_error_has_lognormal_posterior(loaded):
    update = _update(loaded, [LOGNORMAL_BASE])
    precision = 1 / 0.05**2 + 1 / 0.05**2
    log_mean = (math.log(135.81) / 0.05**2 + math.log(140) / 0.05**2) / precision
    posterior = stats.lognorm(s=1 / math.sqrt(precision), scale=math.exp(log_mean))
    _check_quantiles(update, "total.base", posterior)
    # total[2024] is the base itself: its posterior quantiles within the buckets' accuracy
    for _, _, level, value in [q for q in update.quantiles if q[:2] == ("total", 2024)]:
        exact = posterior.ppf(level)
        se = math.sqrt(level * (1 - level) / update.effective_draws) / posterior.pdf(exact)
        assert abs(value - exact) < Z_LIMIT * se + 1e-3 * exact, (level, value, exact)
    q2 = _prediction(update, "Q2").posterior
    assert abs(q2.probability - posterior.sf(138)) < Z_LIMIT * q2.std_error
    # ESS / S = E[w]^2 / E[w^2] = sqrt(3) / 2 exp(-d^2 / (6 s^2)) for equal prior and error s
    shift = math.log(140 / 135.81)
    share = math.sqrt(3) / 2 * math.exp(-(shift**2) / (6 * 0.05**2))
    assert update.effective_draws == pytest.approx(DRAWS * share, rel=0.05)


def test_normal_prior_observed_with_additive_error_has_normal_posterior(loaded):
    update = _update(loaded, [NORMAL_CAGR])
    posterior = stats.norm((0.1675 + 0.2) / 2, 0.03 / math.sqrt(2))
    _check_quantiles(update, "offering.compute.cagr", posterior)
    q1 = _prediction(update, "Q1").posterior
    assert abs(q1.probability - posterior.sf(0.19)) < Z_LIMIT * q1.std_error
    assert abs(_prediction(update, "Q1").prior - stats.norm(0.1675, 0.03).sf(0.19)) < 0.02


def test_uninformative_observation_reproduces_the_prior(loaded):
    update = _update(loaded, ["total[2025] ~ normal(mean=150, sd=1e9)"])
    assert update.effective_draws == pytest.approx(DRAWS, rel=1e-9)
    for p in update.predictions:
        assert p.posterior.probability == pytest.approx(p.prior, abs=1e-12)
    assert [c.entity for c in update.crossovers] == ["total", "cloud", "enterprises"]
    for c in update.crossovers:
        for year, estimate in c.posterior_by_year.items():
            assert estimate.probability == pytest.approx(c.prior_by_year[year], abs=1e-12)
        assert c.posterior_median == pytest.approx(c.prior_median, abs=1e-6)
    # a prediction that is a step in one input: that input leads its sensitivity rows
    q1 = [row for row in update.sensitivity if row[0] == "Q1"]
    # corr(U, 1{U > u0}) = sqrt(3 u0 (1 - u0)) with u0 = Phi((0.19 - 0.1675) / 0.03)
    u0 = stats.norm.cdf(0.75)
    assert q1[0][1] == "offering.compute.cagr" and q1[0][2] > 0.9
    assert q1[0][3] == pytest.approx(math.sqrt(3 * u0 * (1 - u0)), abs=0.02)
    assert all(row[2] < q1[0][2] for row in q1[1:])


def test_posterior_is_identical_for_any_thread_count_and_chunk_size(loaded):
    texts = [LOGNORMAL_BASE, "network[2025] ~ t(df=4, loc=18.5, scale=0.8)"]
    one = _update(loaded, texts, draws=9000, chunk_size=2000, threads=1)
    two = _update(loaded, texts, draws=9000, chunk_size=3500, threads=2)
    assert update_files(one) == update_files(two)
    assert update_summary(one) == update_summary(two)


def test_no_compatible_draw_is_refused_with_the_closest_distance(loaded):
    with pytest.raises(UsageError, match="no draw is compatible with the observations: the "):
        _update(loaded, ["total[2025] ~ normal(mean=1000, sd=1)"], draws=3000)
    with pytest.raises(UsageError, match="no draw is compatible") as caught:
        _update(loaded, ["total[2025] ~ uniform(low=1000, high=1001)"], draws=3000)
    assert "error scales from them" in str(caught.value)


def test_too_few_effective_draws_is_refused_with_a_hint(loaded):
    with pytest.raises(UsageError, match="effective draws of 20,000: too few") as caught:
        _update(loaded, ['input("total.base") ~ normal(mean=135.81, sd=0.003)'])
    assert "rerun with more draws, or loosen the error models" in str(caught.value)


# -- command line ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("update") / "run"
    args = ["run", "--draws", "4000", "--seed", "2", "--out", str(out), "--quiet", "--no-report"]
    assert main(args) == 0
    return out


def test_update_command_writes_an_updated_run_directory(run_dir, tmp_path, capsys):
    observations = tmp_path / "news.toml"
    observations.write_text(
        '[[observations]]\nquantity = "network[2025]"\nerror = "normal(mean=18.5, sd=0.8)"\n'
    )
    out = tmp_path / "posterior"
    args = ["update", str(run_dir), "--observe", LOGNORMAL_BASE]
    assert main([*args, "--observations", str(observations), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "effective draws" in printed and "posterior" in printed
    assert sorted(p.name for p in out.iterdir()) == [
        "config.toml",
        "crossovers.csv",
        "figures",
        "inputs.csv",
        "predictions.csv",
        "prior_quantiles.csv",
        "quantiles.csv",
        "report.html",
        "report.md",
        "sensitivity.csv",
        "update.json",
    ]
    args.append("--no-report")
    assert main([*args, "--out", str(out)]) == 2
    assert "already holds a updated run; use --force" in capsys.readouterr().err
    assert main([*args, "--out", str(out), "--force"]) == 0
    assert not (out / "report.html").exists()
    assert main(["update", str(run_dir), "--observe", LOGNORMAL_BASE, "--no-report"]) == 0
    assert (run_dir.parent / "run-updated" / "update.json").is_file()
    prior = json.loads((run_dir / "summary.json").read_text())["crossovers"]
    rows = list(csv.DictReader((out / "crossovers.csv").read_text().splitlines()))
    for entry in prior:
        for year, probability in entry["probability_by_year"].items():
            row = next(r for r in rows if (r["entity"], r["year"]) == (entry["entity"], year))
            assert float(row["prior"]) == probability


@pytest.mark.parametrize(
    ("observe", "message"),
    [
        (
            "total[2025] > 150 ~ normal(mean=1, sd=1)",
            "'total[2025] > 150': expected a number for each draw, and 'total[2025] > 150' "
            "is true or false: write the quantity itself",
        ),
        ("totl[2025] ~ normal(mean=1, sd=1)", "unknown series 'totl' (did you mean 'total'?)"),
        ("total[2031] ~ normal(mean=1, sd=1)", "year outside the horizon 2024-2030: '2031'"),
        ("total[2025] ~ normal(mean=150, sd=0)", "'normal(mean=150, sd=0)': sd must be positive"),
        ("total[2025] ~ normal(mean=150, sd=-2)", "sd must be positive, got -2"),
        ("total[2025] ~ lognormal(median=150, log_sd=0)", "log_sd must be positive, got 0"),
        ("total[2025] ~ normal(mean=x, sd=1)", "mean must be a number, got 'x'"),
        ("total[2025] ~ normal(mean=1)", "normal takes exactly normal(mean=..., sd=...)"),
        ("total[2025] ~ gamma(shape=1)", "unknown error model 'gamma' in 'gamma(shape=1)'"),
        ("total[2025:2027] ~ normal(mean=1, sd=1)", "is a year range: name one year"),
        ("total[2025] ~ uniform(low=2, high=1)", "low must be below high"),
        ("total[2025]", "is no observation; write QUANTITY ~ MODEL"),
        (
            "total[2025] - 200 ~ lognormal(median=1, log_sd=0.1)",
            "a lognormal error needs a positive quantity, and total[2025] - 200 is ",
        ),
    ],
)
def test_bad_observation_exits_2_and_writes_nothing(run_dir, tmp_path, capsys, observe, message):
    out = tmp_path / "posterior"
    assert main(["update", str(run_dir), "--observe", observe, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert f"--observe {observe!r}" in err
    assert not out.exists() and list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            '[[observations]]\nquantity = "total[2025]"\n',
            "needs quantity and error (and optionally source), got quantity",
        ),
        ("observations = 3\n", "expected [[observations]] tables with quantity and error"),
        (
            '[[observations]]\nquantity = "total[2025]"\nerror = "normal(mean=1, sd=0)"\n',
            "observations[0]: 'normal(mean=1, sd=0)': sd must be positive",
        ),
    ],
)
def test_bad_observations_file_exits_2(run_dir, tmp_path, capsys, text, message):
    path = tmp_path / "news.toml"
    path.write_text(text)
    out = tmp_path / "posterior"
    assert main(["update", str(run_dir), "--observations", str(path), "--out", str(out)]) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_update_without_observations_exits_2(run_dir, capsys):
    assert main(["update", str(run_dir)]) == 2
    assert "nothing to update on: give --observe or --observations" in capsys.readouterr().err


def test_result_update_equals_the_update_of_its_run_directory(run_dir):
    result = mcinfra.run(draws=4000, seed=2)
    in_memory = result.update(observe=[LOGNORMAL_BASE])
    loaded, settings = load_run(run_dir)
    on_disk = update_run(loaded, settings, observations_from([LOGNORMAL_BASE], loaded))
    assert update_files(in_memory) == update_files(on_disk)


def test_update_on_a_two_worker_dask_cluster_equals_the_local_update(loaded, two_worker_client):
    texts = [LOGNORMAL_BASE, "network[2025] ~ normal(mean=18.5, sd=0.8)"]
    settings = settings_from(loaded, 9000, 11, 2000)
    observations = observations_from(texts, loaded)
    local = update_run(loaded, settings, observations)
    remote = update_run(loaded, settings, observations, two_worker_client)
    with pytest.raises(UsageError, match="a lognormal error needs a positive quantity"):
        bad = observations_from(["total[2025] - 200 ~ lognormal(median=1, log_sd=1)"], loaded)
        update_run(loaded, settings, bad, two_worker_client)
    assert update_files(remote) == update_files(local)
    assert update_summary(remote) == update_summary(local)


def test_observations_of_ratios_growth_rates_and_inputs_weight_the_draws(loaded):
    texts = [
        "network[2025] / total[2025] ~ normal(mean=0.12, sd=0.01)",
        "cagr(network, 2024, 2026) ~ t(df=3, loc=0.3, scale=0.05)",
        'input("total.cagr") ~ uniform(low=0.15, high=0.25)',
    ]
    update = _update(loaded, texts, draws=6000)
    assert 25 < update.effective_draws < 6000
    observations = observations_from(texts, loaded)
    assert [o.model.kind for o in observations] == ["normal", "t", "uniform"]
    cagr = _input(update, "total.cagr")
    assert 0.15 <= cagr.posterior[0] <= cagr.posterior[2] <= 0.25


def test_sobol_run_is_refused(loaded):
    settings = dataclasses.replace(settings_from(loaded, 4096, 1, 1024), method="sobol")
    with pytest.raises(UsageError, match="update needs a plain Monte Carlo run"):
        update_run(loaded, settings, observations_from([NORMAL_CAGR], loaded))


def test_observations_in_the_config_are_checked_and_used(loaded, tmp_path, capsys):
    news = (
        '\n[[observations]]\nquantity = "input(\\"total.base\\")"\n'
        'error = "lognormal(median=140, log_sd=0.05)"\nsource = "a later estimate"\n'
    )
    with_news = parse_config(loaded.text + news, origin="test")
    settings = settings_from(with_news, 4000, 11, 2000)
    from_config = update_run(with_news, settings, observations_from([], with_news))
    given = update_run(loaded, settings, observations_from([LOGNORMAL_BASE], loaded))
    assert update_files(from_config)["predictions.csv"] == update_files(given)["predictions.csv"]
    bad = tmp_path / "bad.toml"
    bad.write_text(
        loaded.text
        + '\n[[observations]]\nquantity = "total[2040]"\nerror = "normal(mean=1, sd=1)"\n'
    )
    assert main(["validate", str(bad)]) == 2
    assert "observations[0]: 'total[2040]': year outside the horizon" in capsys.readouterr().err


# -- checkpoints and resuming ------------------------------------------------------------

RESUME_DRAWS = 6_000
UPDATED_FILES = (
    "config.toml",
    "crossovers.csv",
    "inputs.csv",
    "predictions.csv",
    "prior_quantiles.csv",
    "quantiles.csv",
    "sensitivity.csv",
    "update.json",
)


@pytest.fixture(scope="module")
def chunked_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("resume") / "run"
    args = ["run", "--draws", str(RESUME_DRAWS), "--chunk-size", "1000", "--seed", "4"]
    assert main([*args, "--out", str(out), "--quiet", "--no-report"]) == 0
    return out


def _update_into(run_dir, out, **options):
    loaded, settings = load_run(run_dir)
    texts = [LOGNORMAL_BASE, "network[2025] ~ t(df=4, loc=18.5, scale=0.8)"]
    observations = observations_from(texts, loaded)
    options.setdefault("report", False)
    return update_to_directory(
        loaded, settings, observations, out, prior_dir=str(run_dir), **options
    )


def _stop_at(draws: int):
    def progress(done, total):
        assert total == 2 * RESUME_DRAWS
        if done >= draws:
            raise KeyboardInterrupt

    return progress


@pytest.mark.parametrize("stop_at", [2_000, RESUME_DRAWS + 3_000], ids=["pass1", "pass2"])
def test_interrupted_update_resumes_to_the_same_files(chunked_run, tmp_path, capsys, stop_at):
    whole = tmp_path / "whole"
    _update_into(chunked_run, whole)
    out = tmp_path / "interrupted"
    with pytest.raises(KeyboardInterrupt, match=f"mcinfra update --resume {out}"):
        _update_into(chunked_run, out, progress=_stop_at(stop_at), checkpoint_seconds=0.0)
    assert not out.exists()
    [staging] = tmp_path.glob(".interrupted.partial-*")
    _, done, _ = load_checkpoint(staging / CHECKPOINT)
    assert done == stop_at - (RESUME_DRAWS if stop_at > RESUME_DRAWS else 0)
    assert main(["update", "--resume", str(out), "--threads", "1", "--quiet"]) == 0
    assert "effective draws" in capsys.readouterr().out
    assert sorted(p.name for p in out.iterdir()) == list(UPDATED_FILES)
    for name in UPDATED_FILES:
        assert (out / name).read_bytes() == (whole / name).read_bytes(), name
    assert not list(tmp_path.glob(".interrupted.partial-*"))  # renamed into place


@pytest.mark.parametrize("stop_at", [3_000, RESUME_DRAWS + 2_000], ids=["pass1", "pass2"])
def test_an_interruption_with_a_shield_saves_every_complete_chunk(chunked_run, tmp_path, stop_at):
    out = tmp_path / "interrupted"
    with pytest.raises(KeyboardInterrupt, match="--resume"):
        _update_into(
            chunked_run, out, progress=_stop_at(stop_at), shield=nullcontext,
            checkpoint_seconds=1e9,
        )  # fmt: skip
    [staging] = tmp_path.glob(".interrupted.partial-*")
    _, done, _ = load_checkpoint(staging / CHECKPOINT)
    assert done == stop_at - (RESUME_DRAWS if stop_at > RESUME_DRAWS else 0)
    resumed = resume_update(out)
    assert update_files(resumed) == update_files(_update_into(chunked_run, tmp_path / "whole"))


def test_an_update_interrupted_before_its_first_checkpoint_leaves_nothing(chunked_run, tmp_path):
    out = tmp_path / "interrupted"
    with pytest.raises(KeyboardInterrupt) as caught:
        _update_into(chunked_run, out, progress=_stop_at(1_000), checkpoint_seconds=1e9)
    assert "--resume" not in str(caught.value)
    assert list(tmp_path.iterdir()) == []


def test_resume_of_an_update_refuses_new_settings_and_missing_updates(tmp_path, capsys):
    args = ["update", "--resume", str(tmp_path / "none")]
    assert main([*args, "--observe", LOGNORMAL_BASE, "--force"]) == 2
    assert "--resume continues an update with its own settings; drop --observe, --force" in (
        capsys.readouterr().err
    )
    assert main(args) == 2
    assert f"no interrupted update of {tmp_path / 'none'} to resume" in capsys.readouterr().err
    assert main(["update"]) == 2
    assert "update needs RUN_DIR, a directory written by mcinfra run" in capsys.readouterr().err


def test_an_update_resumed_on_a_two_worker_dask_cluster_is_the_same(
    chunked_run, tmp_path, two_worker_client
):
    whole = tmp_path / "whole"
    _update_into(chunked_run, whole)
    out = tmp_path / "interrupted"
    with pytest.raises(KeyboardInterrupt, match="--resume"):
        _update_into(chunked_run, out, progress=_stop_at(3_000), checkpoint_seconds=0.0)
    resume_update(out, client=two_worker_client)
    for name in UPDATED_FILES:
        assert (out / name).read_bytes() == (whole / name).read_bytes(), name


def test_an_update_interrupted_while_writing_keeps_every_draw(chunked_run, tmp_path, monkeypatch):
    import mcinfra.report.news

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(mcinfra.report.news, "build_news_report", interrupted)
    out = tmp_path / "interrupted"
    with pytest.raises(KeyboardInterrupt, match="--resume"):
        _update_into(chunked_run, out, report=True, shield=nullcontext, checkpoint_seconds=1e9)
    [staging] = tmp_path.glob(".interrupted.partial-*")
    assert load_checkpoint(staging / CHECKPOINT)[1] == RESUME_DRAWS  # both passes saved
    monkeypatch.undo()
    resumed = resume_update(out, report=False)
    assert update_files(resumed) == update_files(_update_into(chunked_run, tmp_path / "whole"))
    assert not (out / "report.html").exists()


# The command line with a line on stderr after every chunk of the first pass.
CHATTY_UPDATE = (
    "import sys, mcinfra.runs.update as u\n"
    "chunk = u._Progress.observed_chunk\n"
    "def chatty(self, done):\n"
    "    chunk(self, done)\n"
    "    print(f'observed {done}', file=sys.stderr, flush=True)\n"
    "u._Progress.observed_chunk = chatty\n"
    "from mcinfra.cli import command\n"
    "sys.exit(command())\n"
)


def test_sigterm_checkpoints_an_update_at_once_and_resume_finishes_it(tmp_path):
    import os
    import signal
    import subprocess
    import sys

    run_dir = tmp_path / "run"
    args = ["run", "--draws", "30000", "--chunk-size", "1000", "--seed", "6", "--quiet"]
    assert main([*args, "--no-report", "--out", str(run_dir)]) == 0
    update = ["update", str(run_dir), "--observe", LOGNORMAL_BASE, "--no-report"]
    whole = tmp_path / "whole"
    assert main([*update, "--out", str(whole)]) == 0
    out = tmp_path / "interrupted"
    command = [sys.executable, "-c", CHATTY_UPDATE, *update, "--out", str(out)]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    with subprocess.Popen(command, stderr=subprocess.PIPE, text=True, env=env) as process:
        assert process.stderr is not None
        seen = 0
        while seen < 5:
            line = process.stderr.readline()
            assert line, "the update ended before the signal"
            seen += line.startswith("observed ")
        process.send_signal(signal.SIGTERM)
        err = process.stderr.read()
        assert process.wait(timeout=120) == 128 + signal.SIGTERM
    assert (
        "interrupted by SIGTERM; the draws up to the last checkpoint are kept: continue with "
        f"mcinfra update --resume {out}"
    ) in err
    [staging] = tmp_path.glob(".interrupted.partial-*")
    assert load_checkpoint(staging / CHECKPOINT)[1] >= 5_000  # saved at the signal
    assert main(["update", "--resume", str(out), "--no-report"]) == 0
    for name in UPDATED_FILES:
        assert (out / name).read_bytes() == (whole / name).read_bytes(), name
