"""Draw counts are read exactly and refused beyond what the random streams can serve."""

from __future__ import annotations

import re

import pytest

import mcinfra
from mcinfra.cli import build_parser, main
from mcinfra.config import load_config
from mcinfra.config.counts import MAX_DRAWS, exact_integer, whole_count
from mcinfra.errors import ConfigError, UsageError
from mcinfra.runs.api import _whole
from mcinfra.sampling.engine import RunSettings, settings_from

LIMIT = (
    "at most 4,611,686,018,427,387,904 (2**62, the draws whose random streams are all "
    "distinct; beyond it, draws would repeat earlier draws' streams)"
)
REFUSED = ["1e30", "18446744073709551617", str(MAX_DRAWS + 1), "1e999999999"]
NOT_WHOLE = ["1.5", "1.5e0", "1.0000000000000001e6", "0", "-5", "-1e3", "nan", "inf", "abc", ""]


def test_the_limit_is_where_draw_indexes_would_repeat_a_stream():
    # Draw d seeds from SplitMix64 counters 4d + 1 .. 4d + 4 modulo 2**64 (kernels.random):
    # the last allowed draw ends on counter 2**64 = 0, the next would reuse draw 0's.
    from mcinfra.kernels.random import seed_draw, seed_key

    key = seed_key(20241127)
    assert MAX_DRAWS == 2**62
    assert seed_draw(key, MAX_DRAWS) == seed_draw(key, 0)
    assert seed_draw(key, MAX_DRAWS - 1) != seed_draw(key, 0)
    assert MAX_DRAWS - 1 < 2**63  # draw indexes reach the kernels as int64


@pytest.mark.parametrize(
    ("text", "count"),
    [
        ("1e6", 10**6),
        ("1.5e6", 1_500_000),  # exactly 1,500,000
        ("2E3", 2_000),
        ("1_000_000", 10**6),
        (" 7 ", 7),
        ("9007199254740993", 2**53 + 1),  # a float would read 2**53
        ("4.611686018427387904e18", MAX_DRAWS),
        (str(MAX_DRAWS), MAX_DRAWS),
    ],
)
def test_counts_are_read_exactly(text, count):
    assert exact_integer(text) == count
    assert whole_count(text, "--draws", MAX_DRAWS) == count


@pytest.mark.parametrize("text", REFUSED)
def test_counts_beyond_the_limit_are_refused_with_it(text):
    with pytest.raises(ValueError, match=re.escape(f"--draws must be {LIMIT}, got '{text}'")):
        whole_count(text, "--draws", MAX_DRAWS)


@pytest.mark.parametrize("text", NOT_WHOLE)
def test_counts_that_are_not_positive_whole_numbers_are_refused(text):
    message = f"--draws must be a positive whole number, got '{text}'"
    with pytest.raises(ValueError, match=re.escape(message)):
        whole_count(text, "--draws", MAX_DRAWS)


def test_floats_are_taken_only_where_they_are_exact():
    assert whole_count(2e6, "draws", MAX_DRAWS) == 2_000_000
    assert whole_count(float(2**53), "draws", MAX_DRAWS) == 2**53
    with pytest.raises(ValueError, match=r"the float 1e\+16 lies beyond 2\*\*53"):
        whole_count(1e16, "draws", MAX_DRAWS)
    with pytest.raises(ValueError, match=re.escape(f"draws must be {LIMIT}, got 1e+30")):
        whole_count(1e30, "draws", MAX_DRAWS)
    with pytest.raises(ValueError, match="positive whole number, got True"):
        whole_count(True, "draws", MAX_DRAWS)


def test_the_largest_count_passes_every_entry_point_without_running():
    parser = build_parser()
    assert parser.parse_args(["run", "--draws", str(MAX_DRAWS)]).draws == MAX_DRAWS
    assert parser.parse_args(["run", "--max-draws", "4.611686018427387904e18"]).max_draws == (
        MAX_DRAWS
    )
    assert parser.parse_args(
        ["sweep", "--param", "k", "--values", "1", "--draws", str(MAX_DRAWS)]
    ).draws
    loaded = load_config(None, (f"sampling.draws={MAX_DRAWS}",))
    assert loaded.config.sampling.draws == MAX_DRAWS
    assert settings_from(loaded).draws == MAX_DRAWS
    assert settings_from(load_config(), draws=MAX_DRAWS).draws == MAX_DRAWS
    assert _whole("draws", MAX_DRAWS, MAX_DRAWS) == MAX_DRAWS


