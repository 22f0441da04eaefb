"""Shapley effects (mcinfra drivers): closed forms, invariances, files and refusals.

Every estimate is compared with its exact value within Z standard errors (conftest.Z,
about 4.9), the standard errors being the estimator's own.
"""

from __future__ import annotations

import csv
import itertools
import json
import math

import numpy as np
import pytest

from conftest import Z
from mcinfra.cli import main
from mcinfra.config import parse_config
from mcinfra.errors import ConfigError, UsageError
from mcinfra.model.copula import pearson_from_spearman
from mcinfra.runs.drivers import compute_drivers
from mcinfra.sampling.engine import RunSettings

HEAD = """
[model]
name = "drivers"
start_year = 2024
end_year = 2027

[sampling]
draws = 20000
seed = 11

[total]
base = 100.0
cagr = 0.1
shock = {{ sd = {shock}, phi = 0.3 }}

[parameters]
"""


def config(parameters: dict[str, str], extra: str = "", shock: float = 0.0):
    """A model whose uncertain inputs are ``parameters`` (name -> inline table)."""
    lines = [f"{name} = {spec}" for name, spec in parameters.items()]
    return parse_config(HEAD.format(shock=shock) + "\n".join(lines) + "\n" + extra)


def settings(draws: int = 20000, seed: int = 11, chunk_size: int = 7000, threads=None):
    return RunSettings(draws, seed, chunk_size, threads)


def effects(result, target: int = 0) -> dict[str, tuple[float, float]]:
    """Player -> (effect, standard error) of one target."""
    return {
        player.name: (float(result.shapley[target, j]), float(result.std_error[target, j]))
        for j, player in enumerate(result.players)
    }


def exact_linear_shapley(b: np.ndarray, covariance: np.ndarray) -> np.ndarray:
    """Exact Shapley effects of Y = b^T X, X Gaussian, from Var(E[Y | X_S]) of every subset."""
    d = len(b)
    total = float(b @ covariance @ b)

    def explained(subset: tuple[int, ...]) -> float:
        if not subset:
            return 0.0
        s = list(subset)
        cross = covariance[s] @ b  # Cov(X_S, Y)
        return float(cross @ np.linalg.solve(covariance[np.ix_(s, s)], cross))

    value = {
        subset: explained(subset)
        for size in range(d + 1)
        for subset in itertools.combinations(range(d), size)
    }
    shapley = np.zeros(d)
    for j in range(d):
        others = [i for i in range(d) if i != j]
        for size in range(d):
            weight = math.factorial(size) * math.factorial(d - size - 1) / math.factorial(d)
            for subset in itertools.combinations(others, size):
                grown = tuple(sorted((*subset, j)))
                shapley[j] += weight * (value[grown] - value[subset])
    return shapley / total


LINEAR = {
    "x1": '{ dist = "normal", mean = 1.0, sd = 1.0 }',
    "x2": '{ dist = "normal", mean = 0.0, sd = 0.5 }',
    "x3": '{ dist = "normal", mean = 2.0, sd = 2.0 }',
    "x4": '{ dist = "normal", mean = 0.0, sd = 1.5 }',
    "x5": '{ dist = "normal", mean = 0.0, sd = 1.0 }',
}
RANKS = {("x1", "x2"): 0.7, ("x1", "x3"): -0.4, ("x2", "x3"): 0.2, ("x4", "x5"): 0.5}
LINEAR_CORRELATIONS = "".join(
    f'[[correlations]]\nbetween = ["{a}", "{b}"]\nrank = {rank}\n' for (a, b), rank in RANKS.items()
)


