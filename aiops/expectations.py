"""The data-quality expectations of an aiops output directory, as data.

Each ``Frame`` is a DuckDB query over the output views (aiops.query.connect)
that loads only the columns its checks need, for one run (``$run_id``) or all
runs (``$run_id`` NULL). Each ``Check`` names one Great Expectations 1.x
expectation over a frame. ``aiops.validation`` runs them.

Example::

    >>> from aiops.expectations import CHECKS, FRAMES
    >>> sorted({f.table for f in FRAMES})
    ['anomalies', 'dead_letter', 'events', 'kpis', 'runs', 'sessions', 'templates']
    >>> [c.name for c in CHECKS if c.frame == "accounting"][:2]
    ['manifest_present', 'accounting_identity']
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from aiops.schema import ANOMALY_KINDS, LEVELS


@dataclass(frozen=True)
class Frame:
    name: str  # frame id, used by checks
    table: str  # the table it reports on
    sql: str  # may use $run_id (NULL: every run)
    key: tuple[str, ...] = ()  # columns shown for unexpected rows


@dataclass(frozen=True)
class Check:
    frame: str
    name: str  # stable id of the check, e.g. "accounting_identity"
    expectation: str  # Great Expectations class name, e.g. "ExpectColumnValuesToBeBetween"
    kwargs: dict[str, Any] = field(default_factory=dict)

    @property
    def columns(self) -> str:
        cols = self.kwargs.get("column_list") or [
            self.kwargs[k] for k in ("column", "column_A", "column_B") if k in self.kwargs
        ]
        return ", ".join(cols)


_RUN = "($run_id is null or run_id = $run_id)"

# Per run: the lines the tables hold against the manifest. ``manifests`` is a
# relation registered by aiops.validation (one row per manifest to check).
ACCOUNTING_SQL = f"""
with event_rows as (
    select run_id, sum(line_count) as lines, count(*) as rows from events where {_RUN} group by run_id
),

dead_letter_rows as (
    select run_id, sum(line_count) as lines, count(*) as rows from dead_letter where {_RUN} group by run_id
),

run_ids as (
    select run_id from event_rows
    union select run_id from dead_letter_rows
    union select run_id from manifests where {_RUN}
    union select $run_id where $run_id is not null
)

select
    r.run_id,
    m.status,
    m.lines_read,
    coalesce(e.lines, 0) as event_lines,
    coalesce(d.lines, 0) as dead_letter_lines,
    m.blank,
    m.lines_read - coalesce(e.lines, 0) - coalesce(d.lines, 0) - m.blank as difference,
    m.events - coalesce(e.rows, 0) as events_difference,
    m.dead_letter - coalesce(d.rows, 0) as dead_letter_difference
