"""A SIPmath 3.0 library in memory, written in the standard's JSON layout and read back.

A library is a set of SIPs (Stochastic Information Packets) whose trial i belongs to the
same scenario: a ``SIP_Array`` stores its trials; a ``Metalog_1_0`` SIP gives a metalog
quantile function of the uniform of an ``HDR_2_0`` stream or of a layer of a
``GaussianCopula`` (whose correlation matrix is one of the library's ``globalVariables``).
:func:`library_json` writes the layout of ProbabilityManagement.org's standard (``name``,
``objectType``, ``libraryType``, ``dateCreated``, ``version``, ``provenance``,
``globalVariables``, ``U01`` with ``rng`` and ``copula``, ``sips``);
:func:`mcinfra.sipmath.reading.read_library` reads one back.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mcinfra.errors import UsageError, did_you_mean

LIBRARY_TYPE = "SIPmath_3_0"
OBJECT_TYPE = "sipModel"
COUNTER = "PM_Index"  # the trial counter: 1 for the first trial
SIP_ARRAY = "SIP_Array"
METALOG = "Metalog_1_0"
HDR = "HDR_2_0"
INDEX = "Index"
GAUSSIAN_COPULA = "GaussianCopula"
MAX_METALOG_TERMS = 16
HDR_ARGUMENTS = {"entity": "entity", "varId": "var_id", "seed3": "seed3", "seed4": "seed4"}
"""An HDR_2_0 stream's ``arguments`` besides the counter, with their :class:`HdrStream` fields."""


class LibraryError(UsageError):
    """A SIPmath library cannot be read, or asks for something mcinfra does not evaluate.

    A :class:`~mcinfra.errors.UsageError`: the command line prints it and exits with status 2.

    Parameters
    ----------
    path : str or Path
        The library's file (``"<memory>"`` for one built in memory).
    key : str
        Key path of the problem inside the library, e.g. ``"sips[2].function"`` (empty for
        the file as a whole).
    problem : str
        What is wrong, with the value found.
    """

    def __init__(self, path: str | Path, key: str, problem: str) -> None:
        self.path = str(path)
        self.key = key
        self.problem = problem
        where = f"{key}: " if key else ""
        super().__init__(f"SIPmath library {path}: {where}{problem}")


@dataclass(frozen=True)
class HdrStream:
    """An ``HDR_2_0`` stream of uniforms, keyed by the trial counter and four seeds."""

    name: str
    entity: int
    var_id: int
    seed3: int = 0
    seed4: int = 0


@dataclass(frozen=True)
class IndexStream:
    """The ``Index`` generator: the trial counter itself, which stored arrays are read by."""

    name: str


Stream = HdrStream | IndexStream


@dataclass(frozen=True)
class CorrelationMatrix:
    """A correlation matrix among the ``globalVariables``, symmetric, in ``labels`` order."""

    name: str
    labels: tuple[str, ...]
    values: tuple[tuple[float, ...], ...]

    def array(self) -> np.ndarray:
        """The matrix as a (k, k) float array."""
        return np.array(self.values, dtype=float).reshape(len(self.labels), len(self.labels))


@dataclass(frozen=True)
class GaussianCopula:
    """A Gaussian copula over HDR streams: layer k is driven by stream k and matrix row k."""

    name: str
    matrix: str  # name of a CorrelationMatrix among the library's global variables
    streams: tuple[str, ...]
    layers: tuple[str, ...]


@dataclass(frozen=True)
class StreamRef:
    """A SIP driven by a stream of the library's ``U01.rng``."""

    stream: str


@dataclass(frozen=True)
class CopulaRef:
    """A SIP driven by one layer of a copula of the library's ``U01.copula``."""

    copula: str
    layer: str


@dataclass(frozen=True, eq=False)
class ArraySip:
    """A ``SIP_Array``: trial i is ``values[i - 1]``."""

    name: str
    values: np.ndarray  # (trials,), read-only float64
    ref: StreamRef | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        values = np.array(self.values, dtype=float)
        values.flags.writeable = False
        object.__setattr__(self, "values", values)


@dataclass(frozen=True)
class MetalogSip:
    """A ``Metalog_1_0`` SIP: the metalog quantile function of its stream's or layer's uniform."""

    name: str
    coefficients: tuple[float, ...]
    ref: StreamRef | CopulaRef
    lower: float | None = None
    upper: float | None = None
    metadata: dict[str, Any] = field(default_factory=dict, compare=False)


Sip = ArraySip | MetalogSip


@dataclass(frozen=True, eq=False)
class Library:
    """A SIPmath 3.0 library: its SIPs and the generators, copulas and matrices they use.

    ``path`` is where the library was read from (messages name it), ``sha256`` the hash of
    that file's bytes (empty for a library built in memory), which a run records so that
    resuming or re-reading it can tell whether the file changed.
    """

    name: str
    sips: tuple[Sip, ...]
    streams: tuple[Stream, ...] = ()
    copulas: tuple[GaussianCopula, ...] = ()
    matrices: tuple[CorrelationMatrix, ...] = ()
    provenance: str = ""
    date_created: str = ""
    version: str = ""
    path: str = "<memory>"
    sha256: str = ""

    def sip(self, name: str) -> Sip:
        """The SIP called ``name``; an unknown name is a :class:`LibraryError`."""
        for sip in self.sips:
            if sip.name == name:
                return sip
        names = [s.name for s in self.sips]
        listed = ", ".join(names) if len(names) <= 20 else ", ".join(names[:20]) + ", ..."
        raise LibraryError(
            self.path,
            "sips",
            f"no SIP named '{name}'{did_you_mean(name, names)}; its SIPs are {listed}",
        )

    def stream(self, name: str) -> Stream:
        """The stream of ``U01.rng`` called ``name``."""
        return _by_name(self.streams, name, self.path, "U01.rng", "stream")

    def copula(self, name: str) -> GaussianCopula:
        """The copula of ``U01.copula`` called ``name``."""
        return _by_name(self.copulas, name, self.path, "U01.copula", "copula")

    def matrix(self, name: str) -> CorrelationMatrix:
        """The correlation matrix among ``globalVariables`` called ``name``."""
        return _by_name(self.matrices, name, self.path, "globalVariables", "correlation matrix")


