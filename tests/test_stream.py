"""The streaming stages on the BundleBasedDirectRunner with TestStream and explicit watermark steps.

One scenario covers on-time data, out-of-order arrival, late data within the allowed lateness
(the window fires again and its rows are replaced), too-late data (dead-lettered, never
dropped), live template learning (ids are the stable hashes the batch job gives) and the
store publish; the tables are read back with DuckDB.
"""

import glob
import os

import apache_beam as beam
import duckdb
import pytest
from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions
from apache_beam.testing import test_stream as ts
from apache_beam.testing.util import assert_that, equal_to
from apache_beam.transforms.window import TimestampedValue

from aiops.streaming.records import RawRecord
from aiops.templating.learner import StoredTemplate
from aiops.templating.store import FileTemplateStore
from aiops.windowing import StreamWindowing
from pipelines.streaming import StreamConfig, build

T0 = 1_767_225_600  # 2026-01-01T00:00:00Z (s)
MIN = 60_000_000
POLICY = StreamWindowing(window_us=MIN, allowed_lateness_us=2 * MIN)  # window 0 closes at watermark T0+180s


def rec(second: int, message: str, service: str = "web") -> TimestampedValue:
    """A Pub/Sub-like record whose line carries its own time, published when it happened."""
    iso = f"2026-01-01T00:{second // 60:02d}:{second % 60:02d}Z"
    data = f"{iso} INFO {message}".encode()
    return TimestampedValue(RawRecord(f"pubsub://t/{service}-{second}", data, service, "h1", (T0 + second) * 1_000_000),
                            T0 + second)


def scenario() -> ts.TestStream:
    return (
        ts.TestStream()
        .advance_watermark_to(T0)
        .add_elements([rec(1, "user 1 logged in"), rec(2, "user 2 logged in"), rec(5, "GET /a took 5 ms")])
        # out of order: window 1 first, then window 0 again; both on time
        .add_elements([rec(70, "user 3 logged in"), rec(3, "user 4 logged in")])
        .advance_watermark_to(T0 + 65)  # window 0 ends: on-time firing (4 events)
        .add_elements([rec(10, "user 9 logged in")])  # late, within the allowed lateness: fires again (5)
        .advance_watermark_to(T0 + 190)  # window 0 closes (end + lateness = T0+180)
        .add_elements([rec(20, "user 7 logged in")])  # too late: dead letter
        .advance_processing_time(20)
        .advance_watermark_to_infinity()
        .advance_processing_time(20)
    )


@pytest.fixture()
def out(tmp_path):
    return str(tmp_path / "out")


def sql(query: str):
    return duckdb.connect().execute(query).fetchall()


