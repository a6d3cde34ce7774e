"""Parse one input file (or byte range of it): every physical line becomes an event's line, a dead letter or a blank.

Shared by the batch job (``ParseFileFn``) and the streaming job's file reader, so both account
for lines the same way: a compressed stream that ends early or is corrupt yields its cut-off
tail as one dead letter (reason ``truncated_gz``, ``corrupt_zst``...) with the time of the
last event before it.

Example::

    >>> import os, tempfile
    >>> from aiops.parsing import LogParser, ParseConfig
    >>> from aiops.sources import InputFile
    >>> path = os.path.join(tempfile.mkdtemp(), "app.log")
    >>> _ = open(path, "w").write("2024-05-01 12:00:00 INFO up\\n\\n")
    >>> run = FileParse(InputFile(path, 30, 0, "svc"), LogParser(path, ParseConfig(default_service="svc")))
    >>> [item.message for item in run], run.lines_read
    (['up'], 2)
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from aiops.parsing.reader import LogParser
from aiops.schema import MAX_DEAD_LETTER_BYTES, DeadLetter, ParsedEvent, TimestampUs
from aiops.sources import InputFile, Truncated, read_lines

PROGRESS_EVERY_MASK = 0x3FFF  # report lines about every 16,384 lines


class FileParse:
    """Iterate the ParsedEvents and DeadLetters of one file; ``lines_read`` is set once exhausted."""

    def __init__(self, f: InputFile, parser: LogParser, on_bytes: Callable[[int], None] | None = None,
                 on_lines: Callable[[int], None] | None = None):
        self.f = f
        self.parser = parser
        self.on_bytes = on_bytes
        self.on_lines = on_lines
        self.lines_read = 0

    def __iter__(self) -> Iterator[ParsedEvent | DeadLetter]:
        f, parser, on_lines = self.f, self.parser, self.on_lines
        last_time = f.mtime_us
        line_no = f.first_line - 1  # numbers stay those of the whole file when f is a range
        reported = line_no
        for raw in read_lines(f.path, self.on_bytes, f.start, f.end):
            if isinstance(raw, Truncated):
                # The cut-off tail is a physical line we did read, however short.
                n = 1 if raw.tail else 0
                line_no += n
                yield DeadLetter(f.path, line_no or 1, n, TimestampUs(last_time), raw.reason,
                                 raw.tail[:MAX_DEAD_LETTER_BYTES], len(raw.tail), "")
                continue
            line_no += 1
            if on_lines is not None and not line_no & PROGRESS_EVERY_MASK:
                on_lines(line_no - reported)
                reported = line_no
            for item in parser.feed(raw, line_no):
                if type(item) is ParsedEvent:
                    last_time = item.event_time
                yield item
        yield from parser.finish()
        self.lines_read = line_no - (f.first_line - 1)
        if on_lines is not None:
            on_lines(line_no - reported)
