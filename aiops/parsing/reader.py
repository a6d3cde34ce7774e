"""Turn the physical lines of one log file into ParsedEvents and DeadLetters.

:class:`LogParser` is fed the lines of ONE file in order. Each non-blank line
either starts an event, continues the pending one (stack traces, see
:mod:`aiops.parsing.multiline`), or is a dead letter (damaged bytes, invalid JSON,
or a line that does not match a declared header spec). Events are returned when
the next event starts or on :meth:`LogParser.finish`, so a feed usually returns 0
or 1 items. Accounting: event line counts + dead letter line counts +
``blank_lines`` == lines fed (blank lines are never part of an event).

Time: the record's own timestamp (``TIME_RECORD``), else that of the last
timestamped event before it in the file (``TIME_INHERITED``), else the file's
``reference_time_us`` (``TIME_FILE``).

Example::

    >>> from aiops.parsing.reader import LogParser, ParseConfig
    >>> p = LogParser("app/x.log", ParseConfig(default_service="app"))
    >>> lines = [b"2023-11-14 22:13:20,123 ERROR com.acme.Db: boom",
    ...          b"java.lang.IllegalStateException: closed", b"\\tat com.acme.Db.q(Db.java:7)"]
    >>> out = [item for n, raw in enumerate(lines, 1) for item in p.feed(raw, n)] + p.finish()
    >>> (out[0].line_count, out[0].level, out[0].event_time)
    (3, 'ERROR', 1700000000123000)
"""

from __future__ import annotations

from dataclasses import dataclass

from aiops.parsing.fields import Fields
from aiops.parsing.formats import CANDIDATES
from aiops.parsing.levels import infer_level
from aiops.parsing.multiline import is_continuation
from aiops.parsing.spec import LineSpec
from aiops.parsing.structured import InvalidJson
from aiops.schema import (
    MAX_DEAD_LETTER_BYTES,
    TIME_FILE,
    TIME_INHERITED,
    TIME_RECORD,
    DeadLetter,
    ParsedEvent,
)


@dataclass(frozen=True)
class ParseConfig:
    format: str = "auto"  # "auto" | "raw" | a logparser header SPEC
    default_service: str = "unknown"  # the input file's parent directory name
    reference_time_us: int = 0  # the file's mtime: time before any timestamp, and year inference
    max_line_bytes: int = 1 << 20  # longer physical lines are dead letters 'line_too_long'


_AUTO, _RAW, _SPEC = 0, 1, 2
_new = tuple.__new__


class LogParser:
    """Stateful parser for ONE input file, fed physical lines in order."""

    def __init__(self, source: str, config: ParseConfig) -> None:
        self.source = source
        self.config = config
        self.blank_lines = 0
        self._ref = config.reference_time_us
        self._max = config.max_line_bytes
        self._service = config.default_service
        self._last_time: int | None = None
        self._last_fn = None  # the auto-mode format that matched last: tried first
        # The event being built: [fields, line_no, line_count, time, time_source, extra lines or None]
        self._pending: list | None = None
        if config.format == "auto":
            self._mode = _AUTO
        elif config.format == "raw":
            self._mode = _RAW
        else:
            self._mode = _SPEC
            self._spec = LineSpec(config.format)

    def feed(self, raw: bytes, line_no: int) -> list[ParsedEvent | DeadLetter]:
        """Consume one physical line (without its newline); return the items completed by it."""
        if len(raw) > self._max:
            return self._dead(raw, line_no, "line_too_long")
        if b"\x00" in raw:
            return self._dead(raw, line_no, "nul_bytes")
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError:
            return self._dead(raw, line_no, "invalid_utf8")
        if not line or line.isspace():
            self.blank_lines += 1
            return []
        if line[-1] == "\r":  # tolerate callers that split on \n only
            line = line[:-1]
        pending = self._pending
        mode = self._mode
        if mode == _RAW:
            return self._start(Fields(None, None, None, None, None, line), line_no)
        first = line[0]
        if pending is not None and (first == " " or first == "\t"):
            return self._join(pending, line)
        if mode == _SPEC:
            fields = self._spec.parse(line, self._ref)
            if fields is not None:
                return self._start(fields, line_no)
            if pending is not None and is_continuation(line, pending[2]):
                return self._join(pending, line)
            return self._dead(raw, line_no, "format_mismatch")
        fields = None
        candidates = CANDIDATES.get(first)
        if candidates:
            last = self._last_fn
            try:
                if last is not None and last in candidates:
                    fields = last(line, self._ref)
                if fields is None:
                    for fn in candidates:
                        if fn is not last:
                            fields = fn(line, self._ref)
                            if fields is not None:
                                self._last_fn = fn
                                break
            except InvalidJson:
                return self._dead(raw, line_no, "invalid_json")
        if fields is None:
            if pending is not None and is_continuation(line, pending[2]):
                return self._join(pending, line)
            fields = Fields(None, None, None, None, None, line)
        return self._start(fields, line_no)

    def finish(self) -> list[ParsedEvent | DeadLetter]:
        """Flush the pending (possibly multi-line) event."""
        return self._flush()

    @staticmethod
    def _join(pending: list, line: str) -> list:
        pending[2] += 1
        if pending[5] is None:
            pending[5] = [line]
        else:
            pending[5].append(line)
        return []

    def _start(self, fields: Fields, line_no: int) -> list:
        out = self._flush()
        t = fields.time
        if t is not None:
            self._last_time = t
            source = TIME_RECORD
        elif self._last_time is not None:
            t, source = self._last_time, TIME_INHERITED
        else:
            t, source = self._ref, TIME_FILE
        self._pending = [fields, line_no, 1, t, source, None]
        return out

    def _flush(self) -> list:
        p = self._pending
        if p is None:
            return []
        self._pending = None
        f, line_no, count, t, source, extra = p
        message = f.message if extra is None else f.message + "\n" + "\n".join(extra)
        # tuple.__new__ skips the generated keyword-handling __new__ (hot path).
        _time, level, service, host, component, first, *http = f
        return [
            _new(ParsedEvent, (
                self.source, line_no, count, t, source, service or self._service, host,
                level or infer_level(first), component, message, *http,
            ))
        ]

    def _dead(self, raw: bytes, line_no: int, reason: str) -> list:
        # Damaged lines end the pending event: they are never joined into it.
        out = self._flush()
        t = self._last_time if self._last_time is not None else self._ref
        out.append(DeadLetter(self.source, line_no, 1, t, reason, raw[:MAX_DEAD_LETTER_BYTES], len(raw), ""))
        return out


def is_event_start(raw: bytes) -> bool:
    """True only when ``raw`` is certainly the first line of a new event in auto mode.

    That is: a recognised format with a timestamp, so a reader may split a big file
    just before it without cutting a multi-line event in two.
    """
    if not raw or b"\x00" in raw:
        return False
    try:
        line = raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    for fn in CANDIDATES.get(line[0], ()):
        try:
            fields = fn(line, 0)
        except InvalidJson:
            return False
        if fields is not None:
            return fields.time is not None
    return False
