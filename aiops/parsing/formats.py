"""Line formats recognised in auto mode: one small regex + function per format.

Each ``parse_*`` function takes a decoded line and the reference time (for syslog's
missing year) and returns :class:`Fields`, or None when the line is not in that
format. :data:`CANDIDATES` lists, per first character, the formats worth trying.

Conventions:

* Access logs (nginx/Apache common and combined, optional trailing ``$request_time``
  in seconds): message = ``<request line> <status> client=<client ip>``, e.g.
  ``GET /api/orders/123?x=1 HTTP/1.1 200 client=10.0.0.1`` (plus ``user=<u>`` when
  the authenticated user is not ``-``); referer and user agent are dropped.
  ``http_path`` has no query string; host is None (the client is not the host);
  level is ERROR for 5xx, WARN for 4xx, else INFO.
* Syslog: service and component = app-name/tag, host = hostname, level from the
  PRI severity (RFC 3164 without PRI: inferred from the message).
* Bracketed ``[ts] [LEVEL] [component] msg`` and generic ``ts [LEVEL] [thread]
  [logger: | logger -] msg``: the level token is optional; a logger must be dotted
  (``com.acme.Foo:``) or be followed by `` - `` so that ``Starting: x`` stays in
  the message.
* Generic timestamps also include compact ``yyMMdd HHmmss`` and year-less
  ``MM-dd HH:mm:ss.SSS`` (year inferred as for syslog). Numeric pid/tid columns
  before an uppercase level are skipped, and then ``tag: msg`` gives the component
  (``081109 203615 148 INFO dfs.DataNode: msg``); two such columns also allow a
  single-letter level (Android logcat ``pid tid D Tag: msg``). A thread name with
  spaces or nested brackets counts only before a dotted logger or `` - ``
  (``[IPC Server handler 0] org.x.Y: msg``, log4j ``- INFO  [q[id=1]/x@7] - msg``).
  A level padded with 2+ spaces followed by a ``Word`` and 2+ spaces is a level
  column then a component column (``2016-09-28 04:30:30, Info    CBS    msg``).

Example::

    >>> from aiops.parsing.formats import parse_generic
    >>> f = parse_generic("2023-11-14 22:13:20,123 WARN [main] com.acme.Db: slow query", 0)
    >>> f.time, f.level, f.component, f.message
    (1700000000123000, 'WARN', 'com.acme.Db', 'slow query')
"""

from __future__ import annotations

import re

from aiops.parsing.access import parse_access
from aiops.parsing.fields import Fields
from aiops.parsing.levels import SYSLOG_SEVERITY, normalize_level
from aiops.parsing.levels import _cache as _level_cache
from aiops.parsing.structured import parse_json, parse_logfmt
from aiops.parsing.timestamps import (
    DAY,
    ISO_PATTERN,
    MONTHS,
    SECOND,
    civil_us,
    fraction_us,
    parse_any,
    parse_epoch,
    parse_iso,
    with_inferred_year,
    year_of,
)

