"""The run directory: its file names, atomic writing, loading, checkpoints and resuming.

A run directory appears at once or not at all: it is written into a temporary directory
beside its target and renamed into place when complete. While a run is drawn, that
temporary directory also holds its options and, every few seconds, a checkpoint of its
reductions, so that an interrupted run can be found and continued.

This module reads and writes plain data (text, dicts, arrays); the run layer builds the
configuration, settings and reductions from them.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import Any

import numpy as np

from mcinfra.errors import UsageError

CONFIG = "config.toml"
SUMMARY = "summary.json"
PREDICTIONS = "predictions.csv"
SENSITIVITY = "sensitivity.csv"
QUANTILES_CSV = "quantiles.csv"
QUANTILES_NC = "quantiles.nc"
ELICITED = "elicited.csv"
DRIVERS_CSV = "drivers.csv"
DRIVERS_JSON = "drivers.json"
DRAWS = "draws.zarr"
CHECKPOINT = "checkpoint.npz"
RUN_OPTIONS = "run-options.json"
ZARR_METADATA = "zarr.json"  # the metadata document of each group and array of a zarr store
RUN_MARKER = SUMMARY  # a directory holding it is a finished run


def check_target(target: Path, replace: bool, marker: str = RUN_MARKER, kind: str = "run") -> None:
    """Refuse to write ``target`` where that would destroy something.

    A directory of the same kind (one holding ``marker``, by default a run's summary.json)
    is replaced only with ``replace``; any other non-empty directory, or a file, never is.
    """
    target = Path(target)
    if not target.exists():
        return
    if not target.is_dir():
        raise UsageError(f"output {target} exists and is not a directory")
    if (target / marker).is_file():
        if not replace:
            raise UsageError(
                f"output directory {target} already holds a {kind}; use --force to replace it"
            )
        return
    if any(target.iterdir()):
        raise UsageError(
            f"output directory {target} is not empty and holds no {kind}; refusing to replace it"
        )


def staging_prefix(target: Path) -> str:
    """Name prefix of the temporary directories of runs writing ``target``."""
    return f".{Path(target).name}.partial-"


@contextmanager
def atomic_directory(
    target: Path,
    staging: Path | None = None,
    keep: Callable[[], bool] | None = None,
    shield: Callable[[], AbstractContextManager[object]] | None = None,
) -> Iterator[Path]:
    """Yield a fresh temporary directory beside ``target``; rename it into place on success.

    On any exception (including KeyboardInterrupt) the temporary directory is removed, unless
    ``keep()`` says it holds a checkpoint to resume from (never for a :class:`UsageError`:
    a refused run has nothing to resume), and ``target`` is left as it was.
    An existing ``target`` is replaced only once the new one is complete. ``staging`` reuses
    the temporary directory of an interrupted run. ``shield`` (see
    :data:`mcinfra.runs.pipeline.Shield`) holds a stop signal back while the directory is
    made, so one arriving then never leaves it behind.
    """
    target = Path(target)
    try:
        if staging is None:
            # A stop signal arriving meanwhile is raised as the shield ends, inside this try.
            with shield() if shield is not None else nullcontext():
                staging = _new_staging(target)
        yield staging
    except BaseException as exc:
        if staging is not None and (isinstance(exc, UsageError) or keep is None or not keep()):
            shutil.rmtree(staging, ignore_errors=True)
        raise
    previous = None
    if target.exists():
        previous = target.parent / f".{target.name}.previous-{os.getpid()}"
        os.replace(target, previous)
    os.replace(staging, target)
    if previous is not None:
        shutil.rmtree(previous, ignore_errors=True)


def _new_staging(target: Path) -> Path:
    """A new temporary directory beside ``target``, with ordinary permissions."""
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=staging_prefix(target), dir=target.parent))
        umask = os.umask(0)
        os.umask(umask)
        staging.chmod(0o777 & ~umask)  # mkdtemp creates 0700; a run directory is ordinary
    except OSError as exc:
        raise UsageError(f"cannot write to output directory {target}: {exc.strerror}") from None
    return staging


def write_text_atomically(path: Path, text: str) -> None:
    """Write ``text`` to the file ``path`` at once or not at all.

    The text goes to a temporary file beside ``path``, renamed over it when complete; on
    any error (or Ctrl-C) the temporary file is removed and ``path`` is left as it was.
    """
    path = Path(path)
    try:
        handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.partial-", dir=path.parent)
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror}") from None
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.write(text)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temporary, 0o666 & ~umask)  # mkstemp creates 0600; the file is ordinary
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def write_json(path: Path, data: Any) -> None:
    """Write ``data`` as indented JSON (finite numbers only)."""
    path.write_text(json.dumps(data, indent=2, allow_nan=False) + "\n", encoding="utf-8")


def read_rows(path: Path) -> list[dict[str, str]]:
    """The rows of the CSV file ``path`` (a header, then rows) as dicts of strings."""
    import csv

    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def json_number(value: float) -> float | None:
    """``value`` as JSON can hold it: the float, or None (``null``) where it is not finite."""
    return float(value) if math.isfinite(value) else None


class DrawWriter:
    """Streams draw-last chunks into a zarr (format 3) store, chunked along draws.

    The first chunk creates the store with every coordinate; later chunks append along
    ``draw``; :meth:`close` consolidates the metadata so that a plain
    ``xarray.open_zarr(path)`` opens the store without a fallback warning. Each write is
    complete on disk when it returns, so a checkpoint taken between writes can keep the
    store's :meth:`metadata`, and :meth:`resume` cuts the store back to it.
    """

    def __init__(self, path: Path, chunk_size: int, draw_dim: str = "draw") -> None:
        self.path = Path(path)
        self.chunk_size = chunk_size
        self.draw_dim = draw_dim
        self._started = False

    def write(self, ds) -> None:
        """Append the next chunk's draws (a Dataset laid out by :mod:`mcinfra.sampling.dataset`)."""
        if not self._started:
            encoding = {
                "value": {"chunks": (self.chunk_size, *ds["value"].shape[1:])},
                "inputs": {"chunks": (self.chunk_size, ds["inputs"].shape[1])},
                "input_rank": {"chunks": (self.chunk_size, ds["inputs"].shape[1])},
                self.draw_dim: {"chunks": (self.chunk_size,)},
            }
            ds.to_zarr(self.path, mode="w-", encoding=encoding, consolidated=False, zarr_format=3)
            self._started = True
        else:
            static = [name for name, coord in ds.coords.items() if self.draw_dim not in coord.dims]
            ds.drop_vars(static).to_zarr(self.path, append_dim=self.draw_dim, consolidated=False)

    def metadata(self) -> str:
        """The store's metadata documents (every ``zarr.json``) as one JSON text.

        ``"{}"`` before the first write. Together with the number of draws written, what
        :meth:`resume` needs to restore the store as it is now.
        """
        if not self._started:
            return "{}"
        documents = [self.path / ZARR_METADATA, *sorted(self.path.glob(f"*/{ZARR_METADATA}"))]
        return json.dumps(
            {path.relative_to(self.path).as_posix(): path.read_text() for path in documents}
        )

    def resume(self, draws: int, metadata: str) -> None:
        """Cut the store back to its first ``draws`` draws and append after them.

        ``metadata`` is :meth:`metadata` as it was when those draws were written. Every
        metadata document is restored from it (undoing later appends and consolidation),
        every chunk past the one holding draw ``draws - 1`` is removed along ``draw``, and
        so are zarr's temporary files of writes cut short. The chunk holding that draw was
        complete up to it when the metadata was taken, and zarr replaces a chunk file
        atomically, so it still is; the draws after it are written again. Raises
        ``ValueError`` (or ``KeyError``, ``OSError``) when the metadata does not describe
        ``draws`` draws of a store written here.
        """
        documents = json.loads(metadata)
        if not documents:  # interrupted before the first write
            shutil.rmtree(self.path, ignore_errors=True)
            self._started = False
            return
        for pattern in ("*.partial", f".{ZARR_METADATA}.tmp"):  # writes cut short
            for leftover in self.path.rglob(pattern):
                leftover.unlink()
        for name, text in documents.items():
            document = json.loads(text)
            if document.get("dimension_names", [None])[0] == self.draw_dim:
                if document["shape"][0] != draws:
                    raise ValueError(
                        f"{name} holds {document['shape'][0]} draws, the checkpoint {draws}"
                    )
                along_draws = document["chunk_grid"]["configuration"]["chunk_shape"][0]
                _drop_chunks_from(
                    (self.path / name).parent,
                    -(-draws // along_draws),
                    document["chunk_key_encoding"],
                )
            write_text_atomically(self.path / name, text)
        self._started = True

    def close(self, attrs: dict | None = None) -> None:
        """Update attributes (e.g. the final draw count) and consolidate metadata."""
        import warnings

        import zarr

        if attrs:
            zarr.open_group(self.path, mode="r+").attrs.update(attrs)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Consolidated metadata", category=UserWarning)
            zarr.consolidate_metadata(self.path)


# netCDF-3 classic format tags (NetCDF Classic Format Specification).
_NC_ABSENT = b"\x00" * 8
_NC_DIMENSION = 10
_NC_VARIABLE = 11
_NC_ATTRIBUTE = 12
# (nc_type, big-endian numpy dtype, fill bytes that pad a variable to 4 bytes)
_NcType = tuple[int, np.dtype, bytes]
_NC_CHAR: _NcType = (2, np.dtype("S1"), b"\x00")
_NC_INT: _NcType = (4, np.dtype(">i4"), b"\x80\x00\x00\x01")
_NC_FLOAT: _NcType = (5, np.dtype(">f4"), b"\x7c\xf0\x00\x00")
_NC_DOUBLE: _NcType = (6, np.dtype(">f8"), b"\x47\x9e\x00\x00\x00\x00\x00\x00")


def _nc_int(value: int) -> bytes:
    return int(value).to_bytes(4, "big", signed=True)


def _nc_padded(data: bytes, fill: bytes = b"\x00") -> bytes:
    return data + fill * (-len(data) % 4)


def _nc_name(name: str) -> bytes:
    encoded = name.encode("latin1")
    return _nc_int(len(encoded)) + _nc_padded(encoded)


def _nc_attribute_value(value) -> bytes:
    """One attribute's type, length and values, typed as scipy's netCDF writer types them.

    bytes are characters; numpy scalars keep their type; Python ints are 32-bit integers
    and Python floats 32-bit floats (as scipy writes them).
    """
    if isinstance(value, bytes):
        nc_type, data, count = _NC_CHAR[0], value or b"\x00", max(1, len(value))
    else:
        if isinstance(value, np.generic | np.ndarray):
            kind = {"i4": _NC_INT, "f4": _NC_FLOAT, "f8": _NC_DOUBLE}.get(
                f"{value.dtype.kind}{value.dtype.itemsize}"
            )
        elif isinstance(value, int):
            kind = _NC_INT
        elif isinstance(value, float):
            kind = _NC_FLOAT
        else:
            kind = None
        if kind is None:
            raise TypeError(f"netCDF-3 attribute of unsupported type: {value!r}")
        array = np.asarray(value, dtype=kind[1])
        nc_type, data, count = kind[0], array.tobytes(), array.size
    return _nc_int(nc_type) + _nc_int(count) + _nc_padded(data)


def _nc_attributes(attributes: dict) -> bytes:
    if not attributes:
        return _NC_ABSENT
    parts = [_nc_int(_NC_ATTRIBUTE), _nc_int(len(attributes))]
    for name, value in attributes.items():
        parts += [_nc_name(name), _nc_attribute_value(value)]
    return b"".join(parts)


def _drop_chunks_from(array: Path, first: int, key_encoding: dict) -> None:
    """Remove the chunks of the zarr ``array`` from index ``first`` on along its first axis.

    ``key_encoding`` is the array's ``chunk_key_encoding`` (zarr's "default" one: chunk
    (i, j) is stored under ``c/i/j``, or ``c.i.j`` with a "." separator).
    """
    if key_encoding["name"] != "default":
        raise ValueError(f"chunk key encoding {key_encoding['name']!r} is not zarr's default")
    separator = key_encoding.get("configuration", {}).get("separator", "/")
    prefix = f"c{separator}"
    for path in sorted(array.rglob("*"), key=lambda p: len(p.parts), reverse=True):
        key = path.relative_to(array).as_posix()
        if path.is_file() and key.startswith(prefix):
            if int(key[len(prefix) :].split(separator)[0]) >= first:
                path.unlink()
        elif path.is_dir() and not any(path.iterdir()):
            path.rmdir()


def write_netcdf3(path: Path, coords: dict[str, list], variables: dict, attrs: dict) -> None:
    """A netCDF-3 file as ``xarray.Dataset.to_netcdf(engine="scipy")`` writes it.

    ``coords`` maps each dimension to its labels (strings, integers or floats, in order);
    ``variables`` maps names to float64 arrays over all dimensions in that order. Strings
    become character arrays with ``_Encoding`` (xarray's convention), floats get a NaN
    ``_FillValue``, integers that do not fit netCDF-3's 32 bits are stored as doubles.
    The bytes are those of ``scipy.io.netcdf_file`` (version 1, no record dimension),
    encoded here directly: importing scipy.io (with scipy.sparse) would add a measurable
    part of a short run's start-up, and xarray's writer imports dask and dask.distributed.
    """

    def as_netcdf(value):
        if isinstance(value, str):
            return value.encode("utf-8")
        if isinstance(value, int | np.integer) and not isinstance(value, bool):
            return np.int32(value) if -(2**31) <= value < 2**31 else np.float64(value)
        return value

    dimensions = {name: len(labels) for name, labels in coords.items()}
    # name -> (dimension names, attributes, nc_type, big-endian data, padding fill)
    entries: dict[str, tuple[tuple[str, ...], dict, int, np.ndarray, bytes]] = {}
    for name, labels in coords.items():
        if all(isinstance(label, str) for label in labels):
            encoded = [label.encode("utf-8") for label in labels]
            width = max(1, *(len(label) for label in encoded))
            dimensions[f"string{width}"] = width
            chars = np.array(encoded, dtype=f"S{width}").view("S1").reshape(-1, width)
            entries[name] = (
                (name, f"string{width}"),
                {"_Encoding": b"utf-8"},
                *_nc_typed(_NC_CHAR, chars),
            )
        elif all(isinstance(label, int | np.integer) for label in labels):
            entries[name] = ((name,), {}, *_nc_typed(_NC_INT, labels))
        else:
            entries[name] = ((name,), {"_FillValue": np.nan}, *_nc_typed(_NC_DOUBLE, labels))
    for name, array in variables.items():
        shape = tuple(dimensions[dim] for dim in coords)
        data = np.broadcast_to(np.asarray(array, dtype=np.float64), shape)
        entries[name] = (tuple(coords), {"_FillValue": np.nan}, *_nc_typed(_NC_DOUBLE, data))
    # scipy's order: by shape, largest first, creation order among equal shapes
    order = sorted(entries, key=lambda n: entries[n][3].shape, reverse=True)
    dimension_ids = {name: index for index, name in enumerate(dimensions)}

    header = [b"CDF\x01", _nc_int(0)]  # version 1 (32-bit offsets), no records
    header += [_nc_int(_NC_DIMENSION), _nc_int(len(dimensions))]
    for name, length in dimensions.items():
        header += [_nc_name(name), _nc_int(length)]
    header.append(_nc_attributes({key: as_netcdf(value) for key, value in attrs.items()}))
    header += [_nc_int(_NC_VARIABLE), _nc_int(len(entries))]
    metadata = []  # each variable's header up to its begin offset, and its padded data
    for name in order:
        dims, attributes, nc_type, data, fill = entries[name]
        payload = _nc_padded(data.tobytes(), fill)
        fields = [_nc_name(name), _nc_int(len(dims))]
        fields += [_nc_int(dimension_ids[dim]) for dim in dims]
        fields += [_nc_attributes(attributes), _nc_int(nc_type), _nc_int(len(payload))]
        metadata.append((b"".join(fields), payload))
    offset = sum(map(len, header)) + sum(len(described) + 4 for described, _ in metadata)
    body = []
    for described, payload in metadata:
        header += [described, _nc_int(offset)]
        body.append(payload)
        offset += len(payload)
    with open(path, "wb") as handle:
        handle.write(b"".join(header + body))


def _nc_typed(kind: _NcType, values) -> tuple[int, np.ndarray, bytes]:
    """(nc_type, values as the big-endian array netCDF-3 stores, padding fill)."""
    return kind[0], np.asarray(values, dtype=kind[1]), kind[2]


def write_sensitivity_csv(path, rows: Iterable[tuple[str, str, float, float]]) -> None:
    """``sensitivity.csv``: one row per (prediction, input, first-order index, rank correlation).

    ``rows`` come in the order they are written: per prediction, largest index first.
    """
    import csv

    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["prediction", "input", "first_order_index", "rank_correlation"])
        for prediction, name, first_order, rank_correlation in rows:
            writer.writerow([prediction, name, repr(first_order), repr(rank_correlation)])


def write_prediction_csv(path, rows: list[dict]) -> None:
    """``predictions.csv``: id, probability, std_error, ci95_low, ci95_high, holds, draws, text."""
    import csv

    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            [
                "id",
                "probability",
                "std_error",
                "ci95_low",
                "ci95_high",
                "holds",
                "draws",
                "text",
                "expression",
            ]
        )
        for row in rows:
            writer.writerow(
                [
                    row["id"],
                    repr(row["probability"]),
                    repr(row["std_error"]),
                    repr(row["ci95"][0]),
                    repr(row["ci95"][1]),
                    row["holds"],
                    row["draws"],
                    row["text"],
                    row["expression"],
                ]
            )