def test_linear_gaussian_model_matches_the_closed_form():
    b = np.array([1.0, 2.0, -1.0, 0.5, 1.5])
    loaded = config(LINEAR, LINEAR_CORRELATIONS)
    names = list(LINEAR)
    expression = " + ".join(f'{w} * input("{n}")' for w, n in zip(b, names, strict=True))
    result = compute_drivers(loaded, settings(), [expression], target_se=0.02)
    sd = np.array([1.0, 0.5, 2.0, 1.5, 1.0])
    correlation = np.eye(5)
    for (x, y), rank in RANKS.items():  # the config states ranks; the copula holds Pearson's
        i, j = names.index(x), names.index(y)
        correlation[i, j] = correlation[j, i] = pearson_from_spearman(rank)
    exact = exact_linear_shapley(b, correlation * np.outer(sd, sd))
    found = effects(result)
    assert found["shocks"][0] == pytest.approx(0.0, abs=Z * found["shocks"][1] + 1e-12)
    for name, value in zip(names, exact, strict=True):
        estimate, error = found[name]
        assert 0 < error <= 0.02
        assert abs(estimate - value) <= Z * error, (name, estimate, value, error)


def test_additive_model_of_independent_inputs_gives_the_first_order_indices():
    parameters = {
        "a": '{ dist = "normal", mean = 0.0, sd = 1.0 }',
        "u": '{ dist = "uniform", low = 0.0, high = 6.0 }',
        "t": '{ dist = "triangular", min = 0.0, mode = 1.0, max = 4.0 }',
    }
    variances = {"a": 1.0, "u": 36 / 12, "t": (0 + 1 + 16 - 0 - 0 - 4) / 18}
    weights = {"a": 1.0, "u": 0.5, "t": 2.0}
    total = sum(weights[n] ** 2 * variances[n] for n in parameters)
    expression = " + ".join(f'{weights[n]} * input("{n}")' for n in parameters)
    result = compute_drivers(config(parameters), settings(), [expression], target_se=0.02)
    found = effects(result)
    for name in parameters:
        first_order = weights[name] ** 2 * variances[name] / total
        estimate, error = found[name]
        assert abs(estimate - first_order) <= Z * error, (name, estimate, first_order, error)


INDICATOR = """
[predictions.P1]
text = "the sum is positive"
expr = 'input("x1") + input("x2") > 0'
"""
STANDARD = {
    "x1": '{ dist = "normal", mean = 0.0, sd = 1.0 }',
    "x2": '{ dist = "normal", mean = 0.0, sd = 1.0 }',
}


def test_indicator_of_a_symmetric_sum_splits_in_halves():
    result = compute_drivers(config(STANDARD, INDICATOR), settings(), target_se=0.02)
    found = effects(result)
    assert result.targets[0].id == "P1"
    for name in ("x1", "x2"):
        estimate, error = found[name]
        assert abs(estimate - 0.5) <= Z * error, (name, estimate, error)
    assert found["shocks"] == (0.0, 0.0)  # the shocks never change the indicator


def test_effects_sum_to_one_for_every_target():
    loaded = config(LINEAR, LINEAR_CORRELATIONS + INDICATOR.replace("x2", "x4"), shock=0.05)
    targets = ['input("x1") * input("x2")', "total[2027]", 'input("x3") + total[2026]']
    for given in (targets, None):
        result = compute_drivers(loaded, settings(), given, target_se=0.05)
        assert np.allclose(result.shapley.sum(axis=1), 1.0, rtol=0, atol=1e-12)


def test_a_constant_target_has_no_effects_and_does_not_hold_up_the_others():
    loaded = config(STANDARD)
    result = compute_drivers(loaded, settings(), ['input("x1")', "total[2027]"], target_se=0.05)
    assert result.variance[1] == 0.0 and np.isnan(result.shapley[1]).all()
    assert result.target_met and result.permutations == 200  # the first round sufficed
    effect, error = effects(result)["x1"]
    assert effect == pytest.approx(1.0, abs=1e-12) and error < 1e-6  # but for rounding


