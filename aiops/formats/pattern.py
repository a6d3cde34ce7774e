"""A learnt format compiled into a line parser, and the check that decides whether to trust it.

Two kinds of pattern:

* ``spec``: a logparser header SPEC, compiled exactly as ``--format SPEC``
  (:func:`aiops.parsing.spec.compile_spec`; the line is stripped first).
* ``regex``: a Python regex with named groups, matched at the start of the line. Group
  names (case-insensitive): ``ts``/``timestamp``/``datetime``/``date``/``time`` (their
  values joined with spaces, else each alone, go through ``parse_any``), or the parts
  ``year`` (optional: inferred as for syslog), ``month`` (number or name), ``day`` plus
  ``time`` (``HH:MM[:SS][.fff]``) or ``hour``/``minute``/``second``/``fraction`` -- for
  dates ``parse_any`` does not read, such as ``22/11/2026``; ``level``/``severity``;
  ``component``/``logger``/``module``/``class``/``process``; ``host``/``hostname``/``node``;
  ``service``/``app``; ``message``/``msg``/``content`` (default: the rest of the line).
  Other groups (``pid``, ``thread``, ...) are ignored.

:func:`check_lines` is the acceptance test (see :data:`ACCEPT_SHARE`): a line passes when it
matches, its time parses and lies within :data:`MAX_SPREAD_US` of the median time, and its
level is normalisable or absent; and the passing times must be mostly non-decreasing. A
format with no time field passes a line only when it gives a normalisable level.

Example::

    >>> from aiops.formats.pattern import LearnedFormat, check_lines
    >>> fmt = LearnedFormat("regex", r"\\[pid \\d+\\] (?P<day>\\d\\d)/(?P<month>\\d\\d)/(?P<year>\\d{4}) "
    ...                     r"(?P<time>\\S+) (?P<level>\\w+): (?P<message>.*)")
    >>> f = fmt.parse("[pid 42] 14/11/2023 22:13:20 ERROR: disk full", 0)
    >>> f.time, f.level, f.message
    (1700000000000000, 'ERROR', 'disk full')
    >>> check_lines(fmt, ["[pid 42] 14/11/2023 22:13:20 ERROR: disk full"], 0).share
    1.0
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from aiops.parsing.fields import Fields
from aiops.parsing.levels import normalize_level
from aiops.parsing.spec import compile_spec
from aiops.parsing.timestamps import MONTHS, SECOND, civil_us, fraction_us, parse_any, with_inferred_year

ACCEPT_SHARE = 0.95  # share of checked lines that must pass
MAX_SPREAD_US = 45 * 86_400 * SECOND  # a time further than this from the median is not sensible
MAX_DECREASING = 0.10  # share of consecutive passing times allowed to go back ...
BACKWARDS_SLACK_US = SECOND  # ... by more than this (threads interleave a little)
MAX_REGEX_CHARS = 2_000
_new = tuple.__new__

_TIME = ("ts", "timestamp", "datetime", "date", "month", "day", "year", "time", "hour", "minute", "second",
         "fraction")
_PARTS = ("year", "month", "day", "time", "hour", "minute", "second", "fraction")
_ROLES = {
    "level": ("level", "severity", "loglevel"),
    "component": ("component", "logger", "module", "class", "process"),
    "host": ("host", "hostname", "node", "user"),
    "service": ("service", "app", "application"),
    "message": ("message", "msg", "content"),
}
_CLOCK = re.compile(r"(\d{1,2}):(\d\d)(?::(\d\d))?(?:[.,](\d{1,9}))?$")
# (x+)+, (x*)*, (x+)* ...: nested quantifiers can backtrack catastrophically on a long line.
_NESTED_QUANTIFIER = re.compile(r"[+*}]\)[+*{]")


class PatternError(ValueError):
    """The pattern does not compile or is not usable as a line format."""


def _first(names: list[str], wanted: tuple[str, ...]) -> str | None:
    lowered = {n.lower().rstrip("_"): n for n in reversed(names)}
    for w in wanted:
        if w in lowered:
            return lowered[w]
    return None


class LearnedFormat:
    """``parse(line, ref_us) -> Fields | None``: the reader's fast path for a learnt source."""

    def __init__(self, kind: str, pattern: str) -> None:
        self.kind, self.pattern = kind, pattern
        try:
            if kind == "spec":
                names, self.regex = compile_spec(pattern)
            elif kind == "regex":
                self.regex = re.compile(pattern, re.S)
                names = list(self.regex.groupindex)
            else:
                raise PatternError(f"unknown format kind {kind!r}")
            # A SPEC's literal text is regex too; both may come from a model.
            if len(self.regex.pattern) > MAX_REGEX_CHARS or _NESTED_QUANTIFIER.search(self.regex.pattern):
                raise PatternError(f"{kind} too long or with nested quantifiers (slow on long lines)")
        except re.error as e:
            raise PatternError(f"{kind} does not compile: {e}") from e
        self._strip = kind == "spec"
        self.time_fields = [n for n in names if n.lower().rstrip("_") in _TIME]
        parts = {n.lower(): n for n in names if n.lower() in _PARTS}
        self._parts = parts if "day" in parts and "month" in parts else None
        self.level_field = _first(names, _ROLES["level"])
        self._component = _first(names, _ROLES["component"])
        self._host = _first(names, _ROLES["host"])
        self._service = _first(names, _ROLES["service"])
        self._message = _first(names, _ROLES["message"])
        if kind == "regex" and not (self.time_fields or self.level_field):
            raise PatternError("regex has no time or level group")
        self._strategy = 0  # which time strategy worked last: lines of one file share a shape
        self._single = self.time_fields[0] if len(self.time_fields) == 1 else None
        self._midnights: dict[tuple[str, str, str], int | None] = {}  # (year, month, day) -> µs

    def match(self, line: str) -> re.Match[str] | None:
        return self.regex.match(line.strip() if self._strip else line)

    def parse(self, line: str, ref_us: int) -> Fields | None:
        m = self.regex.match(line.strip() if self._strip else line)
        if m is None:
            return None
        return self.fields(m, ref_us)

    def fields(self, m: re.Match[str], ref_us: int) -> Fields:
        group = m.group
        level = normalize_level(group(self.level_field)) if self.level_field else None
        if self._message:
            message = group(self._message) or ""
        else:
            message = m.string[m.end():].lstrip()
        # tuple.__new__ skips the NamedTuple's keyword handling: this runs once per line.
        return _new(Fields, (
            self.time_of(m, ref_us) if self.time_fields else None,
            level,
            (group(self._service) or None) if self._service else None,
            (group(self._host) or None) if self._host else None,
            (group(self._component) or None) if self._component else None,
            message, None, None, None, None, None, None, None,
        ))

    def time_of(self, m: re.Match[str], ref_us: int) -> int | None:
        # Fast paths for the strategy that worked last (lines of one file share a shape).
        if self._strategy == 0:
            if self._single:
                text = m.group(self._single)
            else:
                parts = m.group(*self.time_fields)
                text = None if None in parts else " ".join(parts)
            t = parse_any(text, ref_us) if text else None
            if t is not None:
                return t
        elif self._strategy == len(self.time_fields) + 1:
            t = self._parts_time(m, ref_us)
            if t is not None:
                return t
        values = [m.group(f) or "" for f in self.time_fields]
        n = len(values)
        # Strategies: 0 = all values joined, 1..n = each value alone, n+1 = the date parts.
        order = [self._strategy, *(k for k in range(n + 2) if k != self._strategy)]
        for k in order:
            if k == 0:
                text = " ".join(v for v in values if v)
                t = parse_any(text, ref_us) if text else None
            elif k <= n:
                if n == 1:  # the same as strategy 0
                    continue
                t = parse_any(values[k - 1], ref_us) if values[k - 1] else None
            else:
                t = self._parts_time(m, ref_us)
            if t is not None:
                self._strategy = k
                return t
        return None

    def _parts_time(self, m: re.Match[str], ref_us: int) -> int | None:
        p = self._parts
        if p is None:
            return None
        if "time" in p and "year" in p:  # the common case: a cached midnight plus the clock
            key = (m.group(p["year"]) or "", m.group(p["month"]) or "", m.group(p["day"]) or "")
            midnight = self._midnights.get(key, -1)
            if midnight == -1:
                day = {"year": key[0].strip(), "month": key[1].strip(), "day": key[2].strip(), "time": "0:00"}
                midnight = self._parts_slow(day, ref_us)
                if len(self._midnights) < 10_000:
                    self._midnights[key] = midnight
            c = _CLOCK.match(m.group(p["time"]) or "")
            if midnight is None or c is None:
                return None
            h, mi, sec = int(c[1]), int(c[2]), int(c[3] or 0)
            if h > 23 or mi > 59 or sec > 60:
                return None
            return midnight + (h * 3600 + mi * 60 + min(sec, 59)) * SECOND + fraction_us(c[4])
        return self._parts_slow({k: (m.group(v) or "").strip() for k, v in p.items()}, ref_us)

    def _parts_slow(self, g: dict[str, str], ref_us: int) -> int | None:
        mon = g["month"]
        month = int(mon) if mon.isdigit() else MONTHS.get(mon[:3].lower())
        if month is None or not g["day"].isdigit():
            return None
        if g.get("time"):
            c = _CLOCK.match(g["time"])
            if c is None:
                return None
            h, mi, s, frac = int(c[1]), int(c[2]), int(c[3] or 0), c[4]
        elif g.get("hour", "").isdigit():
            h, mi, s, frac = int(g["hour"]), int(g.get("minute") or 0), int(g.get("second") or 0), g.get("fraction")
        else:
            return None
        year = g.get("year", "")
        if not year:
            return with_inferred_year(month, int(g["day"]), h, mi, s, fraction_us(frac), ref_us)
        if not year.isdigit():
            return None
        y = int(year) if len(year) == 4 else 2000 + int(year)
        return civil_us(y, month, int(g["day"]), h, mi, s, fraction_us(frac))


