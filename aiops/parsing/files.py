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

import pyarrow as pa

from aiops.parsing.blocks import feed_lines, parse_block
from aiops.parsing.reader import LogParser
from aiops.schema import MAX_DEAD_LETTER_BYTES, DeadLetter, ParsedEvent, TimestampUs
from aiops.sources import InputFile, Truncated, read_blocks


class FileParse:
    """Iterate the ParsedEvents and DeadLetters of one file; ``lines_read`` is set once exhausted.

    With ``tables=True`` runs of lines in a vectorised format come as Arrow tables of ParsedEvents
    (:func:`aiops.parsing.blocks.parse_block`), in line order with the other items.
    """

    def __init__(self, f: InputFile, parser: LogParser, on_bytes: Callable[[int], None] | None = None,
                 on_lines: Callable[[int], None] | None = None, tables: bool = False):
        self.f = f
        self.parser = parser
        self.on_bytes = on_bytes
        self.on_lines = on_lines
        self.tables = tables
        self.lines_read = 0

    def __iter__(self) -> Iterator[ParsedEvent | DeadLetter | pa.Table]:
        f, parser, on_lines = self.f, self.parser, self.on_lines
        last_time = f.mtime_us
        line_no = f.first_line - 1  # numbers stay those of the whole file when f is a range
        for block in read_blocks(f.path, self.on_bytes, f.start, f.end):
            if isinstance(block, Truncated):
                # The cut-off tail is a physical line we did read, however short.
                n = 1 if block.tail else 0
                line_no += n
                yield DeadLetter(f.path, line_no or 1, n, TimestampUs(last_time), block.reason,
                                 block.tail[:MAX_DEAD_LETTER_BYTES], len(block.tail), "")
                continue
            if self.tables:
                items = parse_block(parser, block, line_no + 1)
            else:
                items = []
                feed_lines(parser, block, line_no + 1, 0, len(block), items)
            line_no += len(block)
            if on_lines is not None:
                on_lines(len(block))
            for item in items:
                if type(item) is ParsedEvent:
                    last_time = item.event_time
                elif isinstance(item, pa.Table):
                    last_time = item.column("event_time")[-1].value
                yield item
        yield from parser.finish()
        self.lines_read = line_no - (f.first_line - 1)
