"""Tests of aiops.validation: the suite passes on the literal fixture and names the broken expectation."""

from __future__ import annotations

import copy
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from aiops import validation
from tests.fixtures_output import DEAD_LETTERS, EVENTS, KPIS, MANIFEST, TEMPLATES, ts, write_output


def failed(report) -> set[tuple[str, str]]:
    return {(r.table, r.check) for r in report.failures()}


def manifest(**changes) -> dict:
    return {**copy.deepcopy(MANIFEST), **changes}


@pytest.fixture(scope="module")
def good(tmp_path_factory):
    return write_output(tmp_path_factory.mktemp("good"))


def test_good_output_passes(good):
    report = validation.validate_output(good)
    assert report.success, validation.format_report(report)
    checks = {(r.table, r.check) for r in report.results}
    assert ("runs", "accounting_identity") in checks and ("templates", "unique_service_template_id") in checks
    assert validation.validate_output(good, run_id="r1").success
    data = json.loads(json.dumps(report.to_dict()))
    assert data["success"] is True and data["failed"] == 0 and len(data["results"]) == len(report.results)


def test_accounting_off_by_one(tmp_path):
    root = write_output(tmp_path, manifests=[manifest(lines_read=10)])
    report = validation.validate_output(root)
    assert failed(report) == {("runs", "accounting_identity")}
    (result,) = report.failures()
    assert result.observed["unexpected_rows"] == [{"run_id": "r1", "difference": 1, "events_difference": 0,
                                                   "dead_letter_difference": 0}]  # fmt: skip
    # A job validating before it writes its manifest passes the manifest in.
    assert validation.validate_output(root, "r1", manifest=manifest()).success


def test_bad_level(tmp_path):
    events = [*EVENTS[:-1], EVENTS[-1]._replace(level="BOGUS")]
    report = validation.validate_output(write_output(tmp_path, events=events))
    assert failed(report) == {("events", "level_allowed")}
    assert report.failures()[0].observed["partial_unexpected_list"] == ["BOGUS"]


def test_duplicate_template_id(tmp_path):
    templates = [*TEMPLATES, TEMPLATES[0]._replace(template="GET <*> slow")]
    report = validation.validate_output(write_output(tmp_path, templates=templates))
    assert failed(report) == {
        ("templates", "unique_service_template_id"),
        ("templates", "template_id_one_text"),
    }


def test_inverted_window(tmp_path):
    kpis = [KPIS[0]._replace(window_end=ts("2024-05-01T09:55:00")), *KPIS[1:]]
    report = validation.validate_output(write_output(tmp_path, kpis=kpis))
    assert failed(report) == {("kpis", "window_start_before_end")}


def test_negative_latency_and_bad_error_rate(tmp_path):
    events = [EVENTS[0]._replace(latency_ms=-1.0), *EVENTS[1:]]
    kpis = [KPIS[0]._replace(error_rate=1.5, latency_p99_ms=-3.0), *KPIS[1:]]
    report = validation.validate_output(write_output(tmp_path, events=events, kpis=kpis))
    assert failed(report) == {
        ("events", "latency_non_negative"),
        ("kpis", "error_rate_in_0_1"),
        ("kpis", "latency_non_negative"),
    }


def test_null_keys_and_negative_line_count(tmp_path):
    root = write_output(tmp_path, dead_letters=[DEAD_LETTERS[0]._replace(line_count=-1)])
    # An older file without the service column: union_by_name reads it as NULL.
    pq.write_table(
        pa.table({"template_id": ["d4"], "template": ["x <*>"]}), tmp_path / "templates" / "old.parquet"
    )
    report = validation.validate_output(root)
    assert failed(report) == {
        ("dead_letter", "line_count_non_negative"),
        ("templates", "not_null"),
        ("runs", "accounting_identity"),
    }
    assert [r.columns for r in report.failures() if r.check == "not_null"] == ["service"]


def test_run_without_manifest_and_unknown_run(tmp_path, good):
    report = validation.validate_output(write_output(tmp_path, manifests=[]))
    assert ("runs", "manifest_present") in failed(report)
    assert failed(validation.validate_output(good, run_id="nope")) == {("runs", "manifest_present")}


def test_superseded_and_failed_runs_are_skipped(tmp_path):
    older = manifest(run_id="r0", finished_at="2024-05-01T00:00:00Z", lines_read=100)
    crashed = manifest(run_id="r9", status="failed", batch_key="other", lines_read=7)
    root = write_output(tmp_path, manifests=[older, manifest(), crashed])
    assert validation.validate_output(root).success
    assert ("runs", "accounting_identity") in failed(validation.validate_output(root, run_id="r0"))


def test_empty_output_passes(tmp_path):
    root = write_output(
        tmp_path, events=[], dead_letters=[], kpis=[], templates=[], manifests=[], hidden=False
    )
    assert validation.validate_output(root).success


def test_cli_exit_codes(good, tmp_path, capsys):
    assert validation.main([good]) == 0
    assert capsys.readouterr().out.rstrip().endswith("aiops validate: OK")
    bad = write_output(tmp_path / "bad", manifests=[manifest(blank=0)])
    assert validation.main([bad, "--json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["success"] is False and [r["check"] for r in data["results"] if not r["success"]] == [
        "accounting_identity"
    ]
    assert validation.main([str(tmp_path / "missing")]) == 2
    assert capsys.readouterr().err.strip().count("\n") == 0
    assert validation.main([]) == 2
