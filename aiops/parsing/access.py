"""nginx/Apache access logs (common and combined, optional trailing ``$request_time``).

message = ``<request line> <status> client=<client ip>`` (plus ``user=<u>`` when the
authenticated user is not ``-``); referer and user agent are dropped. ``http_path``
has no query string; host is None; level is ERROR for 5xx, WARN for 4xx, else INFO.

The common line (no backslash escapes) is parsed by a short head regex plus
``str.find`` for the quoted referer/agent pair; anything unusual takes the full
regex, which defines the format.

Example::

    >>> from aiops.parsing.access import parse_access
    >>> f = parse_access('10.0.0.1 - - [14/Nov/2023:22:13:20 +0000] "GET /a?x=1 HTTP/1.1" 200 5 "-" "curl" 0.052', 0)
    >>> f.time, f.level, f.message, f.http_path, f.latency_ms
    (1700000000000000, 'INFO', 'GET /a?x=1 HTTP/1.1 200 client=10.0.0.1', '/a', 52.0)
"""

from __future__ import annotations

import re

from aiops.parsing.fields import Fields
from aiops.parsing.timestamps import MONTHS, SECOND, civil_us, fraction_us, offset_us

_Q = r'"([^"\\]*(?:\\.[^"\\]*)*)"'  # a quoted string with backslash escapes (no backtracking)
_Q0 = r'"[^"\\]*(?:\\.[^"\\]*)*"'
_HEAD = (
    r"(\S+) \S+ (\S+) \[(\d\d?/[A-Za-z]{3}/\d{4}:\d\d:\d\d):(\d\d)(?:\.(\d+))?(?: ([+-]\d{4}))?\] "
    + _Q + r" (\d{3}) (\d+|-)"
)
_ACCESS_HEAD = re.compile(_HEAD)
_ACCESS = re.compile(_HEAD + r"(?: " + _Q0 + " " + _Q0 + r")?(.*)$")
_REQUEST_TIME = re.compile(r"\s(\d+\.\d+)\s*$")
_REQUEST_TIME_ONLY = re.compile(r"\s(\d+\.\d+)")

_new = tuple.__new__
_INVALID = -1  # cached "this minute is not a valid date"
# "dd/Mon/yyyy:HH:MM" -> microseconds of that minute (consecutive lines share it).
_minute_cache: dict[str, int] = {}


def _minute_us(key: str) -> int:
    d, mon, rest = key.split("/")
    month = MONTHS.get(mon.lower())
    t = civil_us(int(rest[:4]), month, int(d), int(rest[5:7]), int(rest[8:10]), 0) if month else None
    if len(_minute_cache) > 100_000:
        _minute_cache.clear()
    _minute_cache[key] = t = _INVALID if t is None else t
    return t


def _offset(tz: str) -> int:
    _tz_cache[tz] = off = offset_us(tz)
    return off


_tz_cache: dict[str, int] = {}
# Status code first digit -> level.
_LEVEL = {**dict.fromkeys("0123", "INFO"), "4": "WARN", **dict.fromkeys("56789", "ERROR")}


def parse_access(line: str, ref_us: int) -> Fields | None:
    """nginx/Apache access log, common or combined, optional trailing request time (s)."""
    if "\\" in line or "\n" in line:
        m = _ACCESS.match(line)
        if m is None:
            return None
        client, user, minute, sec, frac, tz, request, status, size, tail = m.groups()
    else:
        m = _ACCESS_HEAD.match(line)
        if m is None:
            return None
        client, user, minute, sec, frac, tz, request, status, size = m.groups()
        pos = m.end()
        tail = line[pos:]
        if tail[:2] == ' "':  # the optional ' "referer" "agent"' pair (no escapes here)
            j = line.find('"', pos + 2)
            if j >= 0 and line[j + 1 : j + 3] == ' "':
                k = line.find('"', j + 3)
                if k >= 0:
                    tail = line[k + 1 :]
    t = _minute_cache.get(minute)
    if t is None:
        t = _minute_us(minute)
    if t == _INVALID or sec > "60":
        return None
    t += (59 if sec == "60" else int(sec)) * SECOND  # leap second: clamped, as civil_us does
    if frac:
        t += fraction_us(frac)
    if tz is not None:
        off = _tz_cache.get(tz)
        t -= _offset(tz) if off is None else off
    method = path = None
    parts = request.split(" ")
    if len(parts) == 3:
        method = parts[0]
        if method.isalpha() and method.isupper():
            path = parts[1].split("?", 1)[0]
        else:
            method = None
    latency = None
    if tail:
        rt = _REQUEST_TIME_ONLY.fullmatch(tail) or _REQUEST_TIME.search(" " + tail)
        if rt is not None:
            latency = float(rt.group(1)) * 1000.0
    return _new(Fields, (
        t, _LEVEL[status[0]], None, None, None,
        f"{request} {status} client={client}" if user == "-" else f"{request} {status} client={client} user={user}",
        method, path, int(status), None if size == "-" else int(size), latency, None, None,
    ))
