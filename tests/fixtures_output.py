"""A small, literal batch-job output directory for the query and validation tests.

One run ``r1`` read two files, 9 physical lines: app.log (4 events, 1 dead letter,
1 blank line) and db.log (2 events, the first spanning 2 lines). Events fall in
two partitions, dt=2024-05-01 (api) and dt=2024-05-02 (db). Tests pass modified
copies of the literal rows to build broken variants.

Example::

    >>> from tests.fixtures_output import write_output, EVENTS
    >>> root = write_output(tmp_path)                                  # doctest: +SKIP
    >>> root = write_output(tmp_path, events=EVENTS[:-1])              # doctest: +SKIP
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import os
from collections import defaultdict

import pyarrow.parquet as pq

from aiops.schema import DeadLetter, Event, KpiRow, TemplateRow, datetime_to_us, rows_to_table, us_to_datetime

RUN = "r1"


def ts(text: str) -> int:
    """'2024-05-01T10:00:00' (UTC) as microseconds since the epoch."""
    return datetime_to_us(dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC))


def _event(source, line_no, line_count, time, service, host, level, template_id, template, message, **http):
    return Event(
        source=source, line_no=line_no, line_count=line_count, event_time=ts(time), time_source="record",
        service=service, host=host, level=level, component=None, message=message,
        http_method=http.get("method"), http_path=http.get("path"), http_status=http.get("status"),
        response_bytes=None, latency_ms=http.get("latency"), trace_id=None, session_id=None,
        template_id=template_id, template=template, params=[], run_id=RUN,
    )  # fmt: skip


GET = "GET <*> took <*> ms"
LOGIN = "user <*> logged in"
LOST = "connection lost to <*>"

EVENTS = [
    _event("app.log", 1, 1, "2024-05-01T10:00:00", "api", "h1", "INFO", "a1", GET, "GET /users took 100 ms",
           method="GET", path="/users", status=200, latency=100.0),
    _event("app.log", 2, 1, "2024-05-01T10:01:00", "api", "h1", "INFO", "a1", GET, "GET /users took 200 ms",
           method="GET", path="/users", status=200, latency=200.0),
    _event("app.log", 3, 1, "2024-05-01T10:02:00", "api", "h2", "WARN", "a1", GET, "GET /orders took 50 ms",
           method="GET", path="/orders", status=404, latency=50.0),
    _event("app.log", 4, 1, "2024-05-01T10:03:00", "api", "h1", "INFO", "b2", LOGIN, "user bob logged in"),
    _event("db.log", 1, 2, "2024-05-02T09:00:00", "db", "h3", "ERROR", "c3", LOST, "connection lost to 10.0.0.1"),
    _event("db.log", 3, 1, "2024-05-02T09:10:00", "db", "h3", "ERROR", "c3", LOST, "connection lost to 10.0.0.2"),
]  # fmt: skip

DEAD_LETTERS = [
    DeadLetter(source="app.log", line_no=5, line_count=1, event_time=ts("2024-05-01T10:03:00"),
               reason="unparseable", raw=b"\xff garbage", raw_size=10, run_id=RUN),
]  # fmt: skip

TEMPLATES = [
    TemplateRow("a1", GET, "api", ts("2024-05-01T10:00:00"), ts("2024-05-01T10:02:00"), 3, "GET /users took 100 ms"),
    TemplateRow("b2", LOGIN, "api", ts("2024-04-30T08:00:00"), ts("2024-05-01T10:03:00"), 5, "user ann logged in"),
    TemplateRow("c3", LOST, "db", ts("2024-05-02T09:00:00"), ts("2024-05-02T09:10:00"), 2,
                "connection lost to 10.0.0.1"),
]  # fmt: skip


def _kpi(start, end, service, events, errors, warnings, rate, p50=None, p95=None, p99=None, n_lat=0, s4=0):
    return KpiRow(
        window_start=ts(start), window_end=ts(end), service=service, events=events, errors=errors,
        warnings=warnings, error_rate=rate, distinct_templates=1, new_templates=0, latency_count=n_lat,
        latency_p50_ms=p50, latency_p95_ms=p95, latency_p99_ms=p99, status_count=n_lat, status_4xx=s4,
        status_5xx=0, run_id=RUN,
    )  # fmt: skip


KPIS = [
    _kpi("2024-05-01T10:00:00", "2024-05-01T10:05:00", "api", 4, 0, 1, 0.0, 100.0, 190.0, 198.0, 3, 1),
    _kpi("2024-05-02T09:00:00", "2024-05-02T09:05:00", "db", 1, 1, 0, 1.0),
    _kpi("2024-05-02T09:10:00", "2024-05-02T09:15:00", "db", 1, 1, 0, 1.0),
]

_FILES = [
    {"source": "app.log", "bytes_read": 180, "lines_read": 6, "events": 4, "event_lines": 4,
     "dead_letter_lines": 1, "blank_lines": 1},
    {"source": "db.log", "bytes_read": 90, "lines_read": 3, "events": 2, "event_lines": 3,
     "dead_letter_lines": 0, "blank_lines": 0},
]  # fmt: skip

MANIFEST = {
    "run_id": RUN,
    "version": "0.1.0",
    "status": "succeeded",
    "started_at": "2024-05-02T12:00:00Z",
    "finished_at": "2024-05-02T12:00:30Z",
    "inputs": ["logs/*.log"],
    "files": _FILES,
    "lines_read": 9,
    "events": 6,
    "event_lines": 7,
    "dead_letter": 1,
    "dead_letter_lines": 1,
    "blank": 1,
    "batch_key": "0123456789ab",
    "validation": None,
}


def _write_partitioned(root: str, table: str, row_type: type, rows: list, time_field: str) -> None:
    by_day: dict[str, list] = defaultdict(list)
    for row in rows:
        by_day[us_to_datetime(getattr(row, time_field)).date().isoformat()].append(row)
    for day, day_rows in sorted(by_day.items()):
        directory = os.path.join(root, table, f"dt={day}")
        os.makedirs(directory, exist_ok=True)
        pq.write_table(rows_to_table(row_type, day_rows), os.path.join(directory, "part-0.parquet"))


def write_output(
    root,
    *,
    events: list | None = None,
    dead_letters: list | None = None,
    templates: list | None = None,
    kpis: list | None = None,
    manifests: list[dict] | None = None,
    hidden: bool = True,
) -> str:
    """Write the output layout under ``root`` (the literal rows unless overridden); returns root.

    An empty list writes no files for that table. ``hidden`` adds junk under
    ``_staging/`` and a ``.tmp`` file inside a partition, which must be ignored.
    """
    root = str(root)
    os.makedirs(root, exist_ok=True)
    _write_partitioned(root, "events", Event, EVENTS if events is None else events, "event_time")
    _write_partitioned(
        root, "dead_letter", DeadLetter, DEAD_LETTERS if dead_letters is None else dead_letters, "event_time"
    )
    _write_partitioned(root, "kpis", KpiRow, KPIS if kpis is None else kpis, "window_start")
    templates = TEMPLATES if templates is None else templates
    if templates:
        os.makedirs(os.path.join(root, "templates"), exist_ok=True)
        pq.write_table(
            rows_to_table(TemplateRow, templates), os.path.join(root, "templates", "part-0.parquet")
        )
    os.makedirs(os.path.join(root, "runs"), exist_ok=True)
    for manifest in [copy.deepcopy(MANIFEST)] if manifests is None else manifests:
        with open(os.path.join(root, "runs", f"{manifest['run_id']}.json"), "w", encoding="utf-8") as fh:
            json.dump(manifest, fh, indent=2)
    if hidden:
        staging = os.path.join(root, "_staging", "r2", "events", "dt=2024-05-03")
        os.makedirs(staging, exist_ok=True)
        with open(os.path.join(staging, "part-0.parquet"), "wb") as fh:
            fh.write(b"not parquet")
        if os.path.isdir(os.path.join(root, "events", "dt=2024-05-01")):
            with open(
                os.path.join(root, "events", "dt=2024-05-01", ".part-1.parquet.tmp.parquet"), "wb"
            ) as fh:
                fh.write(b"half-written")
    return root
