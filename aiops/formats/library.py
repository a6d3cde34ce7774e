"""The pattern library: line formats learnt per log source, persisted as one JSON file.

A :class:`FormatEntry` says "lines of this source are in this format" (a logparser header
SPEC or a regex with named groups, see :mod:`aiops.formats.pattern`). The parser tries a
matching entry before auto-detection. The library lives next to the template store
(``<store dir>/formats.json``, see :func:`library_path_next_to`) on any Beam file system.

**What "the same source" is** (:func:`source_key`): the parent directory name plus the
file name with everything that changes between days, hosts and rotations replaced by
``*``. From the file name the compression extension (``.gz``, ``.bz2``, ``.zst``, ``.xz``)
and logrotate suffixes (``.1``, ``-20261122``) are removed, then date/time stamps and
digit runs (except digits inside a word, as in ``log4j``) become ``*``; the parent
directory gets the same masking. So ``/logs/billing/billing-20261122T0000.log.gz``,
``gs://b/logs/billing/billing-2026-11-23.log`` and ``/x/billing/billing-7.log.1`` all give
``billing/billing-*.log``. A key maps to at most one entry.

Example::

    >>> from aiops.formats.library import FormatLibrary, FormatEntry, source_key
    >>> source_key("/logs/billing/billing-20261122T0000.log.gz")
    'billing/billing-*.log'
    >>> lib = FormatLibrary("/tmp/aiops-doc/formats.json")
    >>> e = lib.add(FormatEntry.new("billing/billing-*.log", "spec", "<Date> <Time> <Level> <Content>",
    ...                             0.99, 140, "heuristic", ["2026-11-22 10:00:01 WARN x"]))
    >>> lib.match("/logs/billing/billing-20261123.log") == e
    True
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime

from apache_beam.io.filesystems import FileSystems

from aiops.layout import beside_store

LIBRARY_FILE = "formats.json"
KINDS = ("spec", "regex")
_VERSION = 1

_COMPRESSED = re.compile(r"\.(?:gz|bz2|zst|zstd|xz)$", re.I)
# logrotate suffixes after the real extension: app.log.1, app.log-20261122, app.log.2026-11-22
_ROTATED = re.compile(r"(?<=\.[A-Za-z]{3})(?:\.\d+|[-_.]\d{8}(?:[-_T]?\d{2,6})?|[-_.]\d{4}-\d\d-\d\d)$")
# dates and times, with or without separators: 20261122T0000, 2026-11-22_10-00-00, 2026.11.22
_STAMP = re.compile(r"\d{4}[-_.]?\d\d[-_.]?\d\d(?:[T_-]?\d\d(?:[-_:.]?\d\d){0,2}Z?)?")
_DIGITS = re.compile(r"(?<![A-Za-z])\d+|\d+(?![A-Za-z])")  # but not log4j, s3sync
_STARS = re.compile(r"\*(?:[-_.:]*\*)+")


def _mask(name: str) -> str:
    return _STARS.sub("*", _DIGITS.sub("*", _STAMP.sub("*", name)))


def source_key(source_uri: str) -> str:
    """What identifies one source across days, hosts and rotations (see the module docstring)."""
    path = source_uri.rstrip("/")
    if "://" in path:
        path = path.split("://", 1)[1]
    parts = path.split("/")
    name = _COMPRESSED.sub("", parts[-1])
    while True:  # app.log.1.gz -> app.log.1 -> app.log
        stripped = _ROTATED.sub("", name)
        if stripped == name:
            break
        name = stripped
    parent = _mask(parts[-2]) if len(parts) > 1 and parts[-2] else ""
    return f"{parent}/{_mask(name)}" if parent else _mask(name)


def entry_id(key: str, kind: str, pattern: str) -> str:
    """16 hex digits of BLAKE2b over the source key, kind and pattern: stable across runs."""
    return hashlib.blake2b(f"{key}\n{kind}\n{pattern}".encode(), digest_size=8).hexdigest()


@dataclass(frozen=True)
class FormatEntry:
    id: str
    source_key: str
    kind: str  # "spec" | "regex"
    pattern: str
    created: str  # ISO 8601 UTC
    validated_share: float  # share of held-back lines the format parsed sensibly
    sample_size: int  # lines the proposal was made from plus those it was validated on
    proposer: str  # "heuristic" | "llm:<model>"
    examples: tuple[str, ...] = field(default_factory=tuple)  # a few raw lines of the source

    @classmethod
    def new(cls, key: str, kind: str, pattern: str, validated_share: float, sample_size: int,
            proposer: str, examples: Iterable[str] = (), created: str | None = None) -> FormatEntry:
        if kind not in KINDS:
            raise ValueError(f"format kind must be one of {KINDS}, not {kind!r}")
        return cls(entry_id(key, kind, pattern), key, kind, pattern,
                   created or datetime.now(UTC).isoformat(timespec="seconds"),
                   round(float(validated_share), 4), int(sample_size), proposer, tuple(examples))

    @classmethod
    def from_dict(cls, d: dict) -> FormatEntry:
        return cls(str(d["id"]), str(d["source_key"]), str(d["kind"]), str(d["pattern"]), str(d["created"]),
                   float(d["validated_share"]), int(d["sample_size"]), str(d["proposer"]),
                   tuple(str(x) for x in d.get("examples", ())))


class FormatLibraryError(Exception):
    """The library file cannot be read, parsed or written."""


def library_path_next_to(template_store: str) -> str:
    """``<dir of the template store>/formats.json`` (local, gs://, s3://)."""
    return beside_store(template_store, LIBRARY_FILE)


class FormatLibrary:
    """Learnt formats by source key; ``load()`` then ``match``/``add``/``remove``, ``save()``."""

    def __init__(self, path: str, entries: Sequence[FormatEntry] = ()) -> None:
        self.path = path
        self._by_key: dict[str, FormatEntry] = {}
        for e in entries:
            self.add(e)

    @property
    def entries(self) -> list[FormatEntry]:
        return sorted(self._by_key.values(), key=lambda e: e.source_key)

    def __len__(self) -> int:
        return len(self._by_key)

    def exists(self) -> bool:
        return FileSystems.exists(self.path)

    def load(self) -> FormatLibrary:
        """Replace the entries with those on disk (none when the file does not exist yet)."""
        self._by_key.clear()
        try:
            if not FileSystems.exists(self.path):
                return self
            with FileSystems.open(self.path, compression_type="uncompressed") as f:
                data = json.loads(f.read().decode("utf-8"))
            for d in data["formats"]:
                self.add(FormatEntry.from_dict(d))
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise FormatLibraryError(f"cannot read format library {self.path}: {type(e).__name__}: {e}") from e
        return self

    def save(self) -> None:
        """Write a temporary file next to the target, then rename it over the target."""
        body = {"version": _VERSION, "formats": [asdict(e) for e in self.entries]}
        tmp = f"{self.path}.tmp-{uuid.uuid4().hex}"
        try:
            with FileSystems.create(tmp, compression_type="uncompressed") as f:
                f.write(json.dumps(body, indent=1, ensure_ascii=False).encode("utf-8"))
            FileSystems.rename([tmp], [self.path])  # replaces the target (os.rename / object copy)
        except Exception as e:  # any file-system error: clean up, then one error type for callers
            try:
                if FileSystems.exists(tmp):
                    FileSystems.delete([tmp])
            except Exception:  # noqa: BLE001 - best-effort clean-up
                pass
            raise FormatLibraryError(f"cannot write format library {self.path}: {type(e).__name__}: {e}") from e

    def match(self, source_uri: str) -> FormatEntry | None:
        """The entry for the source of this file, if one was learnt."""
        return self._by_key.get(source_key(source_uri))

    def match_key(self, key: str) -> FormatEntry | None:
        return self._by_key.get(key)

    def get(self, entry_id_or_prefix: str) -> FormatEntry | None:
        """The entry with this id, or the only one whose id starts with it."""
        found = [e for e in self._by_key.values() if e.id.startswith(entry_id_or_prefix)]
        exact = [e for e in found if e.id == entry_id_or_prefix]
        return exact[0] if exact else (found[0] if len(found) == 1 else None)

    def add(self, entry: FormatEntry) -> FormatEntry:
        """Add ``entry``; it replaces any entry of the same source key (one format per source)."""
        self._by_key[entry.source_key] = entry
        return entry

    def remove(self, entry_id_or_prefix: str) -> FormatEntry | None:
        """Remove and return the entry (see :meth:`get`), or None when there is no such entry."""
        entry = self.get(entry_id_or_prefix)
        if entry is not None:
            del self._by_key[entry.source_key]
        return entry


__all__ = ["FormatEntry", "FormatLibrary", "FormatLibraryError", "LIBRARY_FILE", "entry_id",
           "library_path_next_to", "source_key"]
