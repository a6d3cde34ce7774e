"""What the window scorers need from templated events, as mergeable partials per template and window.

Per (service, window, template): events, errors, numeric fields as (n, sum, sum of squares)
of ``log1p(value)`` (so the window's geometric mean merges exactly), and the most common
categorical values. Numeric fields are the typed attributes ``latency_ms`` and
``response_bytes`` plus parameters that a template marks as measurements (a unit after the
wildcard, as in ``<*> ms``, or a measure word before it, as in ``latency=<*>``); categorical
fields are the other parameters whose values are words (no digits: ids, counters and
addresses are not categories) and ``http_status``. One DuckDB query per batch does the
grouping: per-element Python would dominate the hot path.

Example::

    >>> measure_positions("Request done in <*> ms status=<*>")
    [0]
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field

import duckdb
import pyarrow as pa

from aiops.schema import TemplateWindowRow, TimestampUs

_WILDCARD = re.compile(r"<\*>")
_UNIT_AFTER = re.compile(
    r"^\s?(ms|msec|millis|milliseconds|s|sec|secs|seconds|us|µs|ns|min|mins|minutes|[kmgt]i?b|bytes|%)(?!\w)",
    re.IGNORECASE,
)
_MEASURE_BEFORE = re.compile(
    r"(latency|duration|elapsed|took|time|size|bytes|length|len|rt|wait|delay|in|after)[\w.]*\s*[=:]?\s*$",
    re.IGNORECASE,
)
NUMERIC_ATTRIBUTES = ("latency_ms", "response_bytes")


@functools.lru_cache(maxsize=65536)
def measure_positions(template: str) -> list[int]:
    """Indexes of the parameters of ``template`` that measure something (time, size, share)."""
    out = []
    for k, match in enumerate(_WILDCARD.finditer(template)):
        after = template[match.end() : match.end() + 16]
        before = template[max(0, match.start() - 24) : match.start()]
        if _UNIT_AFTER.match(after) or _MEASURE_BEFORE.search(before):
            out.append(k)
    return out


@dataclass
class TemplateWindowAcc:
    """Partial statistics of one template in one window."""

    events: int = 0
    errors: int = 0
    numeric: dict[str, list[float]] = field(default_factory=dict)  # field -> [n, sum, sum of squares]
    values: dict[str, dict[str, int]] = field(default_factory=dict)  # field -> value -> count

    def merge(self, other: TemplateWindowAcc, keep: int = 32) -> TemplateWindowAcc:
        self.events += other.events
        self.errors += other.errors
        for name, (n, s1, s2) in other.numeric.items():
            acc = self.numeric.setdefault(name, [0.0, 0.0, 0.0])
            acc[0] += n
            acc[1] += s1
            acc[2] += s2
        for name, counts in other.values.items():
            mine = self.values.setdefault(name, {})
            for value, n in counts.items():
                mine[value] = mine.get(value, 0) + int(n)
            if len(mine) > keep:  # bounded: approximate top values, exact totals live in ``events``
                self.values[name] = dict(sorted(mine.items(), key=lambda kv: (-kv[1], kv[0]))[:keep])
        return self


WindowPartials = dict[tuple[str, int], dict[str, TemplateWindowAcc]]
PARTIALS_SCHEMA = pa.schema([
    ("service", pa.string()), ("win", pa.int64()), ("template_id", pa.string()), ("kind", pa.string()),
    ("field", pa.string()), ("value", pa.string()), ("a", pa.float64()), ("b", pa.float64()), ("c", pa.float64()),
])

_SQL = """
WITH ev AS (
    SELECT service, (epoch_us(event_time) // {w}) * {w} AS win, template_id, level,
           latency_ms, response_bytes, http_status, params
    FROM events
), counts AS (
    SELECT service, win, template_id, 'n' AS kind, '' AS field, '' AS value,
           count(*)::DOUBLE AS a, count(*) FILTER (WHERE level IN ('ERROR', 'FATAL'))::DOUBLE AS b, 0.0 AS c
    FROM ev GROUP BY ALL
), attrs AS (
    SELECT service, win, template_id, name AS field, v FROM (
        SELECT service, win, template_id, 'latency_ms' AS name, latency_ms AS v FROM ev WHERE latency_ms IS NOT NULL
        UNION ALL
        SELECT service, win, template_id, 'response_bytes', response_bytes::DOUBLE FROM ev WHERE response_bytes IS NOT NULL)
), params AS (
    SELECT service, win, template_id, unnest(params) AS value, generate_subscripts(params, 1) - 1 AS pos
    FROM ev WHERE len(params) > 0
), measured AS (
    SELECT p.service, p.win, p.template_id, 'p' || p.pos AS field, TRY_CAST(p.value AS DOUBLE) AS v
    FROM params p SEMI JOIN measures m ON p.template_id = m.template_id AND p.pos = m.pos
), numeric AS (
    SELECT service, win, template_id, 'x' AS kind, field, '' AS value,
           count(*)::DOUBLE AS a, sum(l) AS b, sum(l * l) AS c
    FROM (SELECT *, ln(1 + greatest(v, 0)) AS l FROM (SELECT * FROM attrs UNION ALL SELECT * FROM measured WHERE v IS NOT NULL))
    GROUP BY service, win, template_id, kind, field, value
), categorical AS (
    SELECT service, win, template_id, 'c' AS kind, field, value, count(*)::DOUBLE AS a, 0.0 AS b, 0.0 AS c
    FROM (
        SELECT p.service, p.win, p.template_id, 'p' || p.pos AS field, p.value
        FROM params p ANTI JOIN measures m ON p.template_id = m.template_id AND p.pos = m.pos
        -- categorical values are words (ok, declined, rate_limited, stripe): values with digits
        -- are ids, counters and addresses, never one category, and counting them is the cost here
        WHERE length(p.value) <= 64 AND NOT regexp_matches(p.value, '[0-9]')
        UNION ALL
        SELECT service, win, template_id, 'http_status', http_status::VARCHAR FROM ev WHERE http_status IS NOT NULL)
    GROUP BY service, win, template_id, field, value
    QUALIFY row_number() OVER (PARTITION BY service, win, template_id, field ORDER BY count(*) DESC, value) <= {k}
)
SELECT * FROM counts UNION ALL SELECT * FROM numeric UNION ALL SELECT * FROM categorical
"""


def partials_table(
    events: pa.Table, window_us: int, templates: dict[str, str], top: int = 8,
    con: duckdb.DuckDBPyConnection | None = None,
) -> pa.Table:
    """The partials of one batch of templated events as a long table (``PARTIALS_SCHEMA``).

    One row per (service, win, template_id, kind, field, value): kind ``n`` carries events and
    errors in ``a``/``b``; ``x`` a numeric field's n, sum and sum of squares of ``log1p``; ``c``
    the count of one categorical value (the ``top`` most common per field). ``templates`` maps
    the template_ids present to their text (to find measured parameters).
    """
    con = con or duckdb.connect()
    pairs = [(tid, pos) for tid, text in templates.items() for pos in measure_positions(text)]
    measures = pa.table({"template_id": pa.array([p[0] for p in pairs], pa.string()),
                         "pos": pa.array([p[1] for p in pairs], pa.int64())})
    con.register("events", events)
    con.register("measures", measures)
    try:
        return con.sql(_SQL.format(w=int(window_us), k=int(top))).to_arrow_table().cast(PARTIALS_SCHEMA)
    finally:
        con.unregister("events")
        con.unregister("measures")


def accs_by_window(table: pa.Table) -> WindowPartials:
    """A long partials table as {(service, window_start): {template_id: TemplateWindowAcc}}."""
    out: WindowPartials = {}
    cols = [table.column(i).to_pylist() for i in range(table.num_columns)]
    for service, win, tid, kind, name, value, a, b, c in zip(*cols, strict=True):
        acc = out.setdefault((service, win), {}).setdefault(tid, TemplateWindowAcc())
        if kind == "n":
            acc.events, acc.errors = int(a), int(b)
        elif kind == "x":
            acc.numeric[name] = [a, b, c]
        else:
            acc.values.setdefault(name, {})[value] = int(a)
    return out


def window_partials(
    events: pa.Table, window_us: int, templates: dict[str, str], top: int = 8,
    con: duckdb.DuckDBPyConnection | None = None,
) -> WindowPartials:
    """Partials per (service, window_start) and template_id for one batch of templated events."""
    return accs_by_window(partials_table(events, window_us, templates, top, con))


def merge_partials(into: WindowPartials, other: WindowPartials) -> WindowPartials:
    for key, per_template in other.items():
        mine = into.setdefault(key, {})
        for tid, acc in per_template.items():
            if tid in mine:
                mine[tid].merge(acc)
            else:
                mine[tid] = acc
    return into


def to_rows(service: str, start_us: int, window_us: int, per_template: dict[str, TemplateWindowAcc],
            run_id: str, top: int = 8) -> list[TemplateWindowRow]:
    """The ``template_windows`` rows of one service window."""
    import math

    rows = []
    for tid in sorted(per_template):
        acc = per_template[tid]
        fields = sorted(acc.numeric)
        keys: list[tuple[int, str]] = []
        for name in sorted(acc.values):
            best = sorted(acc.values[name].items(), key=lambda kv: (-kv[1], kv[0]))[:top]
            keys.extend((n, f"{name}={value}") for value, n in best)
        rows.append(TemplateWindowRow(
            window_start=TimestampUs(start_us), window_end=TimestampUs(start_us + window_us), service=service,
            template_id=tid, events=acc.events, errors=acc.errors, value_fields=fields,
            value_geomeans=[math.expm1(acc.numeric[f][1] / acc.numeric[f][0]) for f in fields],
            value_counts=[int(acc.numeric[f][0]) for f in fields],
            top_keys=[k for _, k in keys], top_counts=[n for n, _ in keys], run_id=run_id,
        ))
    return rows