def write_quantiles(directory, table) -> None:
    """``quantiles.csv`` and ``quantiles.nc``: every tabulated series, year and quantile.

    ``table`` is a :class:`mcinfra.stats.quantiles.QuantileTable`.
    """
    import csv

    with open(directory / QUANTILES_CSV, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["segment", "year", "quantile", "value", "ci95_low", "ci95_high"])
        for s, segment in enumerate(table.segments):
            for t, year in enumerate(table.years):
                for q, prob in enumerate(table.probs):
                    cells = (
                        table.value[s, t, q],
                        table.ci95_low[s, t, q],
                        table.ci95_high[s, t, q],
                    )
                    if not any(math.isnan(c) for c in cells):
                        writer.writerow([segment, year, prob, *(repr(float(c)) for c in cells)])
    write_netcdf3(directory / QUANTILES_NC, table.coords, table.variables, table.attrs)


ELICITED_COLUMNS = ["input", "component", "kind", "p", "x", "fitted", "residual"]


def write_elicited_csv(path, fits: Iterable) -> None:
    """``elicited.csv``: how each input given by percentiles fits them, and its fitted CDF.

    ``fits`` are :class:`mcinfra.config.solved.ElicitedFit`. Per fit, one ``point`` row per
    elicited point (probability ``p``, elicited value ``x``, the fitted quantile at ``p``,
    and ``residual`` = fitted minus ``x``), then one ``curve`` row per point of the fitted
    CDF (probability ``p`` and the fitted quantile there; ``x`` and ``residual`` empty).
    """
    import csv

    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(ELICITED_COLUMNS)
        for fit in fits:
            points = zip(fit.points, fit.fitted, fit.residuals, strict=True)
            for (p, x), fitted, residual in points:
                cells = [repr(p), repr(x), repr(fitted), repr(residual)]
                writer.writerow([fit.input, fit.component, "point", *cells])
            curve = zip(fit.curve_probabilities, fit.curve_values, strict=True)
            for p, fitted in curve:
                writer.writerow([fit.input, fit.component, "curve", repr(p), "", repr(fitted), ""])


