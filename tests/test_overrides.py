"""``--set KEY=VALUE`` changes exactly one config value, validated and recorded."""

from __future__ import annotations

import json

import pytest

from mcinfra.cli import main
from mcinfra.config import load_config
from mcinfra.errors import ConfigError


def _differences(a, b, path=()):
    """Key paths where two nested structures differ."""
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for key in sorted(set(a) | set(b)):
            out += _differences(a.get(key), b.get(key), (*path, key))
        return out
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [
            d
            for i, (x, y) in enumerate(zip(a, b, strict=True))
            for d in _differences(x, y, (*path, i))
        ]
    return [] if a == b else [".".join(map(str, path))]


def test_an_override_changes_exactly_the_named_input():
    base = load_config().config.model_dump()
    changed = load_config(overrides=("total.cagr.mode=0.17",)).config.model_dump()
    assert _differences(base, changed) == ["total.cagr.mode"]
    assert changed["total"]["cagr"]["mode"] == 0.17


def test_whole_numbers_replace_integers_and_arrays_are_indexed():
    loaded = load_config(overrides=("sampling.draws=2e6", "correlations.0.rank=0.2"))
    assert loaded.config.sampling.draws == 2_000_000
    assert loaded.config.correlations[0].rank == 0.2
    table = 'total.cagr={ dist = "normal", mean = 0.2, sd = 0.03 }'
    assert load_config(overrides=(table,)).config.total.cagr.dist == "normal"


@pytest.mark.parametrize(
    "item, message",
    [
        ("total.cagr.mod=0.17", "unknown key 'mod' (did you mean 'mode'?)"),
        ("totl.cagr.mode=0.17", "no key totl (did you mean 'total'?)"),
        ("total.cagr.mode=0.5", "total.cagr: mode must lie in [min, max]"),
        ("correlations.99.rank=0.1", "correlations.99 is not an index"),
        ("sampling.draws", "expected KEY.PATH=VALUE"),
        ("sampling.draws=many", "sampling.draws"),
    ],
)
def test_bad_overrides_name_the_key(item, message):
    with pytest.raises(ConfigError) as error:
        load_config(overrides=(item,))
    assert message in str(error.value)


def test_overrides_are_recorded_and_refused_cleanly_on_the_command_line(tmp_path, capsys):
    out = tmp_path / "run"
    args = ["run", "--draws", "2000", "--quiet", "--no-report", "--out", str(out)]
    assert main([*args, "--set", "total.cagr.mode=0.17"]) == 0
    run = json.loads((out / "summary.json").read_text())["run"]
    assert run["config_overrides"] == ["total.cagr.mode=0.17"]
    capsys.readouterr()
    assert main(["validate", "--set", "total.cagr.mode=9"]) == 2
    assert "total.cagr: mode must lie in [min, max]" in capsys.readouterr().err


def test_whatif_reapplies_the_runs_overrides(tmp_path, capsys):
    from mcinfra.run.whatif import conditional, load_run

    out = tmp_path / "run"
    args = ["run", "--draws", "3000", "--quiet", "--no-report", "--out", str(out)]
    assert main([*args, "--set", "total.cagr.mode=0.17"]) == 0
    loaded, settings = load_run(out)
    assert loaded.overrides == ("total.cagr.mode=0.17",)
    results, _ = conditional(loaded, settings, "total[2024] > 0")
    recorded = json.loads((out / "summary.json").read_text())["predictions"]
    assert [r.overall.holds for r in results] == [p["holds"] for p in recorded]
