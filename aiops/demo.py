"""``make demo``: generate a realistic day of logs, run the batch job on it, show what came out.

Steps: (1) write the seeded sample into ``WORKDIR/logs/`` (skipped when ``ground_truth.json``
there already has the same seed and size), (2) run ``aiops batch --input 'WORKDIR/logs/*/*'
--output WORKDIR/out`` as a subprocess, (3) print the counts of the latest run manifest, the
top templates, the worst KPI windows, the injected incidents to compare them with, and two
DuckDB queries with their SQL and results.

Example::

    $ .venv/bin/python -m aiops.demo --workdir demo-output
    $ .venv/bin/python -m aiops.demo --workdir /tmp/demo --lines 20000 --seed 3
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from aiops.sample.generator import DEFAULT_LINES, GroundTruth, generate

EXAMPLE_QUERIES = (
    (
        "Payments: slowest 10-minute buckets (the x20 degradation leads)",
        """select time_bucket(interval 10 minute, event_time) as bucket,
       count(*) as events,
       round(quantile_cont(latency_ms, 0.5)) as p50_ms,
       round(quantile_cont(latency_ms, 0.95)) as p95_ms
from events
where service = 'payments' and latency_ms is not null
group by bucket
order by p95_ms desc
limit 5""",
    ),
    (
        "SSH: which addresses fail to log in most (a brute-force source stands out)",
        r"""select regexp_extract(message, 'from (\S+) port', 1) as source_ip,
       count(*) as failed_logins,
       count(distinct regexp_extract(message, 'for (invalid user )?(\S+) from', 2)) as users_tried,
       min(event_time) as first_seen,
       max(event_time) as last_seen
