"""Input files: expand globs, open any supported filesystem, decompress, split lines.

Local paths, ``gs://`` and ``s3://`` go through Beam's ``FileSystems``; ``.gz``,
``.bz2`` and ``.zst`` are decompressed by extension with incremental
decompressors, so a truncated archive yields every line that was recoverable and
then reports the damage instead of raising.

Example::

    >>> from aiops.sources import expand_inputs
    >>> [f.service for f in expand_inputs(["/var/log/nginx/*.log"])]   # doctest: +SKIP
    ['nginx', 'nginx']
"""

from __future__ import annotations

import bz2
import posixpath
import zlib
from collections.abc import Callable, Iterator, Sequence
from typing import NamedTuple

import zstandard
from apache_beam.io.filesystem import BeamIOError
from apache_beam.io.filesystems import FileSystems

READ_BLOCK = 1 << 20
_DECOMPRESS_ERRORS = (OSError, EOFError, zlib.error, ValueError, zstandard.ZstdError)  # compressed bytes per read; bounded memory per file


class InputError(Exception):
    """A bad --input: no such file, or a glob that matches nothing."""


class InputFile(NamedTuple):
    """One file (or one byte range of a big uncompressed file) to read."""

    path: str
    size: int
    mtime_us: int
    service: str  # the parent directory's name, the service fallback for records without one
    start: int = 0  # first byte of the range: always the start of an event's first line
    end: int | None = None  # end of the range (exclusive); None: to the end of the file
    first_line: int = 1  # the physical line number at ``start``

    @property
    def is_last_part(self) -> bool:
        return self.end is None


class Truncated(NamedTuple):
    """A compressed stream ended early or was corrupt at this point."""

    reason: str
    tail: bytes  # the decompressed bytes after the last complete line


def filesystem_hint(exc: Exception) -> str:
    """One line about a FileSystems failure, naming the extra to install when a scheme is unknown."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if "Unable to get filesystem" in text or "boto3" in text:
        return "no filesystem for this scheme (gs://: pip install 'aiops[gcp]'; s3://: pip install 'aiops[aws]')"
    return f"{type(exc).__name__}: {text[:300]}"


def service_of(path: str) -> str:
    """The name of the file's parent directory: the service of records that name none."""
    parent = posixpath.basename(posixpath.dirname(path.rstrip("/")))
    return parent or "unknown"


def input_file(meta) -> InputFile:
    """An InputFile from Beam's FileMetadata (a match result)."""
    mtime_us = int(round((meta.last_updated_in_seconds or 0) * 1_000_000))
    return InputFile(meta.path, int(meta.size_in_bytes), mtime_us, service_of(meta.path))


def expand_inputs(patterns: Sequence[str]) -> list[InputFile]:
    """Every file matched by the patterns, sorted and de-duplicated.

    Raises InputError when a pattern matches nothing, so a typo fails the job
    at launch rather than producing an empty, "successful" run.
    """
    files: dict[str, InputFile] = {}
    try:
        results = FileSystems.match(list(patterns))
    # ValueError: no filesystem for the scheme or no credentials; AssertionError: Beam's S3 client without boto3
    except (ValueError, BeamIOError, OSError, AssertionError) as exc:
        raise InputError(f"cannot list {', '.join(patterns)}: {filesystem_hint(exc)}") from exc
    for pattern, result in zip(patterns, results, strict=True):
        matched = [m for m in result.metadata_list if not m.path.endswith("/")]
        if not matched:
            raise InputError(f"input not found: {pattern}")
        for meta in matched:
            files[meta.path] = input_file(meta)
    return [files[p] for p in sorted(files)]


class _Plain:
    def __init__(self) -> None:
        self.eof = True

    def decompress(self, data: bytes) -> bytes:
        return data

    def flush(self) -> bytes:
        return b""


class _Multi:
    """Concatenated members (``cat a.gz b.gz``) decode as one stream, like gzip(1) does."""

    def __init__(self, factory) -> None:
        self._factory = factory
        self._dec = factory()

    @property
    def eof(self) -> bool:
        return bool(self._dec.eof)

    def decompress(self, data: bytes) -> bytes:
        out = [self._dec.decompress(data)]
        while self._dec.eof and self._dec.unused_data:
            rest = self._dec.unused_data
            self._dec = self._factory()
            out.append(self._dec.decompress(rest))
        return b"".join(out)

    def flush(self) -> bytes:
        flush = getattr(self._dec, "flush", None)
        return flush() if flush else b""


