"""Tests of ``aiops eval anomaly``'s scoring, table reading and report, on literal inputs (no pipeline run).

Run: ``.venv/bin/python -m pytest tests/test_eval_anomaly.py``
"""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from aiops.eval import anomaly, anomaly_data
from aiops.eval.anomaly_data import BatchRun, read_active, read_findings, read_sessions
from aiops.eval.anomaly_score import (
    Finding,
    Incident,
    bgl_line_alerts,
    bgl_windows,
    clean_windows,
    confusion,
    flag_rates,
    flagged_silent,
    match_incidents,
    recall,
    window_flags,
)
from aiops.schema import AnomalyRow, Event, SessionRow, TimestampUs, rows_to_table

W = 300_000_000  # 5 minutes in µs
T0 = 1_795_305_600_000_000  # 2026-11-22T00:00:00Z


def m(minutes: int) -> int:
    return T0 + minutes * 60_000_000


# ---------------------------------------------------------------- incident matching


def test_incident_matching_with_one_window_of_slack_and_other_kinds() -> None:
    incidents = [
        Incident("frequency", "error_spike", "web", m(10), m(25)),
        Incident("silence", "service_silent", "worker", m(60), m(80)),
        Incident("content", "latency_degradation", "payments", m(100), m(130)),
        Incident("sequence", "order_flow_broken", "checkout", m(200), m(225)),
    ]
    findings = [
        Finding("web", "frequency", m(25), m(30)),  # starts at the end: inside the slack
        Finding("web", "frequency", m(15), m(20)),
        Finding("worker", "silence", m(85), m(90)),  # two windows after the end: too late
        Finding("worker", "frequency", m(75), m(80)),  # another kind, in time
        Finding("payments", "content", m(95), m(100)),  # ends exactly at the start: no overlap
        Finding("checkout", "sequence", m(200), m(205)),
        Finding("web", "sequence", m(200), m(205)),  # another service
    ]
    res = match_incidents(incidents, findings, W)
    assert [(r.found, r.rows, r.other_kinds) for r in res] == [
        (True, 2, []),
        (False, 0, ["frequency"]),
        (False, 0, []),
        (True, 1, []),
    ]
    assert recall(res) == {
        "content": {"incidents": 1, "found": 0, "recall": 0.0},
        "frequency": {"incidents": 1, "found": 1, "recall": 1.0},
        "sequence": {"incidents": 1, "found": 1, "recall": 1.0},
        "silence": {"incidents": 1, "found": 0, "recall": 0.0},
        "all": {"incidents": 4, "found": 2, "recall": 0.5},
    }
    # no slack: the finding that starts at the end no longer counts, the one inside still does
    strict = match_incidents(incidents[:1], findings[:1], W, slack_windows=0)
    assert not strict[0].found


# ---------------------------------------------------------------- clean windows


def test_clean_windows_exclude_incidents_plus_one_window_and_count_flags() -> None:
    active = {("web", m(5 * i)) for i in range(12)} | {("auth", m(5 * i)) for i in range(4)}
    incidents = [Incident("frequency", "error_spike", "web", m(22), m(31))]  # windows 20..30 + margin
    clean = clean_windows(active, incidents, W)
    assert sorted(ws for s, ws in clean if s == "web") == [m(0), m(5), m(10), m(40), m(45), m(50), m(55)]
    assert len([1 for s, _ in clean if s == "auth"]) == 4
    findings = [
        Finding("web", "frequency", m(5), m(10), 8.0, 4.0, "x2"),
        Finding("web", "content", m(5), m(10), 3.0, 1.0, "p95 up"),  # same window: counted once
        Finding("web", "frequency", m(25), m(30), 9.0, 1.0, "in the incident"),  # not clean
        Finding("auth", "silence", m(0), m(10), 1.0, 1.0, "quiet"),  # spans two windows
        Finding("auth", "silence", m(60), m(65), 1.0, 1.0, "no lines"),  # auth did not log then
    ]
    rates = flag_rates(clean, findings, W, top=3)
    assert (rates["windows"], rates["flagged"]) == (11, 3)
    assert rates["share"] == pytest.approx(3 / 11)
    assert rates["per_kind"] == {
        "content": {"flagged": 1, "share": pytest.approx(1 / 11)},
        "frequency": {"flagged": 1, "share": pytest.approx(1 / 11)},
        "silence": {"flagged": 2, "share": pytest.approx(2 / 11)},
    }
    assert rates["per_service"] == {
        "auth": {"windows": 4, "flagged": 2, "share": 0.5},
        "web": {"windows": 7, "flagged": 1, "share": pytest.approx(1 / 7)},
    }
    assert [(t["service"], t["window_start"], t["kind"]) for t in rates["top"]] == [
        ("web", m(5), "content"),
        ("web", m(5), "frequency"),
        ("auth", m(0), "silence"),
    ]
    assert flagged_silent(active, findings, W, incidents) == 1


