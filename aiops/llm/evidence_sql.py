"""Build a run's evidence packs with DuckDB over its output tables (anomalies, kpis, events, templates).

Example::

    >>> from aiops import query
    >>> con = query.connect("demo-output/out", views=VIEWS)         # doctest: +SKIP
    >>> packs = build_packs(con, "20261122T010203Z-abc123", 300_000_000)   # doctest: +SKIP
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pyarrow as pa

from aiops.llm.evidence import EvidencePack, Finding, FlaggedWindow, flagged_windows, strongest
from aiops.schema import us_to_datetime

LINE_CHARS = 500  # a stack trace is cut: the first lines say what it is
HOUR_US = 3_600_000_000
MAX_FINDINGS = 12  # findings per pack, the strongest
PER_TEMPLATE_LINES = 3  # example lines per template (twice that for a window with no template findings)
MAX_LINES = 15  # example lines per pack
VIEWS = ("anomalies", "templates", "kpis", "events")  # the output views build_packs reads


def iso(us: int) -> str:
    return us_to_datetime(us).isoformat().replace("+00:00", "Z")


def _day(us: int) -> dt.date:
    return us_to_datetime(us).date()


def _kpi_ranges(windows: list[FlaggedWindow]) -> pa.Table:
    """Two rows per window: its own time (part 0) and the hour before it (part 1)."""
    idx = [i for i in range(len(windows)) for _ in (0, 1)]
    return pa.table({
        "idx": pa.array(idx, pa.int64()),
        "part": pa.array([0, 1] * len(windows), pa.int64()),
        "service": pa.array([windows[i].service for i in idx], pa.string()),
        "lo_us": pa.array([w.start - HOUR_US * part for w in windows for part in (0, 1)], pa.int64()),
        "hi_us": pa.array([w.start if part else w.end for w in windows for part in (0, 1)], pa.int64()),
    })


def _kpis(con, windows: list[FlaggedWindow], window_us: int) -> list[dict[str, Any]]:
    """KPIs of every window vs the hour before it, in one query: per window and part, its kpis rows summed.

    A left join, so a range without kpis rows still has its row (count 0, sums null), as the
    per-window query it replaces had.
    """
    if not windows:
        return []
    con.register("evidence_kpi_ranges", _kpi_ranges(windows))
    try:
        rows = con.execute("""
            select r.idx, r.part, count(k.service), sum(k.events), sum(k.errors), max(k.latency_p95_ms),
                sum(k.status_5xx)
            from evidence_kpi_ranges r
            left join kpis k on k.service = r.service and epoch_us(k.window_start) >= r.lo_us
                and epoch_us(k.window_start) < r.hi_us
            group by r.idx, r.part
        """).fetchall()
    finally:
        con.unregister("evidence_kpi_ranges")
    found = {(idx, part): row for idx, part, *row in rows}

    def per_window(row, n: int) -> dict[str, Any]:
        events, errors = (row[1] or 0), (row[2] or 0)
        return {"events_per_window": round(events / max(n, 1), 1), "errors_per_window": round(errors / max(n, 1), 1),
                "error_rate": round(errors / events, 4) if events else None, "latency_p95_ms_max": row[3],
                "status_5xx_per_window": round((row[4] or 0) / max(n, 1), 1)}

    out = []
    for i, w in enumerate(windows):
        now, before = found[(i, 0)], found[(i, 1)]
        out.append({"window": per_window(now, max(1, (w.end - w.start) // window_us)),
                    "hour_before": per_window(before, before[0] or 0)})
    return out


def _line_requests(windows: list[FlaggedWindow], tids: list[list[str]], per_template: int) -> pa.Table:
    """One row per (window, template) whose lines a pack shows; template None: the window's errors, else first lines."""
    rows = [
        (i, k, w.service, w.start, w.end, tid, per_template if ids else per_template * 2)
        for i, (w, ids) in enumerate(zip(windows, tids, strict=True))
        for k, tid in enumerate(ids or [None])
    ]
    names = ["idx", "k", "service", "start_us", "end_us", "template_id", "n"]
    types = [pa.int64(), pa.int64(), pa.string(), pa.int64(), pa.int64(), pa.string(), pa.int64()]
    columns = list(zip(*rows, strict=True)) if rows else [()] * len(names)
    return pa.table([pa.array(c, t) for c, t in zip(columns, types, strict=True)], names=names)


