"""``mcinfra bench`` measures and writes its JSON (the figures themselves are not tested)."""

from __future__ import annotations

import json
import time

from mcinfra.cli import main


def test_bench_writes_rates_ratios_machine_and_targets(tmp_path, capsys):
    out = tmp_path / "bench.json"
    args = ["bench", "--sizes", "3000,6000", "--repeats", "2", "--no-startup"]
    args += ["--no-report-timings", "--no-drivers-timing"]
    assert main([*args, "--json", str(out)]) == 0
    result = json.loads(out.read_text())
    rates = result["draws_per_second"]
    assert set(rates["sampler"]) == set(rates["pipeline"]) == {"3000", "6000"}
    assert set(rates["process"]) == {"6000"} and rates["process"]["6000"] > 0  # largest size
    assert all(rate > 0 for rate in rates["sampler"].values())
    medians = result["median_draws_per_second"]
    for name in ("sampler", "sampler_one_thread"):  # the thread counts take turns
        assert all(0 < medians[name][n] <= rates[name][n] for n in ("3000", "6000"))
    assert 0 < medians["process"]["6000"] <= rates["process"]["6000"]
    assert result["ratios"]["sampler_vs_numpy_model"] > 0
    assert result["machine"]["cpu_count"] >= 1
    assert result["waits"] == {}
    assert result["targets"]["cached_startup_seconds"]["met"] is None  # not measured
    assert result["targets"]["report_seconds"]["target"] == 1.5
    assert result["targets"]["drivers_seconds"] == {"target": 60.0, "measured": None, "met": None}
    assert result["targets"]["process_vs_numpy_model_1e7"]["measured"] is None  # no 1e7
    assert "target sampler_draws_per_second" in capsys.readouterr().out


def test_bench_refuses_bad_sizes(capsys):
    assert main(["bench", "--sizes", "1e5,-3"]) == 2
    assert "--sizes" in capsys.readouterr().err


def test_bench_sobol_reports_draws_saved_per_estimand(tmp_path, capsys):
    out = tmp_path / "sobol.json"
    assert main(["bench", "--sobol", "--sizes", "256,512", "--json", str(out)]) == 0
    study = json.loads(out.read_text())["sobol"]
    assert study["replicates"] == 64 and set(study["sizes"]) == {"256", "512"}
    assert "P1" in study["estimands"] and "total 2030 p50" in study["estimands"]
    for row in study["sizes"].values():
        assert set(row["draws_saved_factor"]) == set(study["estimands"])
        low, high = row["draws_saved_interval90"]["P1"]
        assert low < row["draws_saved_factor"]["P1"] < high
        # The median of the total is smooth in the normals: Sobol' must beat plain MC on it.
        assert row["draws_saved_factor"]["total 2030 p50"] > 2  # measured 3.9x and 3.5x
    assert "plain Monte Carlo needs this many times the draws" in capsys.readouterr().out
    assert main(["bench", "--sobol", "--sizes", "256"]) == 0  # without --json: machine facts
    assert '"cpu_count"' in capsys.readouterr().out
    assert main(["bench", "--sobol", "--sizes", "1000"]) == 2
    assert "powers of two" in capsys.readouterr().err


def test_timings_follow_an_untimed_warm_up():
    from mcinfra.bench.throughput import best_of, wall_times

    calls = []

    def slow_first_call():
        calls.append(len(calls))
        time.sleep(0.3 if len(calls) == 1 else 0.0)  # as a first call that compiles

    assert best_of(1, slow_first_call) < 0.15  # one repeat times a warm call
    assert calls == [0, 1]
    warmed = []
    times = wall_times(2, lambda: warmed.append("timed"), warm_up=lambda: warmed.append("warm"))
    assert warmed == ["warm", "timed", "timed"] and len(times) == 2


def test_bench_with_one_repeat_times_warm_runs(monkeypatch, tmp_path):
    import mcinfra.bench.throughput as throughput

    seen = []
    original = throughput.wall_times

    def recording(repeats, function, warm_up=None):
        seen.append((repeats, warm_up is not None))
        return original(repeats, function, warm_up)

    monkeypatch.setattr(throughput, "wall_times", recording)
    result = throughput.measure([2000], repeats=1, startup=False, numpy_draws=2000)
    assert all(rate > 0 for rate in result["draws_per_second"]["pipeline"].values())
    # pipeline, two bit generators and the numpy model: each timed once, after a warm-up
    assert [repeats for repeats, _ in seen] == [1, 1, 1, 1]
    assert [explicit for _, explicit in seen] == [True, False, False, True]


