"""SIGTERM and SIGHUP stop a run as Ctrl-C does: a checkpoint at once, then --resume."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from contextlib import nullcontext

import numpy as np
import pytest

from conftest import interrupt_at
from mcinfra.cli import StopSignals, main
from mcinfra.config import load_config
from mcinfra.errors import Interrupted
from mcinfra.io.run_directory import CHECKPOINT
from mcinfra.runs import pipeline
from mcinfra.runs.pipeline import run_to_directory
from mcinfra.sampling.engine import settings_from

FILES = ("predictions.csv", "sensitivity.csv", "quantiles.csv")
DRAWS, CHUNK = 300_000, 1_000
ARGS = ["run", "--draws", str(DRAWS), "--chunk-size", str(CHUNK), "--no-report"]
# The command line with a progress line after every chunk: the test signals between chunks.
CHATTY = (
    "import sys, mcinfra.report.progress as p\n"
    "p.SHOW_AFTER_SECONDS = p.LOG_EVERY_SECONDS = 0\n"
    "from mcinfra.cli import command\n"
    "sys.exit(command())\n"
)


def _same_files(a, b) -> None:
    for name in FILES:
        assert (a / name).read_bytes() == (b / name).read_bytes(), name


def _draws_done(checkpoint) -> int:
    with np.load(checkpoint) as saved:
        return int(saved["draws_done"])


@pytest.fixture(scope="module")
def whole(tmp_path_factory):
    out = tmp_path_factory.mktemp("whole") / "run"
    assert main([*ARGS, "--quiet", "--out", str(out)]) == 0
    return out


@pytest.mark.parametrize(("name", "status"), [("SIGTERM", 143), ("SIGHUP", 129)])
def test_a_signal_after_the_first_chunk_checkpoints_at_once(tmp_path, whole, name, status):
    draw = random.Random(f"{name}-{status}")  # a random point, the same in every run
    chunks = draw.randint(1, 30)  # progress lines (chunks) seen before the signal
    pause = draw.uniform(0, 0.005)  # and anywhere in the chunk that follows
    out = tmp_path / "run"
    process = subprocess.Popen(
        [sys.executable, "-c", CHATTY, *ARGS, "--out", str(out), "--checkpoint-every", "1e9"],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stderr is not None
    seen = 0
    while seen < chunks:
        line = process.stderr.readline()
        assert line, f"the run ended after {seen} chunks"
        seen += " draws (" in line
    time.sleep(pause)
    process.send_signal(getattr(signal, name))
    _, err = process.communicate(timeout=60)
    assert process.returncode == status, (chunks, pause, err)
    assert f"interrupted by {name}" in err
    assert f"continue with mcinfra run --resume {out}" in err
    assert not out.exists()
    (checkpoint,) = tmp_path.glob(".run.partial-*/" + CHECKPOINT)
    done = _draws_done(checkpoint)  # before any periodic checkpoint: saved at the signal
    assert chunks * CHUNK <= done < DRAWS and done % CHUNK == 0, (chunks, pause, done)
    assert main(["run", "--resume", str(out), "--quiet"]) == 0
    _same_files(whole, out)
    assert not list(tmp_path.glob(".run.partial-*"))


def test_a_signal_before_sampling_leaves_nothing(tmp_path):
    out = tmp_path / "run"
    command = [sys.executable, "-m", "mcinfra.cli", *ARGS, "--quiet", "--out", str(out)]
    process = subprocess.Popen(command, cwd=tmp_path, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not list(tmp_path.glob(".run.partial-*")):  # made before the kernels load
        assert process.poll() is None and time.monotonic() < deadline
        time.sleep(0.001)
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 143
    assert "interrupted by SIGTERM; nothing was written" in err
    assert "Traceback" not in err
    assert not list(tmp_path.iterdir())


def test_a_signal_while_the_temporary_directory_is_made_leaves_nothing(tmp_path):
    from contextlib import contextmanager

    from mcinfra.io.run_directory import atomic_directory

    @contextmanager
    def signal_held_back():  # as StopSignals.shield does with a signal that arrived inside
        yield
        raise Interrupted(signum=signal.SIGTERM)

    with pytest.raises(Interrupted), atomic_directory(tmp_path / "run", shield=signal_held_back):
        pytest.fail("the body must not run")
    assert not list(tmp_path.iterdir())


def test_an_interruption_between_chunks_saves_them_all(tmp_path):
    loaded = load_config()
    settings = settings_from(loaded, draws=8_000, chunk_size=1_000)
    out = tmp_path / "run"
    with pytest.raises(Interrupted, match="--resume") as caught:
        run_to_directory(
            loaded,
            settings,
            out,
            progress=interrupt_at(3_000, signal.SIGTERM),
            checkpoint_seconds=1e9,
            shield=nullcontext,
        )
    assert caught.value.signum == signal.SIGTERM
    (checkpoint,) = tmp_path.glob(".run.partial-*/" + CHECKPOINT)
    assert _draws_done(checkpoint) == 3_000
    assert main(["run", "--resume", str(out), "--quiet"]) == 0
    whole = tmp_path / "whole"
    run_to_directory(loaded, settings, whole)
    _same_files(whole, out)


def test_a_resumed_run_stopped_again_checkpoints_again(tmp_path):
    loaded = load_config()
    settings = settings_from(loaded, draws=8_000, chunk_size=1_000)
    out = tmp_path / "run"
    for draws, signum in ((2_000, signal.SIGHUP), (5_000, signal.SIGTERM)):
        with pytest.raises(Interrupted, match="--resume"):
            if draws == 2_000:
                run_to_directory(
                    loaded,
                    settings,
                    out,
                    progress=interrupt_at(draws, signum),
                    checkpoint_seconds=1e9,
                    shield=nullcontext,
                )
            else:
                pipeline.resume_run(
                    out,
                    progress=interrupt_at(draws, signum),
                    checkpoint_seconds=1e9,
                    shield=nullcontext,
                )
        (checkpoint,) = tmp_path.glob(".run.partial-*/" + CHECKPOINT)
        assert _draws_done(checkpoint) == draws
    assert main(["run", "--resume", str(out), "--quiet"]) == 0
    whole = tmp_path / "whole"
    run_to_directory(loaded, settings, whole)
    _same_files(whole, out)


def test_without_a_shield_only_periodic_checkpoints_are_kept(tmp_path):
    # An interruption may then come mid-chunk: saving the reductions could keep half of one.
    loaded = load_config()
    settings = settings_from(loaded, draws=4_000, chunk_size=1_000)
    with pytest.raises(KeyboardInterrupt):
        run_to_directory(
            loaded,
            settings,
            tmp_path / "run",
            progress=interrupt_at(2_000, signal.SIGINT),
            checkpoint_seconds=1e9,
        )
    assert not list(tmp_path.iterdir())


def test_an_interruption_while_writing_saves_every_draw(tmp_path, monkeypatch):
    def interrupted(*args, **kwargs):
        raise Interrupted(signum=signal.SIGHUP)

    loaded = load_config()
    settings = settings_from(loaded, draws=4_000, chunk_size=1_000)
    whole = tmp_path / "whole"
    run_to_directory(loaded, settings, whole)
    out = tmp_path / "run"
    with monkeypatch.context() as patch:
        patch.setattr(pipeline, "write_run_files", interrupted)
        with pytest.raises(Interrupted, match="by SIGHUP"):
            run_to_directory(loaded, settings, out, checkpoint_seconds=1e9, shield=nullcontext)
    (checkpoint,) = tmp_path.glob(".run.partial-*/" + CHECKPOINT)
    assert _draws_done(checkpoint) == 4_000
    assert main(["run", "--resume", str(out), "--quiet"]) == 0
    _same_files(whole, out)
    timing = json.loads((out / "summary.json").read_text())["timing"]
    assert timing["sampling_seconds"] > 0


def test_the_handlers_hold_signals_back_in_a_shield_and_are_restored():
    def previous(signum, frame):
        raise AssertionError("the previous handler ran")

    before = signal.signal(signal.SIGTERM, previous)
    ignored = signal.signal(signal.SIGHUP, signal.SIG_IGN)  # as under nohup
    try:
        with StopSignals() as signals:
            with pytest.raises(Interrupted) as caught, signals.shield():
                os.kill(os.getpid(), signal.SIGTERM)
                time.sleep(0.01)  # the handler has run by now, and held it back
                reached = True
            assert reached and caught.value.signum == signal.SIGTERM
            os.kill(os.getpid(), signal.SIGHUP)  # still ignored
            with pytest.raises(Interrupted) as caught:
                os.kill(os.getpid(), signal.SIGINT)
                time.sleep(0.01)
            assert caught.value.signum == signal.SIGINT
        assert signal.getsignal(signal.SIGTERM) is previous
        assert signal.getsignal(signal.SIGHUP) is signal.SIG_IGN
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    finally:
        signal.signal(signal.SIGTERM, before)
        signal.signal(signal.SIGHUP, ignored)