from run_ids as r
left join manifests as m on m.run_id = r.run_id
left join event_rows as e on e.run_id = r.run_id
left join dead_letter_rows as d on d.run_id = r.run_id
order by r.run_id
"""

FRAMES = [
    Frame("accounting", "runs", ACCOUNTING_SQL, ("run_id",)),
    Frame(
        "events",
        "events",
        "select run_id, source, line_no, line_count, event_time, service, level, template_id, latency_ms "
        f"from events where {_RUN}",
        ("source", "line_no"),
    ),
    Frame(
        "event_template_texts",
        "events",
        f"select distinct template_id, template from events where {_RUN}",
        ("template_id", "template"),
    ),
    Frame(
        "dead_letter",
        "dead_letter",
        f"select source, line_no, line_count, reason from dead_letter where {_RUN}",
        ("source", "line_no"),
    ),
    Frame(
        "kpis",
        "kpis",
        "select window_start, window_end, service, error_rate, latency_p50_ms, latency_p95_ms, latency_p99_ms "
        f"from kpis where {_RUN}",
        ("service", "window_start"),
    ),
    Frame(
        "anomalies",
        "anomalies",
        "select window_start, window_end, service, kind, template_id, score, threshold "
        f"from anomalies where {_RUN}",
        ("service", "window_start", "kind"),
    ),
    Frame(
        "sessions",
        "sessions",
        f"select run_id, service, session_id, first_time, last_time, events, score from sessions where {_RUN}",
        ("service", "session_id"),
    ),
    # The template store snapshot is not per run: always checked whole.
    Frame(
        "templates",
        "templates",
        "select template_id, template, service from templates",
        ("service", "template_id"),
    ),
    Frame(
        "template_texts",
        "templates",
        "select distinct template_id, template from templates",
        ("template_id", "template"),
    ),
]


def _not_null(frame: str, *columns: str) -> list[Check]:
    return [Check(frame, "not_null", "ExpectColumnValuesToNotBeNull", {"column": c}) for c in columns]


def _between(frame: str, name: str, column: str, low: float | None, high: float | None = None) -> Check:
    return Check(
        frame, name, "ExpectColumnValuesToBeBetween", {"column": column, "min_value": low, "max_value": high}
    )


CHECKS: list[Check] = [
    # Accounting identity per run: event lines + dead-letter lines + blank == lines_read.
    Check("accounting", "manifest_present", "ExpectColumnValuesToNotBeNull", {"column": "lines_read"}),
    _between("accounting", "accounting_identity", "difference", 0, 0),
    _between("accounting", "events_match_manifest", "events_difference", 0, 0),
    _between("accounting", "dead_letter_match_manifest", "dead_letter_difference", 0, 0),
    # events
    *_not_null("events", "source", "line_no", "event_time", "service", "level", "template_id"),
    _between("events", "line_count_positive", "line_count", 1),
    Check(
        "events",
        "level_allowed",
        "ExpectColumnValuesToBeInSet",
        {"column": "level", "value_set": list(LEVELS)},
    ),
    _between("events", "latency_non_negative", "latency_ms", 0),
    Check(
        "events",
        "unique_line",
        "ExpectCompoundColumnsToBeUnique",
        {"column_list": ["run_id", "source", "line_no"]},
    ),
    Check(
        "event_template_texts",
        "template_id_one_text",
        "ExpectColumnValuesToBeUnique",
        {"column": "template_id"},
    ),
    # dead_letter
    *_not_null("dead_letter", "source", "line_no", "reason"),
    # 0 only for the marker row of a compressed stream cut exactly at a line end:
    # the damage is recorded, but no physical line was lost with it.
    _between("dead_letter", "line_count_non_negative", "line_count", 0),
    # kpis
    *_not_null("kpis", "window_start", "window_end", "service"),
    Check(
        "kpis",
        "window_start_before_end",
        "ExpectColumnPairValuesAToBeGreaterThanB",
        {"column_A": "window_end", "column_B": "window_start", "or_equal": False},
    ),
    _between("kpis", "error_rate_in_0_1", "error_rate", 0, 1),
    *[_between("kpis", "latency_non_negative", f"latency_{p}_ms", 0) for p in ("p50", "p95", "p99")],
    # anomalies: a finding is written only when its score reaches its threshold
    *_not_null("anomalies", "window_start", "window_end", "service", "kind", "score", "threshold"),
    Check("anomalies", "kind_allowed", "ExpectColumnValuesToBeInSet", {"column": "kind", "value_set": list(ANOMALY_KINDS)}),
    Check(
        "anomalies",
        "window_start_before_end",
        "ExpectColumnPairValuesAToBeGreaterThanB",
        {"column_A": "window_end", "column_B": "window_start", "or_equal": False},
    ),
    Check(
        "anomalies",
        "score_reaches_threshold",
        "ExpectColumnPairValuesAToBeGreaterThanB",
        {"column_A": "score", "column_B": "threshold", "or_equal": True},
    ),
    # sessions
    *_not_null("sessions", "service", "session_id", "first_time", "last_time"),
    Check(
        "sessions",
        "first_not_after_last",
        "ExpectColumnPairValuesAToBeGreaterThanB",
        {"column_A": "last_time", "column_B": "first_time", "or_equal": True},
    ),
    _between("sessions", "events_positive", "events", 1),
    Check("sessions", "unique_session", "ExpectCompoundColumnsToBeUnique", {"column_list": ["run_id", "service", "session_id"]}),
    # templates
    *_not_null("templates", "template_id", "template", "service"),
    Check(
        "templates",
        "unique_service_template_id",
        "ExpectCompoundColumnsToBeUnique",
        {"column_list": ["service", "template_id"]},
    ),  # fmt: skip
    Check(
        "template_texts", "template_id_one_text", "ExpectColumnValuesToBeUnique", {"column": "template_id"}
    ),
]