def compile_format(kind: str, pattern: str) -> Callable[[str, int], Fields | None]:
    """The line parser for a library entry (raises :class:`PatternError`)."""
    return LearnedFormat(kind, pattern).parse


@dataclass(frozen=True)
class Check:
    total: int  # lines checked
    matched: int  # lines the pattern matched
    passed: int  # matched with a sensible time and a normalisable or absent level
    ordered: bool  # passing times mostly non-decreasing

    @property
    def share(self) -> float:
        return self.passed / self.total if self.total else 0.0

    @property
    def accepted(self) -> bool:
        return self.total > 0 and self.ordered and self.share >= ACCEPT_SHARE


def check_lines(fmt: LearnedFormat, lines: Sequence[str], ref_us: int) -> Check:
    """How well ``fmt`` parses ``lines`` (in file order); see the module docstring for the rules."""
    matched = 0
    candidates: list[int | None] = []  # per matched-with-good-level line: its time (None: no time field)
    for line in lines:
        m = fmt.match(line)
        if m is None:
            continue
        matched += 1
        if fmt.level_field:
            raw = (m.group(fmt.level_field) or "").strip()
            if raw and normalize_level(raw) is None:
                continue
            if not raw and not fmt.time_fields:
                continue
        if fmt.time_fields:
            t = fmt.time_of(m, ref_us)
            if t is None:
                continue
            candidates.append(t)
        else:
            candidates.append(None)
    if not fmt.time_fields:
        return Check(len(lines), matched, len(candidates), True)
    times = sorted(t for t in candidates if t is not None)
    if not times:
        return Check(len(lines), matched, 0, False)
    median = times[len(times) // 2]
    sensible = [t for t in candidates if t is not None and abs(t - median) <= MAX_SPREAD_US]
    back = sum(1 for a, b in zip(sensible, sensible[1:], strict=False) if b < a - BACKWARDS_SLACK_US)
    ordered = back <= MAX_DECREASING * max(1, len(sensible) - 1)
    return Check(len(lines), matched, len(sensible), ordered)


__all__ = ["ACCEPT_SHARE", "Check", "LearnedFormat", "PatternError", "check_lines", "compile_format"]