def write_run_files(
    directory: Path,
    summary: dict,
    table,
    sensitivity: Iterable[tuple[str, str, float, float]],
    config_text: str | None = None,
    started: float | None = None,
    elicited: list | None = None,
) -> None:
    """Write a finished run's files into ``directory``; ``summary.json`` last.

    ``summary`` is summary.json's content; ``table`` the quantile table (see
    :func:`write_quantiles`); ``sensitivity`` the rows of ``sensitivity.csv``.
    ``config_text`` is written as ``config.toml`` when given (a run being drawn wrote it
    first). With ``started`` (a :func:`time.perf_counter` reading), the summary's
    ``timing.total_seconds`` is set to the time since, files included. ``elicited``, the
    fits of the inputs given by percentiles, is written as ``elicited.csv`` when not empty
    (see :func:`write_elicited_csv`).
    """
    import time

    directory = Path(directory)
    if config_text is not None:
        (directory / CONFIG).write_text(config_text, encoding="utf-8")
    write_quantiles(directory, table)
    write_prediction_csv(directory / PREDICTIONS, summary["predictions"])
    write_sensitivity_csv(directory / SENSITIVITY, sensitivity)
    if elicited:
        write_elicited_csv(directory / ELICITED, elicited)
    for name in (CHECKPOINT, RUN_OPTIONS):
        (directory / name).unlink(missing_ok=True)
    if started is not None:
        summary["timing"]["total_seconds"] = time.perf_counter() - started
    write_json(directory / SUMMARY, summary)


