"""CloseWindows: per service, event-time windows with allowed lateness, KPIs and anomaly scores as they close.

A stateful stage keyed by service (state and timers, in the global window, so that the decision
"too late" and the aggregation see the same watermark). Per templated batch it asks the
service's :class:`aiops.streaming.book.WindowBook` whether the window is open:

- open (on time or late within the allowed lateness): the batch's KPI partials and per-template
  partials are merged into the window, and its events go on to the ``events`` table;
- too late: every event becomes a ``dead_letter`` row (reason ``too_late``) and is counted.

An event-time timer fires each window when the watermark passes its end, and again after late
data: each firing emits a :class:`WindowResult` (the KPI row, the ``template_windows`` rows and
the anomalies scored by the batch scorers against the bounded :class:`ServiceHistory`) whose
rows replace those of the window's earlier firing.

Example (see tests/test_stream.py)::

    results = templated | CloseWindows(StreamWindowing(), AnomalyConfig(), run_id="s1")
"""

from __future__ import annotations

import threading
import time
from typing import NamedTuple

import apache_beam as beam
import duckdb
import pyarrow as pa
import pyarrow.compute as pc
from apache_beam.coders import PickleCoder
from apache_beam.metrics import Metrics
from apache_beam.transforms.timeutil import TimeDomain
from apache_beam.transforms.userstate import ReadModifyWriteStateSpec, TimerSpec, on_timer
from apache_beam.transforms.window import GlobalWindow
from apache_beam.utils.timestamp import Timestamp

from aiops.anomaly.config import AnomalyConfig
from aiops.anomaly.partials import window_partials
from aiops.kpi import finalize, partial_kpis
from aiops.schema import MAX_DEAD_LETTER_BYTES, AnomalyRow, DeadLetter, KpiRow, TemplateWindowRow, TimestampUs
from aiops.streaming.book import TOO_LATE, WindowBook
from aiops.streaming.evidence import window_pack
from aiops.streaming.live import ServiceHistory
from aiops.windowing import StreamWindowing
from transforms.stream_parse import EventBatch
from transforms.templates import template_texts

_LOCAL = threading.local()


def _connection() -> duckdb.DuckDBPyConnection:
    """One DuckDB connection per thread, for the process's life: the local runner sets a DoFn up
    for every bundle, and a connection costs tens of milliseconds to open."""
    con = getattr(_LOCAL, "con", None)
    if con is None:
        con = _LOCAL.con = duckdb.connect()
        con.execute("SET threads=1")
    return con


class WindowResult(NamedTuple):
    """One firing of one service window: its rows replace those of its earlier firings."""

    service: str
    window_start: int
    window_end: int
    revision: int  # 1 for the on-time firing, then one more per late firing
    kpi: KpiRow | None  # None for a window fired empty (the service was quiet)
    template_windows: list[TemplateWindowRow]
    anomalies: list[AnomalyRow]
    evidence: dict | None = None  # the EvidencePack (as JSON) of the window's first firing with findings


def too_late_rows(batch: EventBatch, policy: StreamWindowing, run_id: str) -> list[DeadLetter]:
    """Dead letters for the events of a batch whose window had closed."""
    t = batch.table.set_column(batch.table.schema.get_field_index("event_time"), "event_time",
                               batch.table.column("event_time").cast(pa.int64()))
    reason = (f"too_late: window {batch.window_start} closed at watermark "
              f"{policy.expiry_of(batch.window_start)} (allowed lateness {policy.allowed_lateness_us // 1_000_000}s)")
    out = []
    for source, line_no, count, when, message in zip(
            *(t.column(c).to_pylist() for c in ("source", "line_no", "line_count", "event_time", "message")), strict=True):
        raw = message.encode("utf-8", "replace")
        out.append(DeadLetter(source, line_no, count, TimestampUs(when), reason, raw[:MAX_DEAD_LETTER_BYTES],
                              len(raw), run_id))
    return out


SAMPLE_CHARS = 500  # as the batch evidence: a stack trace is cut, its first lines say what it is


def samples(events) -> dict[str, tuple[str, str]]:
    """One (level, raw line) per template of a batch: the window keeps a few as evidence."""
    first = events.select(["template_id", "level", "message"]).group_by("template_id", use_threads=False).aggregate(
        [("level", "first"), ("message", "first")])
    return {tid: (level, message[:SAMPLE_CHARS]) for tid, level, message in zip(
        *(first.column(i).to_pylist() for i in range(3)), strict=True)}


