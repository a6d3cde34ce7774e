"""SummariseWindows on the local runner with the offline backend, and summarise_run without flagged windows.

Run: ``.venv/bin/python -m pytest tests/test_summaries.py``
"""

from __future__ import annotations

import glob
import os

import apache_beam as beam
import pyarrow.parquet as pq
from apache_beam.runners.portability.fn_api_runner import FnApiRunner
from apache_beam.testing.util import assert_that, equal_to

from aiops.layout import Layout
from aiops.llm.evidence import EvidencePack
from aiops.llm.offline import MODEL as OFFLINE_MODEL
from aiops.llm.offline import offline_summary
from aiops.llm.prompt import build_request
from aiops.llm.redact import RedactionConfig
from aiops.llm.summary import SUMMARY_SCHEMA
from aiops.llm.types import LLMConfig
from transforms.summaries import SummariseWindows, SummaryContext, summary_row


def _request(service: str, start: str, end: str, request_id: str):
    pack = EvidencePack(
        service=service, window_start=start, window_end=end, anomaly_count=1,
        findings=[{"window_start": start, "kind": "frequency", "template_id": "a1", "template": "Timeout after <*> ms",
                   "observed": 41.0, "expected": 1.0, "detail": "template 'Timeout after <*> ms': 41 events, expected 1"}],
        kpis={"window": {"events_per_window": 150.0, "error_rate": 0.45},
              "hour_before": {"events_per_window": 140.0, "error_rate": 0.02}},
        lines=[{"template_id": "a1", "line": "Timeout after 5000 ms calling inventory"}],
        neighbours=[],
    )  # fmt: skip
    return build_request(pack, request_id, 8000, 256, RedactionConfig(), SUMMARY_SCHEMA)[0]


def _run(tmp_path, requests, ready) -> dict[str, list[tuple]]:
    """Run the transform; (table, dt, rows) of every file it says it wrote are checked in the pipeline."""
    staging = str(tmp_path / "staging")
    ctx = SummaryContext(staging, "r1", LLMConfig())
    expected = [(t, "2026-11-22", n) for t, n in
                (("summaries", len(requests) + len(ready)), ("llm_requests", len(requests))) if n]
    with beam.Pipeline(runner=FnApiRunner()) as p:
        written = p | beam.Create(requests, reshuffle=False) | SummariseWindows(ctx, ready)
        assert_that(written | beam.Map(lambda w: (w.table, w.dt, w.rows)), equal_to(expected))
    tables: dict[str, list[tuple]] = {}
    for path in sorted(glob.glob(os.path.join(staging, "*", "dt=*", "*.parquet"))):
        rows = pq.read_table(path, columns=["service", "status"]).to_pylist()
        tables[path.split(os.sep)[-3]] = [(r["service"], r["status"]) for r in rows]
    return tables


def test_answers_and_ready_rows_are_written_per_table_sorted_by_window(tmp_path) -> None:
    requests = [_request("web", "2026-11-22T14:20:00Z", "2026-11-22T14:25:00Z", "h2"),
                _request("checkout", "2026-11-22T14:10:00Z", "2026-11-22T14:15:00Z", "h1")]
    late = _request("api", "2026-11-22T15:00:00Z", "2026-11-22T15:05:00Z", "h3")
    ready = [summary_row(late, offline_summary(late.evidence or {}), "offline", OFFLINE_MODEL, "fallback:budget",
                         "over --llm_max_requests 2", None, "r1")]
    assert _run(tmp_path, requests, ready) == {
        "llm_requests": [("checkout", "ok"), ("web", "ok")],  # the response status of each attempt
        "summaries": [("checkout", "offline"), ("web", "offline"), ("api", "fallback:budget")],
    }


def test_ready_rows_alone_write_no_llm_requests_file(tmp_path) -> None:
    cached = _request("api", "2026-11-22T15:00:00Z", "2026-11-22T15:05:00Z", "h3")
    ready = [summary_row(cached, offline_summary(cached.evidence or {}), "openai", "m1", "cached", None, None, "r1")]
    assert _run(tmp_path, [], ready) == {"summaries": [("api", "cached")]}


def test_no_request_and_no_ready_row_writes_nothing(tmp_path) -> None:
    assert _run(tmp_path, [], []) == {}


def test_a_run_without_flagged_windows_runs_no_pipeline_and_replaces_the_batch_keys_files(tmp_path) -> None:
    from pipelines.summaries import summarise_run
    from tests.fixtures_output import write_output

    root = write_output(tmp_path / "out")  # no anomalies table: no flagged window
    old = os.path.join(root, "summaries", "dt=2024-05-01", "0123456789ab-r0-00000.parquet")
    os.makedirs(os.path.dirname(old))
    open(old, "wb").close()  # what an earlier run of the same batch key committed

    def no_pipeline():
        raise AssertionError("no pipeline without flagged windows")

    got = summarise_run(Layout(root), "r1", "0123456789ab", 300_000_000, LLMConfig(), RedactionConfig(),
                        str(tmp_path / "cache"), no_pipeline)
    assert got.pop("elapsed_s") >= 0
    assert got == {"status": "succeeded", "backend": "offline", "model": None, "flagged_windows": 0,
                   "requests_sent": 0, "statuses": {}, "rows": {"summaries": 0, "llm_requests": 0}}
    assert not os.path.exists(old)