def _by_name(items: Iterable[Any], name: str, path: str, key: str, kind: str) -> Any:
    items = list(items)
    for item in items:
        if item.name == name:
            return item
    names = [item.name for item in items]
    raise LibraryError(path, key, f"no {kind} named '{name}'{did_you_mean(name, names)}")


# Writing -----------------------------------------------------------------------------------


def library_document(library: Library) -> dict[str, Any]:
    """The library as the standard's JSON object (plain dicts and lists)."""
    rng: list[dict[str, Any]] = []
    for stream in library.streams:
        if isinstance(stream, HdrStream):
            arguments: dict[str, Any] = {"counter": COUNTER}
            arguments |= {key: getattr(stream, attr) for key, attr in HDR_ARGUMENTS.items()}
            rng.append({"name": stream.name, "function": HDR, "arguments": arguments})
        else:
            rng.append({"name": stream.name, "function": INDEX, "arguments": {"counter": COUNTER}})
    copulas = [
        {
            "name": copula.name,
            "function": GAUSSIAN_COPULA,
            "arguments": {
                "correlationMatrix": {"type": "globalVariables", "value": copula.matrix},
                "rng": list(copula.streams),
            },
            "copulaLayer": list(copula.layers),
        }
        for copula in library.copulas
    ]
    return {
        "name": library.name,
        "objectType": OBJECT_TYPE,
        "libraryType": LIBRARY_TYPE,
        "dateCreated": library.date_created,
        "version": library.version,
        "provenance": library.provenance,
        "globalVariables": [_matrix_document(m) for m in library.matrices],
        "U01": {"rng": rng, "copula": copulas},
        "sips": [_sip_document(sip) for sip in library.sips],
    }


def _matrix_document(matrix: CorrelationMatrix) -> dict[str, Any]:
    """The diagonal and upper triangle, row by row, as published libraries list them."""
    labels = list(matrix.labels)
    entries = [
        {"row": labels[i], "col": labels[j], "value": matrix.values[i][j]}
        for i in range(len(labels))
        for j in range(i, len(labels))
    ]
    return {"name": matrix.name, "value": {"columns": labels, "rows": labels, "matrix": entries}}


def _ref_document(ref: StreamRef | CopulaRef) -> dict[str, str]:
    if isinstance(ref, StreamRef):
        return {"source": "rng", "name": ref.stream}
    return {"source": "copula", "name": ref.copula, "copulaLayer": ref.layer}


def _sip_document(sip: Sip) -> dict[str, Any]:
    entry: dict[str, Any] = {"name": sip.name}
    if sip.ref is not None:
        entry["ref"] = _ref_document(sip.ref)
    if isinstance(sip, ArraySip):
        entry["function"] = SIP_ARRAY
        entry["arguments"] = {"type": "array", "value": sip.values}
    else:
        arguments: dict[str, Any] = {"aCoefficients": list(sip.coefficients)}
        if sip.lower is not None:
            arguments["lowerBound"] = sip.lower
        if sip.upper is not None:
            arguments["upperBound"] = sip.upper
        entry["function"] = METALOG
        entry["arguments"] = arguments
    if sip.metadata:
        entry["metadata"] = sip.metadata
    return entry


def _array_text(values: np.ndarray, name: str) -> str:
    """A JSON array on one line; all whole numbers (0/1 indicators) without a fraction."""
    if not np.all(np.isfinite(values)):
        raise ValueError(f"SIP '{name}' holds a value that is not finite; JSON cannot store it")
    if np.all(values == np.trunc(values)) and np.all(np.abs(values) < 2**53):
        return json.dumps(values.astype(np.int64).tolist())
    return json.dumps(values.tolist())  # each float's shortest round-trip text


def library_json(library: Library) -> str:
    """The library as JSON text: indented, each SIP_Array's trials on one line.

    Numbers are written with the shortest text that reads back as the same float, so
    :func:`~mcinfra.sipmath.reading.read_library` returns every stored trial bit for bit.
    """
    document = library_document(library)
    arrays: dict[int, str] = {}
    for entry, sip in zip(document["sips"], library.sips, strict=True):
        if isinstance(sip, ArraySip):
            # An integer no float in the document equals stands in for the array, so that
            # indenting the document leaves each array on one line.
            token = -(10**40) - len(arrays)
            arrays[token] = _array_text(sip.values, sip.name)
            entry["arguments"]["value"] = token
    text = json.dumps(document, indent=2, allow_nan=False)
    for token, array in arrays.items():
        # '"value": ' with unescaped quotes occurs only as a key, never inside a string
        text = text.replace(f'"value": {token}', f'"value": {array}', 1)
    return text + "\n"
