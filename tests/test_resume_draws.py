"""Runs that save every draw are checkpointed and resume to the store of an uninterrupted run."""

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
import zarr

from conftest import interrupt_at
from mcinfra.cli import main
from mcinfra.config import load_config
from mcinfra.errors import Interrupted
from mcinfra.io.run_directory import CHECKPOINT, DRAWS, DrawWriter
from mcinfra.runs.pipeline import run_to_directory
from mcinfra.sampling.dataset import DRAW
from mcinfra.sampling.engine import settings_from

FILES = ("predictions.csv", "sensitivity.csv", "quantiles.csv")
RUN_DRAWS, CHUNK = 40_000, 1_000
ARGS = ["run", "--draws", str(RUN_DRAWS), "--chunk-size", str(CHUNK), "--no-report"]
ARGS += ["--save-draws"]
# The command line with a progress line after every chunk: the test signals between chunks.
CHATTY = (
    "import sys, mcinfra.report.progress as p\n"
    "p.SHOW_AFTER_SECONDS = p.LOG_EVERY_SECONDS = 0\n"
    "from mcinfra.cli import command\n"
    "sys.exit(command())\n"
)
MADE_WHEN = "created_utc"  # the one attribute that differs between any two runs


def _same_stores(a, b) -> None:
    """Every array of the two stores equal: values, dtype, shape, chunks and metadata."""
    groups = [zarr.open_group(path, mode="r") for path in (a, b)]
    assert sorted(groups[0].array_keys()) == sorted(groups[1].array_keys())
    attrs = [{k: v for k, v in g.attrs.asdict().items() if k != MADE_WHEN} for g in groups]
    assert attrs[0] == attrs[1]
    for name in groups[0].array_keys():
        arrays = [g[name] for g in groups]
        assert arrays[0].metadata.to_dict() == arrays[1].metadata.to_dict(), name
        assert arrays[0].dtype == arrays[1].dtype, name
        assert arrays[0].shape == arrays[1].shape, name
        assert arrays[0].chunks == arrays[1].chunks, name
        np.testing.assert_array_equal(arrays[0][...], arrays[1][...], err_msg=name)
    files = [sorted(p.relative_to(d).as_posix() for p in d.rglob("*")) for d in (a, b)]
    assert files[0] == files[1]  # no chunk past the end, no temporary file left


def _same_files(a, b) -> None:
    for name in FILES:
        assert (a / name).read_bytes() == (b / name).read_bytes(), name
    _same_stores(a / DRAWS, b / DRAWS)


def _draws_done(checkpoint) -> int:
    with np.load(checkpoint) as saved:
        return int(saved["draws_done"])


def _draws_stored(store) -> int:
    return json.loads((store / "value" / "zarr.json").read_text())["shape"][0]


@pytest.fixture(scope="module")
def whole(tmp_path_factory):
    out = tmp_path_factory.mktemp("whole") / "run"
    assert main([*ARGS, "--quiet", "--out", str(out)]) == 0
    return out


@pytest.mark.parametrize(
    ("method", "chunk", "stop"),
    [
        ("mc", 1_000, 3_000),
        ("sobol", 1_500, 3 * 1_024),  # chunks end at each replicate: mid zarr chunk
    ],
)
def test_an_interrupted_run_resumes_to_the_same_store(tmp_path, method, chunk, stop):
    loaded = load_config(None, (f'sampling.method="{method}"',))
    settings = settings_from(loaded, draws=8_192, chunk_size=chunk)  # Sobol': 8 x 1024
    out = tmp_path / "run"
    with pytest.raises(Interrupted, match="--resume"):
        run_to_directory(
            loaded,
            settings,
            out,
            save_draws=True,
            progress=interrupt_at(stop, signal.SIGTERM),
            checkpoint_seconds=1e9,
            shield=nullcontext,
        )
    (staging,) = tmp_path.glob(".run.partial-*")
    assert _draws_done(staging / CHECKPOINT) == stop
    assert _draws_stored(staging / DRAWS) == stop
    assert json.loads((staging / "run-options.json").read_text())["save_draws"] is True
    assert main(["run", "--resume", str(out), "--quiet"]) == 0
    whole = tmp_path / "whole"
    run_to_directory(loaded, settings, whole, save_draws=True)
    _same_files(whole, out)
    assert not list(tmp_path.glob(".run.partial-*"))


