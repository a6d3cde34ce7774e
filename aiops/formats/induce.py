"""Offline heuristic inducer: a header format for sample lines that no known format recognises.

Each line is scanned from the left into header fields -- a timestamp (whatever
``parse_any`` reads, plus ``22/11/2026 10:00:01``, ``Nov 22 2026 10:00:01`` and
``20261122T100001``), a level (:func:`aiops.parsing.levels.normalize_level`), a pid
(digits), a ``[bracketed]``/``(wrapped)``/``<angled>`` field, a ``name:`` or dotted
component, a plain word -- separated by spaces or ``| ; , - : >``; the header ends after the
last strong field (timestamp, level, component, wrapped field) and the rest is ``<Content>``.
The most common shapes, and their shorter prefixes, become candidate formats: a logparser
SPEC when ``parse_any`` reads the timestamp, and always a tighter regex with named groups
(the only option for the extra date shapes). Each candidate is scored on the sample with
:func:`aiops.formats.pattern.check_lines`; the one with the most fields among those that
pass is kept.

Example::

    >>> from aiops.formats.induce import induce
    >>> lines = [f"2026-11-22 10:00:{s:02d}.123 | WARN | billing.Invoice | invoice {s} overdue" for s in range(20)]
    >>> induce(lines, ref_us=0)
    ('spec', '<Date> <Time> \\\\| <Level> \\\\| <Component> \\\\| <Content>')
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Sequence
from typing import NamedTuple

from aiops.formats.pattern import ACCEPT_SHARE, LearnedFormat, PatternError, check_lines
from aiops.parsing.levels import normalize_level
from aiops.parsing.timestamps import MONTHS, parse_any

MAX_FIELDS = 8  # header fields scanned per line
TOP_SHAPES = 3  # most common shapes turned into candidates
MIN_SAMPLE_SHARE = 0.9  # a candidate must pass this share of the sample to be proposed

_CLOSE = {"[": "]", "(": ")", "<": ">", "{": "}"}
_SEP = re.compile(r"[ \t]*(?:(?:\||;|,|-{1,2}|:{1,2}|>{1,2})[ \t]*)?")
_TOKEN = re.compile(r"[^\s|;\[\](){}<>]+")
_WS_TOKEN = re.compile(r"[^\s|;]+")
_GAP = re.compile(r"[ \t]{1,3}")
_DOTTED = re.compile(r"[A-Za-z_$][\w$-]*(?:\.[\w$-]+)+")
_NAME = re.compile(r"[A-Za-z_$][\w.$/-]*")
# Host names say so, or are IPv4 addresses; other words (worker-1, billing) are not hosts.
_HOSTLIKE = re.compile(r"(?i)[a-z-]*(?:host|node|srv|server|ip|vm|pod)[\w.-]*|\d{1,3}(?:\.\d{1,3}){3}")
_PID = re.compile(r"(?i)(?:pid|tid|proc|thread)?[\s:=#]*\d+")
_TIME_RX = r"\d{1,2}:\d\d(?::\d\d)?(?:[.,]\d{1,9})?"
# Date shapes parse_any does not read; the regex for each names the parts (see pattern.py).
_NUM_DATE = re.compile(r"(\d{1,2})([/.-])(\d{1,2})\2(\d{4})[ T:]+" + _TIME_RX)
_MON_DATE = re.compile(r"([A-Za-z]{3})\.? +\d{1,2},? +\d{4},? +" + _TIME_RX)
_COMPACT = re.compile(r"\d{4}(?:0\d|1[0-2])[0-3]\d[T_-]?\d{6}(?:[.,]\d{1,9})?")
_STRONG = ("ts", "level", "comp")
_TS_NAMES = {1: ["Timestamp"], 2: ["Date", "Time"], 3: ["Month", "Day", "Time"],
             4: ["Month", "Day", "Time", "Year"], 5: ["Day", "Month", "Date", "Time", "Year"]}


class Item(NamedTuple):
    sep: str  # the separator before the field, runs of blanks as one space
    kind: str  # ts | level | pid | comp | tag | host | word
    wrap: str  # "" or the bracket pair around the field, e.g. "[]"
    detail: str  # ts: "anyK" (K blank-separated tokens) or "num<sep>" | "mon" | "compact"


Shape = tuple[tuple[Item, ...], str]  # header items, separator before the content


def _date_style(text: str) -> str | None:
    m = _NUM_DATE.fullmatch(text)
    if m:
        return "num" + m.group(2)
    m = _MON_DATE.fullmatch(text)
    if m and m.group(1).lower() in MONTHS:
        return "mon"
    return "compact" if _COMPACT.fullmatch(text) else None


def _time_style(text: str, ref_us: int) -> str | None:
    if parse_any(text, ref_us) is not None:
        return f"any{len(text.split())}"
    return _date_style(text)


def _timestamp_at(line: str, pos: int, ref_us: int) -> tuple[int, str] | None:
    """(end, detail) of the longest run of up to 5 tokens at ``pos`` that reads as a time."""
    ends: list[int] = []
    p = pos
    while len(ends) < 5:
        m = _WS_TOKEN.match(line, p)
        if m is None:
            break
        ends.append(m.end())
        gap = _GAP.match(line, m.end())
        if gap is None:
            break
        p = gap.end()
    for end in reversed(ends):
        text = line[pos:end].rstrip(",:")
        style = _time_style(text, ref_us)
        if style:
            return pos + len(text), style
    return None


def _wrapped(inner: str, ref_us: int, seen: set[str]) -> tuple[str, str]:
    s = inner.strip()
    if "ts" not in seen and s:
        style = _time_style(s, ref_us)
        if style:
            return "ts", style
    if "level" not in seen and s.isalpha() and normalize_level(s) is not None:
        return "level", ""
    return ("pid", "") if _PID.fullmatch(s) else ("tag", "")


def scan(line: str, ref_us: int) -> tuple[Shape, list[str]] | None:
    """The header shape of one line and the text of each header field; None without a time or level."""
    line = line.strip()
    items: list[Item] = []
    texts: list[str] = []
    ends: list[int] = []  # where each field ends in the line
    seen: set[str] = set()
    pos, n = 0, len(line)
    while pos < n and len(items) < MAX_FIELDS:
        sep_m = _SEP.match(line, pos)
        assert sep_m is not None  # every part is optional
        sep, start = _blanks(sep_m.group()), sep_m.end()
        if start >= n:
            break
        ch = line[start]
        close = line.find(_CLOSE[ch], start + 1) if ch in _CLOSE else -1
        if close > start:
            kind, detail = _wrapped(line[start + 1 : close], ref_us, seen)
            item, text, pos = Item(sep, kind, ch + _CLOSE[ch], detail), line[start + 1 : close], close + 1
        elif ch in _CLOSE:
            break
        else:
            ts = _timestamp_at(line, start, ref_us) if "ts" not in seen else None
            if ts is not None:
                item, text, pos = Item(sep, "ts", "", ts[1]), line[start : ts[0]], ts[0]
            else:
                m = _TOKEN.match(line, start)
                if m is None:
                    break
                text = m.group().rstrip(":")
                colon = m.group().endswith(":") and (m.end() == n or line[m.end()].isspace())
                item, pos = Item(sep, _token_kind(text, seen, colon), "", ""), start + len(text)
        items.append(item)
        texts.append(text)
        ends.append(pos)
        seen.add(item.kind)
        if item.kind == "comp" and line.startswith(":", pos):  # "name:" ends the header
            break
    # The header ends after its last strong field (or a column before "|"/";"); weak trailing
    # fields belong to the content.
    while items and items[-1].kind not in _STRONG and not items[-1].wrap and not _column_end(line, ends[-1]):
        items.pop()
        texts.pop()
        ends.pop()
    if not any(i.kind in ("ts", "level") for i in items):
        return None
    sep_m = _SEP.match(line, ends[-1])
    return (tuple(items), _blanks(sep_m.group()) if sep_m else ""), texts


def _column_end(line: str, end: int) -> bool:
    sep_m = _SEP.match(line, end)
    return sep_m is not None and ("|" in sep_m.group() or ";" in sep_m.group())


def _blanks(sep: str) -> str:
    return re.sub(r"[ \t]+", " ", sep)


def _token_kind(tok: str, seen: set[str], colon: bool) -> str:
    if "level" not in seen and tok.isalpha() and (len(tok) > 1 or tok.isupper()) and normalize_level(tok):
        return "level"
    if tok.isdigit():
        return "pid"
    if _DOTTED.fullmatch(tok) or (colon and _NAME.fullmatch(tok)):
        return "comp"
    return "host" if _HOSTLIKE.fullmatch(tok) else "word"


def _lit(sep: str) -> str:
    """Separator text as literal SPEC text (regex metacharacters escaped, spaces kept)."""
    return "".join("\\" + c if c in r".^$*+?{}[]\|()" else c for c in sep)


def _sep_rx(sep: str) -> str:
    core = sep.strip()
    if not sep:
        return ""
    return r"\s+" if not core else r"\s*" + re.escape(core) + r"\s*"


def _names(items: Sequence[Item]) -> list[str]:
    """A SPEC/group base name per field: the first of each role gets the role's name."""
    has_comp = any(i.kind == "comp" for i in items)
    out, used = [], set()
    for i, item in enumerate(items):
        role = {"level": "Level", "pid": "Pid", "comp": "Component", "host": "Host", "ts": "Time"}.get(item.kind)
        if item.kind in ("tag", "word") and not has_comp:
            role = "Component"
        if role is None or role in used:
            role = f"F{i}"
        used.add(role)
        out.append(role)
    return out


