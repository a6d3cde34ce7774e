"""ScoreServices: KPIs, window scoring and session scoring of every service in one balanced step.

ApplyTemplates leaves per work unit a staged file of window partials and one of KPI partials,
and per service the spool file of its keyed events. ScoreServices gathers those small handles,
plans balanced scoring units (one per worker on the local runner, one per service elsewhere; a
service's cost is estimated from its partial rows, keyed events and sessions), and each unit
merges and writes its services' ``kpis``, merges their window partials with DuckDB, writes their
``template_windows`` rows, reads their history, scores the windows and then the sessions, and
writes its ``anomalies``. One step instead of a chain of small ones: each runner stage costs a
fixed time, and a service's results no longer wait for every other service's.

Example (see tests/test_anomaly_transforms.py)::

    written = applied.scoring | ScoreServices(ctx, models, bins=2)  # from ApplyTemplates
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

import apache_beam as beam
import duckdb
import pyarrow as pa
import pyarrow.compute as pc
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics import Metrics

from aiops.anomaly.partial_tables import merge_partial_tables, rows_table, run_range, split_services
from aiops.anomaly.sessions import summarise_all
from aiops.balance import pack
from aiops.parquet_io import DAY_US, WrittenFile, filter_equal, write_table_files
from aiops.schema import AnomalyRow, KpiRow, TemplateWindowRow, arrow_schema, rows_to_table
from transforms.anomalies import (
    KEEP_VALUES,
    AnomalyContext,
    read_history,
    read_parts,
    session_outputs,
    window_findings,
)
from transforms.gather import Gather
from transforms.kpis import kpi_table, merge_kpis

# Estimated cost in µs (fitted on the bench sample): the sequence scorer's per keyed event and per
# session (summarise, fit, score, write), the window scorers' per partial row (template, window, value).
SESSION_EVENT_COST = 1
SESSION_COST = 4
PARTIAL_ROW_COST = 4


@dataclass
class ScoringUnit:
    """The services one worker scores: the staged partials files holding them and their sessions' spool files."""

    span: tuple[int, int] | None  # first and last window start of the whole run (all services)
    partials: dict[str, list[str]] = field(default_factory=dict)  # service -> partials files
    sessions: dict[str, list[str]] = field(default_factory=dict)  # service -> spool files
    kpis: dict[str, list[str]] = field(default_factory=dict)  # service -> KPI partials files


def stage_partials(table: pa.Table, staging: str) -> tuple[str, tuple[str, dict[str, int], tuple[int, int]]] | None:
    """Stage a unit's partials table; the ("partials", (path, rows per service, window span)) item for ScoreServices.

    The table travels as a file: handing megabytes of Arrow through the runner's shuffle cost
    ~0.1 s a hop, and the planner only needs its row counts.
    """
    if not table.num_rows:
        return None
    path = FileSystems.join(staging, "partials", f"{uuid.uuid4().hex}.arrows")
    with FileSystems.create(path, compression_type="uncompressed") as fh:
        with pa.ipc.new_stream(fh, table.schema, options=pa.ipc.IpcWriteOptions(compression="lz4")) as writer:
            writer.write_table(table)
    counts = pc.value_counts(table.column("service"))
    rows = dict(zip(counts.field("values").to_pylist(), counts.field("counts").to_pylist(), strict=True))
    span = run_range(table)
    assert span is not None  # the table has rows
    return "partials", (path, rows, span)


def plan_units(items: list, bins: int | None) -> list[ScoringUnit]:
    """Balanced scoring units from ("partials", (path, rows per service, span)), ("kpis", (path,
    services)) and ("sessions", (service, path, events, sessions)) items."""
    cost: dict[str, int] = {}
    partials: dict[str, list[str]] = {}
    sessions: dict[str, list[str]] = {}
    kpis: dict[str, list[str]] = {}
    spans = []
    for kind, value in items:
        if kind == "kpis":
            path, services = value
            for service in services:
                kpis.setdefault(service, []).append(path)
                cost.setdefault(service, 0)
        elif kind == "partials":
            path, rows, span = value
            spans.append(span)
            for service, n in rows.items():
                partials.setdefault(service, []).append(path)
                cost[service] = cost.get(service, 0) + PARTIAL_ROW_COST * n
        else:
            service, path, events, keys = value
            sessions.setdefault(service, []).append(path)
            cost[service] = cost.get(service, 0) + SESSION_EVENT_COST * events + SESSION_COST * keys
    span = (min(lo for lo, _ in spans), max(hi for _, hi in spans)) if spans else None
    services = sorted(cost)
    groups = pack([(s, cost[s]) for s in services], bins) if bins else [[s] for s in services]
    return [ScoringUnit(span, {s: sorted(partials[s]) for s in g if s in partials},
                        {s: sorted(sessions[s]) for s in g if s in sessions},
                        {s: sorted(kpis[s]) for s in g if s in kpis}) for g in groups if g]


