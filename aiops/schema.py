"""Typed rows that travel between stages, and the Parquet schema derived from them.

One NamedTuple per table; ``arrow_schema(Row)`` turns its annotations into the
Parquet schema, so the row type and the file layout cannot drift apart.

Example::

    >>> from aiops.schema import DeadLetter, arrow_schema
    >>> arrow_schema(DeadLetter).names[:3]
    ['source', 'line_no', 'line_count']
"""

from __future__ import annotations

import datetime as dt
import functools
import typing
from operator import itemgetter
from typing import NamedTuple, NewType

import pyarrow as pa

# Microseconds since the Unix epoch, UTC. Rows carry ints, not datetimes, because
# building millions of datetime objects on the hot path costs more than parsing.
TimestampUs = NewType("TimestampUs", int)

LEVELS = ("TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL")

# Where an event's time came from.
TIME_RECORD = "record"  # the record's own timestamp
TIME_INHERITED = "inherited"  # the last timestamped event before it in the same file
TIME_FILE = "file"  # no timestamped event before it: the file's last-modified time


class ParsedEvent(NamedTuple):
    """One log event as the parser sees it, before templating."""

    source: str
    line_no: int
    line_count: int
    event_time: TimestampUs
    time_source: str
    service: str
    host: str | None
    level: str
    component: str | None
    message: str
    http_method: str | None = None
    http_path: str | None = None
    http_status: int | None = None
    response_bytes: int | None = None
    latency_ms: float | None = None
    trace_id: str | None = None
    session_id: str | None = None


class Event(NamedTuple):
    """A templated event: the ``events`` table."""

    source: str
    line_no: int
    line_count: int
    event_time: TimestampUs
    time_source: str
    service: str
    host: str | None
    level: str
    component: str | None
    message: str
    http_method: str | None
    http_path: str | None
    http_status: int | None
    response_bytes: int | None
    latency_ms: float | None
    trace_id: str | None
    session_id: str | None
    template_id: str
    template: str
    params: list[str]
    run_id: str


class DeadLetter(NamedTuple):
    """A physical line (or run of lines) that could not become an event."""

    source: str
    line_no: int
    line_count: int
    event_time: TimestampUs  # inherited like events without a time; decides the dt partition
    reason: str
    raw: bytes  # the raw bytes, capped at MAX_DEAD_LETTER_BYTES
    raw_size: int  # the full size in bytes before capping
    run_id: str


MAX_DEAD_LETTER_BYTES = 64 * 1024


class TemplateRow(NamedTuple):
    """The ``templates`` table: one row per (service, template)."""

    template_id: str
    template: str
    service: str
    first_seen: TimestampUs
    last_seen: TimestampUs
    count: int  # type: ignore[assignment]  # a column name; shadows tuple.count on purpose
    example: str


class KpiRow(NamedTuple):
    """The ``kpis`` table: one row per service and window."""

    window_start: TimestampUs
    window_end: TimestampUs
    service: str
    events: int
    errors: int
    warnings: int
    error_rate: float
    distinct_templates: int
    new_templates: int
    latency_count: int
    latency_p50_ms: float | None
    latency_p95_ms: float | None
    latency_p99_ms: float | None
    status_count: int
    status_4xx: int
    status_5xx: int
    run_id: str


ANOMALY_KINDS = ("frequency", "new_template", "silence", "content", "sequence")


class AnomalyRow(NamedTuple):
    """The ``anomalies`` table: one row per finding (service window, optionally one template)."""

    window_start: TimestampUs
    window_end: TimestampUs
    service: str
    kind: str  # one of ANOMALY_KINDS
    template_id: str | None  # None for service-level findings
    score: float  # how anomalous; flagged because score >= threshold
    threshold: float
    observed: float
    expected: float
    detail: str  # human-readable: what was seen and what was expected
    run_id: str


class SessionRow(NamedTuple):
    """The ``sessions`` table: one row per (service, session key value)."""

    session_id: str
    service: str
    first_time: TimestampUs
    last_time: TimestampUs
    events: int
    distinct_templates: int
    score: float
    is_anomaly: bool
    reason: str | None  # why the session was flagged (None when it was not)
    run_id: str


