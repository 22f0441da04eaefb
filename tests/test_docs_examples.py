"""Every Python example of README.md and docs/*.md runs as written, so none can drift.

Each file's ```python blocks run in order, sharing one namespace, in a temporary working
directory set up as a reader's would be after the README's set-up: it holds the shipped
``configs/``, a ``my_market.toml`` (a copy of the default model, standing for the reader's
own market), and, when a block reads ``reports/ai_infrastructure``, the run directory of
``mcinfra run --draws 2000 --save-draws --no-report``. A block whose lines start with
``>>>`` runs as a doctest (its shown output is checked). A block preceded by the line
``<!-- docs-test: skip -->`` is not run (for an example that cannot run here, e.g. one
needing a cluster). A file without Python blocks passes.
"""

from __future__ import annotations

import doctest
import re
import shutil
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FILES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})[ \t]*(?P<info>[^\n`]*)$")
SKIP = "<!-- docs-test: skip -->"
RUN_DIR = "reports/ai_infrastructure"


@dataclass(frozen=True)
class Block:
    """One ```python block: its source and the line of the file it starts on."""

    source: str
    line: int
    skip: bool


def python_blocks(text: str) -> list[Block]:
    """The ```python (or ```py) blocks of markdown ``text``, in order."""
    lines = text.splitlines()
    blocks, i = [], 0
    while i < len(lines):
        opening = FENCE.match(lines[i])
        if opening is None:
            i += 1
            continue
        fence, info = opening["fence"], opening["info"].strip().split()
        end = i + 1
        while end < len(lines) and not re.match(
            rf"^[ \t]*{re.escape(fence[0])}{{{len(fence)},}}[ \t]*$", lines[end]
        ):
            end += 1
        if info and info[0].lower() in ("python", "py", "python3", "pycon"):
            previous = next((s.strip() for s in reversed(lines[:i]) if s.strip()), "")
            body = textwrap.dedent("\n".join(lines[i + 1 : end]))
            blocks.append(Block(body + "\n", i + 2, previous == SKIP))
        i = end + 1
    return blocks


def test_blocks_are_found_with_their_lines_and_skip_marks():
    text = (
        "# title\n\n```python\na = 1\n```\n\ntext\n\n"
        "<!-- docs-test: skip -->\n```python\nraise SystemExit\n```\n"
        "```bash\nmcinfra run\n```\n"
        "- item\n\n  ```py\n  b = a + 1\n  ```\n"
    )
    found = python_blocks(text)
    assert [(b.source, b.line, b.skip) for b in found] == [
        ("a = 1\n", 4, False),
        ("raise SystemExit\n", 11, True),
        ("b = a + 1\n", 19, False),
    ]
    assert python_blocks("no code here\n") == []


@pytest.fixture(scope="session")
def saved_run(tmp_path_factory):
    """A small run directory with its draws, as docs/outputs.md's examples read."""
    from mcinfra.cli import main

    out = tmp_path_factory.mktemp("docs_run") / "run"
    argv = ["run", "--draws", "2000", "--save-draws", "--no-report", "--quiet", "--out"]
    assert main([*argv, str(out)]) == 0
    return out


def _workdir(path: Path, blocks: list[Block], request) -> None:
    from mcinfra.config import default_config_path

    # the shipped configs, as the package holds them (configs/ at the root mirrors them)
    shipped = default_config_path()
    (path / "configs").mkdir()
    for config in shipped.parent.glob("*.toml"):
        shutil.copy(config, path / "configs" / config.name)
    shutil.copy(shipped, path / "my_market.toml")
    if any(RUN_DIR in block.source for block in blocks):
        shutil.copytree(request.getfixturevalue("saved_run"), path / RUN_DIR)


def _run(block: Block, name: str, namespace: dict) -> None:
    where = f"{name}:{block.line}"
    if block.source.lstrip().startswith(">>>"):
        test = doctest.DocTestParser().get_doctest(block.source, namespace, where, name, block.line)
        runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
        report: list[str] = []
        runner.run(test, out=report.append, clear_globs=False)
        assert runner.failures == 0, f"the example at {where} fails:\n" + "".join(report)
        return
    code = compile(block.source, where, "exec")
    try:
        exec(code, namespace)
    except Exception as exc:
        raise AssertionError(f"the example at {where} fails: {exc!r}") from exc


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_documented_examples_run(path: Path, tmp_path, monkeypatch, request):
    if not path.is_file():
        pytest.skip(f"{path.name} does not exist")
    blocks = [b for b in python_blocks(path.read_text(encoding="utf-8")) if not b.skip]
    _workdir(tmp_path, blocks, request)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MPLBACKEND", "Agg")  # a block that shows a figure must not block
    namespace: dict = {"__name__": "__docs__"}
    for block in blocks:
        _run(block, str(path.relative_to(ROOT)), namespace)
