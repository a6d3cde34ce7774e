"""MineTemplates and ApplyTemplates: one template model per service, applied everywhere.

MineTemplates merges the per-file observations of distinct masked messages, then
one learner per service (seeded from the persistent template store) builds a
``ServiceModel``. The models are a side input of ApplyTemplates, so every worker
assigns the same template, and the same stable ``template_id``, to the same
message. Learning order never depends on bundle order: the learner sorts.

Example (see tests/test_transforms.py)::

    models = observations | MineTemplates(store_path, staging)
    applied = staged | ApplyTemplates(models, config, window_us)
"""

from __future__ import annotations

import hashlib
import pickle
import uuid

import apache_beam as beam
import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics import Metrics

from aiops.anomaly.partial_tables import merge_partial_tables
from aiops.anomaly.partials import partials_table
from aiops.anomaly.sessions import SessionKey, session_parts
from aiops.kpi import KpiAccumulator, partial_kpis
from aiops.parquet_io import PartitionedWriter, WrittenFile
from aiops.schema import Event, arrow_schema
from aiops.templating.learner import Observation, TemplateConfig, learn
from aiops.templating.store import FileTemplateStore
from transforms.anomalies import KEEP_VALUES, SessionSpool
from transforms.kpis import stage_kpis
from transforms.parse import work_units
from transforms.scoring import stage_partials

EVENT_SCHEMA = arrow_schema(Event)
# Staged events templated, written and summarised at a time: one DuckDB query and each template's
# parameter extraction have a fixed cost, so batch them (bounded memory: one batch per worker).
APPLY_ROWS = 131_072
MERGE_EVERY = 8  # partials tables of a unit merged into one past this many


def merge_observations(values) -> tuple[int, int, int, str]:
    """Combine (count, first, last, example) tuples; the example of the earliest wins."""
    count, first, last, example = 0, 0, 0, ""
    for i, (n, lo, hi, ex) in enumerate(values):
        count += n
        if i == 0 or lo < first or (lo == first and ex < example):
            first, example = lo, ex
        last = hi if i == 0 else max(last, hi)
    return count, first, last, example


class LearnServiceFn(beam.DoFn):
    """All observations of one service in, its ServiceModel out (and a staged copy)."""

    def __init__(self, store_path: str, staging: str, config: TemplateConfig):
        self.store_path = store_path
        self.staging = staging
        self.config = config
        self.templates_learned = Metrics.counter("aiops", "templates")

    def setup(self) -> None:
        stored = FileTemplateStore(self.store_path).load()
        self.stored: dict[str, list] = {}
        for t in stored:
            self.stored.setdefault(t.service, []).append(t)

    def process(self, element):
        service, per_file = element
        merged: dict[str, list] = {}
        for observations in per_file:
            for masked, stats in observations:
                merged.setdefault(masked, []).append(stats)
        obs = [Observation(masked, *merge_observations(stats)) for masked, stats in merged.items()]
        model = learn(service, obs, self.stored.get(service, ()), self.config)
        self.templates_learned.inc(len(model.templates))
        name = hashlib.blake2b(service.encode(), digest_size=8).hexdigest()
        path = FileSystems.join(self.staging, "models", f"{name}.pkl")
        with FileSystems.create(path, compression_type="uncompressed") as fh:
            fh.write(pickle.dumps(model))
        yield service, model
        yield beam.pvalue.TaggedOutput("written", WrittenFile("models", "", path, len(model.templates)))


class MineTemplates(beam.PTransform):
    """Observations (service, [(masked, stats), ...]) -> tagged: main (service, ServiceModel), written."""

    def __init__(self, store_path: str, staging: str, config: TemplateConfig | None = None):
        super().__init__()
        self.store_path = store_path
        self.staging = staging
        self.config = config or TemplateConfig()

    def expand(self, observations):
        return (
            observations
            | "GroupByService" >> beam.GroupByKey()
            | "LearnTemplates" >> beam.ParDo(LearnServiceFn(self.store_path, self.staging, self.config)).with_outputs("written", main="models")
        )


def templated(table: pa.Table, models: dict, run_id: str) -> pa.Table:
    """Add template_id, template, params and run_id to staged events (row order may change)."""
    parts = []
    for service in pc.unique(table.column("service")).to_pylist():
        sub = table.filter(pc.equal(table.column("service"), service))
        model = models[service]
        idx = model.assign_array(sub.column("masked"))
        order = pc.sort_indices(idx)
        sub = sub.take(order)
        idx_sorted = np.asarray(idx.take(order))
        bounds = np.flatnonzero(np.diff(idx_sorted)) + 1
        starts = np.concatenate([[0], bounds])
        ends = np.concatenate([bounds, [len(idx_sorted)]])
        messages = sub.column("message")
        params = [model.extract_params(int(idx_sorted[a]), messages.slice(a, b - a)) for a, b in zip(starts, ends, strict=True)]
        ids = pa.array([t.template_id for t in model.templates]).take(pa.array(idx_sorted))
        texts = pa.array([t.template for t in model.templates]).take(pa.array(idx_sorted))
        columns = {name: sub.column(name) for name in EVENT_SCHEMA.names if name in sub.column_names}
        columns["template_id"] = ids
        columns["template"] = texts
        columns["params"] = pa.chunked_array(params, type=pa.list_(pa.string())) if params else pa.array([], pa.list_(pa.string()))
        columns["run_id"] = pa.array([run_id] * sub.num_rows, pa.string())
        parts.append(pa.table([columns[n] for n in EVENT_SCHEMA.names], schema=EVENT_SCHEMA))
    return pa.concat_tables(parts) if parts else EVENT_SCHEMA.empty_table()