class TemplateWindowRow(NamedTuple):
    """The ``template_windows`` table: per service, template and window, what the scorers saw.

    It is both the history later runs use as their baseline and a table analysts can query.
    ``value_fields``/``value_geomeans``/``value_counts`` are parallel lists (numeric fields:
    typed attributes such as ``latency_ms`` and measured parameters such as ``p2``);
    ``top_keys``/``top_counts`` are parallel lists of the most common categorical values as
    ``field=value`` (parameters and ``http_status``).
    """

    window_start: TimestampUs
    window_end: TimestampUs
    service: str
    template_id: str
    events: int
    errors: int
    value_fields: list[str]
    value_geomeans: list[float]
    value_counts: list[int]
    top_keys: list[str]
    top_counts: list[int]
    run_id: str


class SummaryRow(NamedTuple):
    """The ``summaries`` table: one row per flagged window (a service's adjacent flagged windows merged)."""

    window_start: TimestampUs
    window_end: TimestampUs
    service: str
    neighbours: list[str]  # other services flagged at the same time
    anomaly_count: int
    title: str
    summary: str
    suspected_cause: str
    evidence: str  # JSON list of {template_id, line, why}, each present in the evidence pack
    recommended_action: str  # advice for a human; never executed
    confidence: str  # low | medium | high
    backend: str  # offline | openai | vertex
    model: str
    status: str  # ok | ok_after_retry | cached | offline | fallback:<why>
    error: str | None  # what went wrong when status is a fallback
    prompt_tokens: int
    completion_tokens: int
    latency_ms: float
    evidence_hash: str  # the cache key and request id
    run_id: str


class LlmRequestRow(NamedTuple):
    """The ``llm_requests`` table: every request, with the exact redacted prompt, for audit."""

    request_id: str  # the evidence hash
    attempt: int  # 1, or 2 for the retry after an invalid answer
    window_start: TimestampUs
    service: str
    backend: str
    model: str
    system: str
    prompt: str  # exactly what was sent (after redaction)
    redactions: int
    redaction_counts: str  # JSON {rule: count}
    status: str  # the backend's status: ok, error:timeout, error:http_429, ...
    error: str | None
    prompt_tokens: int
    completion_tokens: int
    latency_ms: float
    run_id: str


class FileStats(NamedTuple):
    """What reading one input file (or one byte range of it) produced."""

    source: str
    bytes_read: int
    lines_read: int
    events: int
    event_lines: int
    dead_letter_lines: int
    blank_lines: int


_TIMESTAMP_TYPE = pa.timestamp("us", tz="UTC")
_SCALARS: dict[object, pa.DataType] = {
    str: pa.string(),
    int: pa.int64(),
    float: pa.float64(),
    bool: pa.bool_(),
    bytes: pa.binary(),
    TimestampUs: _TIMESTAMP_TYPE,
}


def _arrow_type(annotation: object) -> tuple[pa.DataType, bool]:
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin in (typing.Union, __import__("types").UnionType):
        inner = [a for a in args if a is not type(None)]
        return _arrow_type(inner[0])[0], True
    if origin is list:
        return pa.list_(_arrow_type(args[0])[0]), False
    return _SCALARS[annotation], False


@functools.cache  # rows_to_table asks for it once per batch; type hints are slow to resolve
def arrow_schema(row_type: type) -> pa.Schema:
    """The Parquet/Arrow schema of a row NamedTuple, from its annotations."""
    hints = typing.get_type_hints(row_type)
    return pa.schema(
        [pa.field(name, *_arrow_type(hints[name])) for name in row_type._fields]  # type: ignore[attr-defined]
    )


def rows_to_table(row_type: type, rows: list) -> pa.Table:
    """Build an Arrow table from a list of rows of ``row_type``."""
    schema = arrow_schema(row_type)
    # map(itemgetter) transposes at C speed; zip(*rows) over thousands of rows is far slower.
    columns: list = [list(map(itemgetter(i), rows)) for i in range(len(schema.names))]
    arrays = []
    n = len(rows)
    for field, values in zip(schema, columns, strict=True):
        if n and field.nullable and values.count(None) == n:
            # Common for typed attributes a format does not carry (http_* on app logs): no conversion.
            arrays.append(pa.nulls(n, field.type))
        elif field.type == _TIMESTAMP_TYPE:
            arrays.append(pa.array(values, type=pa.int64()).cast(_TIMESTAMP_TYPE))
        else:
            arrays.append(pa.array(values, type=field.type))
    return pa.Table.from_arrays(arrays, schema=schema)


def us_to_datetime(value: int) -> dt.datetime:
    """Microseconds since the epoch to an aware UTC datetime."""
    return dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(microseconds=value)


def datetime_to_us(value: dt.datetime) -> TimestampUs:
    """An aware (or naive, taken as UTC) datetime to microseconds since the epoch."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    delta = value - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    return TimestampUs((delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds)