def _decompressor(path: str):
    lower = path.lower()
    if lower.endswith(".gz"):
        return _Multi(lambda: zlib.decompressobj(wbits=47)), "gzip"
    if lower.endswith(".bz2"):
        return _Multi(bz2.BZ2Decompressor), "bzip2"
    if lower.endswith(".zst") or lower.endswith(".zstd"):
        return _Multi(lambda: zstandard.ZstdDecompressor().decompressobj()), "zstd"
    return _Plain(), ""


class Density(NamedTuple):
    """What the head of a file (or range) holds per stored byte: for balancing work, never accounting."""

    lines_per_byte: float  # physical lines per stored (possibly compressed) byte
    expansion: float  # uncompressed bytes per stored byte
    fast_share: float = 0.0  # share of the head's lines that ``fast_line`` accepted


SAMPLE_LINES = 256  # head lines that ``fast_line`` is asked about


def sample_density(path: str, start: int = 0, nbytes: int = 1 << 16,
                   fast_line: Callable[[bytes], bool] | None = None) -> Density | None:
    """Lines and uncompressed bytes per stored byte in the first ``nbytes`` at ``start``; None if unreadable.

    ``fast_line``: a cheap test of one line (e.g. "the vectorised parser takes it"); its
    share of the first ``SAMPLE_LINES`` complete lines is ``fast_share``.
    """
    dec, _ = _decompressor(path)
    try:
        with FileSystems.open(path, compression_type="uncompressed") as fh:
            if start:
                fh.seek(start)
            block = fh.read(nbytes)
        data = dec.decompress(block)
    except (*_DECOMPRESS_ERRORS, BeamIOError):
        return None
    if not block or not data:
        return None
    share = 0.0
    if fast_line is not None:
        head = data.split(b"\n", SAMPLE_LINES)[:SAMPLE_LINES]
        if len(head) > 1:
            head.pop()  # possibly cut off by the sample's end
        share = sum(map(fast_line, head)) / len(head)
    return Density(data.count(b"\n") / len(block), len(data) / len(block), share)


def read_blocks(path: str, progress=None, start: int = 0, end: int | None = None) -> Iterator[list[bytes] | Truncated]:
    """Yield the physical lines of a file (without ``\\n`` / ``\\r\\n``) as one list per block read.

    A final line without a newline is still a line. When a compressed stream is
    corrupt or ends early, yields one ``Truncated`` item carrying the partial
    tail and stops. ``progress(nbytes)`` is called with each block's raw size.
    ``start``/``end`` read one byte range of an uncompressed file.
    """
    dec, kind = _decompressor(path)
    pending = b""
    damaged: str | None = None
    remaining = -1 if end is None else end - start
    with FileSystems.open(path, compression_type="uncompressed") as fh:
        if start:
            fh.seek(start)
        while remaining:
            block = fh.read(READ_BLOCK if remaining < 0 else min(READ_BLOCK, remaining))
            if remaining > 0:
                remaining -= len(block)
            if not block:
                break
            if progress is not None:
                progress(len(block))
            try:
                data = dec.decompress(block)
            except _DECOMPRESS_ERRORS as exc:
                damaged = f"corrupt_{kind}: {type(exc).__name__}"
                break
            if not data:
                continue
            buf = pending + data
            lines = buf.split(b"\n")
            pending = lines.pop()
            if b"\r" in buf:
                lines = [line[:-1] if line.endswith(b"\r") else line for line in lines]
            if lines:
                yield lines
    if damaged is None and not dec.eof:
        damaged = f"truncated_{kind}"
    if damaged is not None:
        yield Truncated(damaged, pending)
        return
    if pending:
        yield [pending[:-1] if pending.endswith(b"\r") else pending]


def read_lines(path: str, progress=None, start: int = 0, end: int | None = None) -> Iterator[bytes | Truncated]:
    """The lines of :func:`read_blocks` one by one (then its ``Truncated``, if any)."""
    for block in read_blocks(path, progress, start, end):
        if isinstance(block, Truncated):
            yield block
        else:
            yield from block
