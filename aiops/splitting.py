"""Split big uncompressed files into byte ranges that start at an event, so workers share them.

One 10 GB log file would otherwise be read by one worker. A range boundary is put
at the first line, at or after every ``chunk_bytes``, that certainly starts a new
event (``is_event_start`` for the format), so no multi-line event is cut in two;
the line number at each boundary is counted (``bytes.count``, at memory speed),
so ``line_no`` stays the line's number in the whole file. Compressed files are
read whole: they cannot be entered in the middle.

Example::

    >>> from aiops.splitting import split_input                     # doctest: +SKIP
    >>> [(p.start, p.end, p.first_line) for p in split_input(f, "auto", 64 << 20)]
    [(0, 67108901, 1), (67108901, None, 601233)]
"""

from __future__ import annotations

from collections.abc import Callable

from apache_beam.io.filesystems import FileSystems

from aiops.parsing.reader import is_event_start
from aiops.parsing.spec import LineSpec
from aiops.sources import READ_BLOCK, InputFile

DEFAULT_CHUNK_BYTES = 64 << 20
SCAN_LIMIT = 1 << 20  # look this far past a target for an event start, else stop splitting
_COMPRESSED = (".gz", ".bz2", ".zst", ".zstd")


def event_start_test(fmt: str) -> Callable[[bytes], bool]:
    """The predicate 'this line starts a new event' for a --format value."""
    if fmt == "auto":
        return is_event_start
    if fmt == "raw":
        return lambda raw: bool(raw.strip())
    spec = LineSpec(fmt)

    def spec_start(raw: bytes) -> bool:
        try:
            return spec.parse(raw.decode("utf-8"), 0) is not None
        except UnicodeDecodeError:
            return False

    return spec_start


def _next_start(fh, target: int, size: int, is_start: Callable[[bytes], bool]) -> int | None:
    """Offset of the first event-starting line that begins after ``target``, or None."""
    fh.seek(target)
    window = fh.read(min(SCAN_LIMIT, size - target))
    newline = window.find(b"\n")
    while newline >= 0:
        line_start = newline + 1
        newline = window.find(b"\n", line_start)
        if newline < 0:
            return None  # the candidate line runs past the scanned window
        line = window[line_start:newline]
        if is_start(line[:-1] if line.endswith(b"\r") else line):
            return target + line_start
    return None


def _count_lines(fh, start: int, end: int) -> int:
    fh.seek(start)
    count, remaining = 0, end - start
    while remaining > 0:
        block = fh.read(min(READ_BLOCK, remaining))
        if not block:
            break
        remaining -= len(block)
        count += block.count(b"\n")
    return count


def split_input(f: InputFile, fmt: str, chunk_bytes: int = DEFAULT_CHUNK_BYTES) -> list[InputFile]:
    """The file as ranges of about ``chunk_bytes``; the file itself when small or compressed."""
    if f.size <= chunk_bytes or f.path.lower().endswith(_COMPRESSED):
        return [f]
    is_start = event_start_test(fmt)
    starts = [(0, 1)]
    with FileSystems.open(f.path, compression_type="uncompressed") as fh:
        target = chunk_bytes
        while target < f.size:
            offset = _next_start(fh, target, f.size, is_start)
            if offset is None:
                break
            prev_offset, prev_line = starts[-1]
            starts.append((offset, prev_line + _count_lines(fh, prev_offset, offset)))
            target = offset + chunk_bytes
    ends = [s for s, _ in starts[1:]] + [None]
    return [f._replace(start=s, end=e, first_line=line) for (s, line), e in zip(starts, ends, strict=True)]