def test_a_model_whose_only_uncertainty_is_the_shocks_gives_them_everything():
    loaded = config({}, "", shock=0.05)
    result = compute_drivers(loaded, settings(), ["total[2027]", "cagr(total, 2024, 2026)"])
    assert [p.name for p in result.players] == ["shocks"]
    assert result.shapley.tolist() == [[1.0], [1.0]]
    assert np.all(result.std_error < 1e-6)  # zero but for rounding


def test_results_are_bit_identical_for_any_thread_count_and_chunk_size():
    loaded = config(LINEAR, LINEAR_CORRELATIONS + INDICATOR, shock=0.05)
    targets = ['input("x1") + total[2027]']
    runs = [
        compute_drivers(loaded, settings(chunk_size=c, threads=t), targets, target_se=0.05)
        for c, t in ((7000, 1), (7000, 2), (1234, 2), (20000, 1))
    ]
    for other in runs[1:]:
        assert np.array_equal(other.shapley, runs[0].shapley)
        assert np.array_equal(other.std_error, runs[0].std_error)
        assert other.permutations == runs[0].permutations


def test_the_order_of_groups_and_of_inputs_does_not_matter():
    groups = '[sensitivity.groups]\nfirst = ["x1", "x2"]\nsecond = ["x4", "x5"]\n'
    swapped = '[sensitivity.groups]\nsecond = ["x5", "x4"]\nfirst = ["x2", "x1"]\n'
    target = ['input("x1") + 2 * input("x2") - input("x3") + input("x4") * input("x5")']
    one = compute_drivers(config(LINEAR, LINEAR_CORRELATIONS + groups), settings(), target)
    two = compute_drivers(config(LINEAR, LINEAR_CORRELATIONS + swapped), settings(), target)
    assert [p.name for p in one.players] == [p.name for p in two.players]
    assert np.array_equal(one.shapley, two.shapley)  # the same estimate, bit for bit
    # Inputs listed in another order take other normals: equal within the errors.
    reversed_inputs = dict(reversed(list(LINEAR.items())))
    three = compute_drivers(
        config(reversed_inputs, LINEAR_CORRELATIONS + groups), settings(), target
    )
    first, third = effects(one), effects(three)
    assert set(first) == set(third) == {"first", "second", "x3", "shocks"}
    for name, (value, error) in first.items():
        other, other_error = third[name]
        assert abs(value - other) <= Z * math.hypot(error, other_error), name


def test_partition_groups_and_the_default_model_players():
    from mcinfra.config import load_config

    loaded = load_config()
    result = compute_drivers(
        loaded, settings(draws=5000, seed=3), ["total[2030]"], groups="partition", target_se=0.1
    )
    names = sorted(p.name for p in result.players)
    assert names == sorted(
        ["total", "offering", "channel", "region", "custom_silicon", "hbm_fraction_training",
         "hbm_fraction_inference", "shocks"]
    )  # fmt: skip
    found = effects(result)
    assert found["total"][0] > 0.3  # the total's own growth drives its size
    assert abs(result.shapley.sum() - 1.0) < 1e-12


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    path = tmp_path_factory.mktemp("drivers") / "run"
    text = HEAD.format(shock=0.05) + "\n".join(f"{n} = {s}" for n, s in STANDARD.items())
    config_file = path.parent / "config.toml"
    config_file.write_text(text + "\n" + INDICATOR, encoding="utf-8")
    args = ["run", str(config_file), "--draws", "5000", "--out", str(path), "--quiet"]
    assert main([*args, "--no-report"]) == 0
    return path


