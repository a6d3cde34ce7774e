"""The streaming job's pure parts: window bookkeeping, bounded live scoring, records, the local feed."""

import os

import pyarrow as pa

from aiops.anomaly.config import AnomalyConfig
from aiops.anomaly.partials import TemplateWindowAcc
from aiops.kpi import KpiAccumulator
from aiops.schema import ParsedEvent
from aiops.streaming.book import LATE, ON_TIME, TOO_LATE, WindowBook
from aiops.streaming.feed import FolderFeed
from aiops.streaming.live import ServiceHistory
from aiops.streaming.records import record_from_pubsub
from aiops.templating.learner import StoredTemplate
from aiops.windowing import StreamWindowing
from transforms.stream_parse import batch_events
from transforms.stream_templates import models_from_store
from transforms.stream_windows import too_late_rows

W = 60


def book(quiet: int = 0) -> WindowBook:
    return WindowBook(StreamWindowing(window_us=W, allowed_lateness_us=2 * W), quiet_windows=quiet)


def test_policy_parses_and_places_windows():
    p = StreamWindowing.parse("1m", "10m")
    assert (p.window_us, p.allowed_lateness_us) == (60_000_000, 600_000_000)
    assert StreamWindowing.parse("30s", "0").allowed_lateness_us == 0
    assert (p.start_of(61_000_000), p.end_of(60_000_000), p.expiry_of(0)) == (60_000_000, 120_000_000, 660_000_000)


def test_on_time_late_and_too_late():
    b = book()
    assert b.admit(0) == ON_TIME
    b.add(0, KpiAccumulator(events=2), {"t": TemplateWindowAcc(events=2)})
    assert b.next_timer() == 60  # the window's end
    assert b.advance(60) == ([0], [])
    w = b.fired(0)
    assert (w.revision, w.kpi.events, w.dirty) == (1, 2, False)
    assert b.next_timer() == 180  # its expiry: end + allowed lateness
    assert b.admit(0) == LATE
    b.add(0, KpiAccumulator(events=1), {"t": TemplateWindowAcc(events=1)})
    assert b.next_timer() == 60  # fire again as soon as the watermark moves
    assert b.advance(61) == ([0], [])
    w = b.fired(0)
    assert (w.revision, w.kpi.events, w.partials["t"].events) == (2, 3, 3)
    assert b.advance(180) == ([], [0])
    b.close(0)
    assert b.admit(0) == TOO_LATE
    assert b.admit(120) == LATE  # a window never opened but still within lateness
    assert b.next_timer() is None


def test_out_of_order_windows_fire_in_order():
    b = book()
    for start in (120, 0, 60):
        b.add(start, None, {})
    assert b.advance(200) == ([0, 60, 120], [0])


def test_quiet_windows_after_data_then_pause_when_watermark_outruns_the_clock():
    b = book(quiet=2)
    b.add(0, None, {})
    b.advance(60, now_us=1_000)
    b.fired(0)
    assert b.next_timer() == 120  # the first quiet window's end
    due, _ = b.advance(120, now_us=1_000)
    assert due == [60] and b.windows[60].empty
    b.fired(60)
    assert b.next_timer() == 180
    due, closed = b.advance(180, now_us=150)  # the watermark is ahead of the clock: input ended, not silence
    assert (due, closed, b.quiet_paused) == ([], [0], True)
    b.close(0)
    assert b.next_timer() == 240  # only the quiet window's expiry; no more quiet windows
    b.add(300, None, {})  # data again: quiet windows resume after it fires
    assert not b.quiet_paused


def test_drain_fires_unfired_data_and_closes_everything():
    b = book(quiet=5)
    b.add(0, None, {})
    b.add(60, None, {})
    b.advance(60)
    b.fired(0)
    assert b.drain() == ([60], [0, 60])


def test_history_is_bounded_and_scores_a_spike():
    h = ServiceHistory(keep=4, max_templates=2)
    cfg = AnomalyConfig(min_baseline_windows=3, recent_windows=3)
    for k in range(6):
        assert h.score("web", k * W, {"a": TemplateWindowAcc(events=100)}, W, cfg, "s") == []
    assert sorted(h.rows) == [120, 180, 240, 300]  # the last 4 windows only
    rows = h.score("web", 6 * W, {"a": TemplateWindowAcc(events=900)}, W, cfg, "s")
    assert [(r.kind, r.template_id, r.observed, r.expected) for r in rows] == [
        ("frequency", None, 900.0, 100.0), ("frequency", "a", 900.0, 100.0)]
    h.score("web", 7 * W, {"b": TemplateWindowAcc(events=1), "c": TemplateWindowAcc(events=1)}, W, cfg, "s")
    assert sorted(h.last_seen) == ["b", "c"]  # at most 2 templates remembered: the least recent went first


def test_pubsub_record_uses_attributes_then_the_subscription_name():
    r = record_from_pubsub(b"x", {"app": "billing", "hostname": "h7"}, "42", 5, "projects/p/subscriptions/logs")
    assert (r.source, r.service, r.host, r.arrival_us) == ("pubsub://projects/p/subscriptions/logs/42", "billing", "h7", 5)
    r = record_from_pubsub(b"", None, "1", 5, "projects/p/topics/app-logs")
    assert (r.service, r.host, r.data) == ("app-logs", None, b"")