def read_run(run_dir: Path) -> tuple[str, dict]:
    """The configuration text and the summary (``summary.json``) of a finished run.

    Raises
    ------
    UsageError
        When ``run_dir`` does not hold a finished run.
    """
    run_dir = Path(run_dir)
    try:
        text = (run_dir / CONFIG).read_text(encoding="utf-8")
        summary = json.loads((run_dir / SUMMARY).read_text(encoding="utf-8"))
        summary["run"]["config_sha256"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise UsageError(f"{run_dir} is not a finished mcinfra run: {exc}") from None
    return text, summary


def read_run_tables(run_dir: Path) -> tuple[str, dict, list[dict], list[dict]]:
    """What a report is drawn from: config text, summary, quantile and sensitivity rows.

    The quantile rows are ``quantiles.csv``'s (the numbers of ``quantiles.nc`` without its
    untabulated NaN cells, read without xarray); the sensitivity rows are
    ``sensitivity.csv``'s. Both are lists of dicts of strings.
    """
    run_dir = Path(run_dir)
    text, summary = read_run(run_dir)
    try:
        quantiles, sensitivity = (
            read_rows(run_dir / QUANTILES_CSV),
            read_rows(run_dir / SENSITIVITY),
        )
    except (OSError, ValueError) as exc:
        raise UsageError(f"{run_dir} is not a finished mcinfra run: {exc}") from None
    return text, summary, quantiles, sensitivity


def write_run_options(staging: Path, options: dict, config_text: str) -> None:
    """Record a run's options and configuration text in its temporary directory."""
    write_json(Path(staging) / RUN_OPTIONS, options)
    (Path(staging) / CONFIG).write_text(config_text, encoding="utf-8")


def read_run_options(staging: Path) -> dict:
    """The options an interrupted run was started with (see :func:`write_run_options`)."""
    path = Path(staging) / RUN_OPTIONS
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise UsageError(f"cannot resume from {path.parent}: {exc}") from None


def save_checkpoint(
    path: Path, state: dict[str, np.ndarray], draws_done: int, sampling_seconds: float
) -> None:
    """Write the reductions' ``state`` atomically: a kill mid-write keeps the previous one."""
    path = Path(path)
    temporary = path.with_suffix(".tmp.npz")
    arrays: dict[str, Any] = {"draws_done": draws_done, "sampling_seconds": sampling_seconds}
    np.savez(temporary, **(arrays | state))
    os.replace(temporary, path)


def load_checkpoint(path: Path) -> tuple[dict[str, np.ndarray], int, float]:
    """The reductions' state, draws done and sampling seconds of a :func:`save_checkpoint`."""
    with np.load(path) as saved:
        state = {key: saved[key] for key in saved.files}
    return (
        state,
        int(state.pop("draws_done")),
        float(state.pop("sampling_seconds")),
    )


def find_interrupted(out: Path, options: str = RUN_OPTIONS, kind: str = "run") -> Path:
    """The temporary directory of the interrupted run of ``out`` that can be resumed.

    The most recently checkpointed one, when there are several. ``options`` names the file
    of options that marks the ``kind`` of work (a run's ``run-options.json``).
    """
    out = Path(out)
    found = [
        d
        for d in out.parent.glob(f"{staging_prefix(out)}*")
        if (d / CHECKPOINT).is_file() and (d / options).is_file()
    ]
    if not found:
        raise UsageError(f"no interrupted {kind} of {out} to resume (no checkpoint beside it)")
    return max(found, key=lambda d: (d / CHECKPOINT).stat().st_mtime)


def write_drivers(directory: Path, document: dict, rows: list[list[str]]) -> None:
    """``drivers.json`` and ``drivers.csv`` (Shapley effects), each written atomically.

    ``document`` is drivers.json's content and ``rows`` drivers.csv's rows, header first
    (docs/outputs.md). Each file is replaced whole or not at all, the JSON last; both
    texts are made before either is written.
    """
    import csv
    import io

    directory = Path(directory)
    table = io.StringIO()
    csv.writer(table, lineterminator="\r\n").writerows(rows)
    text = json.dumps(document, indent=2, allow_nan=False) + "\n"
    write_text_atomically(directory / DRIVERS_CSV, table.getvalue())
    write_text_atomically(directory / DRIVERS_JSON, text)
