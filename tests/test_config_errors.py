"""Every bad config exits with status 2, names the key and writes nothing."""

from __future__ import annotations

import pytest

from conftest import MINIMAL
from mcinfra.cli import main
from mcinfra.config import default_config_path

DEFAULT = default_config_path().read_text()


def run_cli(args, capsys):
    status = main(args)
    captured = capsys.readouterr()
    return status, captured.err


CASES = {
    "unknown key with hint": (
        DEFAULT.replace("share = 0.63\n", "sahre = 0.63\n"),
        ["partitions.offering.segments.compute: unknown key 'sahre' (did you mean 'share'?)"],
    ),
    "unknown top-level table": (
        MINIMAL + "\n[partitionz.a]\nx = 1\n",
        ["(top level): unknown key 'partitionz' (did you mean 'partitions'?)"],
    ),
    "shares not summing to one": (
        DEFAULT.replace("share = 0.63\n", "share = 0.73\n"),
        ["partitions.offering.segments: shares must sum to 1, they sum to 1.1"],
    ),
    "non-positive sd": (
        DEFAULT.replace("mean = 0.306, sd = 0.035", "mean = 0.306, sd = 0"),
        ["partitions.offering.segments.network.cagr: sd must be positive (got sd=0"],
    ),
    "min above mode": (
        DEFAULT.replace("min = 0.12, mode = 0.1945", "min = 0.2, mode = 0.1945"),
        ["total.cagr: mode must lie in [min, max] (got min=0.2, mode=0.1945, max=0.28)"],
    ),
    "growth at or below -100 %": (
        DEFAULT.replace("mean = 0.15, sd = 0.03", "mean = -1.2, sd = 0.03"),
        ["partitions.offering.segments.storage.cagr: growth must stay above -100 %"],
    ),
    "rank correlation outside [-1, 1]": (
        DEFAULT.replace("rank = 0.5\n", "rank = 1.5\n"),
        ["correlations[6].rank: Input should be less than or equal to 1 (got 1.5)"],
    ),
    "correlation matrix not positive definite": (
        DEFAULT.replace("rank = 0.3\n", "rank = -0.9\n").replace("rank = 0.5\n", "rank = 0.9\n"),
        [
            "correlations: the rank correlations among offering.compute.cagr, "
            "offering.memory.cagr, offering.network.cagr are not jointly possible",
            "offering.compute.cagr~offering.memory.cagr=0.9",
            "offering.compute.cagr~offering.network.cagr=-0.9",
        ],
    ),
    "unknown correlated input": (
        DEFAULT.replace(
            '"offering.compute.cagr", "offering.network.cagr"',
            '"offering.compute.cagr", "offering.netwrk.cagr"',
        ),
        [
            "correlations[7].between: no input named 'offering.netwrk.cagr' "
            "(did you mean 'offering.network.cagr'?)"
        ],
    ),
    "unknown distribution": (
        DEFAULT.replace('dist = "pert"', 'dist = "prt"'),
        ["total.cagr: expected a number or a table with 'dist' = one of", "(did you mean 'pert'?)"],
    ),
    "string instead of number": (
        DEFAULT.replace("share = 0.13\n", 'share = "0.13"\n'),
        ["partitions.offering.segments.memory.share: expected a number or a table"],
    ),
    "function split host unknown": (
        DEFAULT.replace('partition = "channel"', 'partition = "chanel"'),
        ["function_split.partition: no partition named 'chanel' (did you mean 'channel'?)"],
    ),
    "unknown name in derived expression": (
        DEFAULT.replace('expr = "memory - hbm"', 'expr = "memroy - hbm"'),
        ["derived.lpddr.expr: unknown name 'memroy' at column 1 (did you mean 'memory'?)"],
    ),
    "syntax error in derived expression": (
        DEFAULT.replace('expr = "memory - hbm"', 'expr = "memory - * hbm"'),
        [
            "derived.lpddr.expr: syntax error at column 10: invalid syntax\n    memory - * hbm\n"
            "             ^\n"
        ],
    ),
    "invalid parameter name": (
        DEFAULT.replace("hbm_fraction_inference = {", "hbm-fraction-inference = {"),
        [
            "parameters.hbm-fraction-inference: invalid name 'hbm-fraction-inference': a name "
            "may contain only letters (A-Z, a-z), digits and '_', and may not start with a digit"
        ],
    ),
    "invalid model name": (
        MINIMAL.replace('name = "mini"', 'name = "my market"'),
        [
            "model.name: invalid name 'my market': a model name may contain only letters "
            "(A-Z, a-z), digits, '_', '.' and '-'"
        ],
    ),
    "cyclic derived series": (
        DEFAULT.replace('expr = "memory - hbm"', 'expr = "memory - hbm + 0 * lpddr"'),
        ["derived series refer to each other in a cycle: lpddr -> lpddr"],
    ),
    "disallowed expression": (
        DEFAULT.replace('expr = "memory - hbm"', "expr = \"__import__('os')\""),
        ["derived.lpddr.expr: only min(a, b) and max(a, b) may be called"],
    ),
    "duplicate label": (
        DEFAULT.replace("[adoption.custom_silicon]", "[adoption.network]"),
        [
            "adoption.network: label 'network' is already used by partitions.offering.segments."
            "network"
        ],
    ),
    "toml syntax error": (
        MINIMAL.replace("end_year = 2030", "end_year = = 2030"),
        ["TOML syntax error", "line 5"],
    ),
    "end year before start year": (
        MINIMAL.replace("end_year = 2030", "end_year = 2020"),
        ["model.end_year: end_year must be after start_year"],
    ),
    "missing required key": (
        MINIMAL.replace("base = 100.0\n", ""),
        ["total.base: required key is missing"],
    ),
    "group member unknown": (
        DEFAULT.replace(
            'cloud = ["hyperscale_cloud", "enterprise_cloud"]',
            'cloud = ["hyperscale_cloud", "enterprise_clod"]',
        ),
        ["partitions.channel.groupings.deployment.cloud: 'enterprise_clod' is not a segment"],
    ),
    "unknown crossover entity": (
        DEFAULT.replace(
            'crossover_report = ["total", "cloud", "enterprises"]',
            'crossover_report = ["total", "clouds"]',
        ),
        [
            "function_split.crossover_report[1]: 'clouds' is not the total, a segment or a group",
            "(did you mean 'cloud'?)",
        ],
    ),
    "negative share": (
        DEFAULT.replace("share = 0.05\n", 'share = { dist = "normal", mean = 0.05, sd = 0.01 }\n'),
        ["partitions.offering.segments.storage.share: a share cannot be negative"],
    ),
}


