"""Vectorised ``timestamp LEVEL [thread] dotted.Logger: message`` lines (logback/log4j, Python logging).

The block fast path's second format (see :mod:`aiops.parsing.blocks`): the most common
application-log shapes, ``2024-05-01 12:00:00,123 ERROR [main] com.acme.Db - msg`` and
``2024-05-01 12:00:00.123 INFO app.jobs: msg``, parsed with Arrow kernels. Like the access
path it only accepts lines whose per-line result (:func:`aiops.parsing.formats.parse_generic`)
it reproduces exactly: an ISO date and time with a space, an optional 1-6 digit fraction and
no zone; an upper-case level word; an optional thread without spaces or brackets; a dotted
logger followed by ``:`` or `` -`` and one space; a message that starts with a printable
ASCII character. Anything else goes line by line. Level and time use the per-line code on
the block's distinct values, so they cannot drift from it.

Example::

    >>> import pyarrow as pa
    >>> ok, cols = generic_columns(pa.array([
    ...     "2023-11-14 22:13:20,123 WARN [main] com.acme.Db - slow query", "x"]))
    >>> ok.tolist(), cols["event_time"].to_pylist(), cols["level"].to_pylist(), cols["component"].to_pylist()
    ([True, False], [1700000000123000], ['WARN'], ['com.acme.Db'])
    >>> cols["message"].to_pylist()
    ['slow query']
"""

from __future__ import annotations

import re

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from aiops.parsing.levels import normalize_level
from aiops.parsing.timestamps import SECOND, parse_iso
from aiops.parsing.vector import per_distinct, shape_test

_LEVELS = "TRACE|DEBUG|INFO|WARN|WARNING|ERROR|FATAL"
OK_PATTERN = (
    r"^(?P<minute>\d{4}-\d\d-\d\d \d\d:\d\d):(?P<sec>[0-5]\d)(?:[.,](?P<frac>\d{1,6}))? (?P<level>" + _LEVELS + r") "
    r"(?:\[[\x21-\x5c\x5e-\x7e]*\] )?(?P<logger>[A-Za-z_$][0-9A-Za-z_$-]*(?:\.[0-9A-Za-z_$-]+)+)(?::| -) "
    r"(?P<msg>[!-~](?:.*[^\r])?)$"
)
OK_RE = re.compile(OK_PATTERN)
# Would the vectorised path take this line? (its shape; the date is checked later)
is_fast_line = shape_test(OK_RE)


def _minute_us(key: str) -> int:
    """The minute "yyyy-MM-dd HH:mm" as the per-line parser reads it; -1: no such date (it rejects the line)."""
    t = parse_iso(key + ":00")
    return -1 if t is None else t


def generic_columns(lines: pa.StringArray) -> tuple[np.ndarray, dict[str, pa.Array]]:
    """(ok mask over ``lines``, the ParsedEvent columns of the ok lines: event_time, level, component, message)."""
    ok = np.asarray(pc.fill_null(pc.match_substring_regex(lines, OK_PATTERN), False), dtype=bool)
    rows = np.flatnonzero(ok)
    if not len(rows):
        return ok, {}
    parts = pc.extract_regex(lines.take(pa.array(rows)), OK_PATTERN)
    minutes = per_distinct(pc.struct_field(parts, [0]), _minute_us, np.int64)
    valid = minutes != -1
    if not valid.all():
        ok[rows[~valid]] = False
        parts, minutes = parts.filter(pa.array(valid)), minutes[valid]
        if not len(minutes):
            return ok, {}
    seconds = np.asarray(pc.cast(pc.struct_field(parts, [1]), pa.int64()))
    frac = pc.struct_field(parts, [2])  # "" when absent
    frac_us = np.asarray(pc.cast(pc.utf8_rpad(pc.if_else(pc.equal(frac, ""), "0", frac), 6, "0"), pa.int64()))
    columns = {
        "event_time": pa.array(minutes + seconds * SECOND + frac_us, pa.int64()),
        "level": pa.array(per_distinct(pc.struct_field(parts, [3]), normalize_level, object), pa.string()),
        "component": pc.struct_field(parts, [4]),
        "message": pc.struct_field(parts, [5]),
    }
    return ok, columns
