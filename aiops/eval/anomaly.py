"""``aiops eval anomaly``: how well the batch job's anomaly detectors do, on labelled and injected data.

Runs the real CLI (``aiops batch`` as a subprocess) into a work directory, then scores its
tables with DuckDB. Three parts (``--only hdfs,bgl,injected``; default all):

1. **hdfs** - ``DATA/hdfs/HDFS_20000.log`` with the HDFS header format and ``--session-key
   'blk_-?\\d+'``; the ``sessions`` table against ``HDFS_20000_labels.csv``: TP/FP/FN/TN,
   precision, recall, F1 (labelled blocks missing from the output count as not flagged), next to
   published F1s and the target F1 >= 0.95.
2. **bgl** - ``DATA/loghub-2k/BGL/BGL_2k.log`` (first column: ``-`` normal, else an alert);
   events are mapped back to lines by ``line_no``; a (service, window) is an alert window when
   any of its lines is; it is flagged when an ``anomalies`` row of that service overlaps it.
   Recall over alert windows, false-flag rate over normal windows, per kind; at ``--window``
   and at 1 h. BGL_2k is a sparse sample over months: most windows hold a line or two.
3. **injected** - ``aiops sample`` writes a clean day 1 (seed S, ``--no-incidents``) and day 2
   with incidents (seed S+1, starting when day 1 ends); the job runs on day 1 then on day 2
   into the same output (day 2's baselines come from day 1). Day 2's incidents are found when a
   row of the same service and kind overlaps [start, end + one window); recall per kind, the
   missed ones and those seen only with another kind. Clean service-windows (the service logged,
   no incident of it within one window) flagged by any row: share per kind and per service for
   both days (day 1 is all clean), with the top flagged ones. Targets: every incident found,
   <= 1% of clean service-windows flagged.

Exit code 0 whatever the figures (it is a measurement); 1 when a run fails (the work directory
is then kept for its logs); 2 for bad arguments or missing data (one line on stderr). The
harness owns ``WORKDIR/{hdfs,bgl,injected}/`` and recreates them on each run.

Example::

    .venv/bin/aiops eval anomaly --data ../shared/data
    .venv/bin/aiops eval anomaly --data ../shared/data --only injected --lines 50000 --json /tmp/a.json
    .venv/bin/aiops eval anomaly --only injected --workdir /tmp/ea --batch-args '--direct_num_workers 2'
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import shlex
import shutil
import sys
import tempfile
import time
from pathlib import Path

import duckdb

from aiops.eval import anomaly_report as report
from aiops.eval.anomaly_data import (
    EvalError,
    incidents_from_truth,
    iso_us,
    read_active,
    read_event_lines,
    read_findings,
    read_labels,
    read_sequences,
    read_sessions,
    run_batch,
    table_exists,
    us_iso,
)
from aiops.eval.anomaly_score import (
    bgl_line_alerts,
    bgl_windows,
    clean_windows,
    confusion,
    flag_rates,
    flagged_silent,
    match_incidents,
    recall,
    sequence_ceiling,
    window_flags,
)
from aiops.windowing import DEFAULT_WINDOW, parse_duration_us

PARTS = ("hdfs", "bgl", "injected")
HDFS_LOG, HDFS_LABELS = "hdfs/HDFS_20000.log", "hdfs/HDFS_20000_labels.csv"
HDFS_FORMAT = "<Date> <Time> <Pid> <Level> <Component>: <Content>"
HDFS_KEY = r"blk_-?\d+"
BGL_LOG = "loghub-2k/BGL/BGL_2k.log"
BGL_FORMAT = "<Label> <Timestamp> <Date> <Node> <Time> <NodeRepeat> <Type> <Component> <Level> <Content>"
HOUR_US = 3_600_000_000
MARKER = ".aiops-eval-anomaly"  # a part directory the harness may wipe and recreate


def part_dir(work: Path, name: str) -> Path:
    """A fresh ``work/name``; refuses to wipe a directory this harness did not create."""
    d = work / name
    if d.exists():
        if not (d / MARKER).exists():
            raise EvalError(f"{d} exists and was not made by 'aiops eval anomaly'; choose another --workdir")
        shutil.rmtree(d)
    d.mkdir(parents=True)
    (d / MARKER).write_text("made by aiops eval anomaly; removed and recreated on each run\n")
    return d


def eval_hdfs(data: Path, work: Path, job_args: list[str]) -> dict:
    d = part_dir(work, "hdfs")
    run = run_batch("hdfs", [str(data / HDFS_LOG)], d / "out",
                    ["--format", HDFS_FORMAT, "--session-key", HDFS_KEY, *job_args], d)  # fmt: skip
    sessions = read_sessions(d / "out")
    labels = read_labels(data / HDFS_LABELS)
    c = confusion(labels, {k: flag for k, (flag, _) in sessions.items()})
    ceiling, shared = sequence_ceiling(read_sequences(d / "out", HDFS_KEY), labels)
    fps = [
        (k, sessions[k][1]) for k, bad in sorted(labels.items()) if not bad and sessions.get(k, (False,))[0]
    ]
    fns = [k for k, bad in sorted(labels.items()) if bad and not sessions.get(k, (False,))[0]]
    return {
        "sessions_table": table_exists(d / "out", "sessions"),
        "labelled": len(labels), "sessions_scored": len(labels) - c.missing, "missing": c.missing,
        "unlabelled_sessions": c.unlabelled, "tp": c.tp, "fp": c.fp, "fn": c.fn, "tn": c.tn,
        "precision": c.precision, "recall": c.recall, "f1": c.f1, "target_f1": 0.95,
        "f1_ceiling": ceiling, "anomalies_sharing_a_normal_sequence": shared,
        "false_positives": [{"session_id": k, "reason": r} for k, r in fps[:10]],
        "false_negatives": fns[:10], "batch": run.to_json(),
    }  # fmt: skip


def _raw_lines(path: Path) -> list[str]:
    data = path.read_bytes().split(b"\n")
    if data and data[-1] == b"":
        data.pop()  # the newline that ends the last line starts no line of its own
    return [row.decode("utf-8", errors="replace") for row in data]


def eval_bgl(data: Path, work: Path, job_args: list[str], window: int, window_text: str) -> dict:
    d = part_dir(work, "bgl")
    run = run_batch("bgl", [str(data / BGL_LOG)], d / "out", ["--format", BGL_FORMAT, *job_args], d)
    alerts = bgl_line_alerts(_raw_lines(data / BGL_LOG))
    events = read_event_lines(d / "out", Path(BGL_LOG).name)
    findings = read_findings(d / "out")
    in_events = {i for _, n, c, _ in events for i in range(n, n + max(c, 1))}
    scales = {window_text: window} | ({"1h": HOUR_US} if window < HOUR_US else {})
    by_scale = {name: window_flags(bgl_windows(events, alerts, w), findings, w) for name, w in scales.items()}
    kinds: dict[str, int] = {}
    for f in findings:
        kinds[f.kind] = kinds.get(f.kind, 0) + 1
    return {
        "anomalies_table": table_exists(d / "out", "anomalies"),
        "lines": len(alerts), "alert_lines": sum(alerts), "events": len(events),
        "alert_lines_without_event": sum(1 for i, a in enumerate(alerts, 1) if a and i not in in_events),
        "scales": by_scale, "rows_by_kind": dict(sorted(kinds.items())), "batch": run.to_json(),
    }  # fmt: skip


def eval_injected(work: Path, job_args: list[str], window: int, seed: int, lines: int, top: int) -> dict:
    from aiops.sample.generator import generate

    d = part_dir(work, "injected")
    print(
        f"  generating day 1 (clean, seed {seed}) and day 2 (incidents, seed {seed + 1}), {lines:,} lines each"
    )
    gt1 = generate(d / "day1", seed=seed, lines=lines, incidents=False)
    day2_start = dt.datetime.fromisoformat(gt1.end.replace("Z", "+00:00"))
    gt2 = generate(d / "day2", seed=seed + 1, lines=lines, start=day2_start)
    runs = [run_batch(name, [str(d / name / "*" / "*")], d / "out", job_args, d) for name in ("day1", "day2")]
    out: dict = {"seed": seed, "lines_per_day": lines, "anomalies_table": table_exists(d / "out", "anomalies"),
                 "batch": [r.to_json() for r in runs]}  # fmt: skip
    for name, gt in (("day1", gt1), ("day2", gt2)):
        truth = json.loads((d / name / "ground_truth.json").read_text())
        start, end = iso_us(gt.start), iso_us(gt.end)
        findings = read_findings(d / "out", start, end)
        incidents = incidents_from_truth(truth)
        active = read_active(d / "out", window, start, end)
        clean = clean_windows(active, incidents, window)
        day: dict = {"start": gt.start, "end": gt.end, "rows": len(findings)}
        day["rows_by_kind"] = {
            k: sum(1 for f in findings if f.kind == k) for k in sorted({f.kind for f in findings})
        }
        if incidents:
            results = match_incidents(incidents, findings, window)
            day["incidents"] = [
                {"kind": r.incident.kind, "scenario": r.incident.scenario, "service": r.incident.service,
                 "start": us_iso(r.incident.start), "end": us_iso(r.incident.end), "found": r.found, "rows": r.rows,
                 "other_kinds": r.other_kinds, "description": r.incident.description}
                for r in results
            ]  # fmt: skip
            day["recall"] = recall(results)
        day["clean"] = flag_rates(clean, findings, window, top)
        for row in day["clean"]["top"]:
            row["window_start"] = us_iso(row["window_start"])
        day["clean"]["flagged_silent_windows"] = flagged_silent(set(active), findings, window, incidents)
        out[name] = day
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="aiops eval anomaly", description=__doc__.split("\n")[0])
    p.add_argument("--data", type=Path, help="directory with hdfs/ and loghub-2k/ (parts hdfs and bgl)")
    p.add_argument("--only", default=",".join(PARTS), help=f"comma-separated parts of {','.join(PARTS)}")
    p.add_argument("--workdir", type=Path, help="where runs write (kept); default a temp dir (removed)")
    p.add_argument("--keep", action="store_true", help="keep the default temp work directory")
    p.add_argument("--json", type=Path, metavar="PATH", help="also write the report as JSON")
    p.add_argument("--window", default=DEFAULT_WINDOW, help="the job's --window and the scoring window")
    p.add_argument("--lines", type=int, default=150_000, help="injected: lines per generated day")
    p.add_argument("--seed", type=int, default=7, help="injected: seed of day 1 (day 2 uses seed + 1)")
    p.add_argument("--top", type=int, default=10, help="injected: flagged clean windows to list")
    p.add_argument(
        "--batch-args", default="", help="extra arguments for every 'aiops batch' run (one string)"
    )
    a = p.parse_args(argv)
    parts = [x.strip() for x in a.only.split(",") if x.strip()]

    def fail(msg: str, code: int = 2) -> int:
        print(f"aiops eval anomaly: error: {msg}", file=sys.stderr)
        return code

    if not parts or set(parts) - set(PARTS):
        return fail(f"--only takes a comma-separated subset of {','.join(PARTS)}")
    try:
        window = parse_duration_us(a.window)
    except ValueError as exc:
        return fail(str(exc))
    needs = {"hdfs": (HDFS_LOG, HDFS_LABELS), "bgl": (BGL_LOG,)}
    wanted = [rel for part in parts for rel in needs.get(part, ())]
    if wanted and a.data is None:
        return fail("--data DIR is needed for the hdfs and bgl parts (or use --only injected)")
    if wanted and not a.data.is_dir():
        return fail(f"data directory {a.data} not found")
    missing = [rel for rel in wanted if not (a.data / rel).is_file()]
    if missing:
        return fail(f"missing under {a.data}: {', '.join(missing)}")
    job_args = ["--window", a.window, "--no-validate", *shlex.split(a.batch_args)]
    work = a.workdir or Path(tempfile.mkdtemp(prefix="aiops-eval-anomaly-"))
    result: dict = {"window": a.window, "workdir": str(work), "parts": parts}
    t0 = time.perf_counter()
    failed = True
    try:
        for part in parts:
            print(f"== {part}", flush=True)
            if part == "hdfs":
                result["hdfs"] = eval_hdfs(a.data, work, job_args)
            elif part == "bgl":
                result["bgl"] = eval_bgl(a.data, work, job_args, window, a.window)
            else:
                result["injected"] = eval_injected(work, job_args, window, a.seed, a.lines, a.top)
        failed = False
    except (EvalError, OSError, duckdb.Error) as exc:
        return fail(f"{exc} (work directory kept: {work})", 1)
    finally:
        if a.workdir is None and not a.keep and not failed:
            shutil.rmtree(work, ignore_errors=True)
    result["seconds"] = round(time.perf_counter() - t0, 1)
    print(report.render(result))
    if a.json:
        a.json.parent.mkdir(parents=True, exist_ok=True)
        a.json.write_text(json.dumps(result, indent=2, default=str) + "\n")
        print(f"\nreport written to {a.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