@pytest.mark.parametrize("option", ["--draws", "--max-draws"])
@pytest.mark.parametrize("text", [*REFUSED, "1.5", "0", "-5"])
def test_the_command_line_refuses_with_the_option_the_value_and_the_limit(
    tmp_path, capsys, option, text
):
    out = tmp_path / "out"
    extra = ["--target-se", "0.01"] if option == "--max-draws" else []
    with pytest.raises(SystemExit) as exit_:
        main(["run", option, text, *extra, "--out", str(out)])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    reason = LIMIT if text in REFUSED else "a positive whole number"
    assert f"argument {option}: a draw count must be {reason}, got '{text}'" in err
    assert "Traceback" not in err
    assert not out.exists()


def test_sweep_and_bench_refuse_the_same_counts(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["sweep", "--param", "total.cagr.mode", "--values", "0.1", "--draws", "1e30"])
    assert exit_.value.code == 2
    assert f"argument --draws: a draw count must be {LIMIT}, got '1e30'" in capsys.readouterr().err
    assert main(["bench", "--sizes", f"1e5,{MAX_DRAWS + 1}"]) == 2
    assert f"--sizes: a draw count must be {LIMIT}, got '{MAX_DRAWS + 1}'" in (
        capsys.readouterr().err
    )


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("1e30", "1000000000000000000000000000000"),
        ("18446744073709551617", "18446744073709551617"),
        (str(MAX_DRAWS + 1), str(MAX_DRAWS + 1)),
        ("4.611686018427387905e18", str(MAX_DRAWS + 1)),  # a float would read 2**62
    ],
)
def test_config_and_set_refuse_with_the_key_the_value_and_the_limit(tmp_path, capsys, value, shown):
    message = f"sampling.draws: a draw count must be {LIMIT}, got {shown}"
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_config(None, (f"sampling.draws={value}",))
    out = tmp_path / "out"
    assert main(["run", "--set", f"sampling.draws={value}", "--out", str(out)]) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()
    assert main(["validate", "--set", f"sampling.draws={value}"]) == 2
    assert message in capsys.readouterr().err


def test_a_config_file_float_is_taken_only_where_it_is_exact(tmp_path):
    text = load_config().text
    assert "draws = 1_000_000\n" in text
    (tmp_path / "ok.toml").write_text(text.replace("draws = 1_000_000\n", "draws = 2.0e6\n"))
    assert load_config(tmp_path / "ok.toml").config.sampling.draws == 2_000_000
    # TOML reads it as the float 2**62: the file's own text is not kept, so it is refused.
    rounded = text.replace("draws = 1_000_000\n", "draws = 4.611686018427387905e18\n")
    (tmp_path / "rounded.toml").write_text(rounded)
    with pytest.raises(ConfigError, match=r"sampling\.draws: .*the float 4\.6.*beyond 2\*\*53"):
        load_config(tmp_path / "rounded.toml")


@pytest.mark.parametrize(
    ("draws", "message"),
    [
        (MAX_DRAWS + 1, f"draws must be {LIMIT}, got {MAX_DRAWS + 1}"),
        (1e30, f"draws must be {LIMIT}, got 1e+30"),
        (1.5, "draws must be a positive whole number, got 1.5"),
        (0, "draws must be a positive whole number, got 0"),
        (-2, "draws must be a positive whole number, got -2"),
    ],
)
def test_the_api_refuses_with_the_limit(draws, message):
    with pytest.raises(UsageError, match=re.escape(message)):
        mcinfra.run(draws=draws)


def test_run_settings_refuse_a_count_that_no_entry_point_checked():
    assert RunSettings(MAX_DRAWS, 0, 1000).draws == MAX_DRAWS
    with pytest.raises(UsageError, match=r"draws must be at most 4,611,686,018,427,387,904"):
        RunSettings(MAX_DRAWS + 1, 0, 1000)
