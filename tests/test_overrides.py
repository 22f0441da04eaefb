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
        (
            "totl.cagr.mode=0.17",
            "--set 'totl.cagr.mode=0.17': no key totl and no input named totl.cagr.mode "
            "(did you mean 'total.cagr.mode'?); give a key path (e.g. total.cagr.mode) or an "
            "input name as in [[correlations]]",
        ),
        ("offering.network.cagrr=0.1", "(did you mean 'offering.network.cagr'?)"),
        ("offering.network.cagr.mode=0.1", "segments.network.cagr: unknown key 'mode'"),
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


@pytest.mark.parametrize(
    "item, path",
    [
        ("offering.network.cagr.mean=0.3", "partitions.offering.segments.network.cagr.mean"),
        ("total.base.log_sd=0.06", "total.base.log_sd"),
        (
            "channel.public_sector.crossover.mode=2027.5",
            "function_split.segments.public_sector.crossover.mode",
        ),
        ("custom_silicon.logit_rate.sd=0.2", "adoption.custom_silicon.logit_rate.sd"),
        ("hbm_fraction_training.high=0.95", "parameters.hbm_fraction_training.high"),
    ],
)
def test_inputs_are_named_as_in_correlations(item, path):
    base = load_config().config.model_dump(by_alias=True)
    loaded = load_config(overrides=(item,))
    assert _differences(base, loaded.config.model_dump(by_alias=True)) == [path]
    assert loaded.overrides == (item,)  # recorded as given; replayed to the same config


def test_a_whole_input_is_replaced_by_its_name_in_any_model(write_config):
    from conftest import MINIMAL

    text = MINIMAL + (
        "\n[partitions.product]\nshock = { sd = 0.0, phi = 0.0 }\n"
        "[partitions.product.segments.power]\nshare = 0.6\ncagr = 0.1\n"
        "[partitions.product.segments.cooling]\nshare = 0.4\ncagr = 0.1\n"
    )
    path = write_config(text)
    loaded = load_config(path, ("product.power.cagr=0.12",))
    assert loaded.config.partitions["product"].segments["power"].cagr.central() == 0.12
    with pytest.raises(
        ConfigError,
        match=r"no input named product\.powr\.cagr \(did you mean "
        r"'product\.power\.cagr'\?\)",
    ):
        load_config(path, ("product.powr.cagr=0.12",))


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
    from mcinfra.runs.whatif import conditional, load_run

    out = tmp_path / "run"
    args = ["run", "--draws", "3000", "--quiet", "--no-report", "--out", str(out)]
    assert main([*args, "--set", "total.cagr.mode=0.17"]) == 0
    loaded, settings = load_run(out)
    assert loaded.overrides == ("total.cagr.mode=0.17",)
    results, _ = conditional(loaded, settings, "total[2024] > 0")
    recorded = json.loads((out / "summary.json").read_text())["predictions"]
    assert [r.overall.holds for r in results] == [p["holds"] for p in recorded]
