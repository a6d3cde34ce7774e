"""The anomaly stages' building blocks, around the pure scorers in ``aiops.anomaly``.

``window_findings`` scores one service's merged window partials with its history (earlier runs'
``template_windows`` under the same output, ``read_history``): frequency, silence, new_template,
content. ``session_outputs`` orders each session's events, fits one sequence model per service
(seeded with the model an earlier run persisted) and scores every session. ``SessionSpool`` keeps
ApplyTemplates' keyed events on disk until then. ScoreServices (transforms/scoring.py) runs them.

Example (see tests/test_anomaly_transforms.py)::

    found = window_findings(ctx, "web", partials, history, (first, last), model)
"""

from __future__ import annotations

import hashlib
import pickle
import uuid
from dataclasses import dataclass, field
from typing import BinaryIO

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from apache_beam.io.filesystems import FileSystems

from aiops.anomaly.config import AnomalyConfig
from aiops.anomaly.grid import assemble
from aiops.anomaly.partial_tables import TEMPLATE_WINDOW_SCHEMA
from aiops.anomaly.sessions import PARTS_SCHEMA, open_flags, sequence_findings, session_table
from aiops.anomaly.windows import score_service
from aiops.parquet_io import DAY_US, PartitionedWriter, WrittenFile, dt_of
from aiops.schema import AnomalyRow, SessionRow, TemplateWindowRow, arrow_schema


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


KEEP_VALUES = 32  # categorical values kept per (window, template, field) while merging, as TemplateWindowAcc.merge


