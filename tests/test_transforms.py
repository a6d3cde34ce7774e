"""Composite transforms on the FnApiRunner with literal expected values."""

import apache_beam as beam
import pyarrow.parquet as pq
import pytest
from apache_beam.runners.portability.fn_api_runner import FnApiRunner
from apache_beam.testing.test_pipeline import TestPipeline as BeamTestPipeline
from apache_beam.testing.util import assert_that, equal_to

from aiops.kpi import KpiAccumulator
from aiops.parquet_io import WrittenFile
from aiops.schema import FileStats, arrow_schema, rows_to_table
from aiops.sources import expand_inputs
from aiops.templating.learner import Observation, learn
from transforms.kpis import kpi_table, merge_kpis, stage_kpis
from transforms.parse import ParseLogs, StageConfig
from transforms.templates import MineTemplates, merge_observations

T0 = 1_795_305_600_000_000  # 2026-11-22T00:00:00Z in µs

WEB = (
    b"2026-11-22T00:00:01Z INFO user 42 logged in\n"
    b"2026-11-22T00:00:02Z INFO user 43 logged in\n"
    b"\n"
    b"2026-11-22T00:00:03Z ERROR payment 9 failed\n"
    b"bad \xff line\n"
)


@pytest.fixture()
def files(tmp_path):
    (tmp_path / "in" / "web").mkdir(parents=True)
    (tmp_path / "in" / "web" / "a.log").write_bytes(WEB)
    return expand_inputs([str(tmp_path / "in" / "web" / "a.log")])


def _pipeline():
    return BeamTestPipeline(runner=FnApiRunner())


def test_parse_logs_observations_and_stats(tmp_path, files):
    source = files[0].path
    with _pipeline() as p:
        parsed = p | beam.Create(files) | ParseLogs(StageConfig(staging=str(tmp_path / "stg"), run_id="r1"))
        assert_that(
            parsed.observations,
            equal_to([
                ("web", [
                    ("user <*> logged in", (2, T0 + 1_000_000, T0 + 2_000_000, "user 42 logged in")),
                    ("payment <*> failed", (1, T0 + 3_000_000, T0 + 3_000_000, "payment 9 failed")),
                ]),
            ]),
            label="Observations",
        )
        assert_that(parsed.stats, equal_to([FileStats(source, len(WEB), 5, 3, 3, 1, 1)]), label="Stats")
        assert_that(
            parsed.written | beam.Map(lambda w: (w.table, w.dt, w.rows)),
            equal_to([("dead_letter", "2026-11-22", 1)]),
            label="DeadLetters",
        )


def test_merge_observations_is_order_independent():
    a = (2, 10, 20, "b example")
    b = (3, 5, 30, "a example")
    c = (1, 5, 6, "0 example")
    assert merge_observations([a, b, c]) == (6, 5, 30, "0 example")
    assert merge_observations([c, b, a]) == (6, 5, 30, "0 example")


def test_mine_templates_one_model_per_service(tmp_path):
    obs = [  # one element per (file, service): the same message seen in two files merges
        ("web", [("user <*> logged in", (2, T0, T0 + 5, "user 1 logged in"))]),
        ("web", [("user <*> logged in", (1, T0 - 5, T0, "user 0 logged in"))]),
        ("api", [("GET <*> 200", (4, T0, T0, "GET /x 200"))]),
    ]
    with _pipeline() as p:
        mined = p | beam.Create(obs) | MineTemplates(str(tmp_path / "store.json"), str(tmp_path / "stg"))
        assert_that(
            mined.models | beam.Map(lambda kv: (kv[0], [(t.template, t.count, t.first_seen, t.example) for t in kv[1].templates])),
            equal_to([
                ("web", [("user <*> logged in", 3, T0 - 5, "user 0 logged in")]),
                ("api", [("GET <*> 200", 4, T0, "GET /x 200")]),
            ]),
        )


def test_kpis_staged_per_unit_merge_and_finalise_per_service(tmp_path):
    model = learn("web", [Observation("order <*> placed", 1, T0, T0, "order 1 placed"),
                          Observation("cache <*> miss", 1, T0 - 1, T0 - 1, "cache 1 miss")])
    first_seen = {t.template: t.template_id for t in model.templates}
    t1, t2 = first_seen["order <*> placed"], first_seen["cache <*> miss"]
    window = 300_000_000
    unit1 = stage_kpis({("web", T0): KpiAccumulator(events=3, errors=1, templates={t1}),
                        ("api", T0): KpiAccumulator(events=9)}, str(tmp_path / "stg"))
    unit2 = stage_kpis({("web", T0): KpiAccumulator(events=1, warnings=1, templates={t2}),
                        ("web", T0 + 86_400_000_000): KpiAccumulator(events=2, templates={t2})}, str(tmp_path / "stg"))
    assert stage_kpis({}, str(tmp_path / "stg")) is None
    assert (unit1[0], unit1[1][1], unit2[1][1]) == ("kpis", ["api", "web"], ["web"])
    merged = merge_kpis([unit1[1][0], unit2[1][0]], {"web"})
    assert sorted(merged) == [("web", T0), ("web", T0 + 86_400_000_000)]
    rows = kpi_table(merged, {"web": model}, window, "r1").to_pylist()
    assert [(r["service"], r["events"], r["errors"], r["warnings"]) for r in rows] == [
        ("web", 4, 1, 1), ("web", 2, 0, 0)]
    assert (rows[0]["error_rate"], rows[0]["distinct_templates"], rows[0]["new_templates"]) == (0.25, 2, 1)
    assert rows[0]["run_id"] == "r1" and rows[1]["new_templates"] == 0
    assert isinstance(WrittenFile("kpis", "", "", 0), tuple)


def test_parquet_dictionary_only_for_columns_that_repeat(tmp_path):

    from aiops.parquet_io import PartitionedWriter, dictionary_columns
    from aiops.schema import Event

    schema = arrow_schema(Event)
    cols = dictionary_columns(schema)
    assert "line_no" not in cols and "event_time" not in cols and "response_bytes" not in cols
    assert {"service", "level", "template_id", "message", "params", "latency_ms"} <= set(cols)
    writer = PartitionedWriter(str(tmp_path / "events"), "p1", "event_time", schema=schema)
    rows = [Event(source="a.log", line_no=i, line_count=1, event_time=86_400_000_000 + i, time_source="record",
                  service="api", host=None, level="INFO", component=None, message=f"m {i % 3}", template_id="t1",
                  http_method=None, http_path=None, http_status=None, response_bytes=None, latency_ms=None,
                  trace_id=None, session_id=None, template="m <*>", params=[str(i % 3)], run_id="r1")
            for i in range(1, 101)]
    writer.write(rows_to_table(Event, rows))
    (written,) = writer.close()
    meta = pq.ParquetFile(written.path).metadata.row_group(0)
    encodings = {meta.column(i).path_in_schema: meta.column(i).encodings for i in range(meta.num_columns)}
    assert "RLE_DICTIONARY" in encodings["service"] and "RLE_DICTIONARY" not in encodings["line_no"]
    assert pq.read_table(written.path).column("params").to_pylist()[:2] == [["1"], ["2"]]
