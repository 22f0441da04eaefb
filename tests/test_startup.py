"""A short run stays quick to start: it must not import what it does not use.

Start-up time itself is measured by ``mcinfra bench`` (not here: timing tests are flaky);
this guards the cause, which is deterministic. The import checks run in a fresh
interpreter and list ``sys.modules``: a module-level import of a heavy package (scipy.stats,
xarray, matplotlib, ...) on a path that does not use it fails here, whatever the machine's
speed.
"""

from __future__ import annotations

import gc
import json
import multiprocessing
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
    "mcinfra.sipmath",  # a config without SIP inputs reads no SIPmath library
)
# Needed by no part of `mcinfra report`: it reads the run's summaries and the config's
# structure, and draws; it neither samples nor checks the config's expressions again.
NOT_FOR_A_REPORT = (
    "numba",
    "scipy",
    "mcinfra.kernels",
    "mcinfra.language",
    "mcinfra.sampling",
    "xarray",
    "pandas",
    "zarr",
    "dask",
    "distributed",
)


def _modules_after(code: str) -> set[str]:
    """The names in ``sys.modules`` after ``code`` runs in a fresh interpreter."""
    script = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    return set(json.loads(_output_of(script).splitlines()[-1]))


def _output_of(script: str) -> str:
    """What ``script`` prints in a fresh interpreter that imports mcinfra from this tree."""
    paths = [str(SRC), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, check=True
    )
    return done.stdout


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


def _modules_of_a_short_run(out: Path) -> set[str]:
    """The modules a fresh interpreter holds after ``mcinfra run --draws 1000 --no-report``."""
    argv = ["run", "--draws", "1000", "--no-report", "--quiet", "--out", str(out)]
    return _modules_after(
        "import contextlib, io, mcinfra.cli\n"
        f"with contextlib.redirect_stdout(io.StringIO()):\n"
        f"    assert mcinfra.cli.main({argv!r}) == 0"
    )


def test_a_run_without_report_imports_only_what_it_uses(tmp_path):
    out = tmp_path / "run"
    modules = _modules_of_a_short_run(out)
    assert (out / "quantiles.nc").is_file()
    assert {"numba", "pydantic"} <= modules  # the run did sample
    assert _loaded(modules, NOT_FOR_A_RUN) == []


def test_a_run_reads_its_scipy_special_values_from_the_last_one(tmp_path):
    # mcinfra.model.special_values: the first run of a config keeps what it computed with
    # scipy.special (the PERT input's table, the triangular mode scores, the bins' edges),
    # a second reads them back instead of importing scipy.special.
    _modules_of_a_short_run(tmp_path / "first")
    modules = _modules_of_a_short_run(tmp_path / "second")
    assert "scipy" in modules  # its version names the values' file
    assert _loaded(modules, ("scipy.special",)) == []
    for name in ("predictions.csv", "sensitivity.csv", "quantiles.csv"):
        first = (tmp_path / "first" / name).read_bytes()
        assert first == (tmp_path / "second" / name).read_bytes()


def test_a_report_imports_neither_the_sampler_nor_the_data_stack(tmp_path):
    from mcinfra.cli import main

    out = tmp_path / "run"
    assert main(["run", "--draws", "1000", "--no-report", "--quiet", "--out", str(out)]) == 0
    modules = _modules_after(
        f"import mcinfra.cli\nassert mcinfra.cli.main(['report', {str(out)!r}, '--quiet']) == 0"
    )
    assert (out / "report.html").is_file()
    assert {"pydantic", "mcinfra.config.schema", "mcinfra.report.figures"} <= modules
    assert _loaded(modules, NOT_FOR_A_REPORT) == []
    if "fork" in multiprocessing.get_all_start_methods() and len(os.sched_getaffinity(0)) > 1:
        # drawn by forked workers, the first of which imports matplotlib for them all
        assert _loaded(modules, ("matplotlib",)) == []


def test_kernels_are_found_in_the_cache_once_compiled():
    from mcinfra.config import load_config
    from mcinfra.sampling.engine import kernels_cached, warm_up
    from mcinfra.sampling.plan import compile_plan

    warm_up(compile_plan(load_config().config))
    assert kernels_cached() is True


def test_cached_kernels_load_without_numba_registering_its_implementations(tmp_path):
    # numba refreshes its registries (importing every implementation module) before
    # loading a cached function; mcinfra.kernels.jit.KernelCache loads without it.
    from mcinfra.config import load_config
    from mcinfra.sampling.engine import warm_up
    from mcinfra.sampling.plan import compile_plan

    warm_up(compile_plan(load_config().config))  # compiled here, so the run below loads
    modules = _modules_of_a_short_run(tmp_path / "run")
    assert "mcinfra.kernels.model" in modules
    # registered by the refresh only: numba.s polynomial and heapq implementations
    assert _loaded(modules, ("numba.np.polynomial", "numba.cpython.heapq")) == []