def read_history(ctx: AnomalyContext, lo: int, hi: int, services: set[str]) -> pa.Table:
    """Earlier runs' template_windows rows of ``services`` from window start ``lo`` to the day of ``hi``
    (µs as int64); each file's other services are dropped as it is read."""
    days = {dt_of(d) for d in range(lo // DAY_US, hi // DAY_US + 1)}
    wanted = pa.array(sorted(services), pa.string())
    pattern = FileSystems.join(ctx.root, "template_windows", "dt=*", "*.parquet")
    tables = []
    for meta in FileSystems.match([pattern])[0].metadata_list:
        parts = meta.path.rstrip("/").split("/")
        if parts[-2].removeprefix("dt=") not in days or parts[-1].startswith(ctx.batch_key + "-"):
            continue
        with FileSystems.open(meta.path, compression_type="uncompressed") as fh:
            table = pq.read_table(fh, columns=list(TemplateWindowRow._fields)).cast(TEMPLATE_WINDOW_SCHEMA)
        tables.append(table.filter(pc.is_in(table.column("service"), value_set=wanted)))
    if not tables:
        return HISTORY_SCHEMA.empty_table()
    table = pa.concat_tables(tables)
    for name in ("window_start", "window_end"):  # TimestampUs: ints, as the rows of this run
        table = table.set_column(table.schema.get_field_index(name), name, table.column(name).cast(pa.int64()))
    return table.filter(pc.greater_equal(table.column("window_start"), lo))


HISTORY_SCHEMA = pa.schema([pa.field(f.name, pa.int64()) if f.name in ("window_start", "window_end") else f
                            for f in TEMPLATE_WINDOW_SCHEMA])


def window_findings(ctx: AnomalyContext, service: str, partials: pa.Table, history: pa.Table,
                    span: tuple[int, int], model) -> list[AnomalyRow]:
    """Window findings of one service: its merged partials on the grid with its history (rows as int µs)."""
    first_seen = {t.template_id: t.first_seen for t in model.templates} if model else {}
    texts = {t.template_id: t.template for t in model.templates} if model else {}
    rows = [TemplateWindowRow(*values) for values in zip(*(history.column(c).to_pylist()
                                                          for c in TemplateWindowRow._fields), strict=True)]
    grid = assemble(service, partials, rows, first_seen, texts, span, ctx.window_us)
    return score_service(grid, ctx.config, ctx.run_id)


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
        self.rows: dict[str, int] = {}
        self.sessions: dict[str, int] = {}  # distinct keys per batch, summed: an estimate for planning
        self._fh: BinaryIO | None = None
        self._writer: pa.ipc.RecordBatchStreamWriter | None = None

    def write(self, parts: pa.Table) -> None:
        if not parts.num_rows:
            return
        if self._writer is None:
            self._fh = FileSystems.create(self.path, compression_type="uncompressed")
            self._writer = pa.ipc.new_stream(self._fh, PARTS_SCHEMA, options=pa.ipc.IpcWriteOptions(compression="lz4"))
        self._writer.write_table(parts)
        plain = pa.table({"service": parts.column("service").cast(pa.string()),
                          "session_id": parts.column("session_id").cast(pa.string())})
        counts = plain.group_by("service").aggregate([("session_id", "count"), ("session_id", "count_distinct")])
        for svc, n, k in zip(*(counts.column(c).to_pylist() for c in ("service", "session_id_count",
                                                                      "session_id_count_distinct")), strict=True):
            self.rows[svc] = self.rows.get(svc, 0) + n
            self.sessions[svc] = self.sessions.get(svc, 0) + k

    def close(self) -> list[tuple[str, str, int, int]]:
        """(service, path, keyed events, sessions) for every service with keyed events in this unit."""
        if self._writer is None or self._fh is None:
            return []
        self._writer.close()
        self._fh.close()
        return [(svc, self.path, self.rows[svc], self.sessions[svc]) for svc in sorted(self.rows)]


def read_parts(service: str, paths) -> list[pa.Table]:
    """The spooled parts of one service, one table per spool file."""
    out = []
    for path in paths:
        with FileSystems.open(path, compression_type="uncompressed") as fh:
            table = pa.ipc.open_stream(fh).read_all()
        out.append(table.filter(pc.equal(table.column("service"), service)))
    return out


def session_outputs(ctx: AnomalyContext, service: str, sessions: list):
    """All sessions of one service: fit (with the persisted prior), score, persist the model.

    Yields the sequence findings (AnomalyRow), the number of anomalous sessions (int) and the
    files written (WrittenFile: the staged model and the ``sessions`` table).
    """
    from aiops.anomaly.sequence import SequenceModel

    sessions = sorted(sessions, key=lambda s: (s.first_time, s.session_id))
    stored = load_sequence_state(FileSystems.join(ctx.sequence_dir, model_name(service)))
    # A re-run of the same inputs starts from the model as it was before them, not from its own output.
    prior_bytes = stored.get("prior") if stored.get("batch_key") == ctx.batch_key else stored.get("model")
    prior = SequenceModel.from_bytes(prior_bytes) if prior_bytes else None
    sequences = [s.templates for s in sessions]
    flags = open_flags(sessions, ctx.config.session_open_margin_s * 1_000_000)
    model = SequenceModel.fit(sequences, prior, open_flags=flags)
    scores = model.score_many(sequences, flags)
    yield sum(1 for _, reason, _ in scores if reason is not None)
    staged = FileSystems.join(ctx.staging, "sequence_models", model_name(service))
    state = {"batch_key": ctx.batch_key, "model": model.to_bytes(), "prior": prior_bytes}
    with FileSystems.create(staged, compression_type="uncompressed") as fh:
        fh.write(pickle.dumps(state))
    yield WrittenFile("sequence_models", "", staged, len(sessions))
    # Written here, not emitted: sessions are many, and per-element hand-offs would cost more than scoring.
    writer = PartitionedWriter(FileSystems.join(ctx.staging, "sessions"), uuid.uuid4().hex, "first_time",
                               "sessions", arrow_schema(SessionRow))
    for i in range(0, len(sessions), SESSION_ROWS_CHUNK):  # a chunk at a time: bounded extra memory
        chunk = slice(i, i + SESSION_ROWS_CHUNK)
        writer.write(session_table(service, sessions[chunk], scores[chunk], ctx.run_id))
    yield from writer.close()
    yield from sequence_findings(service, sessions, scores, ctx.window_us, ctx.config, ctx.run_id)
