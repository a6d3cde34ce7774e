"""Pure scoring of ``aiops eval anomaly``: no I/O, plain rows in, counts and shares out.

Times are microseconds since the epoch (UTC) as in :mod:`aiops.schema`; windows are
epoch-aligned ``[ws, ws + window)``. A finding (a row of the ``anomalies`` table) *covers* every
window it overlaps.

* :func:`match_incidents` - an injected incident is found when a finding of the same service
  and kind overlaps ``[start, end + slack)``; otherwise the other kinds that did are listed.
* :func:`clean_windows` / :func:`flag_rates` - the (service, window) pairs in which the service
  logged and no incident of it was under way (+- one window), and how many of them were flagged.
* :func:`bgl_line_alerts` / :func:`bgl_windows` / :func:`window_flags` - BGL alert windows.
* :func:`confusion` - the HDFS session confusion matrix.

Example::

    >>> w = 300_000_000  # 5 minutes in µs
    >>> inc = Incident("frequency", "error_spike", "web", 10 * w, 13 * w)
    >>> f = Finding("web", "frequency", 13 * w, 14 * w)  # one window after the end: slack
    >>> match_incidents([inc], [f], w)[0].found
    True
    >>> confusion({"a": True, "b": False}, {"a": True, "b": True}).precision
    0.5
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import NamedTuple

Key = tuple[str, int]  # (service, window start µs)


class Finding(NamedTuple):
    """One ``anomalies`` row, reduced to what scoring needs."""

    service: str
    kind: str
    start: int
    end: int
    score: float = 0.0
    threshold: float = 0.0
    detail: str = ""
    template_id: str | None = None


class Incident(NamedTuple):
    kind: str
    scenario: str
    service: str
    start: int
    end: int
    description: str = ""


def window_start(t: int, window: int) -> int:
    return t - t % window


def covered(start: int, end: int, window: int) -> range:
    """Starts of the windows overlapping ``[start, end)`` (at least the one holding ``start``)."""
    first = window_start(start, window)
    return range(first, max(end, start + 1), window)


def overlaps(a0: int, a1: int, b0: int, b1: int) -> bool:
    return a0 < b1 and b0 < a1


# ---------------------------------------------------------------- injected incidents


@dataclass
class IncidentResult:
    incident: Incident
    found: bool
    rows: int  # matching findings (same service and kind)
    other_kinds: list[str] = field(default_factory=list)  # kinds that overlapped when not found


def match_incidents(
    incidents: Iterable[Incident], findings: Iterable[Finding], window: int, slack_windows: int = 1
) -> list[IncidentResult]:
    """Per incident: found (same service and kind over ``[start, end + slack)``), else other kinds."""
    rows = list(findings)
    out = []
    for inc in incidents:
        end = inc.end + slack_windows * window
        near = [f for f in rows if f.service == inc.service and overlaps(f.start, f.end, inc.start, end)]
        same = [f for f in near if f.kind == inc.kind]
        others = sorted({f.kind for f in near} - {inc.kind}) if not same else []
        out.append(IncidentResult(inc, bool(same), len(same), others))
    return out


def recall(results: Iterable[IncidentResult]) -> dict[str, dict[str, float]]:
    """``{kind: {"incidents", "found", "recall"}}`` plus ``"all"``."""
    total: Counter[str] = Counter()
    found: Counter[str] = Counter()
    for r in results:
        for key in (r.incident.kind, "all"):
            total[key] += 1
            found[key] += r.found
    return {
        k: {"incidents": total[k], "found": found[k], "recall": found[k] / total[k]}
        for k in sorted(total, key=lambda k: (k == "all", k))
    }


# ---------------------------------------------------------------- clean windows


def clean_windows(
    active: Iterable[Key], incidents: Iterable[Incident], window: int, margin_windows: int = 1
) -> set[Key]:
    """Active (service, window) pairs not overlapping any incident of that service +- ``margin``."""
    margin = margin_windows * window
    spans: dict[str, list[tuple[int, int]]] = {}
    for inc in incidents:
        spans.setdefault(inc.service, []).append((inc.start - margin, inc.end + margin))
    return {
        (svc, ws)
        for svc, ws in active
        if not any(overlaps(ws, ws + window, a, b) for a, b in spans.get(svc, ()))
    }


def findings_by_window(findings: Iterable[Finding], window: int) -> dict[Key, list[Finding]]:
    out: dict[Key, list[Finding]] = {}
    for f in findings:
        for ws in covered(f.start, f.end, window):
            out.setdefault((f.service, ws), []).append(f)
    return out


def flag_rates(clean: set[Key], findings: Iterable[Finding], window: int, top: int = 10) -> dict:
    """Share of clean windows with any finding, per kind and per service, and the top offenders.

    ``top`` lists the flagged clean windows' findings by ``score / threshold`` (highest first).
    """
    hits = findings_by_window(findings, window)
    flagged = {k: hits[k] for k in clean if k in hits}
    per_service: dict[str, dict[str, float]] = {}
    for svc in sorted({s for s, _ in clean}):
        n = sum(1 for s, _ in clean if s == svc)
        f = sum(1 for s, _ in flagged if s == svc)
        per_service[svc] = {"windows": n, "flagged": f, "share": f / n}
    kinds = sorted({f.kind for rows in flagged.values() for f in rows})
    per_kind = {}
    for kind in kinds:
        f = sum(1 for rows in flagged.values() if any(r.kind == kind for r in rows))
        per_kind[kind] = {"flagged": f, "share": f / len(clean) if clean else 0.0}
    worst = sorted(
        ((key, r) for key, rows in flagged.items() for r in rows),
        key=lambda kr: (-_ratio(kr[1]), kr[0]),
    )
    seen: set[tuple[str, int, str, str | None]] = set()
    listed = []
    for (svc, ws), r in worst:
        if (svc, ws, r.kind, r.template_id) in seen:
            continue  # a finding spanning several windows is listed once per window
        seen.add((svc, ws, r.kind, r.template_id))
        listed.append({"service": svc, "window_start": ws, "kind": r.kind, "score": r.score,
                       "threshold": r.threshold, "detail": r.detail})  # fmt: skip
        if len(listed) >= top:
            break
    return {
        "windows": len(clean),
        "flagged": len(flagged),
        "share": len(flagged) / len(clean) if clean else 0.0,
        "per_kind": per_kind,
        "per_service": per_service,
        "top": listed,
    }


def _ratio(f: Finding) -> float:
    return f.score / f.threshold if f.threshold else f.score


def flagged_silent(
    active: set[Key], findings: Iterable[Finding], window: int, incidents: Iterable[Incident]
) -> int:
    """Windows flagged where the service logged nothing, outside its incidents (+- one window)."""
    silent = set(findings_by_window(findings, window)) - active
    return len(clean_windows(silent, incidents, window))


# ---------------------------------------------------------------- BGL


def bgl_line_alerts(lines: Iterable[str]) -> list[bool]:
    """Per physical line: True when its first column (the label) is not ``-``."""
    return [bool(line.strip()) and line.split(maxsplit=1)[0] != "-" for line in lines]


def bgl_windows(
    events: Iterable[tuple[str, int, int, int]], alerts: list[bool], window: int
) -> dict[Key, bool]:
    """``{(service, ws): any alert}`` from events ``(service, line_no, line_count, event_time)``.

    An event is an alert when any of its physical lines (1-based ``line_no`` onwards) is.
    """
    out: dict[Key, bool] = {}
    for svc, line_no, count, t in events:
        alert = any(alerts[i - 1] for i in range(line_no, line_no + max(count, 1)) if 0 < i <= len(alerts))
        key = (svc, window_start(t, window))
        out[key] = out.get(key, False) or alert
    return out


def window_flags(labelled: Mapping[Key, bool], findings: Iterable[Finding], window: int) -> dict:
    """Alert and normal windows, how many of each were flagged, and flagged windows per kind."""
    hits = findings_by_window(findings, window)
    alert = [k for k, a in labelled.items() if a]
    normal = [k for k, a in labelled.items() if not a]
    fa = [k for k in alert if k in hits]
    fn_ = [k for k in normal if k in hits]
    by_kind: dict[str, dict[str, int]] = {}
    for key, is_alert in labelled.items():
        for kind in {f.kind for f in hits.get(key, ())}:
            slot = by_kind.setdefault(kind, {"alert_windows": 0, "normal_windows": 0})
            slot["alert_windows" if is_alert else "normal_windows"] += 1
    return {
        "alert_windows": len(alert),
        "flagged_alert_windows": len(fa),
        "recall": len(fa) / len(alert) if alert else 0.0,
        "normal_windows": len(normal),
        "flagged_normal_windows": len(fn_),
        "false_flag_rate": len(fn_) / len(normal) if normal else 0.0,
        "by_kind": dict(sorted(by_kind.items())),
    }


# ---------------------------------------------------------------- HDFS


@dataclass
class Confusion:
    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0
    missing: int = 0  # labelled sessions absent from the output (scored as not flagged)
    unlabelled: int = 0  # sessions in the output without a label (not scored)

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


def confusion(labels: Mapping[str, bool], predicted: Mapping[str, bool]) -> Confusion:
    """Labels (True = anomaly) against predictions; a labelled session missing counts as not flagged."""
    c = Confusion(unlabelled=len(set(predicted) - set(labels)))
    for key, truth in labels.items():
        if key not in predicted:
            c.missing += 1
        flag = predicted.get(key, False)
        if truth and flag:
            c.tp += 1
        elif truth:
            c.fn += 1
        elif flag:
            c.fp += 1
        else:
            c.tn += 1
    return c


def sequence_ceiling(sequences: Mapping[str, tuple[str, ...]], labels: Mapping[str, bool]) -> tuple[float, int]:
    """The best F1 that ANY detector looking only at each session's template sequence can reach,
    and how many anomalous sessions share their exact sequence with a normal one.

    Sessions with the same sequence get the same verdict from such a detector; flagging groups in
    order of their anomalous share traces the best trade-off.
    """
    groups: dict[tuple[str, ...], list[int]] = {}
    for key, truth in labels.items():
        counts = groups.setdefault(sequences.get(key, ()), [0, 0])
        counts[int(truth)] += 1
    positives = sum(1 for t in labels.values() if t)
    shared = sum(n_bad for n_ok, n_bad in groups.values() if n_ok)
    best, tp, fp = 0.0, 0, 0
    for n_ok, n_bad in sorted(groups.values(), key=lambda g: -g[1] / (g[0] + g[1])):
        tp, fp = tp + n_bad, fp + n_ok
        best = max(best, 2 * tp / (2 * tp + fp + positives - tp)) if positives else 0.0
    return best, shared
