"""README.md and docs/*.md against the behaviour they describe.

Each test reads a statement from the docs and checks it against a run or the package, so a
change to either side that breaks the statement fails here.
"""

from __future__ import annotations

import csv
import importlib
import json
import re
import sys
from pathlib import Path

import pytest

from mcinfra.cli import main
from mcinfra.stats.quantiles import QUANTILES

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = sorted((ROOT / "docs").glob("*.md"))


def run_directory(out: Path, *options: str) -> Path:
    options = ("--out", str(out), "--quiet", "--no-report", *options)
    status = main(["run", "--draws", "2500", "--chunk-size", "1000", *options])
    assert status == 0
    return out


@pytest.fixture(scope="module")
def exact_run(tmp_path_factory):
    return run_directory(tmp_path_factory.mktemp("docs") / "exact", "--quantiles", "exact")


@pytest.fixture(scope="module")
def sketch_run(tmp_path_factory):
    return run_directory(tmp_path_factory.mktemp("docs") / "sketch", "--quantiles", "sketch")


def levels_in(text: str, pattern: str) -> list[float]:
    """The percent levels listed as "1, 5, ... and 99 %" where ``pattern`` matches."""
    found = re.search(pattern, text, re.DOTALL)
    assert found, f"no list of quantile levels matching {pattern!r}"
    return [int(n) / 100 for n in re.findall(r"\d+", found.group(1))]


def quantile_levels(run: Path) -> list[float]:
    with open(run / "quantiles.csv", newline="") as f:
        return sorted({float(row["quantile"]) for row in csv.DictReader(f)})


def test_quantile_levels_in_docs_are_the_levels_written(exact_run, sketch_run):
    outputs = (ROOT / "docs" / "outputs.md").read_text()
    documented = levels_in(outputs, r"quantile level \(([\d, and]+) %\)")
    readme = levels_in(README.read_text(), r"every series and year at ([\d, and]+) %")
    assert documented == readme == list(QUANTILES)
    assert quantile_levels(exact_run) == quantile_levels(sketch_run) == documented


def test_convergence_draws_are_as_documented(exact_run):
    outputs = (ROOT / "docs" / "outputs.md").read_text()
    assert "`[100, 200, 500, ..., 500000, 1000000]` for the default run" in outputs
    summary = json.loads((exact_run / "summary.json").read_text())
    # 1, 2 and 5 times each power of ten, then the run's own draws; not the chunk ends
    assert summary["convergence"]["draws"] == [100, 200, 500, 1000, 2000, 2500]


@pytest.mark.parametrize("method", ["exact", "sketch"])
def test_summary_percentiles_are_the_quantile_table_rows(method, exact_run, sketch_run):
    """outputs.md: the 5, 50 and 95 % values equal summary.json's p05, p50 and p95."""
    run = {"exact": exact_run, "sketch": sketch_run}[method]
    summary = json.loads((run / "summary.json").read_text())
    assert summary["quantiles"]["method"] == method
    with open(run / "quantiles.csv", newline="") as f:
        table = {
            (row["segment"], row["year"], float(row["quantile"])): float(row["value"])
            for row in csv.DictReader(f)
        }
    for series in summary["series"]:
        for year in (str(summary["model"]["start_year"]), str(summary["model"]["end_year"])):
            for key, level in (("p05", 0.05), ("p50", 0.5), ("p95", 0.95)):
                assert series[year][key] == table[series["label"], year, level]


DOTTED = re.compile(r"`(mcinfra(?:\.[A-Za-z_][A-Za-z0-9_]*)+)")


def dotted_names() -> list[tuple[str, str]]:
    names = set()
    for path in [README, *DOCS]:
        for name in DOTTED.findall(path.read_text()):
            names.add((path.name, name))
    return sorted(names)


@pytest.mark.parametrize(("page", "name"), dotted_names())
def test_every_module_path_in_the_docs_exists(page, name):
    parts = name.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            found = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError:
            continue
        for attribute in parts[cut:]:
            assert hasattr(found, attribute), f"{page} names {name}, which does not exist"
            found = getattr(found, attribute)
        return
    pytest.fail(f"{page} names {name}, which does not exist")


def test_readme_opens_with_title_sentence_and_the_two_commands():
    lines = README.read_text().splitlines()
    assert len(lines) <= 200
    assert lines[0] == "# mcinfra"
    text = "\n".join(lines)
    commands = ("pip install . && mcinfra run", 'pip install ".[test]" && pytest')
    install = "\n\n".join(f"```bash\n{command}\n```" for command in commands)
    head = text.split("\n\n", 2)
    assert head[1].count(". ") == 0 and head[1].endswith(".")  # one sentence
    assert head[2].startswith(install)


def test_docs_say_when_not_how_the_work_was_done():
    pattern = re.compile(r"\b(this|that|last|earlier|previous|next) session\b", re.IGNORECASE)
    for path in [README, ROOT / "CHANGELOG.md", *DOCS]:
        assert not pattern.search(path.read_text()), path.name


def test_readme_table_is_what_the_script_renders_from_the_bench_file():
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        readme_table = importlib.import_module("readme_table")
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    text = README.read_text()
    commit = re.search(r"at commit ([0-9a-f]{7,40})", text)
    assert commit, "the README's bench footnote names no commit"
    bench = json.loads((ROOT / "benchmarks" / "readme_bench.json").read_text())
    table = readme_table.render(bench, commit.group(1))
    assert readme_table.replace_between_markers(text, table) == text


def test_architecture_table_is_the_layer_contract():
    sys.path.insert(0, str(ROOT / "tests"))
    try:
        layers = importlib.import_module("test_layers")
    finally:
        sys.path.remove(str(ROOT / "tests"))
    text = (ROOT / "docs" / "architecture.md").read_text()
    rows = re.findall(r"^\| `([a-z_]+)(?:/|\.py)` \| [^|]+ \| ([^|]+) \|$", text, re.MULTILINE)
    assert [layer for layer, _ in rows] == [
        *(part for part in layers.ALLOWED if part not in ("errors", "__init__", "__main__"))
    ]
    above: set[str] = {"errors"}
    for layer, cell in rows:
        cell = cell.strip()
        if cell == "nothing":
            documented = set()
        elif cell == "every layer above in this table":
            documented = set(above)
        else:
            documented = {name.strip() for name in cell.split(",")}
        assert documented == layers.ALLOWED[layer], layer
        above.add(layer)


LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


@pytest.mark.parametrize("page", [README, ROOT / "CHANGELOG.md", *DOCS], ids=lambda p: p.name)
def test_relative_links_lead_to_files(page):
    missing = [
        target
        for target in LINK.findall(page.read_text())
        if "://" not in target and not (page.parent / target).exists()
    ]
    assert not missing, f"{page.name} links to missing {missing}"


def test_prediction_error_table_is_what_the_language_says():
    from mcinfra.config import load_config
    from mcinfra.config.validation import prediction_scope
    from mcinfra.language.predictions import PredictionError, compile_prediction

    text = (ROOT / "docs" / "config.md").read_text(encoding="utf-8")
    start = text.index("| `expr` | reported after `predictions.ID.expr:` |")
    rows = text[start : text.index("\n\n", start)].splitlines()[2:]
    scope = prediction_scope(load_config().config)
    assert len(rows) >= 8
    for row in rows:
        expr, message = re.fullmatch(r"\| `(.*?)` \| `(.*)` \|", row).groups()
        with pytest.raises(PredictionError) as raised:
            compile_prediction(expr.replace("\\|", "|"), scope)
        assert str(raised.value) == message.replace("\\|", "|"), expr