def test_cached_kernels_load_without_numbas_array_reductions(tmp_path):
    # A cached kernel imports the module of every numba implementation it calls when it
    # loads; array reductions (min, max, searchsorted) bring numba's linear algebra along.
    from mcinfra.config import load_config
    from mcinfra.sampling.engine import warm_up
    from mcinfra.sampling.plan import compile_plan

    warm_up(compile_plan(load_config().config))
    modules = _modules_of_a_short_run(tmp_path / "run")
    assert "mcinfra.kernels.select" in modules
    assert _loaded(modules, ("numba.np.arraymath", "numba.np.linalg", "scipy.linalg")) == []


def test_a_run_that_must_compile_says_so_first(tmp_path, capsys, monkeypatch):
    # A first run after installing compiles for about a minute: it must not look hung.
    import mcinfra.runs.pipeline
    from mcinfra.cli import main

    monkeypatch.setattr(mcinfra.runs.pipeline, "kernels_cached", lambda normals=False: False)
    assert main(["run", "--draws", "300", "--no-report", "--out", str(tmp_path / "run")]) == 0
    assert "mcinfra: compiling the kernels" in capsys.readouterr().err


def test_the_executable_freezes_what_it_imported_and_keeps_the_exit_status(tmp_path):
    # `mcinfra` is cli.command: main, with the objects of the imports and of the run moved
    # out of the garbage collector's way (its final collections cost 0.3-0.5 s per exit),
    # ending the process without tearing the interpreter down (cli.end_process), once
    # atexit handlers have run and the standard streams are flushed.
    from importlib.metadata import entry_points

    (script,) = entry_points(group="console_scripts", name="mcinfra")
    assert script.value == "mcinfra.cli:command"
    code = (
        "import atexit, gc, sys\n"
        "from mcinfra.cli import command\n"
        "atexit.register(lambda: print('frozen', gc.get_freeze_count() > 50_000))\n"
        "sys.argv = ['mcinfra', 'run', '--draws', '500', '--no-report'] + sys.argv[1:]\n"
        "sys.exit(command())\n"
    )
    for args, status in (
        (["--out", str(tmp_path / "run")], 0),
        ([str(tmp_path / "missing.toml"), "--out", str(tmp_path / "bad")], 2),
    ):
        done = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True)
        assert done.returncode == status
        assert done.stdout.strip().splitlines()[-1] == "frozen True"
        if status == 0:  # the run's summary, printed before the process ended
            assert "wrote " in done.stdout
        else:
            assert "missing.toml" in done.stderr
    assert (tmp_path / "run" / "summary.json").is_file() and not (tmp_path / "bad").exists()


def test_ending_the_process_waits_for_threads_and_keeps_what_was_printed():
    code = (
        "import sys, threading, time\n"
        "from mcinfra.cli import end_process\n"
        "def late():\n"
        "    time.sleep(0.2)\n"
        "    print('thread done')\n"
        "threading.Thread(target=late).start()\n"
        "sys.stdout.write('buffered, not flushed')\n"
        "end_process(3)\n"
        "print('not reached')\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 3
    assert done.stdout.splitlines() == ["buffered, not flushedthread done"]


def _collections_in_a_fresh_interpreter(code: str) -> int:
    """How many garbage collections a fresh interpreter makes while running ``code``.

    Counted at exit (an ``atexit`` handler): ``code`` may end the process.
    """
    script = (
        "import atexit, gc\n"
        "made = []\n"
        "gc.callbacks.append(lambda phase, info: made.append(1) if phase == 'stop' else None)\n"
        "atexit.register(lambda: print(len(made)))\n"
        f"{code}\n"
    )
    return int(_output_of(script).strip().splitlines()[-1])


def test_the_executable_makes_no_collection_while_a_run_imports(tmp_path):
    # StartUp: the collector is off while `run` imports numba, scipy and pydantic, and what
    # they made is frozen out of its way afterwards.
    imports = _collections_in_a_fresh_interpreter("import mcinfra.runs.pipeline")
    run = _collections_in_a_fresh_interpreter(
        "import sys\n"
        "from mcinfra.cli import command\n"
        f"sys.argv = ['mcinfra', 'run', '--draws', '500', '--no-report', '--quiet', "
        f"'--out', {str(tmp_path / 'run')!r}]\n"
        "sys.exit(command())"
    )
    assert imports > 50  # what the collector does in those imports when it is on
    assert run < imports / 2


def test_main_in_process_leaves_the_collector_as_it_found_it(tmp_path):
    from mcinfra.cli import StartUp, main

    frozen = gc.get_freeze_count()
    assert main(["run", "--draws", "500", "--no-report", "--quiet", "--out", str(tmp_path)]) == 0
    assert gc.isenabled() and gc.get_freeze_count() == frozen
    with StartUp():
        assert not gc.isenabled()
    assert gc.isenabled() and gc.get_freeze_count() == frozen
    gc.disable()
    try:
        with StartUp():
            pass
        assert not gc.isenabled()  # a collector that was off stays off
    finally:
        gc.enable()
