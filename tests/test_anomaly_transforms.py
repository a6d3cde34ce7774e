"""ScoreServices on the FnApiRunner: partials in, template_windows written, history read, findings out."""

from __future__ import annotations

import apache_beam as beam
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from apache_beam.runners.portability.fn_api_runner import FnApiRunner
from apache_beam.testing.test_pipeline import TestPipeline as BeamTestPipeline
from apache_beam.testing.util import assert_that, equal_to

from aiops.anomaly.config import AnomalyConfig
from aiops.anomaly.partials import PARTIALS_SCHEMA, TemplateWindowAcc, to_rows
from aiops.anomaly.sessions import PARTS_SCHEMA, SessionKey, SessionSummary, summarise_all
from aiops.parquet_io import write_table
from aiops.schema import TemplateWindowRow, rows_to_table
from aiops.templating.learner import Observation, learn
from transforms.anomalies import AnomalyContext
from transforms.scoring import ScoreServices, plan_units, read_partials, stage_partials

W = 300_000_000
T0 = 1_795_305_600_000_000  # 2026-11-22T00:00:00Z


def _model():
    return learn("svc", [Observation("GET <*> done", 10, T0 - 86_400_000_000, T0, "GET /a done")])


def _ctx(root: str, batch_key: str = "runkey") -> AnomalyContext:
    return AnomalyContext(root, f"{root}/_staging/r2", "r2", batch_key, W, f"{root}/_store/sequence_models",
                          AnomalyConfig())


def _write_history(root: str, batch_key: str, count: int, windows: int) -> None:
    tid = _model().templates[0].template_id
    rows = []
    for i in range(windows):
        start = T0 - (windows - i) * W
        rows.extend(to_rows("svc", start, W, {tid: TemplateWindowAcc(events=count)}, "r1"))
    path = f"{root}/template_windows/dt=2026-11-21/{batch_key}-r1-00000.parquet"
    import os

    os.makedirs(os.path.dirname(path), exist_ok=True)
    write_table(rows_to_table(TemplateWindowRow, rows), path)


def _counts(rows: list[tuple[str, int, str, int]]) -> pa.Table:
    """A partials table of event counts only (kind 'n')."""
    n = len(rows)
    return pa.table({"service": [r[0] for r in rows], "win": [r[1] for r in rows], "template_id": [r[2] for r in rows],
                     "kind": ["n"] * n, "field": [""] * n, "value": [""] * n, "a": [float(r[3]) for r in rows],
                     "b": [0.0] * n, "c": [0.0] * n}, schema=PARTIALS_SCHEMA)


@pytest.mark.parametrize("history_key, expect_flag", [("earlier", True), ("runkey", False)])
def test_earlier_runs_are_the_baseline_but_this_batch_keys_own_files_are_not(tmp_path, history_key, expect_flag):
    root = str(tmp_path)
    _write_history(root, history_key, count=100, windows=24)
    tid = _model().templates[0].template_id
    # two units' partials tables: the window at T0 is split between them
    partials = [_counts([("svc", T0, tid, 600)]), _counts([("svc", T0, tid, 300), ("svc", T0 + W, tid, 100)])]
    with BeamTestPipeline(runner=FnApiRunner()) as p:
        models = p | "Models" >> beam.Create([("svc", _model())])
        items = [stage_partials(t, f"{root}/_staging/r2") for t in partials]
        written = p | beam.Create(items) | ScoreServices(_ctx(root), models, bins=2)
        expected_files = [("template_windows", "2026-11-22", 2)] + ([("anomalies", "2026-11-22", 2)] if expect_flag else [])
        assert_that(written | beam.Map(lambda w: (w.table, w.dt, w.rows)), equal_to(expected_files))
    staged = pq.read_table(f"{root}/_staging/r2/template_windows").to_pylist()
    assert sorted((r["events"], r["run_id"]) for r in staged) == [(100, "r2"), (900, "r2")]
    if expect_flag:
        found = pq.read_table(f"{root}/_staging/r2/anomalies").to_pylist()
        assert [(r["window_start"].timestamp() * 1e6 - T0, r["kind"], r["template_id"] is None, r["observed"],
                 r["expected"]) for r in found] == [(0, "frequency", True, 900.0, 100.0),
                                                    (0, "frequency", False, 900.0, 100.0)]


def test_session_key_column_or_regex_and_ordering() -> None:
    assert SessionKey.parse("trace_id") == SessionKey(column="trace_id")
    assert SessionKey.parse(r"blk_-?\d+") == SessionKey(regex=r"blk_-?\d+")
    with pytest.raises(ValueError, match="nor a valid regex"):
        SessionKey.parse("blk_(")
    unit1 = pa.Table.from_pylist([{"service": "svc", "session_id": "s1", "event_time": 5, "source": "b.log",
                                   "line_no": 1, "template_id": "t3"},
                                  {"service": "svc", "session_id": "s0", "event_time": 7, "source": "b.log",
                                   "line_no": 2, "template_id": "t1"}], schema=PARTS_SCHEMA)
    unit2 = pa.Table.from_pylist([{"service": "svc", "session_id": "s1", "event_time": 1, "source": "a.log",
                                   "line_no": ln, "template_id": t} for ln, t in ((9, "t2"), (2, "t1"))],
                                 schema=PARTS_SCHEMA)
    # same time in two files: file name, then line, decides (b.log line 1 after a.log line 9)
    unit3 = pa.Table.from_pylist([{"service": "svc", "session_id": "s2", "event_time": 3, "source": src,
                                   "line_no": ln, "template_id": t} for src, ln, t in (("b.log", 1, "tb"),
                                                                                      ("a.log", 9, "ta"))],
                                 schema=PARTS_SCHEMA)
    assert summarise_all([unit1, PARTS_SCHEMA.empty_table(), unit2, unit3]) == [
        SessionSummary("s0", 7, 7, ("t1",)), SessionSummary("s1", 1, 5, ("t1", "t2", "t3")),
        SessionSummary("s2", 3, 3, ("ta", "tb"))]
    assert summarise_all([]) == []


