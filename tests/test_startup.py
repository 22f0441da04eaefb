"""What a command imports before and while it runs: start-up time guarded without timing it.

Each check runs in a fresh interpreter and lists ``sys.modules``: a module-level import of
a heavy package (scipy.stats, xarray, matplotlib, ...) on a path that does not use it fails
here, whatever the machine's speed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"

# Needed by no command before it starts: argument parsing is all that happens.
NOT_FOR_PARSING = ("numpy", "numba", "scipy", "pydantic", "importlib.metadata")
# Needed by no part of `mcinfra run --no-report` (report figures, draws store, dask, ...).
NOT_FOR_A_RUN = (
    "scipy.stats",
    "scipy.interpolate",
    "scipy.io",
    "scipy.sparse",
    "xarray",
    "pandas",
    "matplotlib",
    "zarr",
    "dask",
    "distributed",
)


def _modules_after(code: str) -> set[str]:
    """The names in ``sys.modules`` after ``code`` runs in a fresh interpreter."""
    script = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    paths = [str(SRC), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, check=True
    )
    return set(json.loads(done.stdout.splitlines()[-1]))


def _loaded(modules: set[str], packages: tuple[str, ...]) -> list[str]:
    return [p for p in packages if any(m == p or m.startswith(p + ".") for m in modules)]


def test_parsing_a_command_imports_no_numerical_package():
    modules = _modules_after("import mcinfra.cli\nmcinfra.cli.build_parser().parse_args(['run'])")
    assert _loaded(modules, NOT_FOR_PARSING) == []


def test_public_api_is_imported_on_first_use():
    modules = _modules_after("import mcinfra")
    assert _loaded(modules, NOT_FOR_PARSING) == []
    modules = _modules_after("import mcinfra\nassert callable(mcinfra.run)")
    assert "mcinfra.runs.api" in modules


def test_a_run_without_report_imports_only_what_it_uses(tmp_path):
    out = tmp_path / "run"
    argv = ["run", "--draws", "1000", "--no-report", "--quiet", "--out", str(out)]
    modules = _modules_after(
        "import contextlib, io, mcinfra.cli\n"
        f"with contextlib.redirect_stdout(io.StringIO()):\n"
        f"    assert mcinfra.cli.main({argv!r}) == 0"
    )
    assert (out / "quantiles.nc").is_file()
    assert {"numba", "scipy.special", "pydantic"} <= modules  # the run did sample
    assert _loaded(modules, NOT_FOR_A_RUN) == []
