"""The evidence pack of a flagged streaming window, from what the window stage holds in state.

The batch job builds packs with DuckDB over the committed tables
(:mod:`aiops.llm.evidence_sql`); the streaming job builds the same :class:`EvidencePack` from
the window's findings, its KPI row, the service's bounded history (the hour before, as far as
the history reaches) and the few raw lines per template the window kept. Other services'
findings (``neighbours``) are not visible to one service's state and stay empty.

Example::

    >>> from aiops.schema import AnomalyRow
    >>> f = AnomalyRow(0, 60_000_000, "web", "frequency", "t1", 9.0, 6.0, 900.0, 100.0, "spike", "s1")
    >>> pack = window_pack("web", 0, 60_000_000, [f], {"t1": "GET <*>"}, None, {}, {"t1": [("INFO", "GET /a")]})
    >>> pack.findings[0]["template"], pack.lines
    ('GET <*>', [{'template_id': 't1', 'line': 'GET /a'}])
"""

from __future__ import annotations

from typing import Any

from aiops.llm.evidence import EvidencePack, Finding, strongest
from aiops.llm.evidence_sql import LINE_CHARS, iso
from aiops.schema import AnomalyRow, KpiRow, TemplateWindowRow

HOUR_US = 3_600_000_000
ERROR_LEVELS = ("ERROR", "FATAL")


def _per_window(events: int, errors: int, windows: int, p95: float | None, s5xx: int) -> dict[str, Any]:
    n = max(windows, 1)
    return {"events_per_window": round(events / n, 1), "errors_per_window": round(errors / n, 1),
            "error_rate": round(errors / events, 4) if events else None, "latency_p95_ms_max": p95,
            "status_5xx_per_window": round(s5xx / n, 1)}


def window_pack(service: str, start: int, end: int, found: list[AnomalyRow], texts: dict[str, str],
                kpi: KpiRow | None, history: dict[int, list[TemplateWindowRow]],
                samples: dict[str, list[tuple[str, str]]], max_findings: int = 12, per_template: int = 3,
                max_lines: int = 15) -> EvidencePack:
    """``samples``: template id -> [(level, raw line)] kept by the window."""
    top = strongest([Finding(r.service, r.window_start, r.window_end, r.kind, r.template_id, r.score, r.threshold,
                             r.observed, r.expected, r.detail) for r in found], max_findings)
    findings = [
        {"window_start": iso(f.window_start), "kind": f.kind, "template_id": f.template_id,
         "template": texts.get(f.template_id) if f.template_id else None, "observed": round(f.observed, 3),
         "expected": round(f.expected, 3), "detail": f.detail}
        for f in top
    ]
    before = [rows for s, rows in history.items() if start - HOUR_US <= s < start]
    now = (_per_window(kpi.events, kpi.errors, 1, kpi.latency_p95_ms, kpi.status_5xx) if kpi
           else _per_window(0, 0, 1, None, 0))
    kpis = {"window": now, "hour_before": _per_window(sum(r.events for rows in before for r in rows),
                                                      sum(r.errors for rows in before for r in rows), len(before),
                                                      None, 0)}
    tids = list(dict.fromkeys(f.template_id for f in top if f.template_id))[:5]
    lines: list[dict[str, Any]] = []
    for tid in tids:
        lines.extend({"template_id": tid, "line": line[:LINE_CHARS]} for _, line in samples.get(tid, [])[:per_template])
    if not tids:  # service-level findings: the window's errors first, then any line
        ranked = sorted(((level not in ERROR_LEVELS, tid, line) for tid, kept in samples.items() for level, line in kept))
        lines.extend({"template_id": tid, "line": line[:LINE_CHARS]} for _, tid, line in ranked[: per_template * 2])
    return EvidencePack(service=service, window_start=iso(start), window_end=iso(end), anomaly_count=len(found),
                        findings=findings, kpis=kpis, lines=lines[:max_lines], neighbours=[])
