"""The summary a model must answer with: one JSON schema, and a parser that validates and checks citations.

``SUMMARY_SCHEMA`` is sent with each request as the structured-output schema. It keeps to the
subset OpenAI's ``json_schema`` strict mode accepts (every property required,
``additionalProperties: false``, nullable fields as ``["string", "null"]``); strict mode rejects
``maxLength``, so the string limits are stated in the descriptions and enforced here.

:func:`parse_summary` never trusts the answer: it takes the first JSON object of the text (a
```` ```json ```` fence or prose around it is tolerated), checks every field by hand (types,
lengths, the enum, no extra or duplicate keys), and checks that each evidence item cites a
template id or a raw line that was in the evidence pack, so a summary cannot rest on invented
evidence. Log text may carry injected instructions; an answer that grows fields such as
``"action": "restart prod"`` is rejected, and nothing in a summary is ever executed.

Example::

    >>> answer = '''Here you go:
    ... ```json
    ... {"title": "web: 5xx spike", "summary": "Errors rose.", "suspected_cause": "db timeouts",
    ...  "evidence": [{"template_id": "t1", "line": null, "why": "error template tripled"}],
    ...  "recommended_action": "Check the database.", "confidence": "medium"}
    ... ```'''
    >>> summary, problem = parse_summary(answer, {"t1"}, set())
    >>> summary.title, summary.evidence[0].template_id, problem
    ('web: 5xx spike', 't1', None)
    >>> parse_summary(answer.replace('"t1"', '"t9"'), {"t1"}, set())
    (None, "evidence[0]: template_id 't9' is not in the evidence")
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

TITLE_MAX = 120
SUMMARY_MAX = 1200
EVIDENCE_MIN, EVIDENCE_MAX = 1, 8
CONFIDENCE = ("low", "medium", "high")
MIN_QUOTE = 20  # a cited line may be a fragment of a pack line, if at least this long (shorter is ambiguous)
_NULLABLE_STRING = ["string", "null"]

SUMMARY_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "title": {"type": "string", "description": f"At most {TITLE_MAX} characters."},
        "summary": {"type": "string", "description": f"At most {SUMMARY_MAX} characters, at most 5 sentences."},
        "suspected_cause": {"type": "string", "description": "Best hypothesis; hedged when the evidence is thin."},
        "evidence": {
            "type": "array",
            "minItems": EVIDENCE_MIN,
            "maxItems": EVIDENCE_MAX,
            "description": "What the summary rests on; each item cites a template id or a raw line of the evidence.",
            "items": {
                "type": "object",
                "properties": {
                    "template_id": {"type": _NULLABLE_STRING, "description": "A template id from the evidence, or null."},
                    "line": {"type": _NULLABLE_STRING, "description": "A raw line copied from the evidence, or null."},
                    "why": {"type": "string", "description": "Why it matters."},
                },
                "required": ["template_id", "line", "why"],
                "additionalProperties": False,
            },
        },
        "recommended_action": {"type": "string", "description": "What a human should check first (advice only)."},
        "confidence": {"type": "string", "enum": list(CONFIDENCE)},
    },
    "required": ["title", "summary", "suspected_cause", "evidence", "recommended_action", "confidence"],
    "additionalProperties": False,
}
FIELDS: tuple[str, ...] = tuple(SUMMARY_SCHEMA["required"])
EVIDENCE_FIELDS: tuple[str, ...] = ("template_id", "line", "why")
_FENCE = re.compile(r"```(?:json|JSON)?\s*(.*?)```", re.S)
_MAX_STARTS = 50  # "{" positions tried before giving up: bounds the work on hostile text


@dataclass(frozen=True)
class EvidenceItem:
    template_id: str | None
    line: str | None
    why: str


@dataclass(frozen=True)
class Summary:
    title: str
    summary: str
    suspected_cause: str
    evidence: tuple[EvidenceItem, ...]
    recommended_action: str
    confidence: str  # one of CONFIDENCE

    def to_json(self) -> dict[str, Any]:
        """The answer as a plain dict (the shape of ``SUMMARY_SCHEMA``)."""
        return {
            "title": self.title,
            "summary": self.summary,
            "suspected_cause": self.suspected_cause,
            "evidence": [{"template_id": e.template_id, "line": e.line, "why": e.why} for e in self.evidence],
            "recommended_action": self.recommended_action,
            "confidence": self.confidence,
        }


class _Invalid(ValueError):
    """One readable reason why an answer is rejected."""


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # json.loads keeps the last of two equal keys: a second "confidence" could hide the first.
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _Invalid(f"duplicate field {key[:40]!r}")
        out[key] = value
    return out


def _first_object(text: str) -> Any:
    """The first JSON object of ``text`` that looks like a summary (has one of its fields), searched in
    a ```json fence first, then in the whole text; a stray ``{`` in prose or an example object is skipped."""
    decoder = json.JSONDecoder(object_pairs_hook=_no_duplicates)
    first_error: str | None = None
    other: Any = None
    for candidate in [m.group(1) for m in _FENCE.finditer(text)] + [text]:
        start = candidate.find("{")
        for _ in range(_MAX_STARTS):
            if start < 0:
                break
            try:
                value, _end = decoder.raw_decode(candidate, start)
            except _Invalid:
                raise
            except ValueError as exc:
                first_error = first_error or str(exc)
            else:
                if set(value) & set(FIELDS):
                    return value
                other = value if other is None else other
            start = candidate.find("{", start + 1)
    if first_error is not None:
        raise _Invalid(f"malformed JSON: {first_error}")
    if other is not None:
        return other
    raise _Invalid("no JSON object in the answer")


def _keys(obj: dict[str, Any], expected: tuple[str, ...], where: str) -> None:
    extra = [k for k in obj if k not in expected]
    if extra:
        raise _Invalid(f"{where}unexpected field {extra[0][:40]!r} (additionalProperties is false)")
    missing = [k for k in expected if k not in obj]
    if missing:
        raise _Invalid(f"{where}missing field {missing[0]!r}")


def _string(obj: dict[str, Any], key: str, where: str = "", limit: int | None = None) -> str:
    value = obj[key]
    if not isinstance(value, str):
        raise _Invalid(f"{where}{key} must be a string, got {type(value).__name__}")
    value = value.strip()
    if not value:
        raise _Invalid(f"{where}{key} is empty")
    if limit is not None and len(value) > limit:
        raise _Invalid(f"{where}{key} is {len(value)} characters (max {limit})")
    return value


def _nullable(obj: dict[str, Any], key: str, where: str) -> str | None:
    value = obj[key]
    if value is not None and not isinstance(value, str):
        raise _Invalid(f"{where}{key} must be a string or null, got {type(value).__name__}")
    return (value or "").strip() or None  # "" is no citation, like null


def _normalise(line: str) -> str:
    return " ".join(line.split())


def _cited(line: str, allowed: set[str]) -> bool:
    """A pack line, up to whitespace, or a fragment of one of at least MIN_QUOTE characters."""
    quoted = _normalise(line)
    return quoted in allowed or (len(quoted) >= MIN_QUOTE and any(quoted in a for a in allowed))


def _evidence(value: Any, ids: set[str], lines: set[str]) -> tuple[EvidenceItem, ...]:
    if not isinstance(value, list):
        raise _Invalid(f"evidence must be an array, got {type(value).__name__}")
    if not EVIDENCE_MIN <= len(value) <= EVIDENCE_MAX:
        raise _Invalid(f"evidence has {len(value)} items (must be {EVIDENCE_MIN} to {EVIDENCE_MAX})")
    items = []
    for i, raw in enumerate(value):
        where = f"evidence[{i}]: "
        if not isinstance(raw, dict):
            raise _Invalid(f"{where}must be an object, got {type(raw).__name__}")
        _keys(raw, EVIDENCE_FIELDS, where)
        template_id, line = _nullable(raw, "template_id", where), _nullable(raw, "line", where)
        why = _string(raw, "why", where)
        # Every citation given must be real, and one is needed, unless the pack had nothing to cite.
        if template_id is not None and template_id not in ids:
            raise _Invalid(f"{where}template_id {template_id[:60]!r} is not in the evidence")
        if line is not None and not _cited(line, lines):
            raise _Invalid(f"{where}line {line[:60]!r} is not in the evidence")
        if template_id is None and line is None and (ids or lines):
            raise _Invalid(f"{where}cites neither a template_id nor a line of the evidence")
        items.append(EvidenceItem(template_id, line, why))
    return tuple(items)


def validate(data: Any, allowed_template_ids: Iterable[str], allowed_lines: Iterable[str]) -> Summary:
    """The Summary of an already parsed answer; raises ValueError with one readable line."""
    if not isinstance(data, dict):
        raise _Invalid(f"the answer must be a JSON object, got {type(data).__name__}")
    _keys(data, FIELDS, "")
    title, summary = _string(data, "title", limit=TITLE_MAX), _string(data, "summary", limit=SUMMARY_MAX)
    cause, action = _string(data, "suspected_cause"), _string(data, "recommended_action")
    confidence = data["confidence"]
    if confidence not in CONFIDENCE:
        raise _Invalid(f"confidence must be one of {', '.join(CONFIDENCE)}, got {str(confidence)[:40]!r}")
    ids = {str(t).strip() for t in allowed_template_ids}
    lines = {_normalise(str(ln)) for ln in allowed_lines} - {""}
    evidence = _evidence(data["evidence"], ids, lines)
    return Summary(title, summary, cause, evidence, action, confidence)


def parse_summary(text: str, allowed_template_ids: Iterable[str],
                  allowed_lines: Iterable[str]) -> tuple[Summary | None, str | None]:
    """``(Summary, None)`` for a valid answer citing the pack's own evidence, else ``(None, reason)``."""
    try:
        return validate(_first_object(text or ""), allowed_template_ids, allowed_lines), None
    except _Invalid as exc:
        return None, str(exc)
