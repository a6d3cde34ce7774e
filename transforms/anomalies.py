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
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics import Metrics

from aiops.anomaly.config import AnomalyConfig
from aiops.anomaly.grid import assemble
from aiops.anomaly.partials import merge_partials, to_rows
from aiops.anomaly.sessions import PARTS_SCHEMA, open_flags, sequence_findings, session_table, summarise_all
from aiops.anomaly.windows import score_service
from aiops.parquet_io import DAY_US, PartitionedWriter, WrittenFile, dt_of
from aiops.schema import AnomalyRow, SessionRow, TemplateWindowRow, arrow_schema, rows_to_table


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


class PartialsCombineFn(beam.CombineFn):
    def create_accumulator(self):
        return {}

    def add_input(self, acc, value):
        return merge_partials(acc, {("", 0): value})

    def merge_accumulators(self, accs):
        out: dict = {}
        for acc in accs:
            merge_partials(out, acc)
        return out

    def extract_output(self, acc):
        return acc.get(("", 0), {})


class RangeFn(beam.CombineFn):
    """(min, max) of the window starts, None when there are none."""

    def create_accumulator(self):
        return None

    def add_input(self, acc, value):
        return (value, value) if acc is None else (min(acc[0], value), max(acc[1], value))

    def merge_accumulators(self, accs):
        out = None
        for acc in accs:
            if acc is not None:
                out = acc if out is None else (min(out[0], acc[0]), max(out[1], acc[1]))
        return out

    def extract_output(self, acc):
        return acc


class ReadHistoryFn(beam.DoFn):
    """Earlier runs' template_windows rows within the history horizon, keyed by service."""

    def __init__(self, ctx: AnomalyContext):
        self.ctx = ctx
        self.rows_read = Metrics.counter("aiops", "history_rows")

    def process(self, _, run_range):
        if run_range is None:
            return
        lo = run_range[0] - self.ctx.config.history_days * DAY_US
        days = {dt_of(d) for d in range(lo // DAY_US, run_range[1] // DAY_US + 1)}
        pattern = FileSystems.join(self.ctx.root, "template_windows", "dt=*", "*.parquet")
        for meta in FileSystems.match([pattern])[0].metadata_list:
            parts = meta.path.rstrip("/").split("/")
            if parts[-2].removeprefix("dt=") not in days or parts[-1].startswith(self.ctx.batch_key + "-"):
                continue
            with FileSystems.open(meta.path, compression_type="uncompressed") as fh:
                table = pq.read_table(fh, columns=list(TemplateWindowRow._fields))
            for name in ("window_start", "window_end"):  # TimestampUs: ints, as the rows of this run
                table = table.set_column(table.schema.get_field_index(name), name, table.column(name).cast("int64"))
            self.rows_read.inc(table.num_rows)
            for values in zip(*(table.column(c).to_pylist() for c in TemplateWindowRow._fields), strict=True):
                row = TemplateWindowRow(*values)
                if row.window_start >= lo:
                    yield row.service, row


class ScoreServiceFn(beam.DoFn):
    def __init__(self, ctx: AnomalyContext):
        self.ctx = ctx
        self.found = Metrics.counter("aiops", "anomalies")

    def process(self, element, run_range, models):
        service, grouped = element
        run = dict(grouped["run"])
        if not run or run_range is None:
            return
        model = models.get(service)
        first_seen = {t.template_id: t.first_seen for t in model.templates} if model else {}
        texts = {t.template_id: t.template for t in model.templates} if model else {}
        grid = assemble(service, run, list(grouped["history"]), first_seen, texts, run_range, self.ctx.window_us)
        rows = score_service(grid, self.ctx.config, self.ctx.run_id)
        self.found.inc(len(rows))
        yield from rows


class ScoreWindows(beam.PTransform):
    """((service, window), {template_id: TemplateWindowAcc}) -> AnomalyRow; tagged ``written``."""

    def __init__(self, ctx: AnomalyContext, models):
        super().__init__()
        self.ctx, self.models = ctx, models

    def expand(self, partials):
        ctx = self.ctx
        merged = partials | "MergeTemplatePartials" >> beam.CombinePerKey(PartialsCombineFn())
        rows = merged | "TemplateWindowRows" >> beam.FlatMap(
            lambda kv: to_rows(kv[0][0], kv[0][1], ctx.window_us, kv[1], ctx.run_id, ctx.config.top_values))
        written = write_rows(rows, "TemplateWindows", ctx.staging, TemplateWindowRow, "window_start",
                             lambda r: (r.window_start, r.service, r.template_id))
        run_range = (
            merged
            | "WindowStarts" >> beam.Map(lambda kv: kv[0][1])
            | "RunRange" >> beam.CombineGlobally(RangeFn())
        )
        history = (
            merged.pipeline
            | "HistorySeed" >> beam.Create([None])
            | "ReadHistory" >> beam.ParDo(ReadHistoryFn(ctx), beam.pvalue.AsSingleton(run_range))
        )
        by_service = merged | "KeyByService" >> beam.Map(lambda kv: (kv[0][0], (kv[0][1], kv[1])))
        found = (
            {"run": by_service, "history": history}
            | "JoinHistory" >> beam.CoGroupByKey()
            | "ScoreServices" >> beam.ParDo(ScoreServiceFn(ctx), beam.pvalue.AsSingleton(run_range),
                                            beam.pvalue.AsDict(self.models))
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
