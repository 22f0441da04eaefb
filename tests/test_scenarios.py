"""Scenario files that extend a base config, and the shipped bear and bull scenarios."""

from __future__ import annotations

import json

import pytest

from mcinfra.cli import main
from mcinfra.config import default_config_path, load_config, parse_config
from mcinfra.errors import ConfigError

DEFAULT = default_config_path().read_text()


def test_extends_resolves_relative_paths_and_changes_only_what_it_names(tmp_path):
    (tmp_path / "bases").mkdir()
    (tmp_path / "bases" / "market.toml").write_text(DEFAULT)
    scenario = tmp_path / "scenario.toml"
    scenario.write_text(
        'extends = "bases/market.toml"\n[total]\ncagr = { mode = 0.17 }\n[model]\nname = "slow"\n'
    )
    loaded = load_config(scenario)
    base = load_config().config.model_dump()
    changed = loaded.config.model_dump()
    assert changed["total"]["cagr"]["mode"] == 0.17
    assert changed["model"]["name"] == "slow"
    base["total"]["cagr"]["mode"], base["model"]["name"] = 0.17, "slow"
    assert changed == base
    # the recorded text is the merged config: it loads on its own to the same thing
    assert parse_config(loaded.text).config == loaded.config


def test_a_changed_distribution_family_replaces_the_table(tmp_path):
    scenario = tmp_path / "s.toml"
    scenario.write_text(
        'extends = "ai_infrastructure.toml"\n'  # found among the embedded configs
        '[total]\ncagr = { dist = "normal", mean = 0.2, sd = 0.03, source = "test" }\n'
    )
    assert load_config(scenario).config.total.cagr.dist == "normal"


def test_extends_refuses_cycles(tmp_path):
    (tmp_path / "a.toml").write_text('extends = "b.toml"\n')
    (tmp_path / "b.toml").write_text('extends = "a.toml"\n')
    with pytest.raises(ConfigError, match=r"cycle: a\.toml -> b\.toml -> a\.toml"):
        load_config(tmp_path / "a.toml")


@pytest.mark.parametrize(
    "body, message",
    [
        ("[total]\ncagr_x = 0.1\n", "total.cagr_x: not in the base config"),
        ("[totl]\nbase = 1\n", "totl: not in the base config ai_infrastructure.toml (did you mean"),
        ("[total]\ncagr = { mode = 0.5 }\n", "total.cagr: mode must lie in [min, max]"),
    ],
)  # fmt: skip
def test_scenario_errors_name_the_key(tmp_path, capsys, body, message):
    scenario = tmp_path / "s.toml"
    scenario.write_text('extends = "ai_infrastructure.toml"\n' + body)
    assert main(["validate", str(scenario)]) == 2
    assert message in capsys.readouterr().err


def test_missing_base_is_named(tmp_path, capsys):
    scenario = tmp_path / "s.toml"
    scenario.write_text('extends = "nowhere.toml"\n')
    assert main(["validate", str(scenario)]) == 2
    assert "nowhere.toml" in capsys.readouterr().err


def test_bear_and_bull_bracket_the_default(tmp_path):
    medians = {}
    for name in ("ai_infrastructure_bear", "ai_infrastructure", "ai_infrastructure_bull"):
        out = tmp_path / name
        config = default_config_path().with_name(f"{name}.toml")
        args = ["run", str(config), "--draws", "20000", "--quiet", "--no-report"]
        assert main([*args, "--out", str(out)]) == 0
        summary = json.loads((out / "summary.json").read_text())
        medians[name] = summary["series"][0]["2030"]["p50"]
        loaded = load_config(out / "config.toml")  # self-contained
        assert loaded.config.model.name == name
    bear, base, bull = medians.values()
    assert bear < base < bull
