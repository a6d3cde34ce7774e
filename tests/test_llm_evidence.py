"""Flagged windows, evidence packs, prompts and the offline summary as pure functions."""

from __future__ import annotations

import datetime as dt
import json

from aiops.llm.evidence import EvidencePack, evidence_hash, flagged_windows
from aiops.llm.offline import LABEL, OfflineBackend, offline_summary
from aiops.llm.prompt import SYSTEM, build_request, retry_request
from aiops.llm.types import LLMRequest

W = 300


def _pack(**changes) -> EvidencePack:
    base = dict(
        service="checkout", window_start="2026-11-22T14:10:00Z", window_end="2026-11-22T14:25:00Z", anomaly_count=3,
        findings=[
            {"window_start": "2026-11-22T14:10:00Z", "kind": "frequency", "template_id": "a1", "template": "Timeout after <*> ms",
             "observed": 41.0, "expected": 0.0, "detail": "template 'Timeout after <*> ms': 41 events, expected 0 (x41.0 spike)"},
            {"window_start": "2026-11-22T14:10:00Z", "kind": "frequency", "template_id": None, "template": None,
             "observed": 68.0, "expected": 3.0, "detail": "service errors: 68 events, expected 3 (x22.7 spike)"},
        ],
        kpis={"window": {"events_per_window": 150.0, "error_rate": 0.45}, "hour_before": {"events_per_window": 140.0,
                                                                                         "error_rate": 0.02}},
        lines=[{"template_id": "a1", "line": "Timeout after 5000 ms calling inventory password=hunter22 (order ORD-1)"}],
        neighbours=[{"service": "web", "window_start": "2026-11-22T14:10:00Z", "kind": "frequency", "detail": "5xx"}],
    )
    base.update(changes)
    return EvidencePack(**base)


def test_adjacent_and_one_apart_windows_merge_per_service() -> None:
    rows = [("web", 0, 300, "frequency", None, 8.0, 6.0, 90.0, 10.0, "a"),
            ("web", 600, 900, "content", "t", 9.0, 6.0, 1.0, 1.0, "b"),  # one window apart: same incident
            ("web", 1800, 2100, "silence", None, 5.0, 4.0, 0.0, 9.0, "c"),
            ("api", 0, 300, "frequency", None, 7.0, 6.0, 50.0, 5.0, "d")]
    got = [(w.service, w.start, w.end, [f.detail for f in w.findings]) for w in flagged_windows(rows, W)]
    assert got == [("api", 0, 300, ["d"]), ("web", 0, 900, ["a", "b"]), ("web", 1800, 2100, ["c"])]


def test_evidence_hash_is_stable_and_content_sensitive() -> None:
    assert evidence_hash(_pack()) == evidence_hash(_pack())
    assert evidence_hash(_pack()) != evidence_hash(_pack(anomaly_count=4))
    assert len(evidence_hash(_pack())) == 24


def test_prompt_fences_redacted_evidence_and_keeps_the_instructions() -> None:
    req, counts = build_request(_pack(), "h1", max_chars=20_000)
    assert req.system == SYSTEM and req.request_id == "h1"
    assert "hunter22" not in req.prompt and counts == {"password": 1}
    body = req.prompt.split("<<<EVIDENCE\n", 1)[1].split("\nEVIDENCE>>>", 1)[0]
    assert json.loads(body)["lines"][0]["line"].startswith("Timeout after 5000 ms calling inventory password=")
    assert req.evidence == json.loads(body)  # the offline backend and the validator see what was sent


def test_prompt_is_capped_by_dropping_lines_first() -> None:
    many = [{"template_id": "a1", "line": "x" * 400} for _ in range(40)]
    req, _ = build_request(_pack(lines=many), "h1", max_chars=4_000)
    assert len(req.prompt) <= 4_000
    assert len(req.evidence["findings"]) == 2 and len(req.evidence["lines"]) < 40


def test_retry_request_states_the_problem() -> None:
    req, _ = build_request(_pack(), "h1", max_chars=20_000)
    again = retry_request(req, "missing field 'title'")
    assert again.request_id == "h1" and again.prompt.endswith(
        "Your previous answer was rejected: missing field 'title'. Answer again with the JSON object only.")


def test_offline_summary_is_labelled_cites_the_pack_and_validates() -> None:
    from aiops.llm.summary import parse_summary

    pack = _pack().to_json()
    s = offline_summary(pack)
    assert s["title"] == "checkout: frequency, 14:10-14:25 UTC"
    assert s["summary"].startswith(LABEL + "3 findings in checkout between 14:10 and 14:25 UTC.")
    assert "Error rate 45.0% vs 2.0% the hour before" in s["summary"]
    assert "web flagged together" in s["suspected_cause"]
    assert s["confidence"] == "medium"
    resp = OfflineBackend().complete(LLMRequest("h1", "", "", evidence=pack))
    summary, problem = parse_summary(resp.text or "", {"a1"}, {pack["lines"][0]["line"]})
    assert problem is None and summary is not None and summary.title == s["title"]


