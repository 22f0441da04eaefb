"""The package's layers import only downward, as each subpackage's docstring states.

Every ``import`` in ``src/mcinfra`` (at module level or inside a function) is read with
:mod:`ast`; an import of a higher layer, or of a third-party package a layer promises not
to use, fails with the importing file and line.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "mcinfra"

# Which of mcinfra's own parts each part may import (besides itself).
BELOW_RUNS = {
    "errors",
    "kernels",
    "model",
    "language",
    "sipmath",
    "config",
    "sampling",
    "stats",
    "io",
    "report",
}
ALLOWED = {
    "errors": set(),
    "kernels": set(),
    "model": {"errors", "kernels"},
    "language": {"errors", "kernels"},
    "sipmath": {"errors", "model"},
    "config": {"errors", "kernels", "model", "language", "sipmath"},
    "sampling": {"errors", "kernels", "model", "language", "sipmath", "config"},
    "stats": {"errors", "kernels", "model", "language", "sampling"},
    "io": {"errors"},
    "report": {"errors", "config", "stats", "io"},
    "runs": BELOW_RUNS,
    "bench": BELOW_RUNS | {"runs"},
    "cli": {"errors", "config", "sampling", "io", "report", "runs", "bench"},
    "__init__": {"errors", "config", "sampling", "runs"},
    "__main__": {"cli"},
}
# Third-party packages a layer must not import.
FORBIDDEN_THIRD_PARTY = {
    "kernels": {"scipy", "xarray", "pydantic", "matplotlib", "zarr", "dask", "tqdm"},
    "model": {"xarray", "matplotlib", "zarr", "dask", "numba"},
    "language": {"scipy", "xarray", "pydantic", "matplotlib", "zarr", "dask"},
    "sipmath": {"numba", "xarray", "pydantic", "matplotlib", "zarr", "dask"},
    "stats": {"matplotlib", "pydantic"},
    "report": {"numba"},
    "cli": {"numpy", "numba", "scipy", "xarray", "matplotlib"},
}
# Test and developer tools: never imported by the package, never a runtime dependency.
TEST_TOOLS = {"pytest", "hypothesis", "mpmath", "ruff", "mypy"}


def _part(module: str) -> str:
    """``mcinfra.runs.pipeline`` -> ``runs``; ``mcinfra`` -> ``__init__``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path}:{node.lineno}: relative import; import from mcinfra"
            assert node.module is not None
            if node.module == "mcinfra":
                # the package's version is metadata every layer may read
                found += [
                    (node.lineno, f"mcinfra.{alias.name}")
                    for alias in node.names
                    if alias.name != "__version__"
                ]
            else:
                found.append((node.lineno, node.module))
    return found


def _modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def test_every_part_is_declared():
    parts = {
        _part("mcinfra." + ".".join(p.relative_to(PACKAGE).with_suffix("").parts))
        for p in _modules()
    }
    assert parts <= set(ALLOWED), parts - set(ALLOWED)


def test_package_root_holds_only_the_face():
    assert sorted(p.name for p in PACKAGE.glob("*.py")) == [
        "__init__.py",
        "__main__.py",
        "cli.py",
        "errors.py",
    ]


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_point_down(path: Path):
    module = "mcinfra." + ".".join(path.relative_to(PACKAGE).with_suffix("").parts)
    module = module.removesuffix(".__init__")
    own = _part(module)
    bad = []
    for line, name in _imports(path):
        top = name.split(".")[0]
        if top == "mcinfra":
            other = _part(name)
            if other != own and other not in ALLOWED[own]:
                bad.append(f"{path.relative_to(PACKAGE)}:{line} imports {name} ({own} -> {other})")
        elif top in FORBIDDEN_THIRD_PARTY.get(own, ()) or top in TEST_TOOLS:
            bad.append(f"{path.relative_to(PACKAGE)}:{line} imports {name}")
    assert not bad, "\n".join(bad)


def test_test_tools_are_no_runtime_dependency():
    import re
    import tomllib

    project = tomllib.loads((PACKAGE.parents[1] / "pyproject.toml").read_text())["project"]
    names = {re.split(r"[\[<>=!~ ;]", dep, maxsplit=1)[0] for dep in project["dependencies"]}
    assert not names & TEST_TOOLS
    assert "pytest" in {
        re.split(r"[\[<>=!~ ;]", d, maxsplit=1)[0] for d in project["optional-dependencies"]["test"]
    }


def test_the_package_declares_its_types():
    assert (PACKAGE / "py.typed").is_file()