_LEVEL_WORDS = (
    r"(?i:TRACE|DEBUG|INFO|NOTICE|WARN(?:ING)?|ERROR|ERR|SEVERE|FATAL|CRIT(?:ICAL)?"
    r"|ALERT|EMERG|PANIC|FINE(?:R|ST)?|VERBOSE)"
)
_LOGGER = r"[A-Za-z_$][\w$-]*(?:\.[\w$-]+)+"  # dotted: com.acme.Foo, dfs.DataNode$PacketResponder
# What follows a timestamp: [- ] [pid/tid columns] [LEVEL|[LEVEL]] [[thread]] [component] message
_REST = (
    r"(?:-\s+)?"
    r"(?:(?P<pl>[A-Za-z_$][\w.$-]*)\s+-\s+(?=" + _LEVEL_WORDS + r"\s+-\s))?"  # Python "name - LEVEL - msg"
    # numeric pid/tid columns before an uppercase level; before a logcat V/D/I/W/E/F: pid AND tid
    r"(?:(?P<ids>\d+(?:\s+\d+)*)\s+(?=" + _LEVEL_WORDS.replace("(?i:", "(?:") + r"\s)"
    r"|(?P<ids2>\d+(?:\s+\d+)+)\s+(?=[VDIWEF]\s))?"
    r"(?:\[?(?P<lvl>" + _LEVEL_WORDS + r"|(?(ids2)[VDIWEF]|(?!)))\]?:?(?:\s+-)?(?:\s+|$))?"
    # [thread]; a name with spaces or nested brackets only before a dotted logger or " - "
    r"(?:\[(?P<thr>[^\]\s]*)\]:?\s+"
    r"|\[(?P<thr2>(?:[^\[\]]|\[[^\[\]]*\])+)\]:?\s+(?=-\s|" + _LOGGER + r"(?::|\s+-)\s))?"
    r"(?:-\s+"  # log4j "[%t] - %m"
    r"|(?P<lg>" + _LOGGER + r")(?::|\s+-)\s+|(?P<lg2>[A-Za-z_$][\w$-]*)\s+-\s+"
    r"|(?(ids)|(?(ids2)|(?!)))(?P<tag>[^\s:\[\]]+)\s*:(?:\s+|$)"  # after pid columns: "tag: msg" (logcat, HDFS)
    r"|(?(lvl)(?<=\s\s)(?P<col>[A-Za-z_$][\w.$-]*)\s\s+(?=\S)|(?!)))?"  # padded columns: "Info  CBS  msg"
    r"(?P<msg>.*)"
)
_GENERIC = re.compile(
    r"(?P<ts>" + ISO_PATTERN + r"|\d\d/\d\d/\d\d \d\d:\d\d:\d\d|\d{10}(?:\.\d{1,9})?|\d{13}"
    r"|\d{6} \d{6}|\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d{1,9})?),?(?:\s+|$)" + _REST,  # + yyMMdd HHmmss, MM-dd
    re.S,
)


def parse_generic(line: str, ref_us: int) -> Fields | None:
    """``timestamp [level] [[thread]] [logger:] message``."""
    m = _GENERIC.match(line)
    if m is None:
        return None
    ts, pl, _ids, _ids2, lvl, _thr, _thr2, lg, lg2, tag, col, msg = m.groups()
    if ts[4] in "-/.":
        t = parse_iso(ts)
    elif ts[2] in "/-" or ts[6] == " ":  # yy/MM/dd, MM-dd (year inferred), yyMMdd HHmmss
        t = parse_any(ts, ref_us)
    else:
        t = parse_epoch(ts)
    if t is None:
        return None
    if lvl:
        level = _level_cache.get(lvl)
        if level is None:
            level = normalize_level(lvl)
    else:
        level = None
    return _new(Fields, (t, level, None, None, pl or lg or lg2 or tag or col, msg,
                         None, None, None, None, None, None, None))


_new = tuple.__new__


_BRACKET = re.compile(r"\[([^\]]+)\]\s*" + _REST, re.S)


def parse_bracketed(line: str, ref_us: int) -> Fields | None:
    """``[ts] [LEVEL] [component] msg`` and Apache error logs ``[ctime] [level] msg``."""
    m = _BRACKET.match(line)
    if m is None:
        return None
    ts, pl, _ids, _ids2, lvl, thr, thr2, lg, lg2, tag, col, msg = m.groups()
    t = parse_any(ts, ref_us)
    if t is None:
        return None
    component = pl or lg or lg2 or tag or col or thr or thr2 or None
    return Fields(t, normalize_level(lvl) if lvl else None, None, None, component, msg)


_RFC5424 = re.compile(
    r"<(\d{1,3})>1 (\S+) (\S+) (\S+) (\S+) (\S+) "
    r'(-|(?:\[(?:[^\]"\\]|\\.|"(?:[^"\\]|\\.)*")*\])+)(?: (.*))?$',
    re.S,
)


