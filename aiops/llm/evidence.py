"""Flagged windows and their evidence packs: what the LLM (or the offline summariser) gets to see.

A run's anomalies are grouped per service into flagged windows (adjacent or one-window-apart
windows merged). Each pack holds the strongest findings with observed vs expected values, the
templates they name, KPI deltas against the hour before, a few representative raw lines, and
the same time in the neighbouring services. ``evidence_hash`` identifies a pack: the LLM cache
key and the request id.

Example::

    >>> rows = [("web", 0, 300, "frequency", None, 8.0, 6.0, 90.0, 10.0, "spike"),
    ...         ("web", 300, 600, "silence", "t1", 5.0, 4.0, 0.0, 9.0, "quiet")]
    >>> [(w.service, w.start, w.end, len(w.findings)) for w in flagged_windows(rows, 300)]
    [('web', 0, 600, 2)]
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Any, NamedTuple


class Finding(NamedTuple):
    service: str
    window_start: int  # µs
    window_end: int
    kind: str
    template_id: str | None
    score: float
    threshold: float
    observed: float
    expected: float
    detail: str


@dataclass
class FlaggedWindow:
    service: str
    start: int  # µs, inclusive
    end: int  # µs, exclusive
    findings: list[Finding] = field(default_factory=list)


def flagged_windows(rows, window_us: int, gap_windows: int = 1) -> list[FlaggedWindow]:
    """Group findings per service; windows at most ``gap_windows`` apart merge into one."""
    by_service: dict[str, list[Finding]] = {}
    for r in rows:
        f = Finding(*r)
        by_service.setdefault(f.service, []).append(f)
    out: list[FlaggedWindow] = []
    for service in sorted(by_service):
        current: FlaggedWindow | None = None
        for f in sorted(by_service[service], key=lambda f: (f.window_start, f.kind, f.template_id or "")):
            if current is not None and f.window_start <= current.end + gap_windows * window_us:
                current.end = max(current.end, f.window_end)
                current.findings.append(f)
            else:
                current = FlaggedWindow(service, f.window_start, f.window_end, [f])
                out.append(current)
    return out


@dataclass
class EvidencePack:
    """Everything a summary may rely on; serialised into the prompt as data."""

    service: str
    window_start: str  # ISO-8601 UTC
    window_end: str
    anomaly_count: int
    findings: list[dict[str, Any]]  # strongest first: kind, template_id, template, observed, expected, detail
    kpis: dict[str, Any]  # window vs the hour before: events, errors, error_rate, latency_p95_ms, status_5xx
    lines: list[dict[str, Any]]  # representative raw lines: template_id, line
    neighbours: list[dict[str, Any]]  # other services' findings at the same time: service, kind, detail

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def template_ids(self) -> set[str]:
        ids = {f["template_id"] for f in self.findings if f.get("template_id")}
        return ids | {ln["template_id"] for ln in self.lines if ln.get("template_id")}

    @property
    def raw_lines(self) -> set[str]:
        return {ln["line"] for ln in self.lines}


def evidence_hash(pack: EvidencePack) -> str:
    """Stable id of a pack's content (the cache key: the same evidence is never paid for twice)."""
    blob = json.dumps(pack.to_json(), sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.blake2b(blob.encode(), digest_size=12).hexdigest()


def strongest(findings: list[Finding], limit: int) -> list[Finding]:
    """Findings by how far past their threshold they are, then by time (deterministic)."""
    def ratio(f: Finding) -> float:
        return f.score / f.threshold if f.threshold else f.score

    return sorted(findings, key=lambda f: (-ratio(f), f.window_start, f.kind, f.template_id or ""))[:limit]