def test_drivers_command_writes_both_files(run_dir, capsys):
    assert main(["drivers", str(run_dir), "--target-se", "0.03", "--threads", "1"]) == 0
    printed = capsys.readouterr().out
    assert "wrote" in printed and "drivers.csv" in printed
    document = json.loads((run_dir / "drivers.json").read_text())
    assert list(document) == [
        "method", "seed", "permutations", "outer", "inner", "evaluations", "target_se",
        "seconds", "targets",
    ]  # fmt: skip
    assert document["method"] == "shapley-random-permutation"
    assert document["seed"] == 11 and document["target_se"] == 0.03
    (target,) = document["targets"]
    assert target["target"] == "P1" and target["variance"] > 0
    players = {p["player"]: p for p in target["players"]}
    assert set(players) == {"x1", "x2", "shocks"}
    assert list(players["x1"]) == [
        "player",
        "shapley",
        "std_error",
        "first_order",
        "rank_correlation",
    ]
    assert players["shocks"]["first_order"] is None
    with open(run_dir / "sensitivity.csv", newline="") as handle:
        sensitivity = {row["input"]: row for row in csv.DictReader(handle)}
    assert players["x1"]["first_order"] == float(sensitivity["x1"]["first_order_index"])
    assert players["x1"]["rank_correlation"] == float(sensitivity["x1"]["rank_correlation"])
    with open(run_dir / "drivers.csv", newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == [
        "target",
        "player",
        "shapley",
        "std_error",
        "first_order",
        "rank_correlation",
    ]
    by_player = {row[1]: row for row in rows[1:]}
    assert by_player["shocks"][4:] == ["", ""]
    assert float(by_player["x2"][2]) == players["x2"]["shapley"]


def test_expression_targets_have_no_first_order_index(run_dir):
    import mcinfra

    document = mcinfra.drivers(run_dir, targets=['input("x1") - input("x2")'], write=False)
    (target,) = document["targets"]
    assert target["target"] == 'input("x1") - input("x2")'
    assert all(p["first_order"] is None for p in target["players"])


def test_run_with_drivers_writes_them(tmp_path, capsys):
    text = HEAD.format(shock=0.0) + "\n".join(f"{n} = {s}" for n, s in STANDARD.items())
    config_file = tmp_path / "config.toml"
    config_file.write_text(text + "\n" + INDICATOR, encoding="utf-8")
    out = tmp_path / "run"
    args = ["run", str(config_file), "--draws", "3000", "--out", str(out), "--quiet"]
    assert main([*args, "--no-report", "--drivers"]) == 0
    document = json.loads((out / "drivers.json").read_text())
    assert [t["target"] for t in document["targets"]] == ["P1"]
    assert (out / "drivers.csv").is_file()


def test_drivers_say_first_when_their_kernel_must_compile(run_dir, capsys, monkeypatch):
    # The kernel that takes given normals is compiled by no plain run: a first use waits.
    import mcinfra.runs.drivers
    from mcinfra.runs.drivers import COMPILE_SECONDS

    asked = []
    monkeypatch.setattr(
        mcinfra.runs.drivers, "kernels_cached", lambda normals=False: asked.append(normals)
    )
    assert main(["drivers", str(run_dir), "--target-se", "0.05"]) == 0
    assert capsys.readouterr().err == ""  # cached (None: cannot tell): nothing to say
    monkeypatch.setattr(mcinfra.runs.drivers, "kernels_cached", lambda normals=False: False)
    assert main(["drivers", str(run_dir), "--target-se", "0.05"]) == 0
    assert capsys.readouterr().err == (
        f"mcinfra: compiling the Shapley effects' kernel: about {COMPILE_SECONDS:.0f} s on 2 "
        "cores, once per installation\n"
    )
    assert asked == [True]


def test_the_cap_on_permutations_is_reported(run_dir, capsys):
    args = ["drivers", str(run_dir), "--target-se", "0.0001", "--max-permutations", "300"]
    assert main(args) == 0
    err = capsys.readouterr().err
    assert err.startswith(
        "mcinfra: warning: Shapley effects above --target-se 0.0001: P1 (largest standard error 0.0"
    ), err
    assert err.endswith("; stopped by the cap of 300 permutations)\n"), err


def test_a_rare_prediction_stops_when_its_outcome_runs_out(monkeypatch):
    import mcinfra.runs.drivers as drivers

    monkeypatch.setattr(drivers, "MAX_STREAMED", 40_000)
    rare = INDICATOR.replace('input("x1") + input("x2") > 0', 'input("x1") > 3')
    result = compute_drivers(config(STANDARD, rare), settings(), target_se=0.001)
    assert result.permutations == 57  # the draws > 3 among the first 40,000
    assert result.stopped == {"P1": "only 57 of the first 40,000 draws have its rarer outcome"}
    assert drivers.cap_notice(result).endswith(
        "stopped by only 57 of the first 40,000 draws have its rarer outcome)"
    )


def test_the_api_on_a_result_in_memory_equals_the_run_directory(run_dir):
    import mcinfra

    result = mcinfra.run(run_dir / "config.toml", draws=5000)
    in_memory = result.drivers(target_se=0.03)
    written = mcinfra.drivers(run_dir, target_se=0.03, write=False)
    for document in (in_memory, written):
        document.pop("seconds")
    assert in_memory == written


@pytest.mark.parametrize(
    "groups, message",
    [
        (
            'g = ["x1", "x9"]',
            "sensitivity.groups.g: no input named 'x9'",
        ),
        (
            'g = ["x1", "x2"]\nh = ["x2"]',
            "sensitivity.groups.h: input 'x2' is also in sensitivity.groups.g; an input is "
            "in one group",
        ),
        (
            'g = ["x1", "x1"]',
            "sensitivity.groups.g: input 'x1' is twice in this group; an input is in one group",
        ),
        (
            'shocks = ["x1"]',
            "sensitivity.groups.shocks: the name 'shocks' is taken by the yearly shocks; "
            "rename the group",
        ),
        (
            'g = ["total.base"]',
            "sensitivity.groups.g: input 'total.base' is fixed; only uncertain inputs are players",
        ),
    ],
)
def test_bad_groups_are_refused_with_their_key_path(groups, message, write_config, capsys):
    text = HEAD.format(shock=0.0) + "\n".join(f"{n} = {s}" for n, s in STANDARD.items())
    path = write_config(text + "\n[sensitivity.groups]\n" + groups + "\n")
    with pytest.raises(ConfigError, match=None) as caught:
        parse_config(path.read_text())
    assert message in str(caught.value)
    assert main(["validate", str(path)]) == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize(
    "args, message",
    [
        (
            ["--target", "total[2027] > 100"],
            "--target 'total[2027] > 100': expected a number for each draw, and "
            "'total[2027] > 100' is true or false",
        ),
        (
            ["--target", "total[2024:2026]"],
            "--target 'total[2024:2026]': expected a number for each draw, and "
            "'total[2024:2026]' is a year range",
        ),
        (
            ["--target", "totl[2027]"],
            "--target 'totl[2027]': unknown series 'totl' (did you mean 'total'?)",
        ),
        (
            ["--target", '1 / (input("x1") - input("x1"))'],
            "is not a finite number in",
        ),
    ],
)
def test_bad_targets_exit_2_and_write_nothing(run_dir, args, message, capsys):
    for name in ("drivers.csv", "drivers.json"):
        (run_dir / name).unlink(missing_ok=True)
    assert main(["drivers", str(run_dir), *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("mcinfra: error: ") and message in err, err
    assert not (run_dir / "drivers.csv").exists() and not (run_dir / "drivers.json").exists()


def test_bad_settings_are_usage_errors():
    loaded = config(STANDARD, INDICATOR)
    with pytest.raises(UsageError, match="--groups must be one of partition, none, got 'x'"):
        compute_drivers(loaded, settings(), groups="x")
    with pytest.raises(UsageError, match=r"--target-se must be in \(0, 1\), got 0"):
        compute_drivers(loaded, settings(), target_se=0)
    with pytest.raises(UsageError, match="the cap on permutations must be at least 2, got 1"):
        compute_drivers(loaded, settings(), max_permutations=1)
    with pytest.raises(UsageError, match="the run has no prediction to explain: give --target"):
        compute_drivers(config(STANDARD), settings())


def test_resume_refuses_drivers_as_it_keeps_the_runs_own_options(tmp_path, capsys):
    assert main(["run", "--resume", str(tmp_path / "run"), "--drivers"]) == 2
    assert capsys.readouterr().err == (
        "mcinfra: error: --resume continues a run with its own settings; drop --drivers\n"
    )


def test_outer_draws_reproduce_the_runs_draws_bit_for_bit():
    # The pick-freeze costs compare each prefix with the target at the outer draw, read from
    # the run's stream: the latent plan on the draw's scores and shocks must give it exactly.
    from mcinfra.kernels.random import fill_normals, seed_key
    from mcinfra.runs.drivers import _Estimate, compile_targets, list_players
    from mcinfra.sampling.plan import compile_plan

    loaded = config(LINEAR, LINEAR_CORRELATIONS, shock=0.05)
    plan = compile_plan(loaded.config)
    targets = compile_targets(loaded, ['total[2027] * input("x1")', 'input("x4") - total[2025]'])
    estimate = _Estimate(plan, settings(3000), targets, list_players(plan, {}), 500)
    estimate.start()
    (pool,) = estimate.pools
    rows = np.empty((100, plan.n_normals))
    for i, draw in enumerate(pool.draws[:100]):
        fill_normals(seed_key(11), draw, rows[i : i + 1])
        rows[i, : plan.kernel.n_uncertain] = pool.scores[i]
    assert np.array_equal(estimate.evaluate(rows, [0, 1]), np.array(pool.references[:100]).T)


def test_prefix_samples_follow_the_conditional_gaussian_law():
    from mcinfra.stats.shapley import ConditionalSampler

    correlation = np.eye(5)
    correlation[np.ix_([0, 1, 3], [0, 1, 3])] = [[1, 0.6, -0.3], [0.6, 1, 0.2], [-0.3, 0.2, 1]]
    sampler = ConditionalSampler(correlation)
    assert [b.tolist() for b in sampler.blocks] == [[0, 1, 3], [2], [4]]
    m = 200_000
    outer = np.tile([0.5, -1.0, 2.0, 1.5, 0.3], (m, 1))
    inner = np.random.default_rng(1).standard_normal((m, 5))
    players = [np.array([0]), np.array([1, 2]), np.array([3]), np.array([4])]
    order = np.tile([1, 3, 0, 2], (m, 1))  # players {1, 2}, then {4}, {0}, {3}
    rows = sampler.prefix_samples(outer, inner, players, order)
    # After the first player: scores 1 and 2 drawn, 1 given 0 and 3 at their outer values.
    given = [0, 3]
    weights = np.linalg.solve(correlation[np.ix_(given, given)], correlation[given, 1])
    mean = weights @ outer[0, given]
    variance = 1 - correlation[1, given] @ weights
    first = rows[:, 0]
    assert abs(first[:, 1].mean() - mean) < Z * math.sqrt(variance / m)
    assert abs(first[:, 1].var() / variance - 1) < Z * math.sqrt(2 / m)
    assert np.array_equal(first[:, 2], inner[:, 2])  # independent: the inner normal itself
    assert np.array_equal(first[:, [0, 3, 4]], outer[:, [0, 3, 4]])  # not yet drawn
    assert np.array_equal(rows[:, 1, 4], inner[:, 4])  # then the shock-like score 4
    assert np.array_equal(rows[:, 1, 1], first[:, 1])  # its block unchanged: the same values
    # All drawn: the block's joint law, whatever the outer values.
    last = rows[:, -1][:, [0, 1, 3]]
    assert np.allclose(np.cov(last.T), correlation[np.ix_([0, 1, 3], [0, 1, 3])], atol=0.02)
    assert np.allclose(last.mean(axis=0), 0, atol=0.02)