def to_spec(shape: Shape) -> str | None:
    """The SPEC for a shape, or None when its timestamp needs the regex's date parts."""
    items, content_sep = shape
    parts = []
    for item, name in zip(items, _names(items), strict=True):
        if item.kind == "ts":
            if not item.detail.startswith("any"):
                return None
            field = " ".join(f"<{n}>" for n in _TS_NAMES.get(int(item.detail[3:]), ["Timestamp"]))
        else:
            field = f"<{name}>"
        if item.wrap:
            field = _lit(item.wrap[0]) + field + _lit(item.wrap[1])
        parts.append(_lit(item.sep) + field)
    if not content_sep and not items[-1].wrap:  # a line with nothing after its header
        content_sep = " "
    return "".join(parts) + _lit(content_sep) + "<Content>"


def _ts_rx(item: Item, texts: list[str]) -> str:
    t = f"(?P<time>{_TIME_RX})"
    if item.detail.startswith("num"):
        sep = re.escape(item.detail[3:])
        pairs = [m.groups() for m in map(_NUM_DATE.match, texts) if m]
        month_first = not any(int(a) > 12 for a, _, _, _ in pairs) and any(int(b) > 12 for _, _, b, _ in pairs)
        first, second = ("month", "day") if month_first else ("day", "month")  # day first unless proven
        return rf"(?P<{first}>\d{{1,2}}){sep}(?P<{second}>\d{{1,2}}){sep}(?P<year>\d{{4}})[ T:]+" + t
    if item.detail == "mon":
        return r"(?P<month>[A-Za-z]{3})\.?\s+(?P<day>\d{1,2}),?\s+(?P<year>\d{4}),?\s+" + t
    if item.detail == "compact":
        return (r"(?P<year>\d{4})(?P<month>\d\d)(?P<day>\d\d)[T_-]?(?P<hour>\d\d)(?P<minute>\d\d)"
                r"(?P<second>\d\d)(?:[.,](?P<fraction>\d{1,9}))?")
    k = int(item.detail[3:])
    return r"(?P<ts>[^\s|;]+" + r"(?:\s+[^\s|;]+)" * (k - 1) + ")"


