"""End to end: `aiops batch` on a generated sample plus damaged inputs.

Checks the line accounting, the tables, a DuckDB query, re-run idempotence, a
failed run leaving the previous output intact, and one-line failures.
"""

import json
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from aiops.cli import main
from aiops.sample.damaged import write_damaged
from aiops.sample.generator import generate

LOCAL = ["--direct_running_mode", "in_memory"]


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    root = tmp_path_factory.mktemp("logs")
    truth = generate(root / "sample", seed=3, lines=4000, hours=2)
    damaged = write_damaged(root / "sample" / "ingest")
    return root / "sample", truth, damaged


def _manifest(out: Path) -> dict:
    runs = sorted((out / "runs").glob("*.json"), key=lambda p: p.stat().st_mtime)
    return json.loads(runs[-1].read_text())


def _sql(out: Path, query: str):
    return duckdb.sql(query.replace("EVENTS", f"read_parquet('{out}/events/**/*.parquet', hive_partitioning=true)")
                      .replace("DEAD", f"read_parquet('{out}/dead_letter/**/*.parquet', hive_partitioning=true)")
                      .replace("TEMPLATES", f"read_parquet('{out}/templates/*.parquet')")).fetchall()


@pytest.fixture(scope="module")
def first_run(inputs, tmp_path_factory):
    logs, truth, damaged = inputs
    out = tmp_path_factory.mktemp("out")
    code = main(["batch", "--input", str(logs / "*" / "*.log*"), "--input", str(logs / "ingest" / "*"),
                 "--output", str(out), *LOCAL])
    assert code == 0
    return out, _manifest(out)


def test_every_line_is_accounted_for(inputs, first_run):
    _, truth, damaged = inputs
    out, m = first_run
    expected_lines = sum(truth.files.values()) + damaged["totals"]["physical_lines"]
    assert m["status"] == "succeeded"
    assert m["lines_read"] == expected_lines
    assert m["event_lines"] + m["dead_letter_lines"] + m["blank"] == m["lines_read"]
    assert m["blank"] == damaged["totals"]["blank"]
    assert m["validation"]["success"] is True
    (events_lines,) = _sql(out, "select sum(line_count) from EVENTS")[0]
    assert events_lines == m["event_lines"]


def test_damaged_lines_land_in_dead_letter(first_run):
    out, m = first_run
    rows = dict(((r, (n, lines)) for r, n, lines in
                 _sql(out, "select reason, count(*), sum(line_count) from DEAD group by 1")))
    assert rows == {
        "invalid_utf8": (6, 6),
        "nul_bytes": (6, 6),
        "line_too_long": (1, 1),
        "invalid_json": (5, 5),
        "truncated_gzip": (1, 0),
    }
    ((size,),) = _sql(out, "select max(raw_size) from DEAD where reason = 'line_too_long'")
    assert size == 2 * 1024 * 1024


def test_tables_and_query(inputs, first_run):
    _, truth, _ = inputs
    out, m = first_run
    services = {s for (s,) in _sql(out, "select distinct service from EVENTS")}
    # syslog records name their own app (sshd, CRON): that wins over the directory name
    assert set(truth.services) - {"auth"} <= services
    assert {"sshd", "ingest"} <= services
    dup = _sql(out, "select service, template_id, count(*) from TEMPLATES group by 1, 2 having count(*) > 1")
    assert dup == []
    (web_status,) = _sql(out, "select count(*) from EVENTS where service = 'web' and http_status is null")[0]
    assert web_status == 0
    kpis = duckdb.sql(f"select sum(events) from read_parquet('{out}/kpis/**/*.parquet')").fetchall()[0][0]
    assert kpis == m["events"]


def test_rerun_replaces_instead_of_duplicating(inputs, first_run, tmp_path):
    logs, _, _ = inputs
    out, m = first_run
    before = _sql(out, "select count(*), sum(line_count) from EVENTS")[0]
    counts = _sql(out, "select sum(count) from TEMPLATES")[0]
    assert main(["batch", "--input", str(logs / "*" / "*.log*"), "--input", str(logs / "ingest" / "*"),
                 "--output", str(out), "--no-validate", *LOCAL]) == 0
    assert _sql(out, "select count(*), sum(line_count) from EVENTS")[0] == before
    assert _sql(out, "select sum(count) from TEMPLATES")[0] == counts
    assert _sql(out, "select count(distinct run_id) from EVENTS")[0] == (1,)


def test_failed_run_leaves_previous_output(inputs, first_run, monkeypatch):
    logs, _, _ = inputs
    out, _ = first_run
    before = _sql(out, "select count(*) from EVENTS")[0]
    import transforms.templates as tt

    def boom(*args, **kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(tt, "templated", boom)
    code = main(["batch", "--input", str(logs / "*" / "*.log*"), "--input", str(logs / "ingest" / "*"),
                 "--output", str(out), *LOCAL])
    assert code == 1
    assert _manifest(out)["status"] == "failed"
    assert _sql(out, "select count(*) from EVENTS")[0] == before
    assert not any((out / "_staging").iterdir())


def test_split_file_gives_the_same_tables(tmp_path):
    """A big file read as parallel ranges gives the same events, line numbers and KPIs as one read."""
    svc = tmp_path / "in" / "jobs"
    svc.mkdir(parents=True)
    lines = []
    for i in range(4000):
        lines.append(f"2026-11-22 10:{i // 60 % 60:02d}:{i % 60:02d},000 ERROR worker.jobs: job {i} failed")
        if i % 9 == 0:
            lines += ["Traceback (most recent call last):", '  File "w.py", line 3, in run', "KeyError: 'x'"]
    (svc / "big.log").write_text("\n".join(lines) + "\n")
    results = []
    for name, extra in (("whole", []), ("split", ["--split_bytes", "20000"])):
        out = tmp_path / name
        assert main(["batch", "--input", str(svc / "big.log"), "--output", str(out), *extra, *LOCAL]) == 0
        m = _manifest(out)
        rows = _sql(out, "select line_no, line_count, template_id, message from EVENTS order by line_no")
        results.append((m["lines_read"], m["event_lines"], len(m["files"]), rows))
    assert results[0] == results[1]
    assert results[0][:3] == (4000 + 3 * 445, 4000 + 3 * 445, 1)


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "aiops.cli", *args], capture_output=True, text=True, timeout=300)


