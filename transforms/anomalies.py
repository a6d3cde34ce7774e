"""ScoreWindows and ScoreSessions: the anomaly stages, around the pure scorers in ``aiops.anomaly``.

ScoreWindows merges the per-template window partials from ApplyTemplates, writes them as
the ``template_windows`` table, reads earlier runs' ``template_windows`` under the same
output as history, and scores each service (frequency, silence, new_template, content).
ScoreSessions orders each session's events, fits one sequence model per service (seeded
with the model an earlier run persisted) and scores every session.

Example (see tests/test_anomaly_transforms.py)::

    found = template_partials | ScoreWindows(ctx, models)
    sessions = session_parts | ScoreSessions(ctx)  # (service, spool path) from ApplyTemplates
"""

from __future__ import annotations

import hashlib
import pickle
import uuid
from dataclasses import dataclass, field
from typing import BinaryIO

import apache_beam as beam
import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics import Metrics

from aiops.anomaly.config import AnomalyConfig
from aiops.anomaly.grid import assemble
from aiops.anomaly.partial_tables import (
    TEMPLATE_WINDOW_SCHEMA,
    merge_partial_tables,
    rows_table,
    run_range,
    split_services,
)
from aiops.anomaly.sessions import PARTS_SCHEMA, open_flags, sequence_findings, session_table, summarise_all
from aiops.anomaly.windows import score_service
from aiops.parquet_io import DAY_US, PartitionedWriter, WrittenFile, dt_of, filter_equal
from aiops.schema import AnomalyRow, SessionRow, TemplateWindowRow, arrow_schema, rows_to_table
from transforms.gather import Gather


@dataclass(frozen=True)
class AnomalyContext:
    """What the anomaly stages need to know about the run."""

    root: str  # the output directory (history is read from its template_windows table)
    staging: str
    run_id: str
    batch_key: str  # this run's own earlier files are not history
    window_us: int
    sequence_dir: str  # where sequence models persist between runs
    config: AnomalyConfig = field(default_factory=AnomalyConfig)


def model_name(service: str) -> str:
    return hashlib.blake2b(service.encode(), digest_size=8).hexdigest() + ".seq"


class WriteRowsFn(beam.DoFn):
    """(day, rows) -> one Parquet file of ``table`` for that day."""

    def __init__(self, staging: str, table: str, row_type: type, time_column: str, order):
        self.staging, self.table, self.row_type, self.time_column, self.order = staging, table, row_type, time_column, order

    def process(self, element):
        _, rows = element
        writer = PartitionedWriter(FileSystems.join(self.staging, self.table), uuid.uuid4().hex, self.time_column,
                                   self.table, arrow_schema(self.row_type))
        writer.write(rows_to_table(self.row_type, sorted(rows, key=self.order)))
        yield from writer.close()