@pytest.mark.parametrize("name", list(CASES))
def test_bad_config_exits_2_naming_the_key(name, write_config, tmp_path, capsys):
    text, fragments = CASES[name]
    path = write_config(text)
    out = tmp_path / "out"
    status, err = run_cli(["run", str(path), "--draws", "100", "--out", str(out)], capsys)
    assert status == 2
    assert "Traceback" not in err
    for fragment in fragments:
        assert fragment in err
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.toml"]
    status, err_validate = run_cli(["validate", str(path)], capsys)
    assert status == 2 and fragments[0] in err_validate


def test_all_problems_are_reported_at_once(write_config, capsys):
    text = DEFAULT.replace("share = 0.63\n", "sahre = 0.63\n").replace(
        "mean = 0.306, sd = 0.035", "mean = 0.306, sd = -1"
    )
    status, err = run_cli(["validate", str(write_config(text))], capsys)
    assert status == 2
    assert "unknown key 'sahre'" in err and "sd must be positive" in err


def test_missing_config_file(tmp_path, capsys):
    status, err = run_cli(
        ["run", str(tmp_path / "nope.toml"), "--out", str(tmp_path / "o")], capsys
    )
    assert status == 2 and "file not found" in err and "nope.toml" in err
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("draws", ["0", "-5", "abc", "1.5", "nan"])
def test_bad_draws_argument_exits_2(draws, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["run", "--draws", draws, "--out", str(tmp_path / "o")])
    assert exit_info.value.code == 2
    assert "--draws" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_repairing_correlations_is_an_explicit_option(write_config, capsys):
    text = DEFAULT.replace("rank = 0.3\n", "rank = -0.9\n").replace("rank = 0.5\n", "rank = 0.9\n")
    text = text.replace("\nchunk_size = ", "\nrepair_correlations = true\nchunk_size = ")
    status, out = main(["validate", str(write_config(text))]), capsys.readouterr().out
    assert status == 0 and "repaired" in out
