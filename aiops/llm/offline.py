"""The offline backend: a deterministic extractive summary of an evidence pack, no model, no network.

It writes the same JSON object a model is asked for, from the pack alone: the strongest findings
become the summary, their kinds suggest a cause and a first check, and the evidence cites the
pack's own template ids and lines. Its text says it does not come from a model.

Example::

    >>> from aiops.llm.types import LLMRequest
    >>> pack = {"service": "web", "window_start": "2026-11-22T14:10:00Z", "window_end": "2026-11-22T14:25:00Z",
    ...         "anomaly_count": 1, "findings": [{"kind": "silence", "template_id": None, "template": None,
    ...         "detail": "service logged 0 events, expected 68", "observed": 0, "expected": 68}],
    ...         "kpis": {}, "lines": [], "neighbours": []}
    >>> import json
    >>> json.loads(OfflineBackend().complete(LLMRequest("r1", "", "", evidence=pack)).text)["title"]
    'web: silence, 14:10-14:25 UTC'
"""

from __future__ import annotations

import json
from typing import Any

from aiops.llm.types import LLMRequest, LLMResponse

MODEL = "extractive-v1"
LABEL = "[offline summary, not written by a model] "

_CAUSES = {
    "silence": "{what} stopped logging: a crash, a hang, a stuck scheduler or a routing change upstream",
    "frequency": "a change in load or a burst of {what} (errors, retries or an attack) beyond the usual level",
    "new_template": "a behaviour never seen before in {what}, typically a new error after a deploy or a dependency failure",
    "content": "a shift in what {what} reports (latency, sizes or status values), e.g. a slow dependency",
    "sequence": "sessions of {what} no longer follow their usual steps (a skipped or failing step)",
}
_ACTIONS = {
    "silence": "Check that {service} is running and reachable, and its scheduler/queue, around {start}.",
    "frequency": "Look at what drives the change in {service} at {start}: deploys, traffic sources, error bursts.",
    "new_template": "Read the new message(s) below and check recent deploys or dependency changes of {service}.",
    "content": "Compare the affected operations' latency/status with their dependencies around {start}.",
    "sequence": "Trace a few of the flagged sessions of {service} end to end and find the step they skip.",
}


def _hhmm(iso: str) -> str:
    return iso[11:16] if len(iso) >= 16 else iso


def offline_summary(pack: dict[str, Any]) -> dict[str, Any]:
    """The summary object of one pack (the schema the models answer with)."""
    service = pack["service"]
    findings = pack.get("findings") or []
    kinds = list(dict.fromkeys(f["kind"] for f in findings))
    first = findings[0] if findings else {"kind": "frequency", "detail": "anomalies"}
    what = f"template '{first['template'][:80]}'" if first.get("template") else f"service {service}"
    sentences = [f"{pack.get('anomaly_count', len(findings))} findings in {service} between "
                 f"{_hhmm(pack['window_start'])} and {_hhmm(pack['window_end'])} UTC."]
    repeats: dict[tuple[str, str | None], int] = {}
    distinct = []
    for f in findings:  # the same template flagged in several windows is one statement
        key = (f["kind"], f.get("template_id"))
        repeats[key] = repeats.get(key, 0) + 1
        if repeats[key] == 1:
            distinct.append(f)
    for f in distinct[:3]:
        n = repeats[(f["kind"], f.get("template_id"))]
        sentences.append(f["detail"].rstrip(".") + (f" (and in {n - 1} more windows)." if n > 1 else "."))
    k = (pack.get("kpis") or {})
    now, before = k.get("window") or {}, k.get("hour_before") or {}
    if now.get("error_rate") is not None and before.get("error_rate") is not None:
        sentences.append(f"Error rate {now['error_rate']:.1%} vs {before['error_rate']:.1%} the hour before "
                         f"({now.get('events_per_window')} vs {before.get('events_per_window')} events per window).")
    neighbours = sorted({n["service"] for n in pack.get("neighbours") or []})
    if neighbours:
        sentences.append(f"At the same time: {', '.join(neighbours)} also flagged.")
    cause = _CAUSES.get(first["kind"], "unclear from the evidence").format(what=what)
    if neighbours:
        cause += f"; {', '.join(neighbours)} flagged together, so a shared dependency is possible"
    evidence = [{"template_id": f.get("template_id"), "line": None, "why": f["detail"][:200]}
                for f in findings[:4] if f.get("template_id")]
    evidence += [{"template_id": ln.get("template_id"), "line": ln["line"], "why": "representative line"}
                 for ln in (pack.get("lines") or [])[: max(1, 6 - len(evidence))]]
    if not evidence:
        evidence = [{"template_id": None, "line": None, "why": first["detail"][:200]}]
    return {
        "title": f"{service}: {', '.join(kinds) or 'anomalies'}, "
                 f"{_hhmm(pack['window_start'])}-{_hhmm(pack['window_end'])} UTC"[:120],
        "summary": (LABEL + " ".join(sentences))[:1200],
        "suspected_cause": cause,
        "evidence": evidence[:8],
        "recommended_action": _ACTIONS.get(first["kind"], "Read the evidence below.").format(
            service=service, start=pack["window_start"]),
        "confidence": "medium" if len(findings) >= 3 or neighbours else "low",
    }


class OfflineBackend:
    """A Backend whose answers come from :func:`offline_summary` (used when ``--llm offline``)."""

    name = "offline"
    model = MODEL

    def complete(self, request: LLMRequest) -> LLMResponse:
        if request.evidence is None:
            return LLMResponse(None, "error:malformed", "offline backend needs the evidence pack", model=MODEL)
        return LLMResponse(json.dumps(offline_summary(request.evidence)), "ok", model=MODEL, attempts=1)
