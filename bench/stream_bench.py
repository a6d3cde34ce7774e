"""``make bench-stream``: end-to-end delay, sustained throughput and memory of ``aiops stream`` (local runner).

Starts ``aiops stream --watch '<tmp>/in/*/*.log'`` as a subprocess and, in a thread, writes one
new file per service per second (hidden temp name, then renamed, as log shippers do) of mixed,
realistic lines stamped with the current UTC time, at ``--rate`` lines/s in total (one window at 70%
of the run, a fifth of the first service's lines are one ERROR, so anomaly rows appear). Meanwhile it
polls the job's ``kpis`` and ``anomalies`` window files every 0.5 s (first appearance of each
(service, window) file = when its rows became visible) and samples the RSS and CPU time of the job's
process tree every 2 s. Then it reports, per window:

* delay = first appearance of the window's KPI file - arrival of the window's earliest-arriving
  line (the worst-off line), and overhead = delay - window length; target: delay <= window + 30 s;
* throughput = events written / generator seconds, whether every written line is accounted for
  (events + dead letters), and the lag from the generator's stop to the last KPI file;
* RSS after a 60 s warm-up, its maximum and its slope (MiB/min, least squares) under load.

Example::

    .venv/bin/python bench/stream_bench.py --minutes 10            # the issue's measure (make bench-stream)
    .venv/bin/python bench/stream_bench.py --minutes 2 --window 30s --rate 2000 --json /tmp/sb.json
"""

from __future__ import annotations

import argparse
import datetime as dt
import glob
import hashlib
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from aiops.windowing import parse_duration_us  # noqa: E402  (plain Python, no Beam)

TARGET_SLACK_S = 30.0  # the target: delay <= window + 30 s
WARMUP_S = 60.0  # RSS before this (imports, first templates) is start-up, not steady state


def ip(r: random.Random) -> str:
    return f"10.{r.randrange(256)}.{r.randrange(256)}.{r.randrange(1, 255)}"