def test_evidence_lines_of_several_windows_in_one_query(tmp_path) -> None:
    from aiops import query
    from aiops.llm.evidence import FlaggedWindow
    from aiops.llm.evidence_sql import _lines
    from tests.fixtures_output import RUN, ts, write_output

    con = query.connect(write_output(tmp_path))
    windows = [
        FlaggedWindow("api", ts("2024-05-01T10:00:00"), ts("2024-05-01T10:05:00")),
        FlaggedWindow("db", ts("2024-05-02T09:00:00"), ts("2024-05-02T09:15:00")),
        FlaggedWindow("api", ts("2024-05-01T10:00:00"), ts("2024-05-01T10:05:00")),
    ]
    # per template its first lines in time order; no template: the window's errors first, then its first lines
    got = _lines(con, RUN, windows, [["b2", "a1"], [], []], per_template=2, limit=3)
    assert got == [
        [{"template_id": "b2", "line": "user bob logged in"},
         {"template_id": "a1", "line": "GET /users took 100 ms"},
         {"template_id": "a1", "line": "GET /users took 200 ms"}],
        [{"template_id": "c3", "line": "connection lost to 10.0.0.1"},
         {"template_id": "c3", "line": "connection lost to 10.0.0.2"}],
        [{"template_id": "a1", "line": "GET /users took 100 ms"},
         {"template_id": "a1", "line": "GET /users took 200 ms"},
         {"template_id": "a1", "line": "GET /orders took 50 ms"}],
    ]  # fmt: skip
    assert _lines(con, RUN, [], [], per_template=2, limit=3) == []
    assert _lines(con, "other-run", windows[:1], [["a1"]], per_template=2, limit=3) == [[]]


def test_evidence_kpis_of_several_windows_in_one_query(tmp_path) -> None:
    from aiops import query
    from aiops.llm.evidence import FlaggedWindow
    from aiops.llm.evidence_sql import _kpis
    from tests.fixtures_output import ts, write_output

    con = query.connect(write_output(tmp_path))
    windows = [
        FlaggedWindow("api", ts("2024-05-01T10:00:00"), ts("2024-05-01T10:05:00")),  # nothing the hour before
        FlaggedWindow("db", ts("2024-05-02T09:10:00"), ts("2024-05-02T09:20:00")),  # two windows long, one kpis row
        FlaggedWindow("web", ts("2024-05-02T09:10:00"), ts("2024-05-02T09:15:00")),  # no kpis row at all
    ]
    nothing = {"events_per_window": 0.0, "errors_per_window": 0.0, "error_rate": None, "latency_p95_ms_max": None,
               "status_5xx_per_window": 0.0}
    assert _kpis(con, windows, 300_000_000) == [
        {"window": {"events_per_window": 4.0, "errors_per_window": 0.0, "error_rate": 0.0,
                    "latency_p95_ms_max": 190.0, "status_5xx_per_window": 0.0},
         "hour_before": nothing},
        {"window": {"events_per_window": 0.5, "errors_per_window": 0.5, "error_rate": 1.0,
                    "latency_p95_ms_max": None, "status_5xx_per_window": 0.0},
         "hour_before": {"events_per_window": 1.0, "errors_per_window": 1.0, "error_rate": 1.0,
                         "latency_p95_ms_max": None, "status_5xx_per_window": 0.0}},
        {"window": nothing, "hour_before": nothing},
    ]  # fmt: skip
    assert _kpis(con, [], 300_000_000) == []


def test_evidence_messages_are_those_of_the_lines_asked_for(tmp_path) -> None:
    from aiops import query
    from aiops.llm.evidence_sql import _messages
    from tests.fixtures_output import RUN, write_output

    con = query.connect(write_output(tmp_path))
    first, last = dt.date(2024, 5, 1), dt.date(2024, 5, 2)
    # app.log line 3 and db.log line 1 exist too: the two value lists must not bring them in
    assert _messages(con, RUN, first, last, {("app.log", 1), ("db.log", 3)}) == {
        ("app.log", 1): ["GET /users took 100 ms"], ("db.log", 3): ["connection lost to 10.0.0.2"]}
    assert _messages(con, RUN, first, last, {("app.log", 9)}) == {}
    assert _messages(con, RUN, first, last, set()) == {}
    assert _messages(con, "other-run", first, last, {("app.log", 1)}) == {}
