"""Build a run's evidence packs with DuckDB over its output tables (anomalies, kpis, events, templates).

Example::

    >>> from aiops import query
    >>> con = query.connect("demo-output/out")                      # doctest: +SKIP
    >>> packs = build_packs(con, "20261122T010203Z-abc123", 300_000_000)   # doctest: +SKIP
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from aiops.llm.evidence import EvidencePack, FlaggedWindow, flagged_windows, strongest
from aiops.schema import us_to_datetime

LINE_CHARS = 500  # a stack trace is cut: the first lines say what it is
HOUR_US = 3_600_000_000


def iso(us: int) -> str:
    return us_to_datetime(us).isoformat().replace("+00:00", "Z")


def _day(us: int) -> dt.date:
    return us_to_datetime(us).date()


def _kpis(con, service: str, start: int, end: int, window_us: int) -> dict[str, Any]:
    sql = """
        select count(*) as windows, sum(events), sum(errors), max(latency_p95_ms), sum(status_5xx)
        from kpis where service = ? and epoch_us(window_start) >= ? and epoch_us(window_start) < ?
    """
    now = con.execute(sql, [service, start, end]).fetchone()
    before = con.execute(sql, [service, start - HOUR_US, start]).fetchone()
    windows_now = max(1, (end - start) // window_us)

    def per_window(row, n: int) -> dict[str, Any]:
        events, errors = (row[1] or 0), (row[2] or 0)
        return {"events_per_window": round(events / max(n, 1), 1), "errors_per_window": round(errors / max(n, 1), 1),
                "error_rate": round(errors / events, 4) if events else None, "latency_p95_ms_max": row[3],
                "status_5xx_per_window": round((row[4] or 0) / max(n, 1), 1)}

    return {"window": per_window(now, windows_now), "hour_before": per_window(before, before[0] or 0)}


def _lines(con, run_id: str, service: str, start: int, end: int, template_ids: list[str], per_template: int,
           limit: int) -> list[dict[str, Any]]:
    days = [_day(start), _day(max(start, end - 1))]
    base = ("select template_id, message from events where run_id = ? and service = ? and dt between ? and ? "
            "and epoch_us(event_time) >= ? and epoch_us(event_time) < ?")
    args = [run_id, service, days[0], days[1], start, end]
    out: list[dict[str, Any]] = []
    for tid in template_ids:
        rows = con.execute(base + " and template_id = ? order by event_time, source, line_no limit ?",
                           [*args, tid, per_template]).fetchall()
        out.extend({"template_id": t, "line": m[:LINE_CHARS]} for t, m in rows)
    if not template_ids:  # service-level findings: the errors of the window, else its first lines
        rows = con.execute(base + " order by level in ('ERROR', 'FATAL') desc, event_time, source, line_no limit ?",
                           [*args, per_template * 2]).fetchall()
        out.extend({"template_id": t, "line": m[:LINE_CHARS]} for t, m in rows)
    return out[:limit]


def build_pack(con, run_id: str, window: FlaggedWindow, others: list[FlaggedWindow], texts: dict[str, str],
               window_us: int, max_findings: int = 12, per_template: int = 3, max_lines: int = 15,
               max_neighbours: int = 8) -> EvidencePack:
    top = strongest(window.findings, max_findings)
    findings = [
        {"window_start": iso(f.window_start), "kind": f.kind, "template_id": f.template_id,
         "template": texts.get(f.template_id) if f.template_id else None, "observed": round(f.observed, 3),
         "expected": round(f.expected, 3), "detail": f.detail}
        for f in top
    ]
    tids = list(dict.fromkeys(f.template_id for f in top if f.template_id))[:5]
    neighbours = [
        {"service": o.service, "window_start": iso(f.window_start), "kind": f.kind, "detail": f.detail}
        for o in others if o.service != window.service
        for f in strongest(o.findings, 3)
        if f.window_start < window.end + window_us and f.window_end > window.start - window_us
    ][:max_neighbours]
    return EvidencePack(
        service=window.service, window_start=iso(window.start), window_end=iso(window.end),
        anomaly_count=len(window.findings), findings=findings,
        kpis=_kpis(con, window.service, window.start, window.end, window_us),
        lines=_lines(con, run_id, window.service, window.start, window.end, tids, per_template, max_lines),
        neighbours=neighbours,
    )


def build_packs(con, run_id: str, window_us: int, max_windows: int | None = None) -> list[EvidencePack]:
    """Evidence of every flagged window of ``run_id`` (strongest windows first when capped)."""
    rows = con.execute(
        "select service, epoch_us(window_start), epoch_us(window_end), kind, template_id, score, threshold, "
        "observed, expected, detail from anomalies where run_id = ? order by 1, 2, 4, 5",
        [run_id],
    ).fetchall()
    windows = flagged_windows(rows, window_us)
    texts = dict(con.execute("select template_id, min(template) from templates group by 1").fetchall())
    packs = [build_pack(con, run_id, w, windows, texts, window_us) for w in windows]
    return packs if max_windows is None else packs[:max_windows]
