"""Fuzzed configs: any mutation of a valid config runs or is refused cleanly.

Each example edits the default config's TOML tree (a value replaced by a hostile one, a key
removed, renamed or added, a segment duplicated, an expression garbled) or garbles the text
itself, then runs ``mcinfra run`` on it. The run must either succeed or exit with status 2
and a message, never a traceback, and a refused run must leave no output directory.
"""

from __future__ import annotations

import contextlib
import json
import tomllib

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from mcinfra.cli import main
from mcinfra.config import default_config_path

DEFAULT_TEXT = default_config_path().read_text()
DEFAULT = tomllib.loads(DEFAULT_TEXT)
# The default config has no [sensitivity.groups]; the fuzzed tree has, so its keys are fuzzed.
DEFAULT["sensitivity"] = {
    "groups": {
        "crossovers": [f"channel.{s}.crossover" for s in DEFAULT["function_split"]["segments"]],
        "custom_silicon": ["custom_silicon.initial_share", "custom_silicon.logit_rate"],
    }
}

HOSTILE = st.one_of(
    st.sampled_from(
        [float("nan"), float("inf"), -float("inf"), 1e308, -1e308, -0.0, 0.0, 5e-324, -1.0,
         1.0, 2.0, 0, -1, 10**30, True, "", "x", "1e6", [], [1, 2], {}, {"a": 1}]
    ),
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(-(2**70), 2**70),
    st.text(max_size=20),
)  # fmt: skip
GARBLED_EXPRESSIONS = st.sampled_from(
    ["", "(", "total[", "total[2024", "foo[2024] > 1", "__import__('os')", "total.__class__",
     "lambda: 1", "[x for x in y]", "total[2024] if 1 else 2", "2 ** 10 ** 10",
     "total[2024:2020] > 0", "total[1999] > 1", "yoy(total)[2024] > 0", "a" * 5000,
     "(" * 200 + ")" * 200, "input('nope') > 1", "cagr(total, 2030, 2024) > 0"]
)  # fmt: skip


def _paths(tree, prefix=()):
    """Every (path, value) in a TOML tree, tables and arrays included."""
    yield prefix, tree
    if isinstance(tree, dict):
        for key, value in tree.items():
            yield from _paths(value, (*prefix, key))
    elif isinstance(tree, list):
        for i, value in enumerate(tree):
            yield from _paths(value, (*prefix, i))


PATHS = [p for p, _ in _paths(DEFAULT) if p]


def _dump(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if value != value:
            return "nan"
        if value in (float("inf"), -float("inf")):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
    if isinstance(value, list):
        return "[" + ", ".join(_dump(v) for v in value) + "]"
    return "{" + ", ".join(f'"{k}" = {_dump(v)}' for k, v in value.items()) + "}"


def _to_toml(tree) -> str:
    """Serialise a tree whose leaves tomllib produced (tables as inline tables where needed)."""
    lines = []

    def table(node, prefix):
        scalars = {k: v for k, v in node.items() if not isinstance(v, dict)}
        tables = {k: v for k, v in node.items() if isinstance(v, dict)}
        if prefix:
            lines.append("[" + ".".join(f'"{p}"' for p in prefix) + "]")
        for key, value in scalars.items():
            lines.append(f'"{key}" = {_dump(value)}')
        for key, value in tables.items():
            table(value, (*prefix, key))

    table(tree, ())
    return "\n".join(lines) + "\n"


def _mutate(tree, path, action, value):
    import copy

    tree = copy.deepcopy(tree)
    *parents, last = path
    node = tree
    for key in parents:
        node = node[key]
    if action == "replace":
        node[last] = value
    elif action == "remove":
        del node[last]
    elif action == "rename" and isinstance(node, dict):
        node[str(last) + "_x"] = node.pop(last)
    elif action == "duplicate" and isinstance(node, list):
        node.append(node[last])
    elif action == "duplicate" and isinstance(node, dict):
        node[str(value)[:10] or "k"] = node[last]
    return tree


MUTATION = st.tuples(
    st.sampled_from(PATHS),
    st.sampled_from(["replace", "replace", "remove", "rename", "duplicate"]),
    HOSTILE,
)


def _check(text: str, tmp_path, capsys) -> None:
    config = tmp_path / "fuzz.toml"
    config.write_text(text)
    out = tmp_path / "out"
    status = main(
        ["run", str(config), "--draws", "200", "--quiet", "--no-report", "--out", str(out)]
    )
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    assert status in (0, 2), captured.err
    if status == 2:
        assert captured.err.startswith("mcinfra: error:"), captured.err
        assert not out.exists()
    else:
        assert (out / "summary.json").is_file()
    import shutil

    shutil.rmtree(out, ignore_errors=True)


FUZZ = settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])


@FUZZ
@given(st.lists(MUTATION, min_size=1, max_size=3))
@example([(("total", "base", "dist"), "replace", [])])  # found by the fuzzer: unhashable dist
@example([(("total", "base"), "replace", 1.188221337180796e154)])  # found: hbm overflowed
def test_mutated_configs_run_or_are_refused_cleanly(tmp_path, capsys, mutations):
    tree = DEFAULT
    for path, action, value in mutations:
        with contextlib.suppress(KeyError, IndexError, TypeError):  # path already removed
            tree = _mutate(tree, path, action, value)
    _check(_to_toml(tree), tmp_path, capsys)