from events
where message like 'Failed password%'
group by source_ip
order by failed_logins desc
limit 5""",
    ),
)


def _cell(value: Any, width: int) -> str:
    if value is None:
        text = "-"
    elif isinstance(value, dt.datetime):
        text = value.strftime("%Y-%m-%d %H:%M:%S")
    elif isinstance(value, float):
        text = (
            f"{value:,.4f}".rstrip("0").rstrip(".") if abs(value) < 1 else f"{value:,.1f}".removesuffix(".0")
        )
    elif isinstance(value, int):
        text = f"{value:,}"
    else:
        text = " ".join(str(value).split())
    return text if len(text) <= width else text[: width - 1] + "…"


def format_table(columns: Sequence[str], rows: Sequence[Sequence[Any]], width: int = 64) -> str:
    """A small aligned text table; numbers right-aligned, long text cut at ``width``."""
    cells = [[_cell(v, width) for v in row] for row in rows]
    numeric = [
        bool(rows) and all(isinstance(r[i], int | float) or r[i] is None for r in rows)
        for i in range(len(columns))
    ]
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(columns)]

    def line(values: Sequence[str]) -> str:
        out = [v.rjust(w) if num else v.ljust(w) for v, w, num in zip(values, widths, numeric, strict=True)]
        return "  ".join(out).rstrip()

    body = [line(columns), line(["-" * w for w in widths])] + [line(r) for r in cells]
    return "\n".join(body + [f"({len(rows)} row{'s' if len(rows) != 1 else ''})"])


def _heading(text: str) -> None:
    print(f"\n== {text} " + "=" * max(0, 76 - len(text)))


def ensure_sample(logs: Path, seed: int, lines: int) -> GroundTruth:
    truth = logs / "ground_truth.json"
    if truth.exists():
        gt = GroundTruth.load(truth)
        if gt.seed == seed and gt.params.get("lines") == lines and all((logs / f).exists() for f in gt.files):
            print(f"sample: reusing {logs} ({gt.total_lines:,} lines, {len(gt.files)} files, seed {seed})")
            return gt
    t0 = time.perf_counter()
    gt = generate(logs, seed=seed, lines=lines)
    print(
        f"sample: wrote {gt.total_lines:,} lines in {len(gt.files)} files for {len(gt.services)} services "
        f"to {logs} in {time.perf_counter() - t0:.1f}s"
    )
    return gt


def aiops_command() -> list[str]:
    """The ``aiops`` CLI next to this interpreter, else ``python -m aiops.cli``."""
    script = Path(sys.executable).with_name("aiops")
    return [str(script)] if script.exists() else [sys.executable, "-m", "aiops.cli"]


def latest_manifest(out: Path) -> dict[str, Any] | None:
    runs = sorted((out / "runs").glob("*.json"), key=lambda p: (p.stat().st_mtime, p.name))
    return json.loads(runs[-1].read_text()) if runs else None


def _show_named(query: Any, out: Path, shows) -> None:
    for title, name, params, wanted in shows:
        _heading(title)
        try:
            cols, rows = query.run_named(str(out), name, params)
        except Exception as exc:  # noqa: BLE001 - show what failed and go on with the rest
            print(f"(query {name} failed: {exc})")
            continue
        keep = [i for i, c in enumerate(cols) if c in wanted] or list(range(len(cols)))
        print(format_table([cols[i] for i in keep], [[_cut(r[i]) for i in keep] for r in rows]))


def _cut(value: Any, limit: int = 110) -> Any:
    return value[: limit - 1] + "…" if isinstance(value, str) and len(value) > limit else value


def _show_summaries(query: Any, out: Path, limit: int = 3) -> None:
    _heading(f"Summaries of the {limit} biggest flagged windows (aiops query {out} --name summaries)")
    try:
        cols, rows = query.run_named(str(out), "summaries", {"limit": limit})
    except Exception as exc:  # noqa: BLE001 - show what failed and go on
        print(f"(query summaries failed: {exc})")
        return
    for r in rows:
        row = dict(zip(cols, r, strict=True))
        print(f"* {row['title']}  [{row['backend']}, {row['status']}, confidence {row['confidence']}]")
        print(f"  {row['summary']}")
        print(f"  suspected cause: {row['suspected_cause']}")
        print(f"  first check: {row['recommended_action']}\n")


def show_results(out: Path, gt: GroundTruth) -> None:
    manifest = latest_manifest(out)
    if manifest is None:
        print(f"no run manifest under {out}/runs")
        return
    _heading(f"Run {manifest.get('run_id')} ({manifest.get('status')})")
    keys = ("input_files", "lines_read", "events", "event_lines", "dead_letter", "dead_letter_lines", "blank")
    print(format_table(["what", "count"], [(k, manifest.get(k)) for k in keys if k in manifest]))
    if manifest.get("lines_read") is not None:
        print(f"generated {gt.total_lines:,} lines; the job read {manifest['lines_read']:,}")
    try:
        from aiops import query
    except ImportError as exc:  # pragma: no cover - the query module is optional here
        print(f"(aiops.query not available: {exc})")
        return
    shows = (
        ("Top templates", "top_templates", {"limit": 10}, ["service", "events", "share", "template"]),
        (
            "Worst KPI windows (highest error rate)",
            "worst_windows",
            {"limit": 10},
            [
                "service",
                "window_start",
                "events",
                "errors",
                "error_rate",
                "latency_p95_ms",
                "status_5xx",
                "new_templates",
            ],
        ),
    )
    _show_named(query, out, shows)
    _heading("Injected incidents (ground truth) to compare with")
    print(
        format_table(
            ["kind", "scenario", "service", "start", "end"],
            [(i["kind"], i.get("scenario"), i["service"], i["start"], i["end"]) for i in gt.incidents],
        )
    )
    _show_named(query, out, (
        ("What the job flagged (anomalies per service window)", "anomalies_by_window", {"limit": 20},
         ["service", "window_start", "findings", "kinds", "strongest"]),
        ("Most unusual sessions (sequence model)", "anomalous_sessions", {"limit": 5},
         ["service", "session_id", "events", "score", "reason"]),
    ))
    _show_summaries(query, out)
    try:
        con = query.connect(str(out))
    except Exception as exc:  # noqa: BLE001
        print(f"(cannot open {out} with DuckDB: {exc})")
        return
    for title, sql in EXAMPLE_QUERIES:
        _heading(title)
        print(sql + ";\n")
        try:
            cols, rows = query.run_sql(con, sql)
        except Exception as exc:  # noqa: BLE001
            print(f"(failed: {exc})")
            continue
        print(format_table(cols, rows))
    print(f'\nMore: .venv/bin/aiops query {out} --list   |   --name slowest_endpoints   |   "select ..."')


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m aiops.demo", description=__doc__.splitlines()[0])
    p.add_argument("--workdir", type=Path, default=Path("demo-output"))
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--lines", type=int, default=DEFAULT_LINES)
    p.add_argument("--skip-job", action="store_true", help="only show results of an earlier run")
    a = p.parse_args(argv)
    logs, out = a.workdir / "logs", a.workdir / "out"
    gt = ensure_sample(logs, a.seed, a.lines)
    if not a.skip_job:
        cmd = [*aiops_command(), "batch", "--input", f"{logs}/*/*", "--output", str(out)]
        print("job:", " ".join(cmd), flush=True)
        t0 = time.perf_counter()
        rc = subprocess.run(cmd, check=False).returncode
        print(f"job: exit {rc} after {time.perf_counter() - t0:.1f}s wall clock")
        if rc != 0:
            return rc
    show_results(out, gt)
    return 0


if __name__ == "__main__":
    sys.exit(main())
