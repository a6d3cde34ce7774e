"""End to end, nightly use: a clean day, then a day with one incident of every kind, into one output.

Checks that every injected incident is found with its own kind, that clean service-windows stay
quiet, that the sessions table and the persisted sequence model exist, that a re-run of day 2
gives the same findings, and the analyst queries over the new tables.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest

from aiops import query
from aiops.cli import main
from aiops.eval.anomaly_data import incidents_from_truth, read_active, read_findings, read_sessions
from aiops.eval.anomaly_score import clean_windows, match_incidents
from aiops.sample.generator import generate

LOCAL = ["--direct_running_mode", "in_memory", "--no-validate"]
W = 300_000_000
DAY1 = dt.datetime(2026, 11, 22, tzinfo=dt.UTC)
DAY2_US = int(dt.datetime(2026, 11, 23, tzinfo=dt.UTC).timestamp() * 1_000_000)


@pytest.fixture(scope="module")
def nightly(tmp_path_factory):
    root = tmp_path_factory.mktemp("nightly")
    generate(root / "day1", seed=5, lines=100_000, start=DAY1, incidents=False)
    truth = generate(root / "day2", seed=6, lines=100_000, start=DAY1 + dt.timedelta(days=1))
    out = root / "out"
    for day in ("day1", "day2"):
        assert main(["batch", "--input", str(root / day / "*" / "*.log*"), "--output", str(out), *LOCAL]) == 0
    return root, out, json.loads((root / "day2" / "ground_truth.json").read_text()), truth


def test_every_injected_incident_is_found_with_its_kind(nightly):
    _, out, truth, _ = nightly
    incidents = incidents_from_truth(truth)
    assert sorted({i.kind for i in incidents}) == ["content", "frequency", "new_template", "sequence", "silence"]
    results = match_incidents(incidents, read_findings(out, DAY2_US), W)
    assert [(r.incident.scenario, r.incident.service) for r in results if not r.found] == []


def test_clean_service_windows_stay_quiet(nightly):
    _, out, truth, _ = nightly
    active = read_active(out, W, DAY2_US, DAY2_US + 86_400_000_000)
    clean = clean_windows(active, incidents_from_truth(truth), W)
    flagged = {(f.service, f.start) for f in read_findings(out, DAY2_US)} & clean
    assert len(clean) > 1500
    assert len(flagged) <= 0.01 * len(clean), sorted(flagged)[:10]
    day1 = read_findings(out, None, DAY2_US)
    assert len(day1) <= 10, day1  # a clean first day: warm-up keeps new templates and drops quiet


def test_sessions_and_persisted_sequence_model(nightly):
    _, out, _, _ = nightly
    sessions = read_sessions(out)
    flagged = [reason for flag, reason in sessions.values() if flag]
    assert len(sessions) > 5000
    assert any(reason and reason.startswith("skipped step") for reason in flagged)
    assert len(list((out / "_store" / "sequence_models").glob("*.seq"))) >= 1


def test_rerun_of_day2_gives_the_same_findings(nightly):
    root, out, _, _ = nightly
    before = sorted(read_findings(out, DAY2_US))
    assert main(["batch", "--input", str(root / "day2" / "*" / "*.log*"), "--output", str(out), *LOCAL]) == 0
    after = sorted(read_findings(out, DAY2_US))
    assert [(f.service, f.kind, f.start, f.template_id) for f in after] == [
        (f.service, f.kind, f.start, f.template_id) for f in before]


def test_anomaly_queries(nightly):
    _, out, _, _ = nightly
    cols, rows = query.run_named(str(out), "anomalies_by_window", {"limit": 5, "kind": "silence"})
    assert cols[:4] == ["service", "window_start", "window_end", "findings"] and rows
    assert all("silence" in r[4] for r in rows)
    cols, rows = query.run_named(str(out), "anomalous_sessions", {"limit": 3, "service": "checkout"})
    assert len(rows) == 3 and all(r[0] == "checkout" for r in rows)


def test_flagged_windows_get_offline_summaries_and_audited_requests(nightly):
    _, out, truth, _ = nightly
    con = query.connect(str(out))
    day2 = "window_start >= '2026-11-23'"
    rows = con.execute(f"select service, anomaly_count, title, summary, evidence, backend, model, status from summaries "
                       f"where {day2} order by service, window_start").fetchall()
    assert len(rows) >= len(truth["incidents"]) - 1  # web and checkout share one incident window each
    assert {r[5:8] for r in rows} == {("offline", "extractive-v1", "offline")}
    assert all(r[3].startswith("[offline summary, not written by a model] ") for r in rows)
    services = {r[0] for r in rows}
    assert {"sshd", "worker", "payments", "inventory", "checkout", "web"} <= services
    cited = {e["template_id"] for r in rows for e in json.loads(r[4]) if e["template_id"]}
    known = {t for (t,) in con.execute("select template_id from anomalies where template_id is not null").fetchall()}
    assert cited <= known | {t for (t,) in con.execute("select template_id from templates").fetchall()}
    requests = con.execute(f"select attempt, status, prompt from llm_requests where {day2}").fetchall()
    assert len(requests) == len(rows) and all(a == 1 and s == "ok" for a, s, _ in requests)
    assert all("<<<EVIDENCE" in p and "EVIDENCE>>>" in p for _, _, p in requests)
