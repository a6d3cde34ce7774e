"""Fast timestamp parsing to int microseconds since the epoch, UTC.

Regexes plus integer calendar arithmetic (no dateutil, no datetime objects on the
hot path). Offsets are honoured, naive times are UTC. Formats without a year
(syslog ``Oct 11 22:14:15``, Android ``03-17 16:13:38.811``) take the year of a
reference time, minus one if that would put them more than a day after it. There
is no wall clock here: the only clock is the record or the reference time.

Example::

    >>> from aiops.parsing.timestamps import parse_iso, parse_any
    >>> parse_iso("2023-11-14T22:13:20.123Z")
    1700000000123000
    >>> parse_any("Sun Dec 04 04:47:44 2005", 0)
    1133671664000000
"""

from __future__ import annotations

import re

SECOND = 1_000_000
DAY = 86_400 * SECOND

MONTHS = {m: i for i, m in enumerate(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1)}
_DAYS_IN_MONTH = (0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def days_from_civil(y: int, m: int, d: int) -> int:
    """Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm)."""
    y -= m <= 2
    era = y // 400
    yoe = y - era * 400
    doy = (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + d - 1
    return era * 146097 + yoe * 365 + yoe // 4 - yoe // 100 + doy - 719468


def year_of(us: int) -> int:
    """The UTC calendar year of a timestamp."""
    days = us // DAY + 719468
    era = days // 146097
    doe = days - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    return yoe + era * 400 + (mp >= 10)


def _leap(y: int) -> bool:
    return y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)


def civil_us(y: int, mo: int, d: int, h: int, mi: int, s: int, us: int = 0) -> int | None:
    """Microseconds of a UTC wall time, or None when a field is out of range."""
    if not (1 <= mo <= 12 and 1 <= d <= _DAYS_IN_MONTH[mo] and h < 24 and mi < 60 and s <= 60):
        return None
    if mo == 2 and d == 29 and not _leap(y):
        return None
    if s == 60:  # leap second: clamp rather than reject
        s = 59
    return days_from_civil(y, mo, d) * DAY + (h * 3600 + mi * 60 + s) * SECOND + us


def fraction_us(digits: str | None) -> int:
    """'123' -> 123000; nanosecond digits are truncated to microseconds."""
    if not digits:
        return 0
    return int((digits + "00000")[:6])


def offset_us(tz: str | None) -> int:
    """'+05:30' / '-0700' / 'Z' -> offset in microseconds (to subtract from local time)."""
    if not tz or tz in "Zz":
        return 0
    sign = -1 if tz[0] == "-" else 1
    digits = tz[1:].replace(":", "")
    minutes = int(digits[:2]) * 60 + (int(digits[2:4]) if len(digits) >= 4 else 0)
    return sign * minutes * 60 * SECOND


def with_inferred_year(mo: int, d: int, h: int, mi: int, s: int, us: int, ref_us: int) -> int | None:
    """A year-less wall time placed in the year of ``ref_us`` (or the one before)."""
    year = year_of(ref_us)
    t = civil_us(year, mo, d, h, mi, s, us)
    if t is None and mo == 2 and d == 29:  # Feb 29 can only belong to a leap year
        year -= 1
        while not _leap(year):
            year -= 1
        return civil_us(year, mo, d, h, mi, s, us)
    if t is not None and t > ref_us + DAY:
        t = civil_us(year - 1, mo, d, h, mi, s, us)
    return t


# ISO-8601 and its common relatives: '2024-01-02T10:00:00.123Z', '2024-01-02 10:00:00,123',
# '2024/01/02 10:00:00', BGL '2005-06-03-15.42.50.675872'. The first 19 characters are at
# fixed positions, so the hot path slices instead of using groups.
ISO_PATTERN = (
    r"\d{4}[-/.]\d\d[-/.]\d\d[T -]\d\d[:.]\d\d[:.]\d\d(?:[.,]\d{1,9})?(?:Z|[+-]\d\d(?::?\d\d)?)?"
)
_ISO = re.compile(ISO_PATTERN)
# Per-minute cache: consecutive lines mostly share their minute, and slicing plus a
# dict hit is several times cheaper than converting six integers.
_minute_cache: dict[str, int] = {}
_TAIL = re.compile(r"(?:[.,](\d+))?(.*)")
# Per-tail cache ('.302Z' -> fraction minus offset): millisecond tails repeat across seconds;
# microsecond tails rarely do, so the cache stays small (it is per process, for the job's life).
_tail_cache: dict[str, int] = {}
_TAIL_CACHE_MAX = 8_192


def parse_iso(s: str) -> int | None:
    """Parse a string matching ``ISO_PATTERN`` exactly; None if the fields are out of range."""
    key = s[:16]
    t = _minute_cache.get(key)
    try:
        if t is None:
            t = civil_us(int(s[:4]), int(s[5:7]), int(s[8:10]), int(s[11:13]), int(s[14:16]), 0)
            if t is None:
                return None
            if len(_minute_cache) > 100_000:
                _minute_cache.clear()
            _minute_cache[key] = t
        sec = int(s[17:19])
    except ValueError:
        return None
    if sec > 59:  # as civil_us: 60 is a leap second (clamped), more is invalid
        if sec > 60:
            return None
        sec = 59
    t += sec * SECOND
    if len(s) == 19:
        return t
    tail = s[19:]
    delta = _tail_cache.get(tail)
    if delta is None:
        m = _TAIL.match(tail)
        assert m is not None  # every group is optional: it always matches
        frac, tz = m.groups()
        delta = (int((frac + "00000")[:6]) if frac else 0) - (offset_us(tz) if tz else 0)
        if len(_tail_cache) > _TAIL_CACHE_MAX:
            _tail_cache.clear()
        _tail_cache[tail] = delta
    return t + delta


def parse_epoch(s: str) -> int | None:
    """Epoch seconds/millis/micros/nanos by magnitude: '1700000000', '1700000000.5', '1700000000123'."""
    try:
        if "." in s:
            return round(float(s) * SECOND) if len(s.split(".", 1)[0]) == 10 else None
        n = int(s)
    except ValueError:
        return None
    return epoch_number_us(n)


def epoch_number_us(n: int | float) -> int | None:
    """A JSON number as an epoch time; the unit is picked by magnitude (year ~2001..2286)."""
    a = abs(n)
    if 1e9 <= a < 1e10:
        return round(n * SECOND)
    if 1e12 <= a < 1e13:
        return round(n * 1000)
    if 1e15 <= a < 1e16:
        return int(n)
    if 1e18 <= a < 1e19:
        return int(n) // 1000
    return None


_T = r"(?P<h>\d\d?):(?P<mi>\d\d):(?P<s>\d\d)(?:[.,](?P<f>\d{1,9}))?"
_TZ = r"(?:\s*(?P<tz>Z|[+-]\d\d:?\d\d|UTC|GMT))?"
# Less common shapes, tried in order by parse_any (anchored full matches).
_SLOW = [
    re.compile(r"(?P<y2>\d\d)/(?P<mo>\d\d)/(?P<d>\d\d)\s+" + _T + _TZ),  # yy/MM/dd HH:mm:ss
    re.compile(r"(?P<y2>\d\d)(?P<mo>\d\d)(?P<d>\d\d)\s+(?P<h>\d\d)(?P<mi>\d\d)(?P<s>\d\d)"),  # yyMMdd HHmmss
    re.compile(r"(?P<mo>\d\d)-(?P<d>\d\d)\s+" + _T),  # MM-dd HH:mm:ss.SSS (no year)
    # [Weekday] Mon dd HH:mm:ss[.f] [yyyy]: syslog, ctime, Apache error log.
    re.compile(r"(?:[A-Za-z]{3},?\s+)?(?P<mon>[A-Za-z]{3})\s+(?P<d>\d\d?)\s+" + _T + r"(?:\s+(?P<y>\d{4}))?" + _TZ),
    re.compile(r"(?P<d>\d\d?)/(?P<mon>[A-Za-z]{3})/(?P<y>\d{4}):" + _T + _TZ),  # CLF 10/Oct/2000:13:55:36 -0700
    re.compile(r"(?P<d>\d\d?)[- ](?P<mon>[A-Za-z]{3})[- ](?P<y>\d{4})[ T:]" + _T + _TZ),  # 02-Jan-2024 10:00:00
]
_EPOCH = re.compile(r"\d{10}(?:\.\d{1,9})?|\d{13}|\d{16}|\d{19}")


def _from_groups(g: dict, ref_us: int) -> int | None:
    mon = g.get("mon")
    if mon is not None:
        mo = MONTHS.get(mon.lower())
        if mo is None:
            return None
    else:
        mo = int(g["mo"])
    d, h, mi, s = int(g["d"]), int(g["h"]), int(g["mi"]), int(g["s"])
    us = fraction_us(g.get("f"))
    if g.get("y"):
        y = int(g["y"])
    elif g.get("y2"):
        y2 = int(g["y2"])
        y = 2000 + y2 if y2 < 70 else 1900 + y2
    else:
        return with_inferred_year(mo, d, h, mi, s, us, ref_us)
    t = civil_us(y, mo, d, h, mi, s, us)
    tz = g.get("tz")
    if t is not None and tz and tz not in ("UTC", "GMT"):
        t -= offset_us(tz)
    return t


def parse_any(s: str, ref_us: int) -> int | None:
    """Parse any supported timestamp shape (whole string); None when it is not a time."""
    s = s.strip()
    if _ISO.fullmatch(s):
        return parse_iso(s)
    if _EPOCH.fullmatch(s):
        return parse_epoch(s)
    for rx in _SLOW:
        m = rx.fullmatch(s)
        if m:
            return _from_groups(m.groupdict(), ref_us)
    return None