# ---------------------------------------------------------------- BGL


BGL = [
    "- 1117838570 2005.06.03 R02-M1-N0 2005-06-03-15.42.50.675872 R02-M1-N0 RAS KERNEL INFO cache parity corrected",
    "APPREAD 1117869872 2005.06.04 R04-M1-N4 2005-06-04-00.24.32.432192 R04-M1-N4 RAS APP FATAL ciod: failed",
    "- 1117869876 2005.06.04 R04-M1-N4 2005-06-04-00.24.36.222560 R04-M1-N4 RAS KERNEL INFO ok",
    "KERNDTLB 1118536327 2005.06.11 R30-M0-N9 2005-06-11-17.32.07.581048 R30-M0-N9 RAS KERNEL FATAL data TLB error",
    "",
]


def test_bgl_labels_windows_and_flags() -> None:
    alerts = bgl_line_alerts(BGL)
    assert alerts == [False, True, False, True, False]
    events = [  # (service, line_no, line_count, time): the alert line 4 is joined into the event at line 3
        ("BGL", 1, 1, m(0)),
        ("BGL", 2, 1, m(600)),
        ("BGL", 3, 2, m(1200)),
        ("BGL", 5, 1, m(1800)),
    ]
    labelled = bgl_windows(events, alerts, W)
    assert labelled == {
        ("BGL", m(0)): False,
        ("BGL", m(600)): True,
        ("BGL", m(1200)): True,
        ("BGL", m(1800)): False,
    }
    findings = [
        Finding("BGL", "new_template", m(600), m(605)),
        Finding("BGL", "frequency", m(600), m(605)),
        Finding("BGL", "frequency", m(1800), m(1805)),
        Finding("other", "frequency", m(1200), m(1205)),  # another service flags nothing here
    ]
    assert window_flags(labelled, findings, W) == {
        "alert_windows": 2,
        "flagged_alert_windows": 1,
        "recall": 0.5,
        "normal_windows": 2,
        "flagged_normal_windows": 1,
        "false_flag_rate": 0.5,
        "by_kind": {
            "frequency": {"alert_windows": 1, "normal_windows": 1},
            "new_template": {"alert_windows": 1, "normal_windows": 0},
        },
    }
    hourly = bgl_windows(events, alerts, 12 * W)
    assert len(hourly) == 4 and sum(hourly.values()) == 2


# ---------------------------------------------------------------- HDFS


def test_hdfs_confusion_matrix() -> None:
    labels = {"blk_1": True, "blk_2": True, "blk_3": False, "blk_4": False, "blk_5": True, "blk_-6": False}
    predicted = {"blk_1": True, "blk_2": False, "blk_3": True, "blk_4": False, "blk_-6": False, "blk_9": True}
    c = confusion(labels, predicted)
    assert (c.tp, c.fp, c.fn, c.tn, c.missing, c.unlabelled) == (1, 1, 2, 2, 1, 1)
    assert (c.precision, c.recall) == (0.5, pytest.approx(1 / 3))
    assert c.f1 == pytest.approx(0.4)
    assert confusion({"a": False}, {}).f1 == 0.0


# ---------------------------------------------------------------- fake tables


def _write(out: Path, table: str, row_type: type, rows: list) -> None:
    path = out / table / "dt=2026-11-22" / "part-0.parquet"
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(rows_to_table(row_type, rows), path)


def _event(source: str, line_no: int, t: int, service: str = "BGL", count: int = 1) -> Event:
    return Event(source, line_no, count, TimestampUs(t), "record", service, None, "INFO", None, "m",
                 None, None, None, None, None, None, None, "t1", "m", [], "r1")  # fmt: skip


def test_tables_are_read_with_duckdb(tmp_path: Path) -> None:
    assert read_findings(tmp_path) == [] and read_sessions(tmp_path) == {}
    _write(tmp_path, "anomalies", AnomalyRow, [
        AnomalyRow(TimestampUs(m(5)), TimestampUs(m(10)), "web", "frequency", "abc", 6.0, 4.0, 120.0, 20.0, "x6", "r1"),
        AnomalyRow(TimestampUs(m(1440)), TimestampUs(m(1445)), "web", "silence", None, 1.0, 1.0, 0.0, 9.0, "", "r2"),
    ])  # fmt: skip
    assert read_findings(tmp_path, T0, m(1440)) == [
        Finding("web", "frequency", m(5), m(10), 6.0, 4.0, "x6", "abc")
    ]
    assert len(read_findings(tmp_path)) == 2
    _write(tmp_path, "sessions", SessionRow, [
        SessionRow("blk_1", "hdfs", TimestampUs(m(0)), TimestampUs(m(1)), 5, 3, 0.9, True, "missing end", "r1"),
        SessionRow("blk_1", "other", TimestampUs(m(0)), TimestampUs(m(1)), 1, 1, 0.0, False, None, "r1"),
        SessionRow("blk_2", "hdfs", TimestampUs(m(0)), TimestampUs(m(1)), 5, 3, 0.1, False, None, "r1"),
    ])  # fmt: skip
    assert read_sessions(tmp_path) == {"blk_1": (True, "missing end"), "blk_2": (False, None)}
    _write(
        tmp_path,
        "events",
        Event,
        [_event("f", 1, m(1), "web"), _event("f", 2, m(4), "web"), _event("f", 3, m(7), "web")],
    )
    assert read_active(tmp_path, W, T0, m(1440)) == {("web", m(0)): 2, ("web", m(5)): 1}


