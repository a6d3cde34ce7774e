"""Declared header formats in the logparser convention, e.g.
``<Date> <Time> <Pid> <Level> <Component>: <Content>``.

:func:`compile_spec` follows logparser's ``generate_logformat_regex``: the spec is
split on ``<Field>`` tokens; the literal text between them is kept as regex text
(so ``\\[`` and ``\\(`` are literal brackets and ``( \\(<Address>\\))?`` stays an
optional group) with every run of spaces turned into ``\\s+``; each field becomes
``(?P<Field>.*?)`` (``Content`` is ``.*``) and the whole is anchored. Like logparser,
a line is matched after stripping surrounding whitespace, so ``Content`` equals the
``Content`` column of logparser's structured output.

Field names map onto columns case-insensitively: Date/Time/Timestamp/Day/Month/
Year -> event_time (their values joined with spaces, else the first one that
parses alone); Level/Severity -> level; Component/Logger/Module/Class/Process ->
component (first present in that order); Host/Hostname/Node/User -> host;
Service/App/Application -> service; Content/Message -> message. Other fields
(Pid, Tid, Id, ...) are ignored.

Example::

    >>> from aiops.parsing.spec import LineSpec
    >>> spec = LineSpec("<Date> <Time> <Pid> <Level> <Component>: <Content>")
    >>> f = spec.parse("081109 203615 148 INFO dfs.DataNode: Receiving block blk_1", 0)
    >>> f.time, f.level, f.component, f.message
    (1226262975000000, 'INFO', 'dfs.DataNode', 'Receiving block blk_1')
"""

from __future__ import annotations

import re

from aiops.parsing.fields import Fields
from aiops.parsing.levels import normalize_level
from aiops.parsing.timestamps import parse_any

_TIME = ("month", "date", "day", "year", "time", "timestamp", "datetime")
_LEVEL = ("level", "severity", "loglevel")
_COMPONENT = ("component", "logger", "module", "class", "process")
_HOST = ("host", "hostname", "node", "user")
_SERVICE = ("service", "app", "application")
_MESSAGE = ("content", "message", "msg")


def compile_spec(spec: str) -> tuple[list[str], re.Pattern[str]]:
    """The field names (in order) and the anchored regex of a header spec."""
    fields: list[str] = []
    regex = ""
    for i, piece in enumerate(re.split(r"(<[^<>]+>)", spec)):
        if i % 2 == 0:
            regex += re.sub(" +", r"\\s+", piece)
            continue
        name = piece[1:-1]
        group = re.sub(r"\W", "_", name)
        if not group or group[0].isdigit():
            group = "f_" + group
        while group in fields:  # repeated field names still need distinct groups
            group += "_"
        fields.append(group)
        regex += f"(?P<{group}>.*)" if name.lower() == "content" else f"(?P<{group}>.*?)"
    return fields, re.compile("^" + regex + "$", re.S)


def _first(fields: list[str], names: tuple[str, ...]) -> str | None:
    lowered = [f.lower() for f in fields]
    for name in names:
        if name in lowered:
            return fields[lowered.index(name)]
    return None


class LineSpec:
    """A compiled header spec: ``parse(line, ref_us)`` -> Fields, or None on mismatch."""

    def __init__(self, spec: str) -> None:
        self.spec = spec
        self.fields, self.regex = compile_spec(spec)
        self._time = [f for f in self.fields if f.lower() in _TIME]
        self._level = _first(self.fields, _LEVEL)
        self._component = _first(self.fields, _COMPONENT)
        self._host = _first(self.fields, _HOST)
        self._service = _first(self.fields, _SERVICE)
        self._message = _first(self.fields, _MESSAGE)
        # Which time strategy worked last (0 = all time fields joined, k = field k-1 alone):
        # lines of one file share a shape, so this is almost always right first time.
        self._strategy = 0

    def _time_of(self, m: re.Match[str], ref_us: int) -> int | None:
        values = [m.group(f) or "" for f in self._time]
        n = len(values)
        if n == 0:
            return None
        order = [self._strategy] + [k for k in range(n + 1 if n > 1 else 1) if k != self._strategy]
        for k in order:
            text = " ".join(values) if k == 0 else values[k - 1]
            t = parse_any(text, ref_us) if text else None
            if t is not None:
                self._strategy = k
                return t
        return None

    def parse(self, line: str, ref_us: int) -> Fields | None:
        m = self.regex.match(line.strip())
        if m is None:
            return None
        group = m.group
        level = normalize_level(group(self._level)) if self._level else None
        return Fields(
            self._time_of(m, ref_us),
            level,
            (group(self._service) or None) if self._service else None,
            (group(self._host) or None) if self._host else None,
            (group(self._component) or None) if self._component else None,
            (group(self._message) or "") if self._message else "",
        )