class CloseWindowsFn(beam.DoFn):
    BOOK = ReadModifyWriteStateSpec("book", PickleCoder())
    HISTORY = ReadModifyWriteStateSpec("history", PickleCoder())
    DUE = TimerSpec("due", TimeDomain.WATERMARK)
    # The end of the input (or a drain) moves the watermark to +infinity; a runner fires only the
    # timers already set then, so one timer at the end of the global window drains every window.
    END = TimerSpec("end", TimeDomain.WATERMARK)

    def __init__(self, policy: StreamWindowing, config: AnomalyConfig, run_id: str):
        self.policy, self.config, self.run_id = policy, config, run_id
        self.too_late = Metrics.counter("aiops", "too_late_lines")
        self.late = Metrics.counter("aiops", "late_events")
        self.accepted = Metrics.counter("aiops", "events")
        self.accepted_lines = Metrics.counter("aiops", "event_lines")
        self.dead_rows = Metrics.counter("aiops", "dead_letter_rows")
        self.firings = Metrics.counter("aiops", "window_firings")
        self.found = Metrics.counter("aiops", "anomalies")

    @property
    def con(self) -> duckdb.DuckDBPyConnection:
        return _connection()

    def _book(self, state) -> WindowBook:
        return state.read() or WindowBook(self.policy, quiet_windows=self.config.recent_windows)

    def process(self, element, book_state=beam.DoFn.StateParam(BOOK), history_state=beam.DoFn.StateParam(HISTORY),
                due=beam.DoFn.TimerParam(DUE), end=beam.DoFn.TimerParam(END)):
        service, batch = element
        book = self._book(book_state)
        verdict = book.admit(batch.window_start, batch.arrival_us)
        if verdict == TOO_LATE:
            rows = too_late_rows(batch, self.policy, self.run_id)
            self.too_late.inc(sum(r.line_count for r in rows))
            self.dead_rows.inc(len(rows))
            yield beam.pvalue.TaggedOutput("dead_letter", rows)
            return
        events = batch.table
        kpi = partial_kpis(events, self.policy.window_us).get((service, batch.window_start))
        texts = template_texts(events)
        partials = window_partials(events, self.policy.window_us, texts, self.config.top_values, self.con)
        book.add(batch.window_start, kpi, partials.get((service, batch.window_start), {}), samples(events))
        for tid, text in texts.items():  # the history learns them at the next firing (small state per batch)
            first = batch.first_seen.get(tid, 0)
            old = book.seen.get(tid)
            book.seen[tid] = (first if old is None or (first and (not old[0] or first < old[0])) else old[0], text)
        if verdict != "on_time":
            self.late.inc(events.num_rows)
        self.accepted.inc(events.num_rows)
        self.accepted_lines.inc(int(pc.sum(events.column("line_count")).as_py()))
        book_state.write(book)
        self._set(due, book)
        end.set(GlobalWindow().max_timestamp())
        yield beam.pvalue.TaggedOutput("events", events)

    @on_timer(DUE)
    def fire(self, key=beam.DoFn.KeyParam, when=beam.DoFn.TimestampParam, book_state=beam.DoFn.StateParam(BOOK),
             history_state=beam.DoFn.StateParam(HISTORY), due=beam.DoFn.TimerParam(DUE)):
        book = self._book(book_state)
        # The wall clock only decides whether a quiet window really passed (see WindowBook.advance).
        yield from self._fire(key, book, history_state, *book.advance(when.micros, int(time.time() * 1_000_000)))
        book_state.write(book)
        self._set(due, book)

    @on_timer(END)
    def drain(self, key=beam.DoFn.KeyParam, book_state=beam.DoFn.StateParam(BOOK),
              history_state=beam.DoFn.StateParam(HISTORY)):
        book = self._book(book_state)
        yield from self._fire(key, book, history_state, *book.drain())
        book_state.write(book)

    def _fire(self, service: str, book: WindowBook, history_state, ready: list[int], closed: list[int]):
        history = history_state.read() or ServiceHistory()
        history.learn_templates({t: v[0] for t, v in book.seen.items()}, {t: v[1] for t, v in book.seen.items()})
        book.seen.clear()
        for start in ready:
            window = book.fired(start)
            kpi = None if window.empty else finalize(service, start, self.policy.window_us, window.kpi,
                                                     history.first_seen, self.run_id)
            found = history.score(service, start, window.partials, self.policy.window_us, self.config, self.run_id)
            self.firings.inc()
            self.found.inc(len(found))
            evidence = None
            if found and not window.summarised:  # one summary per window: late firings do not pay again
                window.summarised = True
                evidence = window_pack(service, start, start + self.policy.window_us, found, history.texts, kpi,
                                       history.rows, window.samples).to_json()
            yield WindowResult(service, start, start + self.policy.window_us, window.revision, kpi,
                               list(history.rows.get(start, [])), found, evidence)
        for start in closed:
            book.close(start)
        history_state.write(history)

    @staticmethod
    def _set(due, book: WindowBook) -> None:
        nxt = book.next_timer()
        if nxt is not None:
            due.set(Timestamp(micros=nxt))


class CloseWindows(beam.PTransform):
    """Templated EventBatch -> WindowResult; tagged ``events`` (accepted event tables) and ``dead_letter``."""

    def __init__(self, policy: StreamWindowing, config: AnomalyConfig, run_id: str):
        super().__init__()
        self.policy, self.config, self.run_id = policy, config, run_id

    def expand(self, batches):
        return (
            batches
            | "KeyByService" >> beam.Map(lambda b: (b.service, b))
            | "CloseWindows" >> beam.ParDo(CloseWindowsFn(self.policy, self.config, self.run_id)).with_outputs(
                "events", "dead_letter", main="results")
        )
