"""Turn the physical lines of one log file into ParsedEvents and DeadLetters.

:class:`LogParser` is fed the lines of ONE file in order. Each non-blank line
either starts an event, continues the pending one (stack traces, see
:mod:`aiops.parsing.multiline`), or is a dead letter (damaged bytes, invalid JSON,
or a line that does not match a declared header spec). Events are returned when
the next event starts or on :meth:`LogParser.finish`, so a feed usually returns 0
or 1 items. Accounting: event line counts + dead letter line counts +
``blank_lines`` == lines fed (blank lines are never part of an event).

Learnt formats: with ``format="auto"`` and ``ParseConfig.learned`` (a line parser compiled
from a pattern-library entry, see :mod:`aiops.formats`), each line is tried against the
learnt format first; lines it does not match go through auto-detection as usual.

Fallbacks: in auto mode a line no format recognises (and that is not a continuation)
becomes an event whose message is the whole line. The parser counts them
(``fallback_lines``) and keeps the first ``ParseConfig.sample_fallbacks`` of them
(``fallback_sample``) so the caller can learn their format. Only that branch does this work.

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

from collections.abc import Callable
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
    TimestampUs,
)


@dataclass(frozen=True)
class ParseConfig:
    format: str = "auto"  # "auto" | "raw" | a logparser header SPEC
    default_service: str = "unknown"  # the input file's parent directory name
    reference_time_us: int = 0  # the file's mtime: time before any timestamp, and year inference
    max_line_bytes: int = 1 << 20  # longer physical lines are dead letters 'line_too_long'
    # format "auto" only: a learnt format for this file's source, tried before auto-detection
    learned: Callable[[str, int], Fields | None] | None = None
    sample_fallbacks: int = 0  # keep this many lines that fell back to "whole line = message"


_AUTO, _RAW, _SPEC, _LEARNED = 0, 1, 2, 3
_FALLBACK_TAIL = (None,) * 7  # the Fields after ``message`` of a line no format recognised
_new = tuple.__new__
_PE = ParsedEvent
_DEFAULT_ORDER = dict(CANDIDATES)
_ORDERS: dict = {}  # format function -> the candidate order with it first (shared, never mutated)


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
        # Auto mode: per first character, the formats to try; the one that matched
        # last comes first (one file is usually one format).
        self._order = _DEFAULT_ORDER
        # The event being built, already as a ParsedEvent with line_count 1, and its
        # continuation lines (None while it is a single line).
        self._event: ParsedEvent | None = None
        self._extra: list[str] | None = None
        self.fallback_lines = 0
        self.fallback_sample: list[str] = []
        self._sample_left = config.sample_fallbacks
        if config.format == "auto" and config.learned is not None:
            self._mode = _LEARNED
            self._learned = config.learned
        elif config.format == "auto":
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
        if 0 in raw:
            return self._dead(raw, line_no, "nul_bytes")
        try:
            line = raw.decode()
        except UnicodeDecodeError:
            return self._dead(raw, line_no, "invalid_utf8")
        if not line or line.isspace():
            self.blank_lines += 1
            return []
        if line[-1] == "\r":  # tolerate callers that split on \n only
            line = line[:-1]
        mode = self._mode
        if mode == _AUTO:
            first = line[0]
            if (first == " " or first == "\t") and self._event is not None:
                return self._join(line)
            fields = None
            candidates = self._order.get(first)
            if candidates:
                ref = self._ref
                try:
                    fields = candidates[0](line, ref)
                    if fields is None and len(candidates) > 1:
                        for fn in candidates[1:]:
                            fields = fn(line, ref)
                            if fields is not None:
                                self._prefer(fn)
                                break
                except InvalidJson:
                    return self._dead(raw, line_no, "invalid_json")
            if fields is None:
                if self._event is not None and is_continuation(line, self._lines()):
                    return self._join(line)
                self.fallback_lines += 1
                if self._sample_left:
                    self._sample_left -= 1
                    self.fallback_sample.append(line)
                fields = (None, None, None, None, None, line, *_FALLBACK_TAIL)
        elif mode == _RAW:
            fields = (None, None, None, None, None, line, *_FALLBACK_TAIL)
        elif mode == _LEARNED:
            first = line[0]
            if (first == " " or first == "\t") and self._event is not None:
                return self._join(line)
            fields = self._learned(line, self._ref)
            if fields is None:
                try:
                    fields = self._guess(line)
                except InvalidJson:
                    return self._dead(raw, line_no, "invalid_json")
                if fields is None:
                    if self._event is not None and is_continuation(line, self._lines()):
                        return self._join(line)
                    self.fallback_lines += 1
                    fields = (None, None, None, None, None, line, *_FALLBACK_TAIL)
        else:
            first = line[0]
            if (first == " " or first == "\t") and self._event is not None:
                return self._join(line)
            fields = self._spec.parse(line, self._ref)
            if fields is None:
                if self._event is not None and is_continuation(line, self._lines()):
                    return self._join(line)
                return self._dead(raw, line_no, "format_mismatch")
        # Start a new event (inlined: this is the hot path).
        prev = self._event
        out: list[ParsedEvent | DeadLetter]
        if prev is None:
            out = []
        elif self._extra is None:
            out = [prev]
        else:
            out = self._flush()
        t = fields[0]
        if t is not None:
            self._last_time = t
            source = TIME_RECORD
        elif self._last_time is not None:
            t, source = self._last_time, TIME_INHERITED
        else:
            t, source = self._ref, TIME_FILE
        msg = fields[5]
        # tuple.__new__ skips the generated keyword-handling __new__.
        self._event = _new(_PE, (
            self.source, line_no, 1, t, source, fields[2] or self._service, fields[3],
            fields[1] or infer_level(msg), fields[4], msg, fields[6], fields[7], fields[8],
            fields[9], fields[10], fields[11], fields[12],
        ))
        return out

    def finish(self) -> list[ParsedEvent | DeadLetter]:
        """Flush the pending (possibly multi-line) event."""
        return [] if self._event is None else self._flush()

    @property
    def auto_only(self) -> bool:
        """True in auto mode without a learnt format: the mode the block fast path reproduces."""
        return self._mode == _AUTO

    def _guess(self, line: str) -> Fields | None:
        """Auto-detection for one line (the learnt-format mode's fallback; may raise InvalidJson)."""
        candidates = self._order.get(line[0])
        if not candidates:
            return None
        for fn in candidates:
            fields = fn(line, self._ref)
            if fields is not None:
                if fn is not candidates[0]:
                    self._prefer(fn)
                return fields
        return None

    def _prefer(self, fn) -> None:
        """Try ``fn`` first from now on, for every first character it applies to."""
        order = _ORDERS.get(fn)
        if order is None:
            _ORDERS[fn] = order = {
                first: (fn, *(c for c in cands if c is not fn)) if fn in cands else cands
                for first, cands in CANDIDATES.items()
            }
        self._order = order

    def _lines(self) -> int:
        return 1 if self._extra is None else 1 + len(self._extra)

    def _join(self, line: str) -> list:
        if self._extra is None:
            self._extra = [line]
        else:
            self._extra.append(line)
        return []

    def _flush(self) -> list[ParsedEvent | DeadLetter]:
        ev = self._event
        if ev is None:
            return []
        self._event = None
        extra = self._extra
        if extra is None:
            return [ev]
        self._extra = None
        message = ev[9] + "\n" + "\n".join(extra)
        return [_new(_PE, (*ev[:2], 1 + len(extra), *ev[3:9], message, *ev[10:]))]

    def _dead(self, raw: bytes, line_no: int, reason: str) -> list[ParsedEvent | DeadLetter]:
        # Damaged lines end the pending event: they are never joined into it.
        out = self._flush()
        t = self._last_time if self._last_time is not None else self._ref
        out.append(DeadLetter(self.source, line_no, 1, TimestampUs(t), reason, raw[:MAX_DEAD_LETTER_BYTES], len(raw), ""))
        return out


def is_event_start(raw: bytes) -> bool:
    """True only when ``raw`` is certainly the first line of a new event in auto mode.

    That is: a recognised format with a timestamp, so a reader may split a big file
    just before it without cutting a multi-line event in two.
    """
    if not raw or 0 in raw:
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