def test_windows_fire_on_time_late_and_close(out):
    cfg = StreamConfig(out, "s1", os.path.join(out, "_store", "templates.json.gz"), POLICY, refresh_s=0, publish_s=0,
                       flush_s=1)
    opts = PipelineOptions()
    opts.view_as(StandardOptions).streaming = True
    with beam.Pipeline(runner="BundleBasedDirectRunner", options=opts) as p:
        results = build(p | scenario(), True, cfg).results
        fired = results | beam.Filter(lambda r: r.kpi is not None) | beam.Map(
            lambda r: (r.service, (r.window_start - T0 * 1_000_000) // 1_000_000, r.revision, r.kpi.events))
        assert_that(fired, equal_to([("web", 0, 1, 4), ("web", 0, 2, 5), ("web", 60, 1, 1)]))
        quiet = results | "Quiet" >> beam.Filter(lambda r: r.kpi is None) | beam.Map(lambda r: r.revision)
        # after its last data the service is scored in quiet windows (silence): the one at 120 s ended
        # before the input did; the end of the input drains open windows but is not silence
        assert_that(quiet, equal_to([1]), label="QuietWindows")

    kpis = f"read_parquet('{out}/kpis/*/*.parquet')"
    # the late firing replaced the on-time row: one row per window, the latest counts
    assert sql(f"select epoch(window_start)::int - {T0}, service, events from {kpis} order by 1") == [
        (0, "web", 5), (60, "web", 1)]
    events = f"read_parquet('{out}/events/*/*.parquet')"
    assert sql(f"select count(*), sum(line_count), count(distinct source) from {events}") == [(6, 6, 6)]
    assert sql(f"select template, template_id, count(*) from {events} group by all order by 1") == [
        ("GET /a took <*> ms", "10d636bbd8b96228", 1), ("user <*> logged in", "c93942870281d043", 5)]
    dead = sql(f"select source, line_no, line_count, reason from read_parquet('{out}/dead_letter/*/*.parquet')")
    assert dead == [("pubsub://t/web-20", 1, 1, f"too_late: window {T0 * 1_000_000} closed at watermark "
                                                 f"{T0 * 1_000_000 + 3 * MIN} (allowed lateness 120s)")]
    # every line is an event or a dead letter
    stats = sql(f"select sum(lines_read), sum(blank_lines) from read_parquet('{out}/_stream/s1/stats/*/*.parquet')")
    assert stats == [(7, 0)]
    # the learner published what it learned, with the batch job's ids
    stored = {(t.service, t.template_id, t.template) for t in FileTemplateStore(cfg.store_path).load()}
    assert stored == {("web", "c93942870281d043", "user <*> logged in"), ("web", "10d636bbd8b96228", "GET /a took <*> ms")}


def test_workers_use_the_batch_store(out):
    """A template the batch job stored is applied on the workers with its id and first-seen time."""
    store = os.path.join(out, "_store", "templates.json.gz")
    os.makedirs(os.path.dirname(store))
    FileTemplateStore(store).save([StoredTemplate("web", "c93942870281d043", "user <*> logged in", 1_000, 2_000,
                                                  {"b1": 9}, "user 1 logged in")])
    stream = (ts.TestStream().advance_watermark_to(T0).add_elements([rec(1, "user 5 logged in")])
              .advance_watermark_to_infinity().advance_processing_time(60))  # the clock fires the last flush
    cfg = StreamConfig(out, "s2", store, POLICY, refresh_s=0, publish_s=0, flush_s=1)
    opts = PipelineOptions()
    opts.view_as(StandardOptions).streaming = True
    with beam.Pipeline(runner="BundleBasedDirectRunner", options=opts) as p:
        build(p | stream, True, cfg)
    assert sql(f"select template_id from read_parquet('{out}/events/*/*.parquet')") == [("c93942870281d043",)]
    # the window fired when the input ended (drain); the template is not new: the store saw it first
    assert [os.path.basename(f) for f in glob.glob(f"{out}/kpis/*/stream-*.parquet")] == [
        f"stream-8d4726e14c3d-{T0 * 1_000_000}.parquet"]
    assert sql(f"select events, new_templates, distinct_templates from read_parquet('{out}/kpis/*/*.parquet')") == [
        (1, 0, 1)]


def lines_at(minute: int, messages: list[str], level: str = "INFO") -> bytes:
    return "\n".join(f"2026-01-01T00:{minute:02d}:{10 + i % 40:02d}Z {level} {m}" for i, m in enumerate(messages)).encode()


def test_a_spike_is_scored_and_summarised_as_its_window_closes(out):
    from aiops.anomaly.config import AnomalyConfig
    from aiops.llm.types import LLMConfig

    stream = ts.TestStream().advance_watermark_to(T0)
    for minute in range(4):  # a quiet baseline: 10 logins a minute
        data = lines_at(minute, [f"user {i} logged in" for i in range(10)])
        stream = stream.add_elements([TimestampedValue(RawRecord(f"pubsub://t/{minute}", data, "web", None,
                                                                 (T0 + minute * 60) * 1_000_000), T0 + minute * 60)])
        stream = stream.advance_watermark_to(T0 + minute * 60 + 61)
    burst = lines_at(4, [f"payment {i} failed: card declined" for i in range(100)], "ERROR")
    stream = (stream.add_elements([TimestampedValue(RawRecord("pubsub://t/4", burst, "web", None, (T0 + 240) * 1_000_000),
                                                    T0 + 240)])
              .advance_watermark_to(T0 + 301).advance_processing_time(10).advance_watermark_to_infinity()
              .advance_processing_time(10))
    cfg = StreamConfig(out, "s3", os.path.join(out, "_store", "t.json.gz"), POLICY,
                       AnomalyConfig(min_baseline_windows=3, recent_windows=3), refresh_s=0, publish_s=0, flush_s=1,
                       llm=LLMConfig())
    opts = PipelineOptions()
    opts.view_as(StandardOptions).streaming = True
    with beam.Pipeline(runner="BundleBasedDirectRunner", options=opts) as p:
        build(p | stream, True, cfg)
    found = sql(f"select epoch(window_start)::int - {T0}, kind, template_id is null, observed, expected "
                f"from read_parquet('{out}/anomalies/*/*.parquet') where template_id is null order by all")
    assert found == [(240, "frequency", True, 100.0, 0.0), (240, "frequency", True, 100.0, 10.0)]
    summaries = sql(f"select epoch(window_start)::int - {T0}, service, backend, status, anomaly_count "
                    f"from read_parquet('{out}/summaries/*/*.parquet')")
    assert summaries == [(240, "web", "offline", "offline", 2)]
    assert sql(f"select attempt, status from read_parquet('{out}/llm_requests/*/*.parquet')") == [(1, "ok")]
