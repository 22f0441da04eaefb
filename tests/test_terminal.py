"""The terminal's tables: columns stay aligned whatever the ids, and lines that apply only.

The runs print to the terminal exactly as ``mcinfra run`` and ``mcinfra sweep`` do; the
checks read the printed text back.
"""

from __future__ import annotations

import contextlib
import io
import re

import pytest

from conftest import MINIMAL
from mcinfra.cli import main
from test_report import DENSE, LONG_ID


@pytest.fixture(scope="module")
def dense_run(tmp_path_factory):
    """A run of a model with long ids: its directory and the lines it printed."""
    root = tmp_path_factory.mktemp("terminal")
    config = root / "dense.toml"
    config.write_text(DENSE, encoding="utf-8")
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        assert main(["run", str(config), "--out", str(root / "run"), "--quiet", "--no-report"]) == 0
    return root / "run", printed.getvalue().splitlines()


@pytest.fixture
def dense_printed(dense_run):
    return dense_run[1]


@pytest.fixture
def dense_dir(dense_run):
    return dense_run[0]


def _block(lines: list[str], start: str) -> list[str]:
    """The lines from the one starting with ``start`` to the next blank line."""
    first = next(i for i, line in enumerate(lines) if line.startswith(start))
    end = next((i for i in range(first, len(lines)) if not lines[i].strip()), len(lines))
    return lines[first:end]


def test_series_table_stays_aligned_with_long_series_names(dense_printed):
    table = _block(dense_printed, "series")
    long = "  liquid_cooled_high_density_racks_of_accelerators_high_density"
    assert any(line.startswith(long + " ") for line in table)
    assert len({len(line) for line in table}) == 1, table  # every column ends where the head's does
    head = table[0]
    for line in table[2:]:  # the medians end under "2024 median", the CAGR under "CAGR"
        assert line[head.index("2024 median") + len("2024 median") - 1] != " "
        assert line.endswith("%")


def test_prediction_lines_stay_aligned_with_long_ids(dense_printed):
    rows = [line for line in dense_printed if " P = " in line]
    drivers = [line for line in dense_printed if "top driver:" in line]
    assert rows[0].startswith(f"  {LONG_ID} P = ")
    assert len(rows) == len(drivers) == 2
    columns = {line.index(" P = ") for line in rows}
    assert len(columns) == 1
    assert {line.index("top driver:") for line in drivers} == {columns.pop() + 1}


def test_crossover_table_stays_aligned_with_long_entity_names(dense_printed):
    from mcinfra.report.terminal import crossover_table

    table = [line for line in dense_printed if line.startswith(("  by year", "  total "))]
    assert len(table) == 2 and len(table[0]) == len(table[1])
    row = {"probability_by_year": {"2024": 0.1, "2025": 0.6}, "after_horizon": 0.2}
    rows = [
        row | {"entity": "liquid_cooled_high_density_racks", "median_continuous": 2024.8},
        row | {"entity": "total", "median_continuous": None},
    ]
    lines = crossover_table(rows, draws=10_000).splitlines()[2:]
    assert len({len(line) for line in lines}) == 1, lines
    assert lines[1].startswith("  liquid_cooled_high_density_racks ")


def test_partition_check_is_printed_only_with_partitions(
    dense_printed, write_config, tmp_path, capsys
):
    assert any(line.startswith("partitions sum to the total within") for line in dense_printed)
    assert main(["run", str(write_config(MINIMAL)), "--out", str(tmp_path / "r"), "--quiet",
                 "--no-report"]) == 0  # fmt: skip
    out = capsys.readouterr().out
    assert "partitions" not in out
    assert re.search(r"^sampling \d+\.\d\d s, \d+\.\d\d M draws/s$", out, flags=re.M)


def test_sweep_table_keeps_long_names_apart(tmp_path, capsys):
    param = "partitions.offering.segments.network.cagr.mean"
    args = ["sweep", "--param", param, "--values", "0.25,0.3", "--draws", "1000", "--quiet"]
    assert main([*args, "--out", str(tmp_path / "s")]) == 0
    lines = capsys.readouterr().out.splitlines()
    head, rows = lines[0], lines[1:3]
    assert head.split() == [param, "P1", "P2", "P3", "P4", "P5"]
    assert [row.split()[0] for row in rows] == ["0.25", "0.3"]
    assert len({len(line) for line in (head, *rows)}) == 1  # right-aligned under each id


def test_whatif_and_compare_lines_stay_aligned_with_long_ids(dense_dir, tmp_path, capsys):
    given = 'input("deployment_density_class.air_cooled.cagr") > 0.06'
    assert main(["whatif", str(dense_dir), "--given", given]) == 0
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("  ")]
    assert lines[0].startswith(f"  {LONG_ID} P = ") and lines[1].startswith("  P2 ")
    assert len({line.index(" P = ") for line in lines}) == 1
    out = tmp_path / "compare"
    assert main(["compare", str(dense_dir), str(dense_dir), "--out", str(out)]) == 0
    lines = capsys.readouterr().out.splitlines()[:2]
    assert lines[0].startswith(f"{LONG_ID} {dense_dir} - ")
    assert len({line.index(f" {dense_dir} - ") for line in lines}) == 1