def test_the_store_is_cut_back_to_the_checkpoint(tmp_path):
    # Written after the checkpoint: a longer shape, consolidated metadata, the final draw
    # count, chunks past it (unreadable here: the last one, partly filled, is read before
    # it is written again) and a chunk file whose write was cut short.
    loaded = load_config()
    settings = settings_from(loaded, draws=4_500, chunk_size=1_000)
    whole = tmp_path / "whole"
    run_to_directory(loaded, settings, whole, save_draws=True)
    out = tmp_path / "run"
    with pytest.raises(Interrupted):
        run_to_directory(
            loaded,
            settings,
            out,
            save_draws=True,
            progress=interrupt_at(2_000, signal.SIGINT),
            checkpoint_seconds=1e9,
            shield=nullcontext,
        )
    (staging,) = tmp_path.glob(".run.partial-*")
    store = staging / DRAWS
    assert _draws_stored(store) == 2_000
    kept = {p.relative_to(store): p.read_bytes() for p in store.rglob("*") if p.is_file()}
    for path in (whole / DRAWS).rglob("*"):  # as if the run had gone on to the end
        target = store / path.relative_to(whole / DRAWS)
        if path.name == "zarr.json":
            target.write_bytes(path.read_bytes())
        elif path.is_file() and not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(b"not a zstd frame")
    (store / "value" / "c" / "4" / "0" / "0.1f2e.partial").write_bytes(b"\x28\xb5")
    assert _draws_stored(store) == 4_500
    with np.load(staging / CHECKPOINT) as saved:
        metadata = str(saved["draw_store_metadata"])
    DrawWriter(store, 1_000, DRAW).resume(2_000, metadata)
    now = {p.relative_to(store): p.read_bytes() for p in store.rglob("*") if p.is_file()}
    assert now == kept  # the store as checkpointed, file for file
    assert main(["run", "--resume", str(out), "--quiet"]) == 0
    _same_files(whole, out)


def test_a_checkpoint_that_does_not_fit_the_store_is_refused(tmp_path, capsys):
    loaded = load_config()
    settings = settings_from(loaded, draws=4_000, chunk_size=1_000)
    out = tmp_path / "run"
    with pytest.raises(Interrupted):
        run_to_directory(
            loaded,
            settings,
            out,
            save_draws=True,
            progress=interrupt_at(2_000, signal.SIGTERM),
            checkpoint_seconds=1e9,
            shield=nullcontext,
        )
    (checkpoint,) = tmp_path.glob(".run.partial-*/" + CHECKPOINT)
    with np.load(checkpoint) as saved:  # as a run that saved no draws would have written it
        state = {k: v for k, v in saved.items() if k != "draw_store_metadata"}
    np.savez(checkpoint, **state)
    assert main(["run", "--resume", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert f"cannot resume {checkpoint.parent}: its checkpoint does not fit this run" in err
    assert "draw_store_metadata (the checkpoint keeps no saved draws)" in err
    assert not out.exists()


def test_a_writer_resumed_before_its_first_write_starts_afresh(tmp_path):
    store = tmp_path / DRAWS
    store.mkdir()
    (store / "zarr.json").write_text("{")  # the first write cut short
    writer = DrawWriter(store, 1_000)
    writer.resume(0, writer.metadata())
    assert not store.exists()


def _start(tmp_path, out, *extra, script=CHATTY):
    process = subprocess.Popen(
        [sys.executable, "-c", script, *ARGS, "--out", str(out), *extra],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stderr is not None
    return process


def _chunks_seen(process, chunks: int) -> None:
    seen = 0
    while seen < chunks:
        line = process.stderr.readline()
        assert line, f"the run ended after {seen} chunks"
        seen += " draws (" in line


def test_sigterm_after_the_first_chunk_resumes_to_the_same_store(tmp_path, whole):
    draw = random.Random("save-draws-SIGTERM")  # a random point, the same in every run
    chunks = draw.randint(1, 20)  # progress lines (chunks) seen before the signal
    pause = draw.uniform(0, 0.05)  # and anywhere in the chunk that follows
    out = tmp_path / "run"
    process = _start(tmp_path, out, "--checkpoint-every", "1e9")
    _chunks_seen(process, chunks)
    time.sleep(pause)
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=60)  # closes the pipe
    assert process.returncode == 143, (chunks, pause, err)
    assert f"continue with mcinfra run --resume {out}" in err
    (staging,) = tmp_path.glob(".run.partial-*")
    done = _draws_done(staging / CHECKPOINT)  # no periodic checkpoint: saved at the signal
    assert chunks * CHUNK <= done < RUN_DRAWS and done % CHUNK == 0, (chunks, pause, done)
    assert _draws_stored(staging / DRAWS) == done
    assert main(["run", "--resume", str(out), "--quiet"]) == 0
    _same_files(whole, out)


# ... whose periodic checkpoints (every chunk) stop after the first: the later chunks'
# draws are then on disk past the checkpoint, however slow the machine.
ONE_CHECKPOINT = (
    "import mcinfra.runs.pipeline as r\n"
    "save, saved = r.save_checkpoint, []\n"
    "r.save_checkpoint = lambda *a: saved or saved.append(save(*a))\n"
)


def test_sigkill_after_a_periodic_checkpoint_resumes_to_the_same_store(tmp_path, whole):
    out = tmp_path / "run"
    process = _start(tmp_path, out, "--checkpoint-every", "0", script=ONE_CHECKPOINT + CHATTY)
    _chunks_seen(process, 4)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    process.stderr.close()
    (staging,) = tmp_path.glob(".run.partial-*")
    assert _draws_done(staging / CHECKPOINT) == CHUNK
    assert CHUNK < _draws_stored(staging / DRAWS) < RUN_DRAWS  # draws past the checkpoint
    assert main(["run", "--resume", str(out), "--quiet"]) == 0
    _same_files(whole, out)
