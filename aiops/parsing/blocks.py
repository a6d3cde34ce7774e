"""Parse a block of physical lines: vectorised where the result is certain, else line by line.

:func:`parse_block` gives exactly what feeding the block's lines to
:meth:`LogParser.feed` one by one gives, in the same order, except that runs of
lines in a vectorised format (access logs, :mod:`aiops.parsing.access_block`;
``timestamp LEVEL [thread] logger: msg`` application logs,
:mod:`aiops.parsing.generic_block`) come back as one Arrow table (ParsedEvent
schema) instead of thousands of tuples. A line takes the fast path only when it
and the line after it are both lines the block's format accepts: such
a line starts a new event (ending the pending one) and cannot be continued. The
last accepted line of a run goes through ``feed``, so a stack trace or an
indented line after it joins it as usual.

Example::

    >>> from aiops.parsing.reader import LogParser, ParseConfig
    >>> p = LogParser("web/access.log", ParseConfig(default_service="web"))
    >>> line = b'10.0.0.1 - - [14/Nov/2023:22:13:20 +0000] "GET /a HTTP/1.1" 200 5'
    >>> out = parse_block(p, [line] * 100, 1) + p.finish()
    >>> [type(x).__name__ for x in out], out[0].num_rows, out[1].line_no
    (['Table', 'ParsedEvent'], 99, 100)
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pyarrow as pa

from aiops.parsing import access_block, generic_block
from aiops.parsing.reader import LogParser
from aiops.schema import TIME_RECORD, DeadLetter, ParsedEvent, arrow_schema

_SCHEMA = arrow_schema(ParsedEvent)
MIN_BLOCK_LINES = 64  # below this the Arrow set-up costs more than it saves


# Vectorised formats: (a cheap test of one line, the block parser). The first whose test accepts
# the block's first or middle line parses the block.
VECTOR_FORMATS: tuple[tuple[Callable[[bytes], bool], Callable], ...] = (
    (access_block.is_fast_line, access_block.access_columns),
    (generic_block.is_fast_line, generic_block.generic_columns),
)


def is_fast_line(raw: bytes) -> bool:
    """Would one of the vectorised formats take this line? (for estimating a file's parse cost)"""
    return any(test(raw) for test, _ in VECTOR_FORMATS)


def _vector_parser(raws: list[bytes]) -> Callable | None:
    for test, columns in VECTOR_FORMATS:
        if test(raws[0]) or test(raws[len(raws) // 2]):
            return columns
    return None


def feed_lines(parser: LogParser, raws: list[bytes], first_no: int, a: int, b: int, out: list) -> None:
    """Feed lines ``a`` to ``b`` of ``raws`` one by one (line numbers from ``first_no``), appending the items to ``out``."""
    feed = parser.feed
    for j in range(a, b):
        out.extend(feed(raws[j], first_no + j))


def parse_block(parser: LogParser, raws: list[bytes], first_no: int) -> list[ParsedEvent | DeadLetter | pa.Table]:
    """Feed ``raws`` (physical lines ``first_no``, ``first_no + 1``...) to ``parser``; items in line order."""
    out: list = []
    n = len(raws)
    columns_of = _vector_parser(raws) if n >= MIN_BLOCK_LINES and parser.auto_only else None
    if columns_of is None:
        feed_lines(parser, raws, first_no, 0, n, out)
        return out
    binary = pa.array(raws, pa.binary())
    try:
        lines = binary.cast(pa.string())
    except pa.ArrowInvalid:  # invalid UTF-8 in the block: its damaged lines are dead letters, one by one
        feed_lines(parser, raws, first_no, 0, n, out)
        return out
    ok, columns = columns_of(lines)
    if ok.any() and max(map(len, raws)) > parser.config.max_line_bytes:
        ok &= np.asarray(pa.compute.binary_length(binary)) <= parser.config.max_line_bytes
    fast = ok.copy()
    fast[:-1] &= ok[1:]
    fast[-1] = False
    if not fast.any():
        feed_lines(parser, raws, first_no, 0, n, out)
        return out
    table = _fast_table(parser, columns, np.cumsum(ok)[fast] - 1, np.flatnonzero(fast) + first_no)
    # Segments of equal ``fast``: fast runs are slices of ``table``, the rest is fed line by line.
    edges = [0, *(np.flatnonzero(np.diff(fast.view(np.int8))) + 1).tolist(), n]
    done = 0  # rows of ``table`` already emitted
    for a, b in zip(edges[:-1], edges[1:], strict=True):
        if fast[a]:
            out.extend(parser.finish())  # the run's first line starts a new event: the pending one is complete
            out.append(table.slice(done, b - a))
            done += b - a
        else:
            feed_lines(parser, raws, first_no, a, b, out)
    return out


def _fast_table(parser: LogParser, columns: dict, rows: np.ndarray, line_nos: np.ndarray) -> pa.Table:
    """The ParsedEvent table of the fast lines (``rows``: their positions among the accepted lines)."""
    n = len(rows)
    take = pa.array(rows)
    arrays = {
        "source": pa.array([parser.source] * n, pa.string()),
        "line_no": pa.array(line_nos, pa.int64()),
        "line_count": pa.array(np.ones(n, np.int64)),
        "event_time": columns["event_time"].take(take).cast(_SCHEMA.field("event_time").type),
        "time_source": pa.array([TIME_RECORD] * n, pa.string()),
        "service": pa.array([parser.config.default_service] * n, pa.string()),
    }
    for name, values in columns.items():
        if name != "event_time":
            arrays[name] = values.take(take)
    return pa.Table.from_arrays([arrays[f.name] if f.name in arrays else pa.nulls(n, f.type) for f in _SCHEMA], schema=_SCHEMA)
