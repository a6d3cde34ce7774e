"""Vectorised access-log parsing: the fast path for blocks of lines in auto mode.

:func:`parse_access` parses one line in ~3 µs of Python, and building the event
around it costs as much again. Access logs are often the biggest files of a
night, so :func:`access_columns` parses a whole block of lines with Arrow
compute kernels instead. It only accepts lines whose outcome it can guarantee to
be exactly the per-line one (``tests/test_parse_blocks.py`` checks this
differentially): the common shape with an IPv4 (or 4-hex-digit IPv6) client,
a ``dd/Mon/yyyy:HH:MM:SS ±hhmm`` time, a ``METHOD target PROTOCOL`` request
without backslashes, an optional referer/agent pair and an optional request time.
Every other line (escapes, odd requests, invalid dates, NUL bytes...) is left to
the per-line parser, so the fast path changes speed, never results.

Example::

    >>> import pyarrow as pa
    >>> ok, cols = access_columns(pa.array([
    ...     '10.0.0.1 - - [14/Nov/2023:22:13:20 +0000] "GET /a?x=1 HTTP/1.1" 200 5 "-" "curl" 0.052',
    ...     'not an access line']))
    >>> ok.tolist(), cols["message"].to_pylist(), cols["event_time"].to_pylist(), cols["latency_ms"].to_pylist()
    ([True, False], ['GET /a?x=1 HTTP/1.1 200 client=10.0.0.1'], [1700000000000000], [52.0])
"""

from __future__ import annotations

import re

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from aiops.parsing.access import _minute_us, _offset
from aiops.parsing.timestamps import SECOND
from aiops.parsing.vector import per_distinct, shape_test

_MONTHS = "Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec"
# Clients that no other auto-mode format can read as a timestamp or a key=value pair.
_CLIENT = r"(?:\d{1,3}(?:\.\d{1,3}){3}|\d[0-9a-fA-F]{3}:[0-9a-fA-F:.]*)"
# Tokens split on single spaces: client ident user [dd/Mon/yyyy:HH:MM:SS ±hhmm] "M target proto" status size ...
OK_PATTERN = (
    r"^" + _CLIENT + r" [!-~]+ [!-~]+ \[\d\d/(?:" + _MONTHS + r")/\d{4}:\d\d:\d\d:[0-5]\d [+-]\d{4}\] "
    r'"[A-Z]+ [^ "\\\x00]+ [^ "\\\x00]+" \d{3} (?:\d+|-)(?: "[^"\\\x00]*" "[^"\\\x00]*")?(?: \d+\.\d+)?$'
)
OK_RE = re.compile(OK_PATTERN)
# Would the vectorised path take this line? (its shape; the date is checked later)
is_fast_line = shape_test(OK_RE)


_LATENCY = r" (?P<s>\d+\.\d+)$"
_LEVELS = pa.array(["INFO", "INFO", "INFO", "INFO", "WARN", "ERROR", "ERROR", "ERROR", "ERROR", "ERROR"])


def _token(parts: pa.ListArray, i: int) -> pa.Array:
    """The i-th token of every row (every row has more than i tokens)."""
    offsets = np.asarray(parts.offsets)[:-1]
    return parts.flatten().take(pa.array(offsets + i))


def access_columns(lines: pa.StringArray) -> tuple[np.ndarray, dict[str, pa.Array]]:
    """(ok mask over ``lines``, the ParsedEvent columns of the ok lines in order).

    Columns: event_time (int64 µs UTC), level, message, http_method, http_path,
    http_status, response_bytes, latency_ms.
    """
    ok = np.asarray(pc.fill_null(pc.match_substring_regex(lines, OK_PATTERN), False), dtype=bool)
    rows = np.flatnonzero(ok)
    if not len(rows):
        return ok, {}
    sub = lines.take(pa.array(rows))
    parts = pc.split_pattern(sub, " ", max_splits=10)
    stamp = _token(parts, 3)  # "[dd/Mon/yyyy:HH:MM:SS"
    minutes = per_distinct(pc.utf8_slice_codeunits(stamp, 1, 18), _minute_us, np.int64)
    valid = minutes != -1  # _minute_us returns -1 for an impossible date (31/Feb): per-line it is no access line
    if not valid.all():
        ok[rows[~valid]] = False
        keep = pa.array(valid)
        rows, sub, parts, stamp, minutes = rows[valid], sub.filter(keep), parts.filter(keep), stamp.filter(keep), minutes[valid]
        if not len(rows):
            return ok, {}
    seconds = np.asarray(pc.cast(pc.utf8_slice_codeunits(stamp, 19, 21), pa.int64()))
    offsets = per_distinct(pc.utf8_slice_codeunits(_token(parts, 4), 0, 5), _offset, np.int64)
    event_time = minutes + seconds * SECOND - offsets
    client, user = _token(parts, 0), _token(parts, 2)
    method = pc.utf8_slice_codeunits(_token(parts, 5), 1, 1 << 30)
    target = _token(parts, 6)
    proto = _token(parts, 7)
    status = _token(parts, 8)
    size = _token(parts, 9)
    request = pc.binary_join_element_wise(method, target, pc.utf8_slice_codeunits(proto, 0, -1), " ")
    # "<request> <status> client=<client>[ user=<user>]"
    with_user = pc.not_equal(user, "-")
    suffix = pc.if_else(with_user, pc.binary_join_element_wise(" user=", user, ""), "")
    message = pc.binary_join_element_wise(request, " ", status, " client=", client, suffix, "")
    status_int = pc.cast(status, pa.int64())
    first_digit = pc.cast(pc.utf8_slice_codeunits(status, 0, 1), pa.int64())
    latency = pc.struct_field(pc.extract_regex(sub, _LATENCY), [0])
    columns = {
        "event_time": pa.array(event_time, pa.int64()),
        "level": _LEVELS.take(first_digit),
        "message": message,
        "http_method": method,
        "http_path": pc.replace_substring_regex(target, r"\?.*$", ""),
        "http_status": status_int,
        "response_bytes": pc.cast(pc.if_else(pc.equal(size, "-"), pa.scalar(None, pa.string()), size), pa.int64()),
        "latency_ms": pc.multiply(pc.cast(latency, pa.float64()), 1000.0),
    }
    return ok, columns