def read_partials(unit: ScoringUnit) -> list[pa.Table]:
    """The unit's services' rows of every staged partials file it names."""
    services = pa.array(sorted(unit.partials), pa.string())
    out = []
    for path in sorted({p for paths in unit.partials.values() for p in paths}):
        with FileSystems.open(path, compression_type="uncompressed") as fh:
            table = pa.ipc.open_stream(fh).read_all()
        out.append(table.filter(pc.is_in(table.column("service"), value_set=services)))
    return out


ROW_TYPES = {"kpis": KpiRow, "template_windows": TemplateWindowRow, "anomalies": AnomalyRow}


class ScoreUnitFn(beam.DoFn):
    """One ScoringUnit in; the files it writes out: kpis, template_windows, anomalies, sessions, sequence models."""

    def __init__(self, ctx: AnomalyContext):
        self.ctx = ctx
        self.found = Metrics.counter("aiops", "anomalies")
        self.flagged = Metrics.counter("aiops", "anomalous_sessions")
        self.history_rows = Metrics.counter("aiops", "history_rows")

    def setup(self) -> None:
        self.con = duckdb.connect()

    def teardown(self) -> None:
        self.con.close()

    def process(self, unit: ScoringUnit, models):
        ctx = self.ctx
        if unit.kpis:
            paths = sorted({p for ps in unit.kpis.values() for p in ps})
            yield from self._write("kpis", "window_start", kpi_table(merge_kpis(paths, set(unit.kpis)), models,
                                                                      ctx.window_us, ctx.run_id))
        found: list[AnomalyRow] = []
        if unit.partials and unit.span is not None:
            merged = merge_partial_tables(read_partials(unit), KEEP_VALUES, self.con)
            yield from self._write("template_windows", "window_start",
                                   rows_table(merged, ctx.window_us, ctx.run_id, ctx.config.top_values, self.con))
            history = read_history(ctx, unit.span[0] - ctx.config.history_days * DAY_US, unit.span[1],
                                   set(unit.partials))
            self.history_rows.inc(history.num_rows)
            for service, partials in split_services(merged).items():
                found.extend(window_findings(ctx, service, partials, filter_equal(history, "service", service),
                                             unit.span, models.get(service)))
        for service in sorted(unit.sessions):
            for out in session_outputs(ctx, service, summarise_all(read_parts(service, unit.sessions[service]))):
                if isinstance(out, int):
                    self.flagged.inc(out)
                elif isinstance(out, WrittenFile):
                    yield out
                else:
                    found.append(out)
        self.found.inc(len(found))
        found.sort(key=lambda r: (r.window_start, r.service, r.kind, r.template_id or ""))
        yield from self._write("anomalies", "window_start", rows_to_table(AnomalyRow, found))

    def _write(self, table: str, time_column: str, rows: pa.Table) -> list[WrittenFile]:
        """A table's rows of this unit as one Parquet file per ``dt``."""
        return write_table_files(self.ctx.staging, table, time_column, rows, arrow_schema(ROW_TYPES[table]))


class ScoreServices(beam.PTransform):
    """ApplyTemplates' ("partials" | "kpis" | "sessions", handle) items -> WrittenFile of kpis,
    template_windows, anomalies, sessions and sequence models."""

    def __init__(self, ctx: AnomalyContext, models, bins: int | None = None):
        super().__init__()
        self.ctx, self.models, self.bins = ctx, models, bins

    def expand(self, items):
        bins = self.bins
        scored = (
            items
            | "GatherScoring" >> Gather()
            | "PlanScoring" >> beam.FlatMap(plan_units, bins)
            | "SpreadScoring" >> beam.Reshuffle()
            | "ScoreUnits" >> beam.ParDo(ScoreUnitFn(self.ctx), beam.pvalue.AsDict(self.models))
        )
        return scored