def test_bgl_part_end_to_end_on_fake_tables(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = tmp_path / "data"
    (data / "loghub-2k" / "BGL").mkdir(parents=True)
    (data / "loghub-2k" / "BGL" / "BGL_2k.log").write_text("\n".join(BGL[:4]) + "\n")

    def fake_batch(name: str, inputs: list[str], out: Path, args: list[str], log_dir: Path) -> BatchRun:
        assert args[:2] == ["--format", anomaly.BGL_FORMAT] and "--no-validate" in args
        src = "file://" + inputs[0]
        _write(out, "events", Event, [_event(src, i, m(600 * i)) for i in range(1, 5)])
        _write(out, "anomalies", AnomalyRow, [
            AnomalyRow(TimestampUs(m(600)), TimestampUs(m(605)), "BGL", "new_template", None, 1.0, 1.0, 1.0, 0.0, "new", "r"),
            AnomalyRow(TimestampUs(m(1200)), TimestampUs(m(1205)), "BGL", "frequency", None, 5.0, 3.0, 1.0, 0.0, "up", "r"),
        ])  # fmt: skip
        return BatchRun(name, ["aiops", "batch"], 0, 0.1, log_dir / "log")

    monkeypatch.setattr(anomaly, "run_batch", fake_batch)
    report = tmp_path / "r.json"
    assert (
        anomaly.main(
            ["--data", str(data), "--only", "bgl", "--workdir", str(tmp_path / "w"), "--json", str(report)]
        )
        == 0
    )
    got = json.loads(report.read_text())["bgl"]
    assert (got["lines"], got["alert_lines"], got["events"]) == (4, 2, 4)
    assert {k: got["scales"]["5m"][k] for k in ("alert_windows", "flagged_alert_windows", "normal_windows",
                                                     "flagged_normal_windows")} == {
        "alert_windows": 2, "flagged_alert_windows": 1, "normal_windows": 2, "flagged_normal_windows": 1,
    }  # fmt: skip
    assert got["rows_by_kind"] == {"frequency": 1, "new_template": 1}
    # a re-run into the same work directory replaces what the harness wrote there
    assert anomaly.main(["--data", str(data), "--only", "bgl", "--workdir", str(tmp_path / "w")]) == 0


def test_missing_data_and_bad_arguments_fail_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert anomaly.main(["--data", str(tmp_path / "nope"), "--only", "hdfs"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "data directory" in err and "not found" in err
    assert anomaly.main(["--data", str(tmp_path), "--only", "hdfs"]) == 2
    assert "missing under" in capsys.readouterr().err
    assert anomaly.main(["--only", "bgl"]) == 2
    assert anomaly.main(["--only", "nope"]) == 2
    (tmp_path / "w" / "bgl").mkdir(parents=True)  # not made by the harness: never wiped
    (tmp_path / "loghub-2k" / "BGL").mkdir(parents=True)
    (tmp_path / "loghub-2k" / "BGL" / "BGL_2k.log").write_text(BGL[0] + "\n")
    assert anomaly.main(["--data", str(tmp_path), "--only", "bgl", "--workdir", str(tmp_path / "w")]) == 1
    assert "was not made by" in capsys.readouterr().err


def test_cli_knows_the_harness() -> None:
    from aiops.cli import EVALS

    assert EVALS["anomaly"] == "aiops.eval.anomaly" and anomaly_data.aiops_command()


def test_sequence_ceiling_counts_what_no_sequence_detector_can_separate() -> None:
    from aiops.eval.anomaly_score import sequence_ceiling

    seqs = {"a": ("x", "y"), "b": ("x", "y"), "c": ("x",), "d": ("x", "y", "z"), "e": ("x", "y")}
    labels = {"a": True, "b": False, "c": False, "d": True, "e": False}
    # "d" is separable; "a" shares its sequence with two normal blocks: flagging it costs 2 FPs
    best, shared = sequence_ceiling(seqs, labels)
    assert (round(best, 4), shared) == (0.6667, 1)
