"""Tests of the sample generator (``aiops sample``) and of the damaged inputs.

Run: ``.venv/bin/python -m pytest tests/test_sample.py``
"""

from __future__ import annotations

import bz2
import datetime as dt
import gzip
import hashlib
import json
import re
import statistics
import zlib
from pathlib import Path

import pytest
import zstandard

from aiops.sample import damaged, generator
from aiops.sample.common import fmt_iso_ms, fmt_java, fmt_nginx, fmt_syslog, to_ms
from aiops.schema import ANOMALY_KINDS

SMALL = 2000


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sample")
    generator.generate(out, lines=SMALL)
    return out


def _digests(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def _lines(path: Path) -> list[str]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as fh:
        return fh.read().split("\n")[:-1]


def _service_lines(root: Path, service: str) -> list[str]:
    return [line for path in sorted((root / service).iterdir()) for line in _lines(path)]


def test_same_seed_same_bytes_other_seed_differs(tmp_path: Path, small: Path) -> None:
    generator.generate(tmp_path / "a", lines=SMALL)
    assert _digests(tmp_path / "a") == _digests(small)
    generator.generate(tmp_path / "b", lines=SMALL, seed=8)
    other = _digests(tmp_path / "b")
    assert other.keys() == _digests(small).keys()
    assert other["web/access-20261122T1800.log"] != _digests(small)["web/access-20261122T1800.log"]


def test_literal_counts_for_a_small_generation(small: Path) -> None:
    gt = json.loads((small / "ground_truth.json").read_text())
    assert gt["total_lines"] == 2024
    assert len(gt["files"]) == 24
    assert gt["services"] == {
        "web": 880, "checkout": 202, "payments": 140, "auth": 100, "inventory": 382, "worker": 320,
    }  # fmt: skip
    assert gt["files"]["web/access-20261122T1200.log.gz"] == 439
    # the counts in ground_truth.json are the physical lines really in the files
    for rel, count in gt["files"].items():
        assert len(_lines(small / rel)) == count, rel
    gz = sorted(p.name for p in small.rglob("*.gz"))
    assert len(gz) == 9 and "access-20261122T0000.log.gz" in gz
    # gzip bytes are deterministic (mtime 0) and file mtimes are the rotation time
    mtime = (small / "web/access-20261122T0000.log.gz").stat().st_mtime
    assert mtime == to_ms(dt.datetime(2026, 11, 22, 6, tzinfo=dt.UTC)) / 1000


NGINX = re.compile(
    r'^\d+\.\d+\.\d+\.\d+ - - \[\d\d/Nov/2026:\d\d:\d\d:\d\d \+0000\] "(GET|POST|DELETE) \S+ HTTP/1\.1" '
    r'\d{3} \d+ "[^"]*" "[^"]+" \d+\.\d{3}$'
)
JSON_TS = re.compile(r"^2026-11-2\dT\d\d:\d\d:\d\d\.\d{3}Z$")
SYSLOG = re.compile(r"^(<\d{1,3}>)?Nov 2\d \d\d:\d\d:\d\d bastion-\d (sshd|CRON)\[\d+\]: \S.*$")
LOGFMT = re.compile(
    r'^ts=2026-11-2\dT\d\d:\d\d:\d\d\.\d{3}Z level=(debug|info|warn|error) host=payments-\d msg="[^"]+" '
    r"provider=\w+( \w+=\S+)* latency_ms=\d+ trace_id=[0-9a-f]{32}$"
)
JAVA = re.compile(r"^2026-11-2\d \d\d:\d\d:\d\d,\d{3} (DEBUG|INFO|WARN|ERROR) \[[\w-]+\] [\w.]+ - .+$")
JAVA_CONT = re.compile(r"^(\tat \S+\(.*\)|\t\.\.\. \d+ more|Caused by: \S+: .*|[\w.]+(Exception|Error): .*)$")
PYLOG = re.compile(r"^2026-11-2\d \d\d:\d\d:\d\d,\d{3} (DEBUG|INFO|WARNING|ERROR) [\w.]+: .+$")
PY_CONT = re.compile(
    r"^(Traceback \(most recent call last\):|  File \".*\", line \d+, in \w+|    .+|[\w.]+: .*)$"
)


def test_every_format_is_present_and_well_formed(small: Path) -> None:
    for line in _service_lines(small, "web"):
        assert NGINX.match(line), line
    for line in _service_lines(small, "checkout"):
        rec = json.loads(line)
        assert JSON_TS.match(rec["ts"]) and rec["service"] == "checkout"
        assert {"level", "host", "trace_id", "msg", "latency_ms", "order_id"} <= rec.keys()
    auth = _service_lines(small, "auth")
    assert all(SYSLOG.match(line) for line in auth)
    assert any(line.startswith("<") for line in auth) and any(line.startswith("Nov") for line in auth)
    for line in _service_lines(small, "payments"):
        assert LOGFMT.match(line), line
    inventory = _service_lines(small, "inventory")
    for line in inventory:
        assert JAVA.match(line) or JAVA_CONT.match(line), line
    assert any(line.startswith("java.lang.IllegalStateException: ") for line in inventory)
    assert any(line.startswith("\tat com.shop.inventory.") for line in inventory)
    assert any(line.startswith("Caused by: ") for line in inventory)
    assert any(re.match(r"^\t\.\.\. \d+ more$", line) for line in inventory)
    worker = _service_lines(small, "worker")
    for line in worker:
        assert PYLOG.match(line) or PY_CONT.match(line), line
    assert "Traceback (most recent call last):" in worker


def test_literal_sample_lines_match_their_format() -> None:
    assert NGINX.match(
        '203.0.113.7 - - [22/Nov/2026:14:12:03 +0000] "GET /api/products/4711 HTTP/1.1" 502 311 "-" '
        '"curl/8.5.0" 0.842'
    )
    assert SYSLOG.match(
        "<38>Nov 22 02:11:09 bastion-2 sshd[4242]: Failed password for root from 1.2.3.4 port 5 ssh2"
    )
    assert JAVA.match(
        "2026-11-22 10:00:00,123 INFO [main] com.shop.inventory.StockService - Reserved 3 units"
    )
    t = [to_ms(dt.datetime(2026, 11, 2, 9, 5, 7, 45000))]
    assert fmt_iso_ms(t) == ["2026-11-02T09:05:07.045Z"]
    assert fmt_java(t) == ["2026-11-02 09:05:07,045"]
    assert fmt_nginx(t) == ["02/Nov/2026:09:05:07 +0000"]
    assert fmt_syslog(t) == ["Nov  2 09:05:07"]


def _window(inc: dict) -> tuple[str, str]:
    return inc["start"], inc["end"]


@pytest.fixture(scope="module")
def day(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, generator.GroundTruth]:
    out = tmp_path_factory.mktemp("day")
    return out, generator.generate(out, lines=60_000)


def test_incident_schedule_covers_every_kind_without_overlaps(
    day: tuple[Path, generator.GroundTruth],
) -> None:
    _, gt = day
    assert [(i["kind"], i["scenario"], i["service"], i["start"][11:16], i["end"][11:16]) for i in gt.incidents] == [
        ("frequency", "brute_force", "sshd", "02:10", "02:28"),
        ("frequency", "throughput_drop", "worker", "04:19", "04:49"),
        ("silence", "service_silent", "worker", "09:14", "09:34"),
        ("content", "rate_limited_responses", "payments", "10:19", "10:39"),
        ("new_template", "new_error", "inventory", "11:17", "12:29"),
        ("frequency", "error_spike", "web", "14:10", "14:25"),
        ("frequency", "error_spike", "checkout", "14:10", "14:25"),
        ("sequence", "order_flow_broken", "checkout", "15:43", "16:08"),
        ("content", "latency_degradation", "payments", "17:02", "17:32"),
        ("silence", "scheduled_job_stop", "inventory", "19:12", "19:52"),
    ]  # fmt: skip
    assert {i["kind"] for i in gt.incidents} == set(ANOMALY_KINDS)
    for inc in gt.incidents:
        assert {"kind", "scenario", "service", "start", "end", "description"} <= inc.keys()
        assert gt.start <= inc["start"] < inc["end"] <= gt.end
        minutes = (
            dt.datetime.fromisoformat(inc["end"]) - dt.datetime.fromisoformat(inc["start"])
        ).seconds / 60
        assert minutes >= 15, inc
    for a in gt.incidents:  # never two incidents at once in one service
        for b in gt.incidents:
            if a is not b and a["service"] == b["service"]:
                assert a["end"] <= b["start"] or b["end"] <= a["start"], (a, b)
    assert [(r["scenario"], r["start"][11:16]) for r in gt.routine] == [("nightly_report_export", "01:00")]


def test_frequency_new_template_and_silence_incidents_are_visible(
    day: tuple[Path, generator.GroundTruth],
) -> None:
    root, gt = day
    by = {i["scenario"] + "/" + i["service"]: i for i in gt.incidents}

    # worker: nothing at all in the silent window
    a, b = _window(by["service_silent/worker"])
    worker = [line for line in _service_lines(root, "worker") if line[:2] == "20"]
    stamps = [line[:19].replace(" ", "T") for line in worker]
    assert stamps and not [s for s in stamps if a[:19] <= s < b[:19]]

    # worker throughput drop: job lines fall to ~20%, polling goes on with a growing backlog
    a, b = _window(by["throughput_drop/worker"])
    hour_before = (dt.datetime.fromisoformat(a) - dt.timedelta(hours=1)).isoformat()[:19]
    jobs_in = sum(
        1 for s, line in zip(stamps, worker, strict=True) if a[:19] <= s < b[:19] and "started," in line
    )
    jobs_before = sum(
        1 for s, line in zip(stamps, worker, strict=True) if hour_before <= s < a[:19] and "started," in line
    )
    assert 0.1 < jobs_in / (jobs_before / 2) < 0.35
    pending = [int(re.search(r": (\d+) jobs pending", line).group(1))
               for s, line in zip(stamps, worker, strict=True) if a[:19] <= s < b[:19] and "jobs pending" in line]  # fmt: skip
    assert len(pending) > 10 and max(pending) > 150

    # web: 5xx share jumps during the spike
    a, b = _window(by["error_spike/web"])
    hhmm = (a[11:16], b[11:16])
    spike, rest = [], []
    for line in _service_lines(root, "web"):
        status = int(line.split('" ', 1)[1][:3])
        when = line.split("[", 1)[1][12:17]  # HH:MM of [22/Nov/2026:HH:MM:SS +0000]
        (spike if hhmm[0] <= when < hhmm[1] else rest).append(status >= 500)
    assert sum(spike) / len(spike) > 0.1 > 0.01 > sum(rest) / len(rest)

    # auth: the attacker's failed logins all fall in the burst window
    assert by["brute_force/sshd"]["directory"] == "auth"  # syslog lines name their service (app-name)
    attacker = by["brute_force/sshd"]["source_ip"]
    hits = [line for line in _service_lines(root, "auth") if attacker in line]
    assert len(hits) > 200 and all("Failed password" in h for h in hits)

    # inventory: the new error appears only from the incident start on
    a, _ = _window(by["new_error/inventory"])
    inventory = [line for line in _service_lines(root, "inventory") if line[:2] == "20"]
    first = [line for line in inventory if "Warehouse sync aborted" in line]
    assert first and first[0][:19].replace(" ", "T") >= a[:19]

    # inventory: the cache refresh is periodic and stops in its window while the rest goes on
    a, b = _window(by["scheduled_job_stop/inventory"])
    refresh = [line[:19].replace(" ", "T") for line in inventory if "Cache refresh took" in line]
    gaps = sorted(
        (dt.datetime.fromisoformat(y) - dt.datetime.fromisoformat(x)).seconds
        for x, y in zip(refresh, refresh[1:], strict=False)
    )
    assert len(refresh) > 250 and gaps[-1] >= 40 * 60 and 299 <= gaps[len(gaps) // 2] <= 301  # every 5 min
    assert not [t for t in refresh if a[:19] <= t < b[:19]]
    assert sum(1 for line in inventory if a[:19] <= line[:19].replace(" ", "T") < b[:19]) > 300


def test_content_and_sequence_incidents_are_visible(day: tuple[Path, generator.GroundTruth]) -> None:
    root, gt = day
    by = {i["scenario"]: i for i in gt.incidents}
    payments = _service_lines(root, "payments")

    # payments: latency x20 inside the window
    a, b = _window(by["latency_degradation"])
    inside, outside = [], []
    for line in payments:
        ms = float(re.search(r"latency_ms=(\d+)", line).group(1))
        (inside if a[:19] <= line[3:22] < b[:19] else outside).append(ms)
    assert statistics.median(inside) > 10 * statistics.median(outside)

    # payments: outcome=rate_limited, never seen elsewhere, dominates the responses in its window
    a, b = _window(by["rate_limited_responses"])
    outcomes: dict[bool, list[str]] = {True: [], False: []}
    for line in payments:
        if m := re.search(r" status=200 outcome=(\w+)", line):
            outcomes[a[:19] <= line[3:22] < b[:19]].append(m.group(1))
    assert 0.6 < outcomes[True].count("rate_limited") / len(outcomes[True]) < 0.9
    assert "rate_limited" not in outcomes[False] and len(set(outcomes[False])) == 4

    # checkout: an order is a trace; in the window ~40% of paid orders skip "Payment authorized"
    a, b = _window(by["order_flow_broken"])
    traces: dict[str, list[tuple[str, str]]] = {}
    for line in _service_lines(root, "checkout"):
        rec = json.loads(line)
        traces.setdefault(rec["trace_id"], []).append((rec["ts"], rec["msg"]))
    placed = {True: [0, 0], False: [0, 0]}  # inside window?: [placed orders, without authorization]
    for steps in traces.values():
        msgs = [m for _, m in steps]
        assert [t for t, _ in steps] == sorted(t for t, _ in steps)
        if any(m.startswith("Order ") for m in msgs):
            assert msgs[0].startswith("Cart ") and sum(m.startswith("Order ") for m in msgs) == 1
            inside = a <= steps[-1][0] < b
            placed[inside][0] += 1
            placed[inside][1] += not any(m.startswith("Payment authorized") for m in msgs)
    assert placed[False][1] == 0 and placed[False][0] > 1000
    assert 0.3 < placed[True][1] / placed[True][0] < 0.55
    lengths = sorted(len(s) for s in traces.values())
    assert lengths[len(lengths) // 2] >= 3 and max(lengths) >= 5


def test_clean_day_has_no_incidents_and_the_same_traffic(tmp_path: Path) -> None:
    gt = generator.generate(tmp_path, lines=20_000, incidents=False)
    assert gt.incidents == [] and gt.params["incidents"] is False
    saved = json.loads((tmp_path / "ground_truth.json").read_text())
    assert saved["incidents"] == [] and saved["routine"] and set(saved["services"]) == set(generator.SERVICES)
    assert not [line for line in _service_lines(tmp_path, "payments") if "rate_limited" in line]
    assert not [line for line in _service_lines(tmp_path, "inventory") if "Warehouse sync aborted" in line]
    assert generator.main(["--output", str(tmp_path / "cli"), "--lines", "20000", "--no-incidents"]) == 0
    logs = {k: v for k, v in _digests(tmp_path).items() if k.endswith((".log", ".gz")) and "cli/" not in k}
    assert {k: v for k, v in _digests(tmp_path / "cli").items() if k != "ground_truth.json"} == logs
    assert json.loads((tmp_path / "cli" / "ground_truth.json").read_text())["incidents"] == []


def test_cli_main_prints_one_line_summary(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["--output", str(tmp_path), "--lines", "500", "--hours", "2", "--start", "2026-11-23T06:00:00Z"]
    assert generator.main([*args, "--services", "web,auth"]) == 0
    out = capsys.readouterr().out.strip()
    assert "\n" not in out and out.startswith("wrote ") and "2 services" in out
    gt = json.loads((tmp_path / "ground_truth.json").read_text())
    assert gt["start"] == "2026-11-23T06:00:00Z" and gt["end"] == "2026-11-23T08:00:00Z"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["auth", "ground_truth.json", "web"]


def _physical(data: bytes) -> int:
    return data.count(b"\n") + (1 if data and not data.endswith(b"\n") else 0)


def test_damaged_files_have_the_documented_properties(tmp_path: Path) -> None:
    exp = damaged.write_damaged(tmp_path)
    files = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    assert set(files) == set(exp) - {"totals"}
    assert exp["empty.log"]["physical_lines"] == 0 and files["empty.log"] == b""

    mixed = files["mixed.log"]
    assert not mixed.endswith(b"\n") and _physical(mixed) == exp["mixed.log"]["physical_lines"] == 60
    rows = mixed.split(b"\n")
    bad_utf8 = 0
    for row in rows:
        try:
            row.decode("utf-8")
        except UnicodeDecodeError:
            bad_utf8 += 1
    assert bad_utf8 == exp["mixed.log"]["invalid_utf8"] == 6
    assert sum(b"\x00" in r for r in rows) == exp["mixed.log"]["nul_bytes"] == 6
    assert sum(not r.strip() for r in rows) == exp["mixed.log"]["blank"] == 4

    long_rows = files["long_line.log"].split(b"\n")[:-1]
    assert len(long_rows) == exp["long_line.log"]["physical_lines"] == 11
    assert max(len(r) for r in long_rows) == 2 * 1024 * 1024

    bad_json = 0
    for row in files["orders.jsonl"].split(b"\n")[:-1]:
        try:
            json.loads(row)
        except json.JSONDecodeError:
            bad_json += 1
    assert bad_json == exp["orders.jsonl"]["truncated_json"] == 5

    gz = files["truncated.log.gz"]
    recovered = zlib.decompressobj(wbits=31).decompress(gz)
    assert (
        recovered.endswith(b"\n")
        and recovered.count(b"\n") == exp["truncated.log.gz"]["physical_lines"] == 2100
    )
    got = []
    with pytest.raises(EOFError), gzip.open(tmp_path / "truncated.log.gz") as fh:
        for line in fh:
            got.append(line)
    assert len(got) == 2100

    for name, raw in (
        ("rotated.log.bz2", bz2.decompress(files["rotated.log.bz2"])),
        (
            "rotated.log.zst",
            zstandard.ZstdDecompressor().decompressobj().decompress(files["rotated.log.zst"]),
        ),
    ):
        assert _physical(raw) == exp[name]["physical_lines"] == 500
        assert raw.split(b"\n")[:-1].count(b"") == exp[name]["blank"] == 20
    assert exp["totals"]["physical_lines"] == 60 + 11 + 40 + 0 + 2100 + 500 + 500
    # deterministic
    again = damaged.write_damaged(tmp_path / "again")
    assert again == exp and (tmp_path / "again" / "truncated.log.gz").read_bytes() == gz


def test_demo_table_formatting() -> None:
    from aiops.demo import format_table

    when = dt.datetime(2026, 11, 22, 14, 10, tzinfo=dt.UTC)
    text = format_table(
        ["service", "window_start", "events", "error_rate"],
        [("web", when, 1234, 0.25), ("db", None, 5, None)],
    )
    assert text.splitlines() == [
        "service  window_start         events  error_rate",
        "-------  -------------------  ------  ----------",
        "web      2026-11-22 14:10:00   1,234        0.25",
        "db       -                         5           -",
        "(2 rows)",
    ]