class ApplyTemplatesFn(beam.DoFn):
    """One staged file in: final events written per dt; KPI partials out.

    Outputs: ``written`` (files, tagged) and, as the main output, what ScoreServices needs:
    ("partials", (staged file of the unit's per-template window partials, rows per service, window
    span)), ("kpis", (staged file of its KPI partials, services)) and, when a session key is set,
    ("sessions", (service, spool path, keyed events, sessions)) per service. One output for all:
    a Flatten of several would cost the runner one more stage.
    """

    def __init__(self, staging: str, run_id: str, window_us: int, session_key: SessionKey | None = None,
                 top_values: int = 8):
        self.staging = staging
        self.run_id = run_id
        self.window_us = window_us
        self.session_key = session_key
        self.top_values = top_values
        self.events = Metrics.counter("aiops", "events_written")

    def setup(self) -> None:
        self.con = duckdb.connect()
        self.con.execute("SET threads=1")  # the runner already runs one bundle per core

    def teardown(self) -> None:
        self.con.close()

    def process(self, unit: list[str], models: dict):
        writer = PartitionedWriter(FileSystems.join(self.staging, "events"), uuid.uuid4().hex, "event_time", "events", EVENT_SCHEMA)
        kpis: dict[tuple[str, int], KpiAccumulator] = {}
        windows: list[pa.Table] = []
        sessions = SessionSpool(self.staging) if self.session_key is not None else None
        pending: list[pa.RecordBatch] = []
        pending_rows = 0
        for staged_path in unit:
            with FileSystems.open(staged_path, compression_type="uncompressed") as fh:
                for batch in pa.ipc.open_stream(fh):
                    pending.append(batch)
                    pending_rows += batch.num_rows
                    if pending_rows >= APPLY_ROWS:
                        self._apply(pending, models, writer, kpis, windows, sessions)
                        pending, pending_rows = [], 0
        self._apply(pending, models, writer, kpis, windows, sessions)
        for written in writer.close():
            yield beam.pvalue.TaggedOutput("written", written)
        # what ScoreServices needs, as small handles: the tables stay in staged files until scoring
        for staged in (stage_partials(merge_partial_tables(windows, KEEP_VALUES, self.con), self.staging),
                       stage_kpis(kpis, self.staging)):
            if staged is not None:
                yield staged
        if sessions is not None:  # (service, spool path, events, sessions)
            for part in sessions.close():
                yield "sessions", part

    def _apply(self, batches: list[pa.RecordBatch], models: dict, writer: PartitionedWriter,
               kpis: dict[tuple[str, int], KpiAccumulator], windows: list[pa.Table], sessions: SessionSpool | None) -> None:
        """Template one batch of staged events, write it, and add its KPI, window and session partials."""
        if not batches:
            return
        events = templated(pa.Table.from_batches(batches), models, self.run_id)
        writer.write(events)
        self.events.inc(events.num_rows)
        for key, acc in partial_kpis(events, self.window_us).items():
            kpis.setdefault(key, KpiAccumulator()).merge(acc)
        windows.append(partials_table(events, self.window_us, template_texts(events), self.top_values, self.con))
        if len(windows) >= MERGE_EVERY:  # bounded: a unit's partials stay one table of its windows
            windows[:] = [merge_partial_tables(windows, KEEP_VALUES, self.con)]
        if sessions is not None and self.session_key is not None:
            sessions.write(session_parts(events, self.session_key))


def template_texts(events: pa.Table) -> dict[str, str]:
    """template_id -> template of the distinct pairs in a table of templated events."""
    pairs = events.select(["template_id", "template"]).group_by(["template_id", "template"]).aggregate([])
    return dict(zip(pairs.column(0).to_pylist(), pairs.column(1).to_pylist(), strict=True))


class ApplyTemplates(beam.PTransform):
    """Staged (path, rows) -> main: what ScoreServices reads (staged partials, KPIs, sessions); tagged: written."""

    def __init__(self, models, staging: str, run_id: str, window_us: int, bins: int | None = None,
                 session_key: SessionKey | None = None, top_values: int = 8):
        super().__init__()
        self.models = models
        self.staging = staging
        self.run_id = run_id
        self.window_us = window_us
        self.bins = bins
        self.session_key = session_key
        self.top_values = top_values

    def expand(self, staged):
        return (
            work_units(staged, self.bins, lambda path_rows: path_rows[1], "Staged")
            | "StagedPaths" >> beam.Map(lambda unit: [path for path, _ in unit])
            | "SpreadStaged" >> beam.Reshuffle()
            | "ApplyTemplates" >> beam.ParDo(
                ApplyTemplatesFn(self.staging, self.run_id, self.window_us, self.session_key, self.top_values),
                beam.pvalue.AsDict(self.models),
            ).with_outputs("written", main="scoring")
        )
