"""I/O of ``aiops eval anomaly``: run ``aiops batch``, generate the two sample days, read the tables.

Tables are read with DuckDB as any user would (``read_parquet('DIR/<table>/**/*.parquet',
hive_partitioning = true)``); a table that does not exist (a detector not built yet) reads as no
rows, and :func:`table_exists` tells the report so.

Example::

    >>> import tempfile, pathlib
    >>> read_findings(pathlib.Path(tempfile.mkdtemp()))
    []
"""

from __future__ import annotations

import csv
import datetime as dt
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from aiops.eval.anomaly_score import Finding, Incident


class EvalError(Exception):
    """A measurement could not be made (the job failed, a file is missing); one line for the user."""


def aiops_command() -> list[str]:
    """The ``aiops`` CLI next to this interpreter, else ``python -m aiops.cli``."""
    script = Path(sys.executable).with_name("aiops")
    return [str(script)] if script.exists() else [sys.executable, "-m", "aiops.cli"]


@dataclass
class BatchRun:
    name: str
    command: list[str]
    returncode: int
    seconds: float
    log: Path

    def to_json(self) -> dict[str, object]:
        return {"name": self.name, "command": shlex.join(self.command), "returncode": self.returncode,
                "seconds": round(self.seconds, 1), "log": str(self.log)}  # fmt: skip


def run_batch(name: str, inputs: list[str], out: Path, args: list[str], log_dir: Path) -> BatchRun:
    """``aiops batch --input ... --output out args...`` as a subprocess; output goes to a log file."""
    cmd = [*aiops_command(), "batch"]
    for pattern in inputs:
        cmd += ["--input", pattern]
    cmd += ["--output", str(out), *args]
    log = log_dir / f"batch-{name}.log"
    log_dir.mkdir(parents=True, exist_ok=True)
    print(f"  running: {shlex.join(cmd)}", flush=True)
    t0 = time.perf_counter()
    with log.open("w") as fh:
        rc = subprocess.run(cmd, stdout=fh, stderr=subprocess.STDOUT, check=False).returncode
    run = BatchRun(name, cmd, rc, time.perf_counter() - t0, log)
    print(f"  {name}: exit {rc} after {run.seconds:.1f}s (log: {log})", flush=True)
    if rc != 0:
        tail = " | ".join(log.read_text(errors="replace").strip().splitlines()[-3:])
        raise EvalError(f"aiops batch ({name}) failed with exit {rc}: {tail}")
    return run


def table_glob(out: Path, table: str) -> str | None:
    """The DuckDB glob of a table, or None when it has no Parquet file."""
    root = out / table
    if not root.is_dir() or not any(root.rglob("*.parquet")):
        return None
    return str(root / "**" / "*.parquet").replace("'", "''")


def table_exists(out: Path, table: str) -> bool:
    return table_glob(out, table) is not None


def _query(out: Path, table: str, select: str, params: list | None = None) -> list[tuple]:
    import duckdb

    glob = table_glob(out, table)
    if glob is None:
        return []
    sql = select.replace("{T}", f"read_parquet('{glob}', hive_partitioning = true)")
    with duckdb.connect() as con:
        return con.execute(sql, params or []).fetchall()


def read_findings(out: Path, start_us: int | None = None, end_us: int | None = None) -> list[Finding]:
    """The ``anomalies`` rows whose window starts in ``[start_us, end_us)`` (all when None)."""
    rows = _query(
        out,
        "anomalies",
        "select service, kind, epoch_us(window_start), epoch_us(window_end), score, threshold, detail, "
        "template_id from {T} where epoch_us(window_start) >= ? and epoch_us(window_start) < ? "
        "order by 3, 1, 2",
        [start_us if start_us is not None else -(1 << 62), end_us if end_us is not None else 1 << 62],
    )
    return [
        Finding(s, k, int(a), int(b), float(sc or 0), float(th or 0), d or "", t)
        for s, k, a, b, sc, th, d, t in rows
    ]


def read_active(out: Path, window_us: int, start_us: int, end_us: int) -> dict[tuple[str, int], int]:
    """``{(service, window start): events}`` for the events in ``[start_us, end_us)``."""
    rows = _query(
        out,
        "events",
        "select service, epoch_us(event_time) // ? * ? as ws, count(*) from {T} "
        "where epoch_us(event_time) >= ? and epoch_us(event_time) < ? group by all",
        [window_us, window_us, start_us, end_us],
    )
    return {(s, int(ws)): int(n) for s, ws, n in rows}


def read_event_lines(out: Path, source_suffix: str) -> list[tuple[str, int, int, int]]:
    """``(service, line_no, line_count, event_time µs)`` of the events read from one input file."""
    rows = _query(
        out,
        "events",
        "select service, line_no, line_count, epoch_us(event_time) from {T} where source like ? order by 2",
        ["%" + source_suffix],
    )
    return [(s, int(n), int(c), int(t)) for s, n, c, t in rows]


def read_sessions(out: Path) -> dict[str, tuple[bool, str | None]]:
    """``{session_id: (flagged, reason)}``; a key seen in several services is flagged if any is."""
    rows = _query(
        out,
        "sessions",
        "select session_id, bool_or(is_anomaly), min(reason) filter (where is_anomaly) from {T} group by 1",
    )
    return {str(k): (bool(a), r) for k, a, r in rows}


def read_sequences(out: Path, key_regex: str) -> dict[str, tuple[str, ...]]:
    """Each session's template ids in event order, rebuilt from ``events`` (first regex match is the key)."""
    rows = _query(
        out,
        "events",
        "select regexp_extract(message, ?) as k, list(template_id order by event_time, source, line_no) "
        "from {T} where regexp_matches(message, ?) group by k",
        [key_regex, key_regex],
    )
    return {str(k): tuple(v) for k, v in rows}


def read_labels(path: Path) -> dict[str, bool]:
    """HDFS ``BlockId,Label`` csv to ``{block: is_anomaly}``."""
    with path.open(newline="", encoding="utf-8") as fh:
        return {r["BlockId"]: r["Label"].strip().lower() == "anomaly" for r in csv.DictReader(fh)}


def iso_us(text: str) -> int:
    """ISO-8601 (``Z`` allowed) to µs since the epoch."""
    when = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return int(when.timestamp()) * 1_000_000 + when.microsecond


def incidents_from_truth(truth: dict) -> list[Incident]:
    """The ``incidents`` of a ``ground_truth.json`` as scoring rows."""
    return [
        Incident(
            i["kind"],
            str(i.get("scenario", i["kind"])),
            i["service"],
            iso_us(i["start"]),
            iso_us(i["end"]),
            str(i.get("description", "")),
        )  # fmt: skip
        for i in truth.get("incidents", [])
    ]


def us_iso(us: int) -> str:
    """µs since the epoch to ``2026-11-22T10:05:00Z``."""
    return dt.datetime.fromtimestamp(us // 1_000_000, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
