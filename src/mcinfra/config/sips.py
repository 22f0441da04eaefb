"""Inputs taken from SIPmath 3.0 libraries (``dist = "sip"``): finding and reading them.

A config names a library by its path, relative to the config file's folder.
:func:`absolute_libraries` makes those paths absolute when a config file is loaded, so the
text a run records loads on its own from anywhere (its ``config.toml`` is read again by
``resume``, ``whatif``, ``update`` and dask workers). :class:`LibraryResolver` reads each
library once per validation and gives every SIP input its marginal and its
:class:`SipSource`, the SIP the sampler evaluates.

A library is data outside the config text, so its hash is not in the config's: a run
records each library's path and sha256 (``sip_libraries``), and whatever reads the run
again checks them with :func:`check_libraries` before drawing from the library.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from mcinfra.errors import UsageError
from mcinfra.model.distributions import Metalog

if TYPE_CHECKING:  # the SIPmath reader loads only where a config has SIP inputs
    from mcinfra.sipmath.library import Library, LibraryError


@dataclass(frozen=True, eq=False)
class SipSource:
    """The SIP a ``dist = "sip"`` input takes its trials from."""

    library: Library
    name: str


def absolute_libraries(data: Any, folder: Path) -> bool:
    """Make every ``dist = "sip"`` table's relative ``library`` path absolute, in place.

    ``folder`` is the folder of the config file the tables come from. Returns whether a
    path was changed. Anything malformed is left to validation.
    """
    changed = False
    if isinstance(data, dict):
        library = data.get("library")
        relative = isinstance(library, str) and library and not Path(library).is_absolute()
        if data.get("dist") == "sip" and relative:
            data["library"] = str(folder.resolve() / str(library))
            changed = True
        for value in data.values():
            changed |= absolute_libraries(value, folder)
    elif isinstance(data, list):
        for value in data:
            changed |= absolute_libraries(value, folder)
    return changed


@dataclass
class LibraryResolver:
    """Reads the libraries of one config's SIP inputs, each file once.

    Called as the validation context's :data:`~mcinfra.model.distributions.SIP_RESOLVER`:
    ``resolver(library, name)`` returns the SIP's marginal and its :class:`SipSource`, or
    raises ``ValueError`` with a message naming the library's path (and the key path
    inside it), which validation prefixes with the input's key path.
    """

    libraries: dict[str, Library | LibraryError] = field(default_factory=dict)

    def __call__(self, library: str, name: str) -> tuple[Any, SipSource]:
        from mcinfra.sipmath.library import ArraySip, LibraryError, MetalogSip
        from mcinfra.sipmath.reading import read_library

        path = str(Path(library).absolute())
        if path not in self.libraries:
            try:
                self.libraries[path] = read_library(path)
            except LibraryError as exc:
                self.libraries[path] = exc
        found = self.libraries[path]
        if isinstance(found, LibraryError):
            raise ValueError(str(found))
        try:
            sip = found.sip(name)
        except LibraryError as exc:
            raise ValueError(str(exc)) from None
        source = SipSource(found, name)
        if isinstance(sip, ArraySip):
            return sip.values, source
        assert isinstance(sip, MetalogSip)
        try:
            marginal = Metalog.model_validate(
                {"dist": "metalog", "a": sip.coefficients, "lower": sip.lower, "upper": sip.upper}
            )
        except ValidationError:
            coefficients = ", ".join(f"{a:g}" for a in sip.coefficients)
            raise ValueError(
                f"SIPmath library {path}: SIP '{name}': its metalog (aCoefficients "
                f"[{coefficients}]) is not a distribution: its quantile function is not "
                "increasing everywhere on (0, 1)"
            ) from None
        return marginal, source

    def fingerprints(self) -> tuple[tuple[str, str], ...]:
        """``(path, sha256)`` of every library read, sorted by path."""
        return tuple(
            sorted(
                (path, library.sha256)
                for path, library in self.libraries.items()
                if not isinstance(library, Exception)
            )
        )


def recorded_libraries(fingerprints: tuple[tuple[str, str], ...]) -> list[dict[str, str]]:
    """``fingerprints`` as a run records them: ``[{"path": ..., "sha256": ...}, ...]``."""
    return [{"path": path, "sha256": sha256} for path, sha256 in fingerprints]


def check_libraries(
    fingerprints: tuple[tuple[str, str], ...], recorded: list[dict[str, str]] | None, what: str
) -> None:
    """Refuse to go on with a run whose SIPmath libraries changed since it recorded them.

    ``fingerprints`` are the libraries just read (:attr:`LoadedConfig.libraries
    <mcinfra.config.LoadedConfig.libraries>`), ``recorded`` the run's ``sip_libraries``
    (None for runs recorded before libraries were; nothing to check then), ``what`` the run
    the message names.

    Raises
    ------
    UsageError
        Naming the library and both hashes: draws from the changed file would not be the
        run's draws.
    """
    if recorded is None:
        return
    now = dict(fingerprints)
    for entry in recorded:
        path, sha256 = entry["path"], entry["sha256"]
        found = now.get(path)
        if found != sha256:
            here = f"{found[:16]}... here" if found else "not read here"
            raise UsageError(
                f"{what}: the SIPmath library {path} is not the file the run read (sha256 "
                f"{sha256[:16]}... recorded, {here}); restore the file the run read, or "
                "start a new run"
            )