# (level, message) makers: a few dozen templates with ids, ips, sizes and latencies, mostly INFO.
# fmt: off
TEMPLATES = [
    ("INFO", lambda r: f"request {r.randrange(10**6)} GET /api/v1/users/{r.randrange(10**5)} 200 in {r.randrange(2, 80)} ms"),
    ("INFO", lambda r: f"request {r.randrange(10**6)} POST /api/v1/orders 201 in {r.randrange(10, 250)} ms"),
    ("INFO", lambda r: f"request {r.randrange(10**6)} GET /static/app.{r.randrange(999)}.js 200 {r.randrange(10**5)} bytes"),
    ("INFO", lambda r: f"accepted connection from {ip(r)}:{r.randrange(1024, 65535)}"),
    ("INFO", lambda r: f"closed connection from {ip(r)} after {r.randrange(1, 9000)} ms"),
    ("INFO", lambda r: f"user {r.randrange(10**5)} logged in from {ip(r)}"),
    ("INFO", lambda r: f"user {r.randrange(10**5)} logged out"),
    ("INFO", lambda r: f"session {r.getrandbits(64):016x} created ttl={r.choice((300, 900, 3600))}s"),
    ("INFO", lambda r: f"query select users took {r.randrange(1, 40)} ms rows={r.randrange(100)}"),
    ("INFO", lambda r: f"query update orders took {r.randrange(2, 90)} ms rows={r.randrange(1, 5)}"),
    ("INFO", lambda r: f"cache hit key=user:{r.randrange(10**5)} in {r.random():.3f} ms"),
    ("INFO", lambda r: f"cache miss key=product:{r.randrange(10**4)} loaded in {r.randrange(1, 30)} ms"),
    ("INFO", lambda r: f"order {r.randrange(10**7)} paid amount={r.randrange(100, 99999) / 100:.2f} EUR"),
    ("INFO", lambda r: f"token refreshed for client {r.randrange(500)} expires_in={r.randrange(600, 3600)}"),
    ("INFO", lambda r: f"health check ok latency={r.randrange(1, 15)}ms"),
    ("INFO", lambda r: f"worker {r.randrange(16)} processed batch {r.randrange(10**5)} of {r.randrange(10, 500)} items"),
    ("INFO", lambda r: f"pool stats active={r.randrange(50)} idle={r.randrange(50)} waiting={r.randrange(5)}"),
    ("INFO", lambda r: f"published message {r.getrandbits(48):012x} to topic events partition {r.randrange(12)}"),
    ("INFO", lambda r: f"gc pause {r.randrange(1, 40)} ms heap={r.randrange(200, 900)}MB"),
    ("INFO", lambda r: f"scheduled job cleanup-{r.randrange(10)} finished in {r.randrange(100, 5000)} ms"),
    ("DEBUG", lambda r: f"resolved host db-{r.randrange(3)}.internal to {ip(r)}"),
    ("DEBUG", lambda r: f"retrying idempotent call attempt={r.randrange(1, 3)} backoff={r.randrange(10, 200)}ms"),
    ("WARN", lambda r: f"slow request {r.randrange(10**6)} GET /api/v1/search took {r.randrange(800, 4000)} ms"),
    ("WARN", lambda r: f"rate limit reached for client {ip(r)} ({r.randrange(100, 200)} req/min)"),
    ("WARN", lambda r: f"connection pool near limit used={r.randrange(45, 50)} max=50"),
    ("WARN", lambda r: f"certificate for api-{r.randrange(4)}.example.com expires in {r.randrange(2, 30)} days"),
    ("ERROR", lambda r: f"request {r.randrange(10**6)} failed: upstream {ip(r)}:8080 timed out after 5000 ms"),
    ("ERROR", lambda r: f"payment {r.randrange(10**7)} declined code={r.choice((51, 54, 61, 65))}"),
    ("ERROR", lambda r: f"failed to write to disk /var/lib/app/chunk-{r.randrange(999)}: no space left on device"),
    ("ERROR", lambda r: f"deadlock detected on table orders, transaction {r.randrange(10**6)} rolled back"),
]
# fmt: on
# The incident: a burst of one ERROR template, so that anomaly rows appear and their delay is measured too.
INCIDENT = ("ERROR", lambda r: f"connection refused by db-primary:5432 (attempt {r.randrange(1, 6)})")
WEIGHTS = [
    60 if level == "INFO" else 12 if level == "DEBUG" else 4 if level == "WARN" else 1
    for level, _ in TEMPLATES
]


@dataclass
class Written:
    """What the generator wrote: per file (service, arrival time s, first and last event time us)."""

    files: list[tuple[str, float, int, int]] = field(default_factory=list)
    lines: int = 0
    started: float = 0.0
    stopped: float = 0.0