def _event(svc: str, t: int, msg: str) -> ParsedEvent:
    return ParsedEvent("s", 1, 1, t, "record", svc, None, "INFO", None, msg)


def test_batches_are_per_service_and_window_and_masked():
    batches = batch_events([_event("web", 5, "took 5 ms"), _event("db", 6, "up"), _event("web", 65, "took 7 ms")], W)
    assert [(b.service, b.window_start, b.table.num_rows) for b in batches] == [("db", 0, 1), ("web", 0, 1), ("web", 60, 1)]
    assert batches[1].table.column("masked").to_pylist() == ["took <*> ms"]


def test_store_models_keep_ids_and_too_late_rows_keep_the_line():
    stored = [StoredTemplate("web", "c93942870281d043", "user <*> logged in", 7, 9, {}, "user 1 logged in")]
    model = models_from_store(stored)["web"]
    assert model.match("user 5 logged in") == ("c93942870281d043", "user <*> logged in", ["5"])
    assert model.templates[0].first_seen == 7
    from transforms.stream_parse import EventBatch

    table = pa.table({"source": ["f"], "line_no": [3], "line_count": [2], "event_time": [65], "message": ["boom"]})
    rows = too_late_rows(EventBatch("web", 60, table, {}), StreamWindowing(W, W), "s1")
    assert [(r.source, r.line_no, r.line_count, r.event_time, r.raw, r.reason) for r in rows] == [
        ("f", 3, 2, 65, b"boom", "too_late: window 60 closed at watermark 180 (allowed lateness 0s)")]


def test_feed_serves_settled_files_once_and_remembers_them(tmp_path):
    (tmp_path / "web").mkdir()
    state = str(tmp_path / "state.json")
    feed = FolderFeed(str(tmp_path / "web" / "*.log"), state_path=state)
    sizes: dict[str, int] = {}
    (tmp_path / "web" / "a.log").write_text("one\n")
    assert feed.poll(sizes) == []  # seen once: maybe still being written
    (tmp_path / "web" / "a.log").write_text("one\ntwo\n")
    assert feed.poll(sizes) == []  # it grew
    path = str(tmp_path / "web" / "a.log")
    assert feed.poll(sizes) == [path]  # settled
    assert feed.poll(sizes) == []  # served once
    again = FolderFeed(str(tmp_path / "web" / "*.log"), state_path=state)
    assert again.served == {path} and again.poll({}) == [] and os.path.exists(state)
    os.remove(path)  # rotated away: forgotten, so the state stays the size of the folder
    assert again.poll({}) == [] and again.served == set()


def test_feed_events_end_with_a_final_watermark_and_clock_advance(tmp_path):
    clock = iter([100.0, 100.0, 101.0, 102.0, 103.0, 103.0])
    feed = FolderFeed(str(tmp_path / "*.log"), interval_s=0, watermark_delay_s=5, duration_s=2,
                      clock=lambda: next(clock))
    kinds = [(e.WhichOneof("event"), e.watermark_event.new_watermark if e.HasField("watermark_event") else None)
             for e in feed.events()]
    assert kinds[0] == ("watermark_event", 95_000_000)
    assert kinds[-2] == ("watermark_event", 9223372036854775000) and kinds[-1] == ("processing_time_event", None)


def test_pubsub_records_json_multiline_and_attributes():
    from apache_beam.utils.timestamp import Timestamp

    from aiops.streaming.records import RawRecord
    from transforms.stream_parse import ParseRecordsFn, StreamParseConfig

    fn = ParseRecordsFn(StreamParseConfig(window_us=60_000_000, run_id="s1"))
    fn.start_bundle()
    records = [
        RawRecord("pubsub://t/1", b'{"ts": "2026-01-01T00:00:05Z", "level": "warn", "service": "billing", "msg": "slow"}',
                  "attr-svc", "h1", 1),
        RawRecord("pubsub://t/2", b"2026-01-01T00:00:07Z ERROR boom\nTraceback (most recent call last):\n  x\n",
                  "web", "h2", 2),
        RawRecord("pubsub://t/3", b"\xff\xfe", "web", None, 3),
    ]
    dead = [out.value for r, when in zip(records, (10, 11, 12), strict=True)
            for out in fn.process(r, arrived=Timestamp(micros=when))]
    batches = [wv.value for wv in fn.finish_bundle() if not hasattr(wv, "tag")]
    assert [(d.source, d.reason) for rows in dead for d in rows] == [("pubsub://t/3", "invalid_utf8")]
    got = sorted((b.service, b.arrival_us, row["host"], row["level"], row["line_count"], row["message"].splitlines()[0])
                 for b in batches for row in b.table.to_pylist())
    # the record's own service wins over the attribute; the attribute's host fills a record without one
    assert got == [("billing", 10, "h1", "WARN", 1, "slow"), ("web", 11, "h2", "ERROR", 3, "boom")]