def to_regex(shape: Shape, texts: list[list[str]]) -> str:
    """A regex with named groups for a shape; ``texts[j]`` are the sample texts of field j."""
    items, content_sep = shape
    rx = ""
    for j, (item, name) in enumerate(zip(items, _names(items), strict=True)):
        group = {"Level": "level", "Component": "component", "Host": "host", "Pid": "pid"}.get(name, name.lower())
        if item.kind == "ts":
            body = _ts_rx(item, texts[j])
        elif item.wrap:
            body = rf"\s*(?P<{group}>[^{re.escape(item.wrap[1])}]*?)\s*"
        elif item.kind == "level":
            body = rf"(?P<{group}>[A-Za-z]+)"
        elif item.kind == "pid":
            body = rf"(?P<{group}>\d+)"
        else:
            body = rf"(?P<{group}>[^\s|;\[\](){{}}<>:]+)"
        if item.wrap:
            body = re.escape(item.wrap[0]) + body + re.escape(item.wrap[1])
        rx += _sep_rx(item.sep) + body
    if not content_sep and not items[-1].wrap:
        content_sep = " "
    return rx + "(?:" + _sep_rx(content_sep) + "(?P<message>.*))?$"


def sub_sep(items: Sequence[Item], j: int, content_sep: str) -> str:
    """The separator after the first ``j`` items of a shape."""
    return items[j].sep if j < len(items) else content_sep


