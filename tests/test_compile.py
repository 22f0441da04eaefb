"""A first run compiles the sampler and, in a worker process, the reductions' kernels.

The compile time itself is measured by ``benchmarks/bench_compile.py`` (docs/performance.md);
these tests pin what makes it short: the worker compiles exactly the signatures the run
calls, and the run says how long compiling takes.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

# In a fresh process (nothing loaded yet): the worker's entry point, with the pickled run
# on standard input, then the run itself; prints the reduction kernels that the run had to
# load beyond what the worker loaded, and whether the worker touched the sampler.
_WORKER_THEN_RUN = """
import io, pickle, sys
from numba.core.registry import CPUDispatcher
import mcinfra.kernels.counts, mcinfra.kernels.growth, mcinfra.kernels.model
import mcinfra.kernels.select, mcinfra.kernels.sketch
from mcinfra.config import load_config
from mcinfra.runs.pipeline import compile_reductions, compute_run
from mcinfra.sampling.engine import RunSettings

exact = sys.argv[1] == 'exact'
loaded = load_config()
settings = RunSettings(draws=3000, seed=5, chunk_size=1000)
sys.stdin = io.TextIOWrapper(io.BytesIO(pickle.dumps((loaded, settings, exact))))
compile_reductions()
modules = [mcinfra.kernels.counts, mcinfra.kernels.growth, mcinfra.kernels.select,
           mcinfra.kernels.sketch]
kernels = [getattr(m, n) for m in modules for n in dir(m)
           if isinstance(getattr(m, n), CPUDispatcher)]
loaded_by_worker = {k: set(k.signatures) for k in kernels}
sampler = len(mcinfra.kernels.model.simulate_range.signatures)
compute_run(loaded, settings, quantiles='exact' if exact else 'sketch')
missed = sorted(k.__name__ for k in kernels if set(k.signatures) - loaded_by_worker[k])
print(sampler, missed)
"""


@pytest.mark.parametrize("quantiles", ["exact", "sketch"])
def test_the_worker_compiles_each_reduction_kernel_the_run_calls_and_not_the_sampler(quantiles):
    done = subprocess.run(
        [sys.executable, "-c", _WORKER_THEN_RUN, quantiles],
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout.strip().splitlines()[-1] == "0 []"


def test_a_first_run_says_how_long_compiling_takes(tmp_path, capsys, monkeypatch):
    import mcinfra.runs.pipeline
    from mcinfra.cli import main
    from mcinfra.runs.pipeline import FIRST_RUN_COMPILE_SECONDS

    monkeypatch.setattr(mcinfra.runs.pipeline, "kernels_cached", lambda normals=False: False)
    assert main(["run", "--draws", "300", "--no-report", "--out", str(tmp_path / "run")]) == 0
    err = capsys.readouterr().err
    assert (
        f"mcinfra: compiling the kernels: about {FIRST_RUN_COMPILE_SECONDS:.0f} s on 2 cores, "
        "once per installation\n"
    ) in err


@pytest.mark.parametrize("method, normals", [("mc", False), ("sobol", True)])
def test_a_run_asks_about_the_sampler_kernel_it_uses(tmp_path, monkeypatch, method, normals):
    # A Sobol' run takes its normals from the caller: another kernel, which a plain
    # run's compiling does not fill in the cache.
    import mcinfra.runs.pipeline
    from mcinfra.cli import main

    asked = []
    monkeypatch.setattr(
        mcinfra.runs.pipeline, "kernels_cached", lambda normals=False: asked.append(normals)
    )
    args = ["run", "--draws", "512", "--no-report", "--quiet", "--out", str(tmp_path / "run")]
    assert main([*args, "--set", f'sampling.method="{method}"']) == 0
    assert asked == [normals]


def test_a_run_goes_on_when_the_worker_cannot_start(tmp_path, monkeypatch):
    # The run then compiles (here: loads) the reductions' kernels itself.
    import mcinfra.runs.pipeline
    from mcinfra.cli import main

    monkeypatch.setattr(mcinfra.runs.pipeline, "kernels_cached", lambda normals=False: False)
    monkeypatch.setattr(mcinfra.runs.pipeline.sys, "executable", str(tmp_path / "no-python"))
    out = str(tmp_path / "run")
    assert main(["run", "--draws", "300", "--no-report", "--quiet", "--out", out]) == 0


def test_a_first_run_says_when_the_sampler_is_done_and_the_reductions_are_not(
    tmp_path, capsys, monkeypatch
):
    import mcinfra.runs.pipeline
    from mcinfra.cli import main

    class StillCompiling:
        status = None

        def poll(self):
            return self.status

        def wait(self):
            self.status = 0
            return 0

        def kill(self):
            raise AssertionError("a worker still compiling after the wait")

    monkeypatch.setattr(mcinfra.runs.pipeline, "kernels_cached", lambda normals=False: False)
    monkeypatch.setattr(
        mcinfra.runs.pipeline, "_start_reduction_compiler", lambda *args: StillCompiling()
    )
    assert main(["run", "--draws", "300", "--no-report", "--out", str(tmp_path / "run")]) == 0
    lines = capsys.readouterr().err.splitlines()
    done = [line for line in lines if "1/2" in line]
    assert len(done) == 1
    assert done[0].startswith("mcinfra: compiling the kernels 1/2 (the sampler's) done in ")
    assert done[0].endswith(" s; waiting for 2/2 (the reductions')")