@FUZZ
@given(st.sampled_from(sorted(DEFAULT["predictions"])), GARBLED_EXPRESSIONS)
def test_garbled_expressions_are_refused_cleanly(tmp_path, capsys, index, expression):
    tree = _mutate(DEFAULT, ("predictions", index, "expression"), "replace", expression)
    _check(_to_toml(tree), tmp_path, capsys)


@FUZZ
@given(st.integers(0, len(DEFAULT_TEXT)), st.text(max_size=8))
def test_garbled_toml_text_is_refused_cleanly(tmp_path, capsys, position, inserted):
    _check(DEFAULT_TEXT[:position] + inserted + DEFAULT_TEXT[position:], tmp_path, capsys)


@pytest.mark.parametrize(
    "args, message",
    [
        (["--draws", "0"], "positive whole number"),
        (["--draws", "-5"], "positive whole number"),
        (["--draws", "1e15", "--quantiles", "exact"], "exact quantiles would hold"),
        (["--chunk-size", "0"], "positive whole number"),
        (["--seed", "-1"], "seed"),
        (["--threads", "0"], "positive whole number"),
        (["missing.toml"], "missing.toml"),
    ],
)
def test_command_line_misuse_exits_2(tmp_path, capsys, args, message):
    out = tmp_path / "out"
    try:
        status = main(["run", *args, "--out", str(out)])
    except SystemExit as exc:  # argparse's own refusals
        status = exc.code
    assert status == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_saving_draws_that_cannot_fit_on_disk_is_refused(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["run", "--draws", "1e15", "--save-draws", "--out", str(out)]) == 2
    assert "--save-draws would write up to" in capsys.readouterr().err
    assert not out.exists()


def test_an_overlong_derived_expression_is_refused(tmp_path, capsys):
    text = DEFAULT_TEXT.replace('expr = "memory - hbm"', 'expr = "memory' + " + hbm" * 2000 + '"')
    config = tmp_path / "long.toml"
    config.write_text(text)
    assert main(["validate", str(config)]) == 2
    err = capsys.readouterr().err
    assert "derived.lpddr.expr" in err
    assert "at most 2000 characters" in err


# A config with inputs from a SIPmath library beside it: its SIP tables and the library's
# JSON are mutated too.
SIP_LIBRARY = {
    "name": "fuzz",
    "libraryType": "SIPmath_3_0",
    "U01": {
        "rng": [
            {"name": "hdr1", "function": "HDR_2_0",
             "arguments": {"counter": "PM_Index", "entity": 1, "varId": 1}},
            {"name": "index", "function": "Index", "arguments": {"counter": "PM_Index"}},
        ],
        "copula": [],
    },
    "globalVariables": [],
    "sips": [
        {"name": "base", "ref": {"source": "rng", "name": "index"}, "function": "SIP_Array",
         "arguments": {"type": "array", "value": [130.0 + (7 * i) % 11 for i in range(200)]}},
        {"name": "cagr", "ref": {"source": "rng", "name": "hdr1"}, "function": "Metalog_1_0",
         "arguments": {"aCoefficients": [0.17, 0.01, 0.002], "lowerBound": -0.5}},
    ],
}  # fmt: skip
SIP_TREE = _mutate(
    _mutate(
        DEFAULT,
        ("total", "base"),
        "replace",
        {"dist": "sip", "library": "lib.SIPmath", "name": "base"},
    ),
    ("total", "cagr"),
    "replace",
    {"dist": "sip", "library": "lib.SIPmath", "name": "cagr"},
)
SIP_PATHS = [p for p, _ in _paths(SIP_TREE) if p[:2] in (("total", "base"), ("total", "cagr"))]
LIBRARY_PATHS = [p for p, _ in _paths(SIP_LIBRARY) if p and "value" not in p[-2:]]


ACTIONS = st.sampled_from(["replace", "replace", "remove", "rename", "duplicate"])


@FUZZ
@given(
    st.lists(st.tuples(st.sampled_from(SIP_PATHS), ACTIONS, HOSTILE), max_size=2),
    st.lists(st.tuples(st.sampled_from(LIBRARY_PATHS), ACTIONS, HOSTILE), max_size=2),
)
@example([], [])  # unmutated: the run succeeds
def test_mutated_sip_inputs_and_libraries_run_or_are_refused_cleanly(
    tmp_path, capsys, table_mutations, library_mutations
):
    tree, library = SIP_TREE, SIP_LIBRARY
    for path, action, value in table_mutations:
        with contextlib.suppress(KeyError, IndexError, TypeError):
            tree = _mutate(tree, path, action, value)
    for path, action, value in library_mutations:
        with contextlib.suppress(KeyError, IndexError, TypeError):
            library = _mutate(library, path, action, value)
    (tmp_path / "lib.SIPmath").write_text(json.dumps(library))
    _check(_to_toml(tree), tmp_path, capsys)