def test_open_flags_and_sequence_windows() -> None:
    from aiops.anomaly.sessions import SessionSummary, open_flags, sequence_findings

    s = [SessionSummary(f"s{i}", i * 60_000_000, i * 60_000_000 + 5_000_000, ("a", "b")) for i in range(30)]
    flags = open_flags(s, 10_000_000)
    assert flags[0] and flags[-1] and not any(flags[1:-1])
    # 30 sessions, one a minute; 4 anomalous ones all end in the window starting at minute 10
    scores = [(5.0, "skipped step: b", "b") if i in (10, 11, 12, 13) else (0.0, None, None) for i in range(30)]
    rows = sequence_findings("svc", s, scores, W, AnomalyConfig(), "r")
    assert [(r.window_start, r.kind, r.template_id, r.observed, r.expected) for r in rows] == [
        (10 * 60_000_000, "sequence", "b", 4.0, 0.0)]
    assert rows[0].detail == "4 of 5 sessions ending here are unusual, e.g. s10: skipped step: b"


def test_session_table_rows() -> None:
    import datetime as dt

    from aiops.anomaly.sessions import session_table
    from aiops.schema import SessionRow, arrow_schema

    s = [SessionSummary("s1", T0, T0 + 2_000_000, ("a", "b", "a")), SessionSummary("s2", T0 + 1, T0 + 1, ("c",))]
    scores = [(7.123456, "skipped step: b", "b"), (0.0, None, None)]
    table = session_table("svc", s, scores, "r9")
    assert table.schema == arrow_schema(SessionRow)
    utc = dt.UTC
    assert table.to_pylist() == [
        {"session_id": "s1", "service": "svc", "first_time": dt.datetime(2026, 11, 22, tzinfo=utc),
         "last_time": dt.datetime(2026, 11, 22, 0, 0, 2, tzinfo=utc), "events": 3, "distinct_templates": 2,
         "score": 7.1235, "is_anomaly": True, "reason": "skipped step: b", "run_id": "r9"},
        {"session_id": "s2", "service": "svc", "first_time": dt.datetime(2026, 11, 22, 0, 0, 0, 1, tzinfo=utc),
         "last_time": dt.datetime(2026, 11, 22, 0, 0, 0, 1, tzinfo=utc), "events": 1, "distinct_templates": 1,
         "score": 0.0, "is_anomaly": False, "reason": None, "run_id": "r9"},
    ]
    assert session_table("svc", [], [], "r9").num_rows == 0


def test_plan_units_balance_sessions_and_windows(tmp_path) -> None:
    unit1 = stage_partials(_counts([("a", T0, "t", 5), ("b", T0 + W, "t", 1), ("c", T0, "t", 1)]), str(tmp_path))
    unit2 = stage_partials(_counts([("a", T0 + 2 * W, "t", 5)]), str(tmp_path))
    assert stage_partials(PARTIALS_SCHEMA.empty_table(), str(tmp_path)) is None
    assert unit1[1][1:] == ({"a": 1, "b": 1, "c": 1}, (T0, T0 + W))
    items = [unit1, unit2, ("sessions", ("b", "/s/2.arrows", 100, 50)), ("sessions", ("b", "/s/1.arrows", 50, 50)),
             ("sessions", ("d", "/s/1.arrows", 30, 30))]
    units = plan_units(items, 2)
    # costs (µs): b 150 + 4 * 100 + 4, d 30 + 4 * 30, a 4 * 2, c 4 -> b alone; d, a and c together
    assert [(sorted(u.partials), sorted(u.sessions)) for u in units] == [(["b"], ["b"]), (["a", "c"], ["d"])]
    assert units[0].sessions["b"] == ["/s/1.arrows", "/s/2.arrows"]
    assert units[1].partials["a"] == sorted([unit1[1][0], unit2[1][0]]) and units[1].partials["c"] == [unit1[1][0]]
    assert [t.column("service").to_pylist() for t in read_partials(units[1])] in (
        [["a", "c"], ["a"]], [["a"], ["a", "c"]])  # the two files, in path order
    assert {u.span for u in units} == {(T0, T0 + 2 * W)}
    per_service = plan_units(items, None)
    assert [sorted({*u.partials, *u.sessions}) for u in per_service] == [["a"], ["b"], ["c"], ["d"]]
    assert plan_units([], 2) == []
