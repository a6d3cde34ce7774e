"""Window partials as Arrow tables: merge them, and turn them into ``template_windows`` rows.

The batch job keeps its per-template window partials in the long table of
:func:`aiops.anomaly.partials.partials_table` from the apply step to the scorers: one table per
work unit crosses the runner instead of thousands of pickled Python objects, and DuckDB does
the merging. The results are the same as merging :class:`TemplateWindowAcc` objects and
:func:`aiops.anomaly.partials.to_rows` (tests/test_anomaly_windows.py compares both).

Example::

    merged = merge_partial_tables([unit1, unit2], keep=32)
    rows = rows_table(merged, window_us=300_000_000, run_id="r1", top=8)   # TemplateWindowRow schema
    per_service = split_services(merged)                                  # {service: its partials}
"""

from __future__ import annotations

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from aiops.anomaly.partials import PARTIALS_SCHEMA
from aiops.schema import TemplateWindowRow, arrow_schema

TEMPLATE_WINDOW_SCHEMA = arrow_schema(TemplateWindowRow)

# Sums per key; categorical values trimmed to the ``keep`` most common per (window, template, field),
# as TemplateWindowAcc.merge does (approximate top values; exact totals live in kind 'n').
_MERGE = """
WITH summed AS (
    SELECT service, win, template_id, kind, field, value, sum(a) AS a, sum(b) AS b, sum(c) AS c
    FROM parts GROUP BY ALL
)
SELECT * FROM summed
QUALIFY kind <> 'c'
     OR row_number() OVER (PARTITION BY service, win, template_id, kind, field ORDER BY a DESC, value) <= {keep}
"""

_ROWS = """
WITH counts AS (
    SELECT service, win, template_id, a::BIGINT AS events, b::BIGINT AS errors FROM parts WHERE kind = 'n'
), numeric AS (
    SELECT service, win, template_id, list(field ORDER BY field) AS value_fields,
           list(b / a ORDER BY field) AS log_means, list(a::BIGINT ORDER BY field) AS value_counts
    FROM parts WHERE kind = 'x' AND a > 0 GROUP BY ALL
), top AS (
    SELECT service, win, template_id, list(field || '=' || value ORDER BY field, a DESC, value) AS top_keys,
           list(a::BIGINT ORDER BY field, a DESC, value) AS top_counts
    FROM (SELECT * FROM parts WHERE kind = 'c'
          QUALIFY row_number() OVER (PARTITION BY service, win, template_id, field ORDER BY a DESC, value) <= {top})
    GROUP BY ALL
)
SELECT win AS window_start, win + {w} AS window_end, service, template_id, events, errors,
       coalesce(value_fields, []::VARCHAR[]) AS value_fields, coalesce(log_means, []::DOUBLE[]) AS log_means,
       coalesce(value_counts, []::BIGINT[]) AS value_counts, coalesce(top_keys, []::VARCHAR[]) AS top_keys,
       coalesce(top_counts, []::BIGINT[]) AS top_counts
FROM counts LEFT JOIN numeric USING (service, win, template_id) LEFT JOIN top USING (service, win, template_id)
ORDER BY window_start, service, template_id
"""


def _query(sql: str, parts: pa.Table, con: duckdb.DuckDBPyConnection | None) -> pa.Table:
    con = con or duckdb.connect()
    con.register("parts", parts)
    try:
        return con.sql(sql).to_arrow_table()
    finally:
        con.unregister("parts")


def merge_partial_tables(tables: list[pa.Table], keep: int = 32, con: duckdb.DuckDBPyConnection | None = None) -> pa.Table:
    """One partials table from many (of units, batches or workers), one row per key, in no particular order."""
    tables = [t for t in tables if t.num_rows]
    if not tables:
        return PARTIALS_SCHEMA.empty_table()
    parts = pa.concat_tables([t.cast(PARTIALS_SCHEMA) for t in tables])
    return _query(_MERGE.format(keep=int(keep)), parts, con).cast(PARTIALS_SCHEMA)


def rows_table(merged: pa.Table, window_us: int, run_id: str, top: int = 8,
               con: duckdb.DuckDBPyConnection | None = None) -> pa.Table:
    """The ``template_windows`` rows of merged partials (``TEMPLATE_WINDOW_SCHEMA``), ordered by
    window, service and template; the ``top`` most common values per field."""
    if not merged.num_rows:
        return TEMPLATE_WINDOW_SCHEMA.empty_table()
    t = _query(_ROWS.format(w=int(window_us), top=int(top)), merged, con)
    log_means = t.column("log_means").combine_chunks()
    # geometric mean = expm1(mean of log1p): numpy's expm1, as math.expm1 in to_rows
    means = pa.array(np.expm1(log_means.values.to_numpy(zero_copy_only=False)), pa.float64())
    geomeans = pa.ListArray.from_arrays(log_means.offsets, means)
    columns = {name: t.column(name) for name in t.column_names}
    columns["value_geomeans"] = geomeans
    columns["run_id"] = pa.array([run_id] * t.num_rows, pa.string())
    arrays = [pc.cast(columns[f.name], f.type) if f.name not in ("window_start", "window_end")
              else columns[f.name].cast(pa.int64()).cast(f.type) for f in TEMPLATE_WINDOW_SCHEMA]
    return pa.Table.from_arrays(arrays, schema=TEMPLATE_WINDOW_SCHEMA)


def split_services(merged: pa.Table) -> dict[str, pa.Table]:
    """{service: its rows} of a partials table."""
    return {svc: merged.filter(pc.equal(merged.column("service"), svc))
            for svc in sorted(pc.unique(merged.column("service")).to_pylist())}


def run_range(merged: pa.Table) -> tuple[int, int] | None:
    """(first, last) window start of a partials table; None when it is empty."""
    if not merged.num_rows:
        return None
    lo, hi = pc.min_max(merged.column("win")).values()
    return int(lo.as_py()), int(hi.as_py())