def write_rows(rows, name: str, staging: str, row_type: type, time_column: str, order):
    """Group rows by event day and write one file per day (a composite used by several stages)."""
    index = row_type._fields.index(time_column)  # type: ignore[attr-defined]  # a NamedTuple class
    return (
        rows
        | f"KeyByDay{name}" >> beam.Map(lambda r: (r[index] // DAY_US, r))
        | f"GroupByDay{name}" >> beam.GroupByKey()
        | f"Write{name}" >> beam.ParDo(WriteRowsFn(staging, name_to_table(name), row_type, time_column, order))
    )


def name_to_table(name: str) -> str:
    return "".join("_" + c.lower() if c.isupper() else c for c in name).lstrip("_")


KEEP_VALUES = 32  # categorical values kept per (window, template, field) while merging, as TemplateWindowAcc.merge


def read_history(ctx: AnomalyContext, lo: int, hi: int) -> pa.Table:
    """Earlier runs' template_windows rows from window start ``lo`` to the day of ``hi`` (µs as int64)."""
    days = {dt_of(d) for d in range(lo // DAY_US, hi // DAY_US + 1)}
    pattern = FileSystems.join(ctx.root, "template_windows", "dt=*", "*.parquet")
    tables = []
    for meta in FileSystems.match([pattern])[0].metadata_list:
        parts = meta.path.rstrip("/").split("/")
        if parts[-2].removeprefix("dt=") not in days or parts[-1].startswith(ctx.batch_key + "-"):
            continue
        with FileSystems.open(meta.path, compression_type="uncompressed") as fh:
            tables.append(pq.read_table(fh, columns=list(TemplateWindowRow._fields)).cast(TEMPLATE_WINDOW_SCHEMA))
    if not tables:
        return HISTORY_SCHEMA.empty_table()
    table = pa.concat_tables(tables)
    for name in ("window_start", "window_end"):  # TimestampUs: ints, as the rows of this run
        table = table.set_column(table.schema.get_field_index(name), name, table.column(name).cast(pa.int64()))
    return table.filter(pc.greater_equal(table.column("window_start"), lo))


HISTORY_SCHEMA = pa.schema([pa.field(f.name, pa.int64()) if f.name in ("window_start", "window_end") else f
                            for f in TEMPLATE_WINDOW_SCHEMA])


class MergeWindowsFn(beam.DoFn):
    """Every unit's partials table in; the ``template_windows`` table (tagged ``rows``) and, per
    service, (service, (its partials, its history, the run's window range)) out."""

    def __init__(self, ctx: AnomalyContext):
        self.ctx = ctx
        self.rows_read = Metrics.counter("aiops", "history_rows")

    def setup(self) -> None:
        self.con = duckdb.connect()

    def teardown(self) -> None:
        self.con.close()

    def process(self, element):
        merged = merge_partial_tables(element, KEEP_VALUES, self.con)
        span = run_range(merged)
        if span is None:
            return
        yield beam.pvalue.TaggedOutput("rows", rows_table(merged, self.ctx.window_us, self.ctx.run_id,
                                                          self.ctx.config.top_values, self.con))
        history = read_history(self.ctx, span[0] - self.ctx.config.history_days * DAY_US, span[1])
        self.rows_read.inc(history.num_rows)
        for service, part in split_services(merged).items():
            yield service, (part, filter_equal(history, "service", service), span)


class WriteTableFn(beam.DoFn):
    """A table in, its Parquet files per ``dt`` out."""

    def __init__(self, staging: str, table: str, time_column: str):
        self.staging, self.table, self.time_column = staging, table, time_column

    def process(self, table: pa.Table):
        writer = PartitionedWriter(FileSystems.join(self.staging, self.table), uuid.uuid4().hex, self.time_column,
                                   self.table, table.schema)
        writer.write(table)
        yield from writer.close()


class ScoreServiceFn(beam.DoFn):
    def __init__(self, ctx: AnomalyContext):
        self.ctx = ctx
        self.found = Metrics.counter("aiops", "anomalies")

    def process(self, element, models):
        service, (partials, history, span) = element
        model = models.get(service)
        first_seen = {t.template_id: t.first_seen for t in model.templates} if model else {}
        texts = {t.template_id: t.template for t in model.templates} if model else {}
        rows = [TemplateWindowRow(*values) for values in zip(*(history.column(c).to_pylist()
                                                              for c in TemplateWindowRow._fields), strict=True)]
        grid = assemble(service, partials, rows, first_seen, texts, span, self.ctx.window_us)
        found = score_service(grid, self.ctx.config, self.ctx.run_id)
        self.found.inc(len(found))
        yield from found


class ScoreWindows(beam.PTransform):
    """Partials tables (one per work unit, ``PARTIALS_SCHEMA``) -> AnomalyRow; tagged ``written``.

    One step merges every unit's table, reads the history once and hands each service its
    partials and history; the services are then scored in parallel.
    """

    def __init__(self, ctx: AnomalyContext, models):
        super().__init__()
        self.ctx, self.models = ctx, models

    def expand(self, partials):
        ctx = self.ctx
        merged = (
            partials
            | "GatherPartials" >> Gather()
            | "MergeTemplatePartials" >> beam.ParDo(MergeWindowsFn(ctx)).with_outputs("rows", main="services")
        )
        written = merged.rows | "WriteTemplateWindows" >> beam.ParDo(
            WriteTableFn(ctx.staging, "template_windows", "window_start"))
        found = (
            merged.services
            | "SpreadServices" >> beam.Reshuffle()
            | "ScoreServices" >> beam.ParDo(ScoreServiceFn(ctx), beam.pvalue.AsDict(self.models))
        )
        return found, written


def load_sequence_state(path: str) -> dict:
    """The persisted {batch_key, model, prior} of a service ({} when there is none yet)."""
    if not FileSystems.exists(path):
        return {}
    with FileSystems.open(path, compression_type="uncompressed") as fh:
        return pickle.loads(fh.read())


SESSION_ROWS_CHUNK = 32_768


class SessionSpool:
    """The keyed events of one work unit, spooled to a staged Arrow stream instead of held in memory."""

    def __init__(self, staging: str):
        self.path = FileSystems.join(staging, "session_parts", f"{uuid.uuid4().hex}.arrows")
        self.services: set[str] = set()
        self._fh: BinaryIO | None = None
        self._writer: pa.ipc.RecordBatchStreamWriter | None = None

    def write(self, parts: pa.Table) -> None:
        if not parts.num_rows:
            return
        if self._writer is None:
            self._fh = FileSystems.create(self.path, compression_type="uncompressed")
            self._writer = pa.ipc.new_stream(self._fh, PARTS_SCHEMA, options=pa.ipc.IpcWriteOptions(compression="lz4"))
        self._writer.write_table(parts)
        self.services.update(parts.column("service").combine_chunks().dictionary.to_pylist())

    def close(self) -> list[tuple[str, str]]:
        """(service, path) for every service with keyed events in this unit."""
        if self._writer is None or self._fh is None:
            return []
        self._writer.close()
        self._fh.close()
        return [(svc, self.path) for svc in sorted(self.services)]


def read_parts(service: str, paths) -> list[pa.Table]:
    """The spooled parts of one service, one table per spool file."""
    out = []
    for path in paths:
        with FileSystems.open(path, compression_type="uncompressed") as fh:
            table = pa.ipc.open_stream(fh).read_all()
        out.append(table.filter(pc.equal(table.column("service"), service)))
    return out


class ScoreSessionsFn(beam.DoFn):
    """All sessions of one service: fit (with the persisted prior), score, persist the model."""

    def __init__(self, ctx: AnomalyContext):
        self.ctx = ctx
        self.flagged = Metrics.counter("aiops", "anomalous_sessions")

    def process(self, element):
        from aiops.anomaly.sequence import SequenceModel

        service, sessions = element
        sessions = sorted(sessions, key=lambda s: (s.first_time, s.session_id))
        stored = load_sequence_state(FileSystems.join(self.ctx.sequence_dir, model_name(service)))
        # A re-run of the same inputs starts from the model as it was before them, not from its own output.
        prior_bytes = stored.get("prior") if stored.get("batch_key") == self.ctx.batch_key else stored.get("model")
        prior = SequenceModel.from_bytes(prior_bytes) if prior_bytes else None
        sequences = [s.templates for s in sessions]
        flags = open_flags(sessions, self.ctx.config.session_open_margin_s * 1_000_000)
        model = SequenceModel.fit(sequences, prior, open_flags=flags)
        scores = model.score_many(sequences, flags)
        self.flagged.inc(sum(1 for _, reason, _ in scores if reason is not None))
        staged = FileSystems.join(self.ctx.staging, "sequence_models", model_name(service))
        state = {"batch_key": self.ctx.batch_key, "model": model.to_bytes(), "prior": prior_bytes}
        with FileSystems.create(staged, compression_type="uncompressed") as fh:
            fh.write(pickle.dumps(state))
        yield beam.pvalue.TaggedOutput("written", WrittenFile("sequence_models", "", staged, len(sessions)))
        # Written here, not emitted: sessions are many, and per-element hand-offs would cost more than scoring.
        writer = PartitionedWriter(FileSystems.join(self.ctx.staging, "sessions"), uuid.uuid4().hex, "first_time",
                                   "sessions", arrow_schema(SessionRow))
        for i in range(0, len(sessions), SESSION_ROWS_CHUNK):  # a chunk at a time: bounded extra memory
            chunk = slice(i, i + SESSION_ROWS_CHUNK)
            writer.write(session_table(service, sessions[chunk], scores[chunk], self.ctx.run_id))
        for written in writer.close():
            yield beam.pvalue.TaggedOutput("written", written)
        yield from sequence_findings(service, sessions, scores, self.ctx.window_us, self.ctx.config, self.ctx.run_id)


class ScoreSessions(beam.PTransform):
    """(service, spool path of its parts) -> AnomalyRow (sequence); tagged ``written`` (sessions table, models)."""

    def __init__(self, ctx: AnomalyContext):
        super().__init__()
        self.ctx = ctx

    def expand(self, parts):
        ctx = self.ctx
        scored = (
            parts
            | "GroupSessionsByService" >> beam.GroupByKey()
            | "SummariseSessions" >> beam.Map(lambda kv: (kv[0], summarise_all(read_parts(kv[0], kv[1]))))
            | "ScoreSessions" >> beam.ParDo(ScoreSessionsFn(ctx)).with_outputs("written", main="found")
        )
        return scored.found, scored.written


def write_anomalies(found, staging: str):
    return write_rows(found, "Anomalies", staging, AnomalyRow, "window_start",
                      lambda r: (r.window_start, r.service, r.kind, r.template_id or ""))
