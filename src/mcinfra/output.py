"""Writing a run directory atomically: everything appears at once, or nothing does."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from mcinfra.errors import UsageError


@contextmanager
def atomic_directory(target: Path) -> Iterator[Path]:
    """Yield a fresh temporary directory beside ``target``; rename it into place on success.

    On any exception (including KeyboardInterrupt) the temporary directory is removed and
    ``target`` is left as it was. An existing ``target`` is replaced only once the new one
    is complete.
    """
    target = Path(target)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.partial-", dir=target.parent))
        umask = os.umask(0)
        os.umask(umask)
        staging.chmod(0o777 & ~umask)  # mkdtemp creates 0700; a run directory is ordinary
    except OSError as exc:
        raise UsageError(f"cannot write to output directory {target}: {exc.strerror}") from None
    try:
        yield staging
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    previous = None
    if target.exists():
        previous = target.parent / f".{target.name}.previous-{os.getpid()}"
        os.replace(target, previous)
    os.replace(staging, target)
    if previous is not None:
        shutil.rmtree(previous, ignore_errors=True)


def write_json(path: Path, data: Any) -> None:
    """Write ``data`` as indented JSON (finite numbers only)."""
    path.write_text(json.dumps(data, indent=2, allow_nan=False) + "\n", encoding="utf-8")


def save_draws(ds, path: Path, chunk_size: int) -> None:
    """Store the draw cube as zarr (format 3), chunked along draws.

    Metadata is consolidated so that a plain ``xarray.open_zarr(path)`` opens the store
    without a fallback warning.
    """
    import warnings

    draws = min(chunk_size, ds.sizes["draw"])
    encoding = {
        "value": {"chunks": (draws, *ds["value"].shape[1:])},
        "inputs": {"chunks": (draws, ds["inputs"].shape[1])},
    }
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Consolidated metadata", category=UserWarning)
        ds.to_zarr(path, mode="w-", encoding=encoding, consolidated=True, zarr_format=3)
