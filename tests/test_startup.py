"""A short run stays quick to start: it must not import the heavy optional modules.

Start-up time itself is measured by ``mcinfra bench`` (not here: timing tests are flaky);
this guards the cause, which is deterministic.
"""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("xarray", "pandas", "dask", "distributed", "scipy.stats", "scipy.interpolate")


def test_a_short_run_without_report_skips_heavy_imports(tmp_path):
    code = (
        "import sys\n"
        "from mcinfra.cli import main\n"
        "status = main(['run', '--draws', '500', '--no-report', '--quiet', '--out', sys.argv[1]])\n"
        f"print(status, sorted(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "run")],
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout.strip().splitlines()[-1] == "0 []"


def test_kernels_are_found_in_the_cache_once_compiled():
    from mcinfra.config import load_config
    from mcinfra.sampling.engine import kernels_cached, warm_up
    from mcinfra.sampling.plan import compile_plan

    warm_up(compile_plan(load_config().config))
    assert kernels_cached() is True


def test_a_run_that_must_compile_says_so_first(tmp_path, capsys, monkeypatch):
    # A first run after installing compiles for about a minute: it must not look hung.
    import mcinfra.runs.pipeline
    from mcinfra.cli import main

    monkeypatch.setattr(mcinfra.runs.pipeline, "kernels_cached", lambda: False)
    assert main(["run", "--draws", "300", "--no-report", "--out", str(tmp_path / "run")]) == 0
    assert "mcinfra: compiling the kernels" in capsys.readouterr().err


def test_the_executable_freezes_what_it_imported_and_keeps_the_exit_status(tmp_path):
    # `mcinfra` is cli.command: main, with the objects of the imports and of the run moved
    # out of the garbage collector's way (its final collections cost 0.3-0.5 s per exit).
    from importlib.metadata import entry_points

    (script,) = entry_points(group="console_scripts", name="mcinfra")
    assert script.value == "mcinfra.cli:command"
    code = (
        "import gc, sys\n"
        "from mcinfra.cli import command\n"
        "sys.argv = ['mcinfra', 'run', '--draws', '500', '--no-report', '--quiet'] + sys.argv[1:]\n"
        "status = command()\n"
        "print(status, gc.get_freeze_count() > 50_000)\n"
    )
    for args, expected in (
        (["--out", str(tmp_path / "run")], "0 True"),
        ([str(tmp_path / "missing.toml"), "--out", str(tmp_path / "bad")], "2 True"),
    ):
        done = subprocess.run(
            [sys.executable, "-c", code, *args], capture_output=True, text=True, check=True
        )
        assert done.stdout.strip().splitlines()[-1] == expected
    assert (tmp_path / "run" / "summary.json").is_file() and not (tmp_path / "bad").exists()