def candidates(lines: Sequence[str], ref_us: int) -> list[tuple[str, str, int]]:
    """(kind, pattern, header fields) for the common shapes of ``lines`` and their prefixes."""
    counts: Counter[Shape] = Counter()
    texts: dict[Shape, list[list[str]]] = defaultdict(list)
    for line in lines:
        scanned = scan(line, ref_us)
        if scanned is not None:
            counts[scanned[0]] += 1
            texts[scanned[0]].append(scanned[1])
    out: dict[str, tuple[str, str, int]] = {}
    for shape, _ in counts.most_common(TOP_SHAPES):
        items, content_sep = shape
        columns = [list(col) for col in zip(*texts[shape], strict=True)]
        for j in range(len(items), 0, -1):
            if items[j - 1].kind not in _STRONG and not items[j - 1].wrap and "|" not in sub_sep(items, j, content_sep):
                continue
            prefix = items[:j]
            if not any(i.kind in ("ts", "level") for i in prefix):
                continue
            sub: Shape = (prefix, sub_sep(items, j, content_sep))
            spec = to_spec(sub)
            if spec is not None:
                out.setdefault(spec, ("spec", spec, j))
            regex = to_regex(sub, columns[:j])
            out.setdefault(regex, ("regex", regex, j))
    return list(out.values())


def induce(lines: Sequence[str], ref_us: int) -> tuple[str, str] | None:
    """(kind, pattern) of the best candidate for ``lines``, or None when none fits them."""
    best: tuple[tuple, tuple[str, str]] | None = None
    for kind, pattern, nfields in candidates(lines, ref_us):
        try:
            check = check_lines(LearnedFormat(kind, pattern), lines, ref_us)
        except PatternError:
            continue
        if not check.ordered or check.share < MIN_SAMPLE_SHARE:
            continue
        # Among candidates that pass, the most fields wins; a SPEC reads better than a regex.
        rank = (check.share >= ACCEPT_SHARE, nfields if check.share >= ACCEPT_SHARE else 0, check.share,
                kind == "spec")
        if best is None or rank > best[0]:
            best = (rank, (kind, pattern))
    return None if best is None else best[1]


__all__ = ["candidates", "induce", "scan", "to_regex", "to_spec"]
