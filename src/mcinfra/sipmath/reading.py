"""Reading a SIPmath 3.0 library: every key checked, every refusal naming its key path.

:func:`read_library` refuses, with a :class:`~mcinfra.sipmath.library.LibraryError` naming
the file and the key path, anything mcinfra cannot evaluate exactly: a missing or malformed
file, an unsupported SIP function, generator or copula, a spreadsheet parameter in place of
a seed, a reference to nothing, a matrix that is not a correlation matrix.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from mcinfra.errors import did_you_mean
from mcinfra.sipmath.library import (
    COUNTER,
    GAUSSIAN_COPULA,
    HDR,
    HDR_ARGUMENTS,
    INDEX,
    LIBRARY_TYPE,
    MAX_METALOG_TERMS,
    METALOG,
    SIP_ARRAY,
    ArraySip,
    CopulaRef,
    CorrelationMatrix,
    GaussianCopula,
    HdrStream,
    IndexStream,
    Library,
    LibraryError,
    MetalogSip,
    Sip,
    Stream,
    StreamRef,
)


def read_library(path: str | Path) -> Library:
    """Read and check a SIPmath 3.0 library file.

    SIP entries with an ``environment`` key (a form of a SIP for one spreadsheet add-in,
    e.g. ``PsiNormal`` for Analytic Solver) are skipped, as are global variables that no
    copula uses. Other keys the standard allows (``metadata``, ``rounding``) are kept or
    ignored.

    Raises
    ------
    LibraryError
        When the file is missing or unreadable, is not JSON, is not a SIPmath 3.0 library,
        or holds a SIP, generator, copula or matrix that mcinfra cannot evaluate exactly;
        the message names the file and the key path.
    """
    try:
        data = Path(path).read_bytes()
        text = data.decode("utf-8")
    except OSError as exc:
        raise LibraryError(path, "", f"cannot read it: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise LibraryError(path, "", f"not UTF-8 text: {exc.reason}") from None
    try:
        document = json.loads(text, parse_constant=_refuse_constant)
    except json.JSONDecodeError as exc:
        raise LibraryError(
            path, "", f"not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"
        ) from None
    except ValueError as exc:  # from _refuse_constant
        raise LibraryError(path, "", f"not valid JSON: {exc}") from None
    library = parse_library(document, path)
    return dataclasses.replace(library, sha256=hashlib.sha256(data).hexdigest())


def _refuse_constant(name: str) -> float:
    """Python's reader accepts NaN and Infinity; JSON, and so a library, has neither."""
    raise ValueError(f"{name} is no JSON number")


def parse_library(document: Any, path: str | Path = "<memory>") -> Library:
    """A :class:`Library` from the decoded JSON of a library (see :func:`read_library`)."""
    reader = _Reader(str(path))
    return reader.library(document)


def _describe(value: Any) -> str:
    text = json.dumps(value) if _is_json(value) else repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _is_json(value: Any) -> bool:
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError):
        return False
    return True


