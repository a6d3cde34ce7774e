"""The streaming job's sinks: the same tables and layout as the batch job, written as windows close.

- ``AppendTables``: accepted events and dead letters are grouped per table and day and written
  every ``flush_s`` seconds of processing time (a repeated processing-time trigger on the global
  window), one new Parquet file per table, day and firing: ``stream-<run id>-<uuid>.parquet``.
- ``WriteWindowResults``: each firing of a service window writes its ``kpis``,
  ``template_windows`` and ``anomalies`` rows to one file per table named after the service and
  the window (``stream-<service hash>-<window start>.parquet``); a late firing replaces the file,
  so a query always sees the window's latest rows once, and a restarted job replaces what the
  previous one wrote for the same window.

Every file is written under a hidden name and renamed into place (``replace_table``), so
queries never read a partial file.

Example (see tests/test_stream.py)::

    (events, dead) | AppendTables(out_dir, run_id, flush_s=10)
    results | WriteWindowResults(out_dir)
"""

from __future__ import annotations

import hashlib
import uuid

import apache_beam as beam
import pyarrow as pa
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics import Metrics
from apache_beam.transforms import trigger, window

from aiops.parquet_io import DAY_US, dt_of, replace_table, split_by_day
from aiops.schema import (
    AnomalyRow,
    DeadLetter,
    Event,
    FileStats,
    KpiRow,
    TemplateWindowRow,
    arrow_schema,
    rows_to_table,
)
from transforms.stream_windows import WindowResult

EVENT_SCHEMA = arrow_schema(Event)
DEAD_LETTER_SCHEMA = arrow_schema(DeadLetter)


class WriteAppendFn(beam.DoFn):
    """((table, day), [Arrow tables]) -> one new file."""

    def __init__(self, root: str, run_id: str):
        self.root, self.run_id = root, run_id
        self.rows = Metrics.counter("aiops", "rows_written")

    def process(self, element):
        (name, day), tables = element
        table = pa.concat_tables(list(tables))
        if not table.num_rows:
            return
        path = FileSystems.join(self.root, name, f"dt={dt_of(day)}", f"stream-{self.run_id}-{uuid.uuid4().hex[:12]}.parquet")
        replace_table(table, path)
        self.rows.inc(table.num_rows)
        yield path


def stats_dir_name(run_id: str) -> str:
    """Where a streaming run keeps its line accounting (hidden: not a table; the launcher sums it)."""
    return f"_stream/{run_id}/stats"


class AppendTables(beam.PTransform):
    """(events: PCollection[pa.Table], dead letters: PCollection[list[DeadLetter]], stats: PCollection[FileStats])
    -> written paths."""

    def __init__(self, root: str, run_id: str, flush_s: float):
        super().__init__()
        self.root, self.run_id, self.flush_s = root, run_id, flush_s

    def expand(self, pcolls):
        events, dead, stats = pcolls
        stats_name = stats_dir_name(self.run_id)
        keyed_events = events | "KeyEventsByDay" >> beam.FlatMap(
            lambda t: [(("events", d), part.select(EVENT_SCHEMA.names)) for d, part in split_by_day(t, "event_time")])
        keyed_dead = dead | "KeyDeadByDay" >> beam.FlatMap(
            lambda rows: [(("dead_letter", d), part) for d, part in split_by_day(rows_to_table(DeadLetter, rows), "event_time")])
        keyed_stats = stats | "KeyStats" >> beam.Map(lambda s: ((stats_name, 0), rows_to_table(FileStats, [s])))
        return (
            (keyed_events, keyed_dead, keyed_stats)
            | "FlattenAppends" >> beam.Flatten()
            | "EveryFlush" >> beam.WindowInto(
                window.GlobalWindows(),
                # whole seconds: the trigger's proto translation takes an int
                trigger=trigger.Repeatedly(trigger.AfterProcessingTime(max(1, round(self.flush_s)))),
                accumulation_mode=trigger.AccumulationMode.DISCARDING)
            | "GroupByTableDay" >> beam.GroupByKey()
            | "WriteAppends" >> beam.ParDo(WriteAppendFn(self.root, self.run_id))
        )


def window_file(root: str, table: str, service: str, start_us: int) -> str:
    digest = hashlib.blake2b(service.encode(), digest_size=6).hexdigest()
    return FileSystems.join(root, table, f"dt={dt_of(start_us // DAY_US)}", f"stream-{digest}-{start_us}.parquet")


class WriteWindowResultFn(beam.DoFn):
    """A window's firing -> its kpis, template_windows and anomalies files (replacing earlier firings')."""

    TABLES = (("kpis", KpiRow), ("template_windows", TemplateWindowRow), ("anomalies", AnomalyRow))

    def __init__(self, root: str):
        self.root = root
        self.rows = Metrics.counter("aiops", "window_rows_written")

    def process(self, result: WindowResult):
        rows: dict[str, list] = {"kpis": [result.kpi] if result.kpi is not None else [],
                                 "template_windows": result.template_windows, "anomalies": result.anomalies}
        for name, row_type in self.TABLES:
            path = window_file(self.root, name, result.service, result.window_start)
            if rows[name]:
                replace_table(rows_to_table(row_type, rows[name]), path)
                self.rows.inc(len(rows[name]))
                yield path
            elif result.revision > 1 and FileSystems.exists(path):
                FileSystems.delete([path])  # the late firing no longer has what the earlier one wrote


class WriteWindowResults(beam.PTransform):
    def __init__(self, root: str):
        super().__init__()
        self.root = root

    def expand(self, results):
        return results | "WriteWindowRows" >> beam.ParDo(WriteWindowResultFn(self.root))