def test_bad_arguments_fail_fast_with_one_line(tmp_path):
    missing = _cli("batch", "--input", str(tmp_path / "nope" / "*.log"), "--output", str(tmp_path / "o"))
    assert missing.returncode == 2
    assert missing.stderr.strip().splitlines()[-1] == f"aiops batch: error: input not found: {tmp_path}/nope/*.log"
    assert "Traceback" not in missing.stderr
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.log").write_text("x\n")
    (tmp_path / "ro").write_text("a file, not a directory")
    unwritable = _cli("batch", "--input", str(tmp_path / "in" / "a.log"), "--output", str(tmp_path / "ro" / "out"))
    assert unwritable.returncode == 2 and "output not writable" in unwritable.stderr
    assert "Traceback" not in unwritable.stderr
    (tmp_path / "store.json").write_text("{not json")
    store = _cli("batch", "--input", str(tmp_path / "in" / "a.log"), "--output", str(tmp_path / "o"),
                 "--templates", str(tmp_path / "store.json"))
    assert store.returncode == 2 and "template store unreadable" in store.stderr
    assert "Traceback" not in store.stderr
    # gs:// without the gcp extra: one line naming the extra, not a Beam traceback
    cloud = _cli("batch", "--input", "gs://bucket/logs/*.log", "--output", str(tmp_path / "o"))
    assert cloud.returncode == 2 and "Traceback" not in cloud.stderr
    assert cloud.stderr.strip().splitlines()[-1] == (
        "aiops batch: error: cannot list gs://bucket/logs/*.log: no filesystem for this scheme "
        "(gs://: pip install 'aiops[gcp]'; s3://: pip install 'aiops[aws]')"
    )


def test_default_runner_uses_worker_processes(tmp_path):
    """The default local runner (FnApiRunner, multi_processing, every core) end to end."""
    svc = tmp_path / "in" / "api"
    svc.mkdir(parents=True)
    (svc / "a.log").write_text("".join(f"2026-11-22T00:00:{i % 60:02d}Z INFO request {i} served in {i % 7} ms\n"
                                       for i in range(300)))
    (svc / "b.log").write_text("2026-11-22T01:00:00Z ERROR request 1 failed\n\n")
    run = _cli("batch", "--input", str(svc / "*.log"), "--output", str(tmp_path / "out"))
    assert run.returncode == 0, run.stderr
    m = _manifest(tmp_path / "out")
    assert (m["lines_read"], m["events"], m["blank"], m["dead_letter"]) == (302, 301, 1, 0)
    assert m["templates"] == 2


def test_next_run_extends_the_template_store(tmp_path):
    """Nightly use: day 2 keeps day 1's template ids and first_seen, and adds its new templates."""
    day1, day2 = tmp_path / "d1" / "api", tmp_path / "d2" / "api"
    day1.mkdir(parents=True)
    day2.mkdir(parents=True)
    (day1 / "a.log").write_text("".join(f"2026-11-21T10:00:{i:02d}Z INFO user {i} logged in\n" for i in range(30)))
    (day2 / "a.log").write_text(
        "".join(f"2026-11-22T10:00:{i:02d}Z INFO user {100 + i} logged in\n" for i in range(20))
        + "2026-11-22T11:00:00Z ERROR disk /dev/sda1 full\n"
    )
    out = tmp_path / "out"
    assert main(["batch", "--input", str(day1 / "a.log"), "--output", str(out), *LOCAL]) == 0
    assert main(["batch", "--input", str(day2 / "a.log"), "--output", str(out), *LOCAL]) == 0
    rows = _sql(out, "select template, strftime(first_seen, '%Y-%m-%d %H:%M:%S'), count from TEMPLATES order by 2")
    assert rows == [
        ("user <*> logged in", "2026-11-21 10:00:00", 50),
        ("disk <*> full", "2026-11-22 11:00:00", 1),
    ]
    ids = _sql(out, "select distinct dt::varchar, template_id from EVENTS where template = 'user <*> logged in' order by 1")
    assert len(ids) == 2 and ids[0][1] == ids[1][1]  # same id on both days
    kpi = duckdb.sql(f"select strftime(window_start, '%Y-%m-%d %H:%M'), new_templates from "
                     f"read_parquet('{out}/kpis/**/*.parquet') order by 1").fetchall()
    assert kpi == [("2026-11-21 10:00", 1), ("2026-11-22 10:00", 0), ("2026-11-22 11:00", 1)]
