"""Interrupted runs resume from their last checkpoint to the uninterrupted result."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from conftest import interrupt_at
from mcinfra.cli import main
from mcinfra.config import load_config
from mcinfra.errors import UsageError
from mcinfra.io.run_directory import CHECKPOINT, atomic_directory
from mcinfra.runs.pipeline import run_to_directory
from mcinfra.sampling.engine import settings_from

FILES = ("predictions.csv", "sensitivity.csv", "quantiles.csv")


def _same_results(a, b) -> None:
    for name in FILES:
        assert (a / name).read_bytes() == (b / name).read_bytes(), name
    summaries = [json.loads((d / "summary.json").read_text()) for d in (a, b)]
    for key in ("predictions", "series", "source_figures", "crossovers", "convergence", "checks"):
        assert summaries[0][key] == summaries[1][key], key
    assert summaries[0]["run"]["draws"] == summaries[1]["run"]["draws"]


@pytest.mark.parametrize(
    ("quantiles", "method"), [("exact", "mc"), ("sketch", "mc"), ("exact", "sobol")]
)
def test_interrupted_run_resumes_to_the_same_result(tmp_path, quantiles, method, capsys):
    loaded = load_config(None, (f'sampling.method="{method}"',))
    settings = settings_from(loaded, draws=16_384, chunk_size=1_500)  # Sobol': 16 x 1024
    whole = tmp_path / "whole"
    run_to_directory(loaded, settings, whole, quantiles=quantiles)

    out = tmp_path / "interrupted"
    with pytest.raises(KeyboardInterrupt, match="--resume"):
        run_to_directory(
            loaded,
            settings,
            out,
            quantiles=quantiles,
            progress=interrupt_at(6_000),
            checkpoint_seconds=0.0,
        )
    assert not out.exists()
    assert len(list(tmp_path.glob(".interrupted.partial-*/" + CHECKPOINT))) == 1
    assert main(["run", "--resume", str(out), "--quiet"]) == 0
    _same_results(whole, out)
    assert not list(tmp_path.glob(".interrupted.partial-*"))  # renamed into place
    assert not (out / CHECKPOINT).exists()


def test_resume_refuses_settings_and_missing_runs(tmp_path, capsys):
    assert main(["run", "--resume", str(tmp_path / "none"), "--draws", "10"]) == 2
    assert "drop --draws" in capsys.readouterr().err
    assert main(["run", "--resume", str(tmp_path / "none")]) == 2
    assert "no interrupted run" in capsys.readouterr().err


def test_a_checkpoint_of_another_sketch_format_is_refused(tmp_path, capsys):
    loaded = load_config()
    settings = settings_from(loaded, draws=4_000, chunk_size=1_000)

    out = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        run_to_directory(
            loaded,
            settings,
            out,
            quantiles="sketch",
            progress=interrupt_at(2_000),
            checkpoint_seconds=0.0,
        )
    (checkpoint,) = tmp_path.glob(".run.partial-*/" + CHECKPOINT)
    with np.load(checkpoint) as saved:  # as written before the sketch recorded its buckets
        older = {k: v for k, v in saved.items() if not k.endswith("sketch_shift")}
    np.savez(checkpoint, **older)
    assert main(["run", "--resume", str(out), "--quiet"]) == 2
    assert "this version of mcinfra" in capsys.readouterr().err
    assert not out.exists()


def test_killed_run_resumes_to_the_same_result(tmp_path):
    args = ["run", "--draws", "300000", "--chunk-size", "10000", "--no-report", "--quiet"]
    whole = tmp_path / "whole"
    assert main([*args, "--out", str(whole)]) == 0
    out = tmp_path / "killed"
    command = [sys.executable, "-m", "mcinfra.cli", *args, "--out", str(out)]
    process = subprocess.Popen([*command, "--checkpoint-every", "0"], cwd=tmp_path)
    deadline = time.monotonic() + 120
    while not list(tmp_path.glob(".killed.partial-*/" + CHECKPOINT)):
        assert process.poll() is None, "the run ended before its first checkpoint"
        assert time.monotonic() < deadline
        time.sleep(0.05)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert not out.exists()
    assert main(["run", "--resume", str(out), "--quiet"]) == 0
    _same_results(whole, out)


@pytest.mark.parametrize("delay", [1.0, 5.0, 7.0])
def test_sigint_keeps_the_previous_run_and_leaves_only_a_resumable_checkpoint(tmp_path, delay):
    out = tmp_path / "run"
    args = ["run", "--no-report", "--quiet", "--out", str(out)]
    assert main([*args, "--draws", "2000"]) == 0
    before = (out / "summary.json").read_bytes()
    command = [sys.executable, "-m", "mcinfra.cli", *args, "--draws", "1e6", "--force"]
    process = subprocess.Popen([*command, "--checkpoint-every", "0.5"], cwd=tmp_path)
    time.sleep(delay)  # start-up, sampling, or finished, depending on the machine
    process.send_signal(signal.SIGINT)
    status = process.wait()
    partial = list(tmp_path.glob(".run.partial-*"))
    if status == 0:  # finished before the signal
        assert json.loads((out / "summary.json").read_text())["run"]["draws"] == 1_000_000
        assert not partial
        return
    assert status in (130, -signal.SIGINT)
    after = (out / "summary.json").read_bytes()
    if after != before:  # the signal came after the rename, while the table was printed
        assert json.loads(after)["run"]["draws"] == 1_000_000 and not partial
        return
    # otherwise the previous run is intact
    assert all((p / CHECKPOINT).is_file() for p in partial)  # nothing but a checkpoint
    if partial:
        assert main(["run", "--resume", str(out), "--quiet"]) == 0
        assert json.loads((out / "summary.json").read_text())["run"]["draws"] == 1_000_000
        assert not list(tmp_path.glob(".run.partial-*"))


def test_resume_after_the_last_chunk_keeps_the_sampling_time(tmp_path):
    loaded = load_config()
    settings = settings_from(loaded, draws=4_000, chunk_size=1_000)

    def interrupt_when_all_drawn(done, total, seconds):
        if done == total:  # checkpointed, but the summary is not written yet
            raise KeyboardInterrupt

    out = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        run_to_directory(
            loaded, settings, out, progress=interrupt_when_all_drawn, checkpoint_seconds=0.0
        )
    assert main(["run", "--resume", str(out), "--quiet"]) == 0
    timing = json.loads((out / "summary.json").read_text())["timing"]
    assert timing["sampling_seconds"] > 0  # carried by the checkpoint, not restarted at 0


@pytest.mark.parametrize("error", [KeyboardInterrupt, UsageError])
def test_only_interruptions_keep_a_resumable_directory(tmp_path, error):
    # A checkpoint is kept for an interruption; a refusal has nothing to resume.
    with pytest.raises(error), atomic_directory(tmp_path / "run", keep=lambda: True) as staging:
        (staging / CHECKPOINT).write_bytes(b"")
        raise error("stop")
    kept = list(tmp_path.glob(".run.partial-*"))
    assert len(kept) == (1 if error is KeyboardInterrupt else 0)