def write_files(watch: Path, services: list[str], rate: int, seconds: float, incident: tuple[float, float],
                out: Written, stop: threading.Event):  # fmt: skip
    """Each second, per service, one file of the lines 'logged' since the previous tick (stamped evenly over it).

    During ``incident`` (seconds from the start) a fifth of the first service's lines are one ERROR template.
    """
    rng = random.Random(7)
    per_file = max(1, rate // len(services))
    out.started = prev = time.time()
    tick, seq = time.monotonic(), 0
    while not stop.is_set() and time.time() - out.started < seconds:
        tick += 1.0
        stop.wait(max(0.0, tick - time.monotonic()))
        now = time.time()
        for service in services:
            stamps = [prev + (now - prev) * (i + 1) / per_file for i in range(per_file)]
            picks = rng.choices(TEMPLATES, WEIGHTS, k=per_file)
            if service == services[0] and incident[0] <= now - out.started < incident[1]:
                picks[::5] = [INCIDENT] * len(picks[::5])
            text = "".join(
                f"{dt.datetime.fromtimestamp(t, dt.UTC):%Y-%m-%dT%H:%M:%S.%fZ} {level} {make(rng)}\n"
                for t, (level, make) in zip(stamps, picks, strict=True)
            )
            tmp, final = watch / service / f".f{seq:06d}.tmp", watch / service / f"f{seq:06d}.log"
            tmp.write_text(text)
            os.rename(tmp, final)  # visible at once and whole, like a shipper's rotate
            out.files.append((service, time.time(), int(stamps[0] * 1e6), int(stamps[-1] * 1e6)))
            out.lines += per_file
        prev, seq = now, seq + 1
    out.stopped = time.time()


def tree_usage(proc: psutil.Process) -> tuple[int, float]:
    """RSS bytes and CPU seconds of a process and all its children (Beam may start helpers)."""
    rss, cpu = 0, 0.0
    try:
        tree = [proc, *proc.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0, 0.0
    for p in tree:
        try:
            rss += p.memory_info().rss
            t = p.cpu_times()
            cpu += t.user + t.system
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            pass
    return rss, cpu


def watch_job(job: subprocess.Popen, out: Path) -> tuple[dict[str, dict[str, float]], list[tuple]]:
    """Until the job exits: first-seen time of every window file per table, and (time, RSS, CPU s) samples."""
    seen: dict[str, dict[str, float]] = {"kpis": {}, "anomalies": {}}
    samples: list[tuple[float, int, float]] = []
    proc, next_sample = psutil.Process(job.pid), 0.0
    while job.poll() is None:
        now = time.time()
        for table, first in seen.items():
            for path in glob.glob(str(out / table / "*" / "stream-*.parquet")):
                first.setdefault(os.path.basename(path), now)
        if now >= next_sample:
            rss, cpu = tree_usage(proc)
            if rss:
                samples.append((now, rss, cpu))
            next_sample = now + 2.0
        time.sleep(0.5)
    return seen, samples


def slope_per_min(points: list[tuple[float, float]]) -> float | None:
    """Least-squares slope of (seconds, value) in value per minute."""
    if len(points) < 2:
        return None
    mx = sum(x for x, _ in points) / len(points)
    my = sum(y for _, y in points) / len(points)
    var = sum((x - mx) ** 2 for x, _ in points)
    return round(60 * sum((x - mx) * (y - my) for x, y in points) / var, 2) if var else None


def earliest_arrivals(written: Written, window_us: int) -> dict[tuple[str, int], float]:
    """(service, window start us) -> arrival time of the first file holding a line of that window."""
    first: dict[tuple[str, int], float] = {}
    for service, arrival, lo, hi in written.files:
        for start in range(lo - lo % window_us, hi + 1, window_us):
            first[(service, start)] = min(first.get((service, start), arrival), arrival)
    return first


def window_key(name: str, hashes: dict[str, str]) -> tuple[str, int] | None:
    """stream-<service hash>-<start us>.parquet -> (service, start us), as transforms.stream_write.window_file names it."""
    digest, _, start = name.removeprefix("stream-").removesuffix(".parquet").partition("-")
    return (hashes[digest], int(start)) if digest in hashes and start.isdigit() else None


def delays(seen: dict[str, float], arrivals: dict, hashes: dict[str, str]) -> dict[tuple[str, int], float]:
    keys = {name: window_key(name, hashes) for name in seen}
    return {k: seen[name] - arrivals[k] for name, k in keys.items() if k in arrivals}


def stats(values: list[float]) -> dict[str, float | None]:
    """max, p50, p95 (nearest rank); None, not NaN, when empty so that the JSON report stays valid JSON."""
    ordered = sorted(values)
    at = {"max": 1.0, "p50": 0.5, "p95": 0.95}
    return {k: round(ordered[round(q * (len(ordered) - 1))], 2) if ordered else None for k, q in at.items()}


def delay_report(written: Written, seen: dict[str, dict[str, float]], window_s: float) -> dict:
    services = {f[0] for f in written.files}
    hashes = {hashlib.blake2b(s.encode(), digest_size=6).hexdigest(): s for s in services}
    arrivals = earliest_arrivals(written, int(window_s * 1e6))
    kpi = delays(seen["kpis"], arrivals, hashes)
    # Windows without lines (the quiet ones after the generator stops) have no arrival: not measured.
    anomalies = delays(seen["anomalies"], arrivals, hashes)
    # Full windows apart: in the first one lines start mid-window, so its worst line waits less.
    full = [d for (_, t0), d in kpi.items() if written.started <= t0 / 1e6 <= written.stopped - window_s]
    last_kpi = max((t for n, t in seen["kpis"].items() if window_key(n, hashes) in arrivals), default=None)
    return {
        "windows_with_lines": len(arrivals), "windows_measured": len(kpi), "full_windows": len(full),
        "delay_s": stats(list(kpi.values())), "delay_full_windows_s": stats(full),
        "overhead_s": stats([d - window_s for d in kpi.values()]), "target_s": window_s + TARGET_SLACK_S,
        "target_met": bool(kpi) and len(kpi) == len(arrivals) and max(kpi.values()) <= window_s + TARGET_SLACK_S,
        "anomaly_windows": len(anomalies), "anomaly_files": len(seen["anomalies"]),
        "anomaly_delay_s": stats(list(anomalies.values())),
        "lag_after_stop_s": round(last_kpi - written.stopped, 1) if last_kpi else None,
    }  # fmt: skip


def throughput_report(written: Written, manifest: dict) -> dict:
    gen_s = written.stopped - written.started
    accounted = int(manifest.get("event_lines") or 0) + int(manifest.get("dead_letter_lines") or 0)
    return {
        "generator_s": round(gen_s, 1), "files_written": len(written.files), "lines_written": written.lines,
        "lines_read": manifest.get("lines_read"), "events": manifest.get("events"),
        "dead_letter_lines": manifest.get("dead_letter_lines"), "too_late_lines": manifest.get("too_late_lines"),
        "kept_up": accounted == written.lines, "events_per_s": round(int(manifest.get("events") or 0) / gen_s, 1),
        "job_status": manifest.get("status"), "job_elapsed_s": manifest.get("elapsed_s"),
    }  # fmt: skip


def memory_report(samples: list[tuple[float, int, float]], written: Written, job_start: float) -> dict:
    steady = [(t, rss) for t, rss, _ in samples if t - job_start >= WARMUP_S and t <= written.stopped]
    busy = [(t, cpu) for t, _, cpu in samples if written.started <= t <= written.stopped]
    return {
        "rss_start_mib": round(steady[0][1] / 2**20, 1) if steady else None,
        "rss_max_mib": round(max(s[1] for s in samples) / 2**20, 1) if samples else None,
        "rss_slope_mib_per_min": slope_per_min([(t, rss / 2**20) for t, rss in steady]),
        "rss_samples_after_warmup": len(steady),
        "rss_series_mib": [[round(t - job_start), round(rss / 2**20, 1)] for t, rss, _ in samples[::15]],  # 30 s
        "cpu_cores_used": round((busy[-1][1] - busy[0][1]) / (busy[-1][0] - busy[0][0]), 2) if len(busy) > 1 else None,
    }  # fmt: skip


def report_text(report: dict) -> str:
    r = {k: "n/a" if v is None else v for k, v in report.items()}  # short runs have no steady-state RSS
    d, o, a, full = r["delay_s"], r["overhead_s"], r["anomaly_delay_s"], r["delay_full_windows_s"]
    return "\n".join([
        f"aiops stream bench: {r['generator_s']:.0f}s of input at {r['lines_written'] / r['generator_s']:,.0f} lines/s "
        f"({r['files_written']} files), window {r['window_s']:g}s, job {r['job_status']} in {r['job_elapsed_s']}s",
        f"  delay    line arrival -> KPI file: max {d['max']}s  p50 {d['p50']}s  p95 {d['p95']}s over "
        f"{r['windows_measured']}/{r['windows_with_lines']} windows (full windows: {r['full_windows']}, max {full['max']}s)",
        f"  overhead beyond the window: max {o['max']}s  p50 {o['p50']}s  p95 {o['p95']}s",
        f"  target   delay <= {r['target_s']:g}s for every window: {'MET' if r['target_met'] else 'NOT MET'}",
        f"  anomaly  files for {r['anomaly_windows']} windows with lines ({r['anomaly_files']} in all)"
        + (f", delay max {a['max']}s  p50 {a['p50']}s" if a["max"] is not None else ""),
        f"  rate     {r['events_per_s']:,} events/s sustained; job used {r['cpu_cores_used']} CPU cores",
        f"  kept up  {'yes' if r['kept_up'] else 'NO'}: written {r['lines_written']:,}, read {r['lines_read']:,}, "
        f"events {r['events']:,}, dead-letter lines {r['dead_letter_lines']} (too late {r['too_late_lines']}); "
        f"last KPI file {r['lag_after_stop_s']}s after the generator stopped",
        f"  memory   RSS {r['rss_start_mib']} MiB after {WARMUP_S:.0f}s warm-up, max {r['rss_max_mib']} MiB, "
        f"slope {r['rss_slope_mib_per_min']} MiB/min ({r['rss_samples_after_warmup']} samples under load)",
    ])  # fmt: skip


def job_command(watch: Path, out: Path, window: str, duration_s: float) -> list[str]:
    script = Path(sys.executable).with_name("aiops")
    flags = {"watch": f"{watch}/*/*.log", "output": str(out), "window": window, "duration": f"{round(duration_s)}s",
             "poll_interval": "1s", "flush": "5s"}  # fmt: skip
    cmd = [*([str(script)] if script.exists() else [sys.executable, "-m", "aiops.cli"]), "stream"]
    return cmd + [arg for name, value in flags.items() for arg in (f"--{name}", value)]


def run(a: argparse.Namespace, base: Path) -> dict:
    window_s, gen_s = parse_duration_us(a.window) / 1e6, a.minutes * 60
    services = [s.strip() for s in a.services.split(",") if s.strip()]
    watch, out = base / "in", base / "out"
    for service in services:
        (watch / service).mkdir(parents=True, exist_ok=True)
    # The job runs past the generator by a window and a margin, so the last windows close on the
    # watermark as in production rather than on the forced final firing of --duration.
    cmd = job_command(watch, out, a.window, gen_s + window_s + 45)
    print("running:", " ".join(cmd), file=sys.stderr, flush=True)
    written, stop = Written(), threading.Event()
    incident = (0.7 * gen_s, 0.7 * gen_s + window_s) if a.incident else (0.0, 0.0)
    gen = threading.Thread(target=write_files, args=(watch, services, a.rate, gen_s, incident, written, stop))
    with open(base / "job.log", "w") as log:
        job_start = time.time()
        job = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
        try:
            while job.poll() is None and not glob.glob(str(out / "runs" / "*.json")):
                time.sleep(0.2)  # the manifest is written just before the pipeline starts: input from now on
            gen.start()
            seen, samples = watch_job(job, out)
        finally:
            stop.set()
            if job.poll() is None:
                job.terminate()  # SIGTERM: the job fires its open windows and exits cleanly
                job.wait()
            if gen.is_alive():
                gen.join()
    manifests = glob.glob(str(out / "runs" / "*.json"))
    if job.returncode != 0 or not manifests:
        raise SystemExit(
            f"aiops stream exited with {job.returncode}:\n{(base / 'job.log').read_text()[-3000:]}"
        )
    manifest = json.loads(Path(manifests[0]).read_text())
    return {"window_s": window_s, **throughput_report(written, manifest), **delay_report(written, seen, window_s),
            **memory_report(samples, written, job_start)}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--minutes", type=float, default=10, help="how long the generator writes (default 10)")
    p.add_argument("--rate", type=int, default=5000, help="total lines/s over all services (default 5000)")
    p.add_argument("--window", default="1m", help="the job's --window (default 1m)")
    p.add_argument("--services", default="web,api,db,auth", help="comma-separated service names")
    p.add_argument("--no-incident", dest="incident", action="store_false",
                   help="no ERROR burst (default: one, a window long, at 70%% of the run, in the first service)")  # fmt: skip
    p.add_argument("--json", type=Path, default=None, help="also write the report here as JSON")
    p.add_argument("--keep", action="store_true", help="keep the temp folder (input, output, job.log)")
    a = p.parse_args(argv)
    base = Path(tempfile.mkdtemp(prefix="aiops-stream-bench-"))
    try:
        report = run(a, base)
    finally:
        if a.keep:
            print(f"kept {base}", file=sys.stderr)
        else:
            shutil.rmtree(base, ignore_errors=True)
    print(report_text(report))
    if a.json:
        a.json.write_text(json.dumps(report, indent=2) + "\n")
    return 0 if report["target_met"] and report["kept_up"] else 1


if __name__ == "__main__":
    sys.exit(main())