def test_waiting_times_time_the_commands_a_user_waits_for(monkeypatch):
    # The compile timing takes minutes: record the commands instead of running them.
    import mcinfra.bench.throughput as throughput

    calls = []
    fake_seconds = iter([30.0, 10.0, 20.0, 0.5, 0.7, 0.4, 2.5, 3.5, 3.0, 1.0, 1.2, 1.4])
    monkeypatch.setenv("PYTHONDONTWRITEBYTECODE", "1")
    monkeypatch.delenv("NUMBA_CACHE_DIR", raising=False)

    def recording(command, env):
        # as installed: bytecode compiled once and kept, not compiled in every process
        assert "PYTHONDONTWRITEBYTECODE" not in env
        calls.append((command, env.get("NUMBA_CACHE_DIR")))
        return next(fake_seconds)

    monkeypatch.setattr(throughput, "command_seconds", recording)
    waits = throughput.waiting_times(repeats=3, report_draws=5000)
    assert list(waits) == ["first_run_compile", "cached_startup", "default_run", "report"]
    compile_caches = [cache for _, cache in calls[:3]]
    assert len(set(compile_caches)) == 3  # a new, empty cache for every compile
    assert [cache for _, cache in calls[3:6]] == [compile_caches[-1]] * 3  # then warm
    assert all(cache is None for _, cache in calls[6:])  # this installation's cache
    assert waits["first_run_compile"]["seconds"] == 10.0
    assert waits["first_run_compile"]["median_seconds"] == 20.0
    assert waits["first_run_compile"]["met"] is True  # goal 20 s
    assert waits["cached_startup"] == {
        "seconds": 0.4,
        "median_seconds": 0.5,
        "times": [0.5, 0.7, 0.4],
        "goal": 0.6,
        "met": True,
        "command": waits["cached_startup"]["command"],
    }
    assert waits["cached_startup"]["command"].startswith("mcinfra run --draws 1000 --no-report")
    assert waits["default_run"]["met"] is True and waits["report"]["met"] is True
    assert "--draws 5000" in waits["default_run"]["command"]
    assert "--no-report" not in waits["default_run"]["command"]
    assert calls[9][0][-3:-1] == ["report", calls[6][0][-1]]  # the default run's directory
    assert waits["report"]["command"] == "mcinfra report DIR/run --quiet"  # scratch named DIR
    assert throughput.waiting_times(repeats=1, startup=False, report=False) == {}
    assert len(calls) == 12  # nothing timed when both are left out


def test_report_timings_run_for_real(capsys):
    from mcinfra.bench.throughput import waiting_times

    lines = []
    waits = waiting_times(repeats=1, startup=False, report_draws=2000, log=lines.append)
    assert set(waits) == {"default_run", "report"}
    for wait in waits.values():
        assert wait["seconds"] == wait["median_seconds"] > 0 and len(wait["times"]) == 1
        assert wait["met"] == (wait["seconds"] <= wait["goal"])
    assert waits["report"]["command"].startswith("mcinfra report ")
    assert lines[0].startswith("default_run") and "goal <= 3 s" in lines[0]


def test_the_drivers_wait_times_mcinfra_drivers_of_a_default_run(monkeypatch):
    import mcinfra.bench.throughput as throughput

    calls = []
    fake_seconds = iter([5.0, 30.0, 20.0])  # the run that is not timed, then two repeats
    cpu = iter([100.0, 112.0, 112.0, 120.0])

    def recording(command, env=None):
        calls.append(command)
        return next(fake_seconds)

    monkeypatch.setattr(throughput, "command_seconds", recording)
    monkeypatch.setattr(throughput, "children_cpu_seconds", lambda: next(cpu))
    waits = throughput.waiting_times(repeats=2, startup=False, report=False, drivers=True)
    assert list(waits) == ["drivers"]
    assert calls[0][3:5] == ["run", "--draws"] and "--no-report" in calls[0]
    assert calls[1][3:] == ["drivers", calls[0][-1]]  # the run's directory
    assert waits["drivers"] == {
        "seconds": 20.0,
        "median_seconds": 25.0,
        "times": [30.0, 20.0],
        "goal": 60.0,
        "met": True,
        "command": "mcinfra drivers DIR/drivers",
        "cpu_seconds": 8.0,  # of the fastest repeat
    }
