"""End to end: ``aiops stream --watch`` on a folder where files arrive while the job runs (bounded by --duration).

The files carry current timestamps (the local watermark follows the clock), one file brings a
line an hour old (too late: dead-lettered), one a damaged line; the test asserts the tables that
appear, the line accounting, the template store the learner published, and that a restarted
job does not read a file twice. Also: bad arguments fail fast with one line.
"""

import datetime as dt
import json
import os
import subprocess
import sys
import threading
import time

import duckdb
import pytest

from aiops.templating.store import FileTemplateStore

FLAGS = ["--window", "5s", "--poll_interval", "0.5s", "--flush", "1s", "--watermark_delay", "1s",
         "--template_refresh", "1s", "--template_publish", "1s"]


def aiops(*args: str, timeout: int = 240) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "aiops.cli", *args], capture_output=True, text=True, timeout=timeout)


def now(offset_s: float = 0.0) -> str:
    return (dt.datetime.now(dt.UTC) + dt.timedelta(seconds=offset_s)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def write(path, lines: list[bytes]) -> None:
    tmp = path.parent / f".{path.name}.tmp"  # shippers write aside and rename: a file appears whole
    tmp.write_bytes(b"\n".join(lines) + b"\n")
    tmp.rename(path)


def produce(root, files: int) -> dict:
    """Two services, one file each per second; returns what was written."""
    written = {"lines": 0, "blank": 0}
    for k in range(files):
        for svc in ("web", "db"):
            lines = [f"{now()} INFO request {k * 10 + i} served in {5 + i} ms".encode() for i in range(20)]
            lines.append(f"{now()} ERROR payment {k} failed: card declined".encode())
            if svc == "web" and k == 1:
                lines += [b"", f"{now(-3600)} INFO request 9 served in 1 ms".encode(), b"bad \xff\xfe line"]
                written["blank"] += 1
            write(root / svc / f"f{k}.log", lines)
            written["lines"] += len(lines)
        time.sleep(1)
    return written


@pytest.fixture()
def folders(tmp_path):
    for svc in ("web", "db"):
        (tmp_path / "in" / svc).mkdir(parents=True)
    return tmp_path / "in", tmp_path / "out"


def sql(query: str):
    return duckdb.connect().execute(query).fetchall()


def test_watch_folder_while_files_arrive(folders):
    src, out = folders
    written: dict = {}
    writer = threading.Thread(target=lambda: written.update(produce(src, 4)))
    writer.start()
    done = aiops("stream", "--watch", str(src / "*" / "*.log"), "--output", str(out), "--duration", "12s", *FLAGS)
    writer.join()
    assert done.returncode == 0, done.stderr[-2000:]
    manifest = json.loads(next((out / "runs").glob("*.json")).read_text())
    assert manifest["status"] == "succeeded" and manifest["sources"] == 8
    assert manifest["lines_read"] == written["lines"] == 8 * 21 + 3
    assert manifest["blank"] == written["blank"] == 1
    events = f"read_parquet('{out}/events/*/*.parquet')"
    dead = f"read_parquet('{out}/dead_letter/*/*.parquet')"
    assert sql(f"select service, count(*) from {events} group by 1 order by 1") == [("db", 84), ("web", 84)]
    # the damaged line and the hour-old one (its window closed long before it arrived) are dead letters
    reasons = sorted(r.split(":")[0] for (r,) in sql(f"select reason from {dead}"))
    assert reasons == ["invalid_utf8", "too_late"]
    # every line: event, dead letter or blank
    assert manifest["event_lines"] + manifest["dead_letter_lines"] + manifest["blank"] == manifest["lines_read"]
    kpis = f"read_parquet('{out}/kpis/*/*.parquet')"
    assert sql(f"select sum(events), sum(errors) from {kpis}") == [(168, 8)]
    assert sql(f"select count(*) from (select service, window_start from {kpis} group by all having count(*) > 1)") == [(0,)]
    templates = {t.template for t in FileTemplateStore(str(out / "_store" / "templates.json.gz")).load()}
    assert {"request <*> served in <*> ms", "payment <*> failed: card declined"} <= templates
    assert aiops("validate", str(out)).returncode == 0

    # A restarted job starts from the store and reads only files it has not read.
    write(src / "web" / "late.log", [f"{now()} INFO request 7 served in 3 ms".encode()])
    again = aiops("stream", "--watch", str(src / "*" / "*.log"), "--output", str(out), "--duration", "4s", *FLAGS)
    assert again.returncode == 0, again.stderr[-2000:]
    second = [json.loads(p.read_text()) for p in (out / "runs").glob("*.json")]
    assert sorted(m["lines_read"] for m in second) == [1, 171]
    assert sql(f"select count(*) from {events}") == [(169,)]


@pytest.mark.parametrize("args, message", [
    ([], "give exactly one source"),
    (["--watch", "x/*.log", "--topic", "projects/p/topics/t"], "give exactly one source"),
    (["--subscription", "logs"], "bad --subscription 'logs': use projects/P/subscriptions/S"),
    (["--watch", "/nonexistent-dir/*.log"], "watch directory not found: /nonexistent-dir"),
    (["--watch", "{tmp}/*.log", "--window", "soon"], "bad --window or --allowed_lateness"),
    (["--watch", "{tmp}/*.log", "--anomaly", "nope=1"], "bad --anomaly: unknown anomaly setting"),
])
def test_bad_arguments_fail_fast_with_one_line(tmp_path, args, message):
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    done = aiops("stream", "--output", str(tmp_path / "out"), *args, timeout=60)
    assert done.returncode == 2
    lines = [ln for ln in done.stderr.splitlines() if not ln.startswith("WARNING")]
    assert len(lines) == 1 and lines[0].startswith("aiops stream: error: ") and message in lines[0], done.stderr
    assert not os.path.exists(tmp_path / "out" / "runs")