def parse_syslog5424(line: str, ref_us: int) -> Fields | None:
    """RFC 5424: ``<PRI>1 TIMESTAMP HOST APP PROCID MSGID [SD] MSG``; SD is appended to the message."""
    m = _RFC5424.match(line)
    if m is None:
        return None
    pri, ts, host, app, _procid, _msgid, sd, msg = m.groups()
    t = None if ts == "-" else parse_any(ts, ref_us)
    if t is None and ts != "-":
        return None
    msg = (msg or "").removeprefix("\ufeff")
    if sd != "-":
        msg = f"{msg} {sd}" if msg else sd
    app = None if app == "-" else app
    return Fields(t, SYSLOG_SEVERITY[int(pri) & 7], app, None if host == "-" else host, app, msg)


_RFC3164 = re.compile(
    r"(?:<(\d{1,3})>)?([A-Z][a-z]{2} +\d\d? \d\d:\d\d):(\d\d)(?:\.(\d+))? (\S+) "
    r"(?:([^\s:\[\]]+)(?:\[[^\]\s]*\])?:(?: |$))?(.*)$",
    re.S,
)
# reference time -> {"Mon dd HH:MM": (µs in the reference year or None, µs a year before, fields)}
_Minute = tuple[int | None, int | None, tuple[int, int, int, int] | None]
_minutes_by_ref: dict[int, dict[str, _Minute]] = {}


def _syslog_minute(minute: str, ref_us: int) -> _Minute:
    cache = _minutes_by_ref.get(ref_us)
    if cache is None:
        if len(_minutes_by_ref) > 256:
            _minutes_by_ref.clear()
        _minutes_by_ref[ref_us] = cache = {}
    mon, d, hm = minute.split()
    month = MONTHS.get(mon.lower())
    if month is None:
        entry: _Minute = (None, None, None)
    else:
        day, h, mi = int(d), int(hm[:2]), int(hm[3:])
        year = year_of(ref_us)
        b0 = civil_us(year, month, day, h, mi, 0)
        entry = (b0, None if b0 is None else civil_us(year - 1, month, day, h, mi, 0), (month, day, h, mi))
    if len(cache) < 10_000:
        cache[minute] = entry
    return entry


def parse_syslog3164(line: str, ref_us: int) -> Fields | None:
    """RFC 3164 ``[<PRI>]Mon dd HH:MM:SS host tag[pid]: msg``; the year is inferred."""
    m = _RFC3164.match(line)
    if m is None:
        return None
    pri, minute, s, frac, host, tag, msg = m.groups()
    cache = _minutes_by_ref.get(ref_us)
    entry = cache.get(minute) if cache is not None else None
    b0, b1, args = entry or _syslog_minute(minute, ref_us)
    sec = int(s)
    t: int | None
    if b0 is not None and sec < 60:  # the common case: as with_inferred_year, from cached minutes
        off = sec * SECOND + (int((frac + "00000")[:6]) if frac else 0)
        t = b0 + off
        if t > ref_us + DAY:
            t = None if b1 is None else b1 + off
    elif args is None:
        return None
    else:
        t = with_inferred_year(*args, sec, fraction_us(frac), ref_us)
    if t is None:
        return None
    level = SYSLOG_SEVERITY[int(pri) & 7] if pri else None
    return _new(Fields, (t, level, tag, host, tag, msg, None, None, None, None, None, None, None))


def parse_syslog(line: str, ref_us: int) -> Fields | None:
    """Either syslog flavour, for lines starting with ``<PRI>``."""
    i = line.find(">")
    if line[i + 1 : i + 3] == "1 ":
        found = parse_syslog5424(line, ref_us)
        if found is not None:
            return found
    return parse_syslog3164(line, ref_us)


_DIGITS = (parse_generic, parse_access)
_LETTERS = (parse_syslog3164, parse_logfmt, parse_access)
# First character -> formats worth trying, most likely first.
CANDIDATES: dict[str, tuple] = {"{": (parse_json,), "<": (parse_syslog,), "[": (parse_bracketed,), ":": (parse_access,)}
CANDIDATES.update(dict.fromkeys("0123456789", _DIGITS))
CANDIDATES.update(dict.fromkeys("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_@", _LETTERS))
