"""The record a format parser extracts from one line, before it becomes a ParsedEvent.

Every format function returns a :class:`Fields` (or None when the line is not in
that format); the reader adds source, line numbers, time inheritance and
multi-line joins.

Example::

    >>> from aiops.parsing.fields import Fields
    >>> Fields(None, "INFO", None, None, None, "hello").message
    'hello'
"""

from __future__ import annotations

from typing import NamedTuple


class Fields(NamedTuple):
    time: int | None  # microseconds UTC; None when the record has no (parseable) time
    level: str | None  # already normalised; None = infer from the message
    service: str | None
    host: str | None
    component: str | None
    message: str
    http_method: str | None = None
    http_path: str | None = None
    http_status: int | None = None
    response_bytes: int | None = None
    latency_ms: float | None = None
    trace_id: str | None = None
    session_id: str | None = None