class _Reader:
    """Checks a decoded library, raising a :class:`LibraryError` at the first problem."""

    def __init__(self, path: str) -> None:
        self.path = path

    def fail(self, key: str, problem: str) -> LibraryError:
        return LibraryError(self.path, key, problem)

    def mapping(self, value: Any, key: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(key, f"expected an object, got {_describe(value)}")
        return value

    def sequence(self, value: Any, key: str) -> list[Any]:
        if not isinstance(value, list):
            raise self.fail(key, f"expected a list, got {_describe(value)}")
        return value

    def text(self, value: Any, key: str) -> str:
        if not isinstance(value, str) or not value:
            raise self.fail(key, f"expected a non-empty string, got {_describe(value)}")
        return value

    def required(self, entry: dict[str, Any], name: str, key: str) -> Any:
        if name not in entry:
            raise self.fail(f"{key}.{name}" if key else name, "missing")
        return entry[name]

    def new_name(self, entry: dict[str, Any], key: str, kind: str, taken: dict[str, Any]) -> str:
        """The entry's ``name``, refused when an earlier entry of ``taken`` holds it."""
        name = self.text(self.required(entry, "name", key), f"{key}.name")
        if name in taken:
            raise self.fail(f"{key}.name", f"a second {kind} named '{name}'")
        return name

    def number(self, value: Any, key: str) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.fail(key, f"expected a number, got {_describe(value)}")
        try:
            number = float(value)
        except OverflowError:  # an integer beyond every double
            raise self.fail(key, f"{_describe(value)} is too large for a number") from None
        if not math.isfinite(number):
            raise self.fail(key, f"expected a finite number, got {value}")
        return number

    def integer(self, value: Any, key: str) -> int:
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, dict) and value.get("type") == "parameter":
            raise self.fail(
                key,
                f"is the spreadsheet parameter {_describe(value.get('name', ''))}; mcinfra "
                "needs its value: write the integer in its place",
            )
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(key, f"expected an integer, got {_describe(value)}")
        return value

    def library(self, document: Any) -> Library:
        document = self.mapping(document, "")
        name = self.text(self.required(document, "name", ""), "name")
        kind = document.get("libraryType", LIBRARY_TYPE)
        if kind != LIBRARY_TYPE:
            raise self.fail(
                "libraryType",
                f"{_describe(kind)} is not supported; mcinfra reads {LIBRARY_TYPE} libraries",
            )
        u01 = self.mapping(document.get("U01", {}), "U01")
        streams = self.streams(u01.get("rng", []))
        matrices_given = self.global_variables(document.get("globalVariables", []))
        copulas, matrices = self.copulas(u01.get("copula", []), streams, matrices_given)
        sips = self.sips(self.required(document, "sips", ""), streams, copulas)
        return Library(
            name=name,
            sips=sips,
            streams=tuple(streams.values()),
            copulas=tuple(copulas.values()),
            matrices=tuple(matrices),
            provenance=str(document.get("provenance", "")),
            date_created=str(document.get("dateCreated", "")),
            version=str(document.get("version", "")),
            path=self.path,
        )

    def streams(self, entries: Any) -> dict[str, Stream]:
        found: dict[str, Stream] = {}
        for i, entry in enumerate(self.sequence(entries, "U01.rng")):
            key = f"U01.rng[{i}]"
            entry = self.mapping(entry, key)
            name = self.new_name(entry, key, "stream", found)
            function = self.required(entry, "function", key)
            arguments = self.mapping(self.required(entry, "arguments", key), f"{key}.arguments")
            counter = arguments.get("counter", COUNTER)
            if counter != COUNTER:
                raise self.fail(
                    f"{key}.arguments.counter",
                    f"unsupported counter {_describe(counter)}; mcinfra counts trials with "
                    f"{COUNTER}",
                )
            if function == HDR:
                seeds = {
                    attr: self.integer(
                        self.required(arguments, argument, f"{key}.arguments"),
                        f"{key}.arguments.{argument}",
                    )
                    for argument, attr in HDR_ARGUMENTS.items()
                    if argument in ("entity", "varId") or argument in arguments
                }
                found[name] = HdrStream(name, **seeds)
            elif function == INDEX:
                found[name] = IndexStream(name)
            else:
                raise self.fail(
                    f"{key}.function",
                    f"unsupported random number generator {_describe(function)}; mcinfra "
                    f"generates {HDR} and {INDEX}",
                )
        return found

    def global_variables(self, entries: Any) -> dict[str, tuple[str, Any]]:
        """Each global variable's key path and value, by name (checked when a copula uses it)."""
        found: dict[str, tuple[str, Any]] = {}
        for i, entry in enumerate(self.sequence(entries, "globalVariables")):
            key = f"globalVariables[{i}]"
            entry = self.mapping(entry, key)
            name = self.text(self.required(entry, "name", key), f"{key}.name")
            found[name] = (f"{key}.value", self.required(entry, "value", key))
        return found

    def matrix(self, name: str, key: str, value: Any) -> CorrelationMatrix:
        value = self.mapping(value, key)
        rows = [
            self.text(r, f"{key}.rows[{i}]")
            for i, r in enumerate(self.sequence(self.required(value, "rows", key), f"{key}.rows"))
        ]
        columns = self.sequence(self.required(value, "columns", key), f"{key}.columns")
        if len(set(rows)) != len(rows):
            raise self.fail(f"{key}.rows", f"names a row twice: {_describe(rows)}")
        if sorted(map(str, columns)) != sorted(rows):
            raise self.fail(
                f"{key}.columns",
                f"{_describe(columns)} are not the rows {_describe(rows)} (in any order)",
            )
        index = {label: i for i, label in enumerate(rows)}
        k = len(rows)
        given: dict[tuple[int, int], float] = {}
        for n, cell in enumerate(
            self.sequence(self.required(value, "matrix", key), key + ".matrix")
        ):
            cell_key = f"{key}.matrix[{n}]"
            cell = self.mapping(cell, cell_key)
            ends = []
            for end in ("row", "col"):
                label = self.text(self.required(cell, end, cell_key), f"{cell_key}.{end}")
                if label not in index:
                    raise self.fail(
                        f"{cell_key}.{end}",
                        f"'{label}' is not a row of the matrix{did_you_mean(label, rows)}",
                    )
                ends.append(index[label])
            number = self.number(self.required(cell, "value", cell_key), f"{cell_key}.value")
            i, j = sorted(ends)
            if (i, j) in given and given[i, j] != number:
                raise self.fail(
                    f"{cell_key}.value",
                    f"{number} for ({rows[i]}, {rows[j]}) contradicts {given[i, j]} given before",
                )
            given[i, j] = number
        matrix = np.eye(k)
        for i in range(k):
            for j in range(i, k):
                if (i, j) not in given:
                    if i == j:
                        continue  # a correlation matrix's diagonal is 1 when not listed
                    raise self.fail(f"{key}.matrix", f"no value for ({rows[i]}, {rows[j]})")
                v = given[i, j]
                if i == j and v != 1:
                    raise self.fail(
                        f"{key}.matrix", f"diagonal ({rows[i]}, {rows[i]}) is {v}, not 1"
                    )
                if not -1 <= v <= 1:
                    raise self.fail(
                        f"{key}.matrix", f"({rows[i]}, {rows[j]}) is {v}, outside [-1, 1]"
                    )
                matrix[i, j] = matrix[j, i] = v
        try:
            np.linalg.cholesky(matrix)
        except np.linalg.LinAlgError:
            raise self.fail(
                f"{key}.matrix", "is not positive definite, so no Gaussian copula has it"
            ) from None
        return CorrelationMatrix(name, tuple(rows), tuple(tuple(map(float, r)) for r in matrix))

    def copulas(
        self,
        entries: Any,
        streams: dict[str, Stream],
        variables: dict[str, tuple[str, Any]],
    ) -> tuple[dict[str, GaussianCopula], list[CorrelationMatrix]]:
        found: dict[str, GaussianCopula] = {}
        matrices: dict[str, CorrelationMatrix] = {}
        for i, entry in enumerate(self.sequence(entries, "U01.copula")):
            key = f"U01.copula[{i}]"
            entry = self.mapping(entry, key)
            name = self.new_name(entry, key, "copula", found)
            function = self.required(entry, "function", key)
            if function != GAUSSIAN_COPULA:
                raise self.fail(
                    f"{key}.function",
                    f"unsupported copula {_describe(function)}; mcinfra evaluates "
                    f"{GAUSSIAN_COPULA}",
                )
            arguments = self.mapping(self.required(entry, "arguments", key), f"{key}.arguments")
            reference = self.mapping(
                self.required(arguments, "correlationMatrix", f"{key}.arguments"),
                f"{key}.arguments.correlationMatrix",
            )
            matrix_key = f"{key}.arguments.correlationMatrix"
            if reference.get("type") != "globalVariables":
                raise self.fail(
                    f"{matrix_key}.type",
                    f"unsupported {_describe(reference.get('type'))}; mcinfra reads the matrix "
                    "from globalVariables",
                )
            matrix_name = self.text(
                self.required(reference, "value", matrix_key), f"{matrix_key}.value"
            )
            if matrix_name not in variables:
                raise self.fail(
                    f"{matrix_key}.value",
                    f"no global variable named '{matrix_name}'"
                    f"{did_you_mean(matrix_name, variables)}",
                )
            if matrix_name not in matrices:
                matrices[matrix_name] = self.matrix(matrix_name, *variables[matrix_name])
            rng_key = f"{key}.arguments.rng"
            names = self.sequence(self.required(arguments, "rng", f"{key}.arguments"), rng_key)
            for n, stream in enumerate(names):
                self.stream_of(stream, streams, f"{rng_key}[{n}]")
            layers = self.sequence(self.required(entry, "copulaLayer", key), f"{key}.copulaLayer")
            layers = [self.text(layer, f"{key}.copulaLayer[{n}]") for n, layer in enumerate(layers)]
            size = len(matrices[matrix_name].labels)
            if not len(names) == len(layers) == size:
                raise self.fail(
                    key,
                    f"{len(names)} streams in arguments.rng and {len(layers)} layers in "
                    f"copulaLayer for a {size} x {size} correlation matrix; all three must agree",
                )
            if len(set(layers)) != len(layers):
                raise self.fail(f"{key}.copulaLayer", f"names a layer twice: {_describe(layers)}")
            found[name] = GaussianCopula(name, matrix_name, tuple(names), tuple(layers))
        return found, list(matrices.values())

    def stream_of(self, name: Any, streams: dict[str, Stream], key: str) -> HdrStream:
        """The HDR stream ``name`` refers to (an Index stream gives no uniforms)."""
        name = self.text(name, key)
        if name not in streams:
            raise self.fail(
                key, f"no stream named '{name}' in U01.rng{did_you_mean(name, streams)}"
            )
        stream = streams[name]
        if not isinstance(stream, HdrStream):
            raise self.fail(key, f"'{name}' is an {INDEX} stream; uniforms come from {HDR}")
        return stream

    def sips(
        self,
        entries: Any,
        streams: dict[str, Stream],
        copulas: dict[str, GaussianCopula],
    ) -> tuple[Sip, ...]:
        found: dict[str, Sip] = {}
        for i, entry in enumerate(self.sequence(entries, "sips")):
            key = f"sips[{i}]"
            entry = self.mapping(entry, key)
            if "environment" in entry:
                continue  # a form of the SIP for one spreadsheet add-in
            name = self.new_name(entry, key, "SIP", found)
            function = self.required(entry, "function", key)
            arguments = self.mapping(self.required(entry, "arguments", key), f"{key}.arguments")
            metadata = self.mapping(entry.get("metadata", {}), f"{key}.metadata")
            if not _is_json(metadata):
                raise self.fail(f"{key}.metadata", "holds NaN or Infinity, which JSON has not")
            if function == SIP_ARRAY:
                ref = None
                if "ref" in entry:
                    ref_entry = self.mapping(entry["ref"], f"{key}.ref")
                    ref = StreamRef(self.text(ref_entry.get("name"), f"{key}.ref.name"))
                found[name] = ArraySip(name, self.array(arguments, key), ref, metadata)
            elif function == METALOG:
                found[name] = self.metalog(name, entry, arguments, key, streams, copulas, metadata)
            else:
                raise self.fail(
                    f"{key}.function",
                    f"unsupported SIP function {_describe(function)}; mcinfra evaluates "
                    f"{SIP_ARRAY} and {METALOG}",
                )
        return tuple(found.values())

    def array(self, arguments: dict[str, Any], key: str) -> np.ndarray:
        kind = arguments.get("type")
        if kind != "array":
            raise self.fail(
                f"{key}.arguments.type",
                f"unsupported {SIP_ARRAY} type {_describe(kind)}; mcinfra reads trials stored "
                "in the library (type 'array')",
            )
        values_key = f"{key}.arguments.value"
        values = self.sequence(self.required(arguments, "value", f"{key}.arguments"), values_key)
        if not values:
            raise self.fail(values_key, "holds no trials")
        if not set(map(type, values)) <= {int, float}:  # bool, None and text are no trials
            for n, v in enumerate(values):
                self.number(v, f"{values_key}[{n}]")
        try:
            array = np.array(values, dtype=float)
        except OverflowError:  # an integer beyond any float
            array = np.array([float(v) if abs(v) < 2**1000 else math.inf for v in values])
        bad = np.flatnonzero(~np.isfinite(array))
        if bad.size:
            raise self.fail(
                f"{values_key}[{bad[0]}]", f"expected a finite number, got {values[bad[0]]}"
            )
        return array

    def metalog(
        self,
        name: str,
        entry: dict[str, Any],
        arguments: dict[str, Any],
        key: str,
        streams: dict[str, Stream],
        copulas: dict[str, GaussianCopula],
        metadata: dict[str, Any],
    ) -> MetalogSip:
        coefficients_key = f"{key}.arguments.aCoefficients"
        given = self.sequence(
            self.required(arguments, "aCoefficients", f"{key}.arguments"), coefficients_key
        )
        coefficients = tuple(
            self.number(a, f"{coefficients_key}[{n}]") for n, a in enumerate(given)
        )
        if not 2 <= len(coefficients) <= MAX_METALOG_TERMS:
            raise self.fail(
                coefficients_key,
                f"{len(coefficients)} coefficients; a metalog has 2 to {MAX_METALOG_TERMS}",
            )
        bounds = [
            self.number(arguments[b], f"{key}.arguments.{b}") if b in arguments else None
            for b in ("lowerBound", "upperBound")
        ]
        lower, upper = bounds
        if lower is not None and upper is not None and not lower < upper:
            raise self.fail(
                f"{key}.arguments",
                f"lowerBound {lower} must be below upperBound {upper}",
            )
        ref_entry = self.mapping(self.required(entry, "ref", key), f"{key}.ref")
        source = self.required(ref_entry, "source", f"{key}.ref")
        ref_name = self.required(ref_entry, "name", f"{key}.ref")
        ref: StreamRef | CopulaRef
        if source == "rng":
            ref = StreamRef(self.stream_of(ref_name, streams, f"{key}.ref.name").name)
        elif source == "copula":
            ref_name = self.text(ref_name, f"{key}.ref.name")
            if ref_name not in copulas:
                raise self.fail(
                    f"{key}.ref.name",
                    f"no copula named '{ref_name}' in U01.copula{did_you_mean(ref_name, copulas)}",
                )
            layer = self.text(
                self.required(ref_entry, "copulaLayer", f"{key}.ref"), f"{key}.ref.copulaLayer"
            )
            layers = copulas[ref_name].layers
            if layer not in layers:
                raise self.fail(
                    f"{key}.ref.copulaLayer",
                    f"copula '{ref_name}' has no layer '{layer}'{did_you_mean(layer, layers)}; "
                    f"its layers are {', '.join(layers)}",
                )
            ref = CopulaRef(ref_name, layer)
        else:
            raise self.fail(
                f"{key}.ref.source", f"expected 'rng' or 'copula', got {_describe(source)}"
            )
        return MetalogSip(name, coefficients, ref, lower, upper, metadata)