def _lines(con, run_id: str, windows: list[FlaggedWindow], tids: list[list[str]], per_template: int,
           limit: int) -> list[list[dict[str, Any]]]:
    """Example lines of every window, in one scan of the events: per template its first lines in time order.

    The scan picks the lines on the narrow columns; ``_messages`` then reads the (wide) message
    of those lines only.
    """
    out: list[list[dict[str, Any]]] = [[] for _ in windows]
    if not windows:
        return out
    requests = _line_requests(windows, tids, per_template)
    lo, hi = min(w.start for w in windows), max(w.end for w in windows)
    first, last = _day(lo), _day(max(lo, hi - 1))
    con.register("evidence_requests", requests)
    try:
        picked = con.execute("""
            with scoped as (
                select service, template_id, level, event_time, source, line_no, epoch_us(event_time) as t
                from events
                where run_id = $run and dt between $first and $last and epoch_us(event_time) >= $lo
                    and epoch_us(event_time) < $hi
            )
            select r.idx, s.template_id, s.source, s.line_no, row_number() over (
                partition by r.idx, r.k
                order by (r.template_id is null and s.level in ('ERROR', 'FATAL')) desc,
                         s.event_time, s.source, s.line_no) as rn
            from evidence_requests r
            join scoped s on s.service = r.service and s.t >= r.start_us and s.t < r.end_us
                and (r.template_id is null or s.template_id = r.template_id)
            qualify rn <= r.n
            order by r.idx, r.k, rn
        """, {"run": run_id, "first": first, "last": last, "lo": lo, "hi": hi}).fetchall()
    finally:
        con.unregister("evidence_requests")
    messages = _messages(con, run_id, first, last, {(source, line_no) for _, _, source, line_no, _ in picked})
    for idx, t, source, line_no, _ in picked:
        for m in messages.get((source, line_no), []):
            if len(out[idx]) < limit:
                out[idx].append({"template_id": t, "line": m[:LINE_CHARS]})
    return out


def _messages(con, run_id: str, first: dt.date, last: dt.date,
              keys: set[tuple[str, int]]) -> dict[tuple[str, int], list[str]]:
    """The messages of the events named by ``keys`` (source, line_no).

    The sources and the line numbers go in as two value lists, a filter DuckDB applies inside the
    scan: only the matching rows' messages are materialised, and row groups whose min/max hold
    none of the values are skipped. (Joining the picked lines instead materialised every message
    of the run first: 930k on the 1M-line bench, for 86 lines.)
    """
    if not keys:
        return {}
    rows = con.execute("""
        select source, line_no, message from events
        where run_id = $run and dt between $first and $last and source = any($sources) and line_no = any($line_nos)
    """, {"run": run_id, "first": first, "last": last, "sources": sorted({s for s, _ in keys}),
          "line_nos": sorted({n for _, n in keys})}).fetchall()
    out: dict[tuple[str, int], list[str]] = {}
    for source, line_no, message in rows:  # the product of the two lists: keep the lines asked for
        if (source, line_no) in keys:
            out.setdefault((source, line_no), []).append(message)
    return out


def build_pack(window: FlaggedWindow, top: list[Finding], others: list[FlaggedWindow], texts: dict[str, str],
               window_us: int, kpis: dict[str, Any], lines: list[dict[str, Any]], max_neighbours: int = 8) -> EvidencePack:
    """The pack of one window from its strongest findings ``top``, its ``kpis`` and its example ``lines``."""
    findings = [
        {"window_start": iso(f.window_start), "kind": f.kind, "template_id": f.template_id,
         "template": texts.get(f.template_id) if f.template_id else None, "observed": round(f.observed, 3),
         "expected": round(f.expected, 3), "detail": f.detail}
        for f in top
    ]
    neighbours = [
        {"service": o.service, "window_start": iso(f.window_start), "kind": f.kind, "detail": f.detail}
        for o in others if o.service != window.service
        for f in strongest(o.findings, 3)
        if f.window_start < window.end + window_us and f.window_end > window.start - window_us
    ][:max_neighbours]
    return EvidencePack(
        service=window.service, window_start=iso(window.start), window_end=iso(window.end),
        anomaly_count=len(window.findings), findings=findings,
        kpis=kpis,
        lines=lines,
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
    tops = [strongest(w.findings, MAX_FINDINGS) for w in windows]
    # the lines of the templates of a window's strongest findings (at most 5 templates)
    tids = [list(dict.fromkeys(f.template_id for f in top if f.template_id))[:5] for top in tops]
    lines = _lines(con, run_id, windows, tids, PER_TEMPLATE_LINES, MAX_LINES)
    kpis = _kpis(con, windows, window_us)
    packs = [build_pack(w, top, windows, texts, window_us, k, ls)
             for w, top, k, ls in zip(windows, tops, kpis, lines, strict=True)]
    return packs if max_windows is None else packs[:max_windows]
