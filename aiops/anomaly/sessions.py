"""Sessions: the session key of each event, per-session summaries, and sequence findings per window.

The key is a column of the events table (``trace_id``, ``session_id``, ``host``...) or a
regular expression whose first match in the message is the key (``blk_-?\\d+``).

Example::

    >>> import pyarrow as pa
    >>> key = SessionKey.parse(r"blk_-?\\d+")
    >>> key.extract(pa.table({"message": ["read blk_-42 ok", "no key"]})).to_pylist()
    ['blk_-42', None]
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from aiops.anomaly.config import AnomalyConfig
from aiops.schema import AnomalyRow, Event, SessionRow, TimestampUs, arrow_schema

DEFAULT_SESSION_KEY = "trace_id"
_SESSION_SCHEMA = arrow_schema(SessionRow)
_TIMESTAMP = _SESSION_SCHEMA.field("first_time").type
_KEY_COLUMNS = tuple(f for f, t in Event.__annotations__.items() if "str" in str(t) and f not in ("params",))


@dataclass(frozen=True)
class SessionKey:
    column: str | None = None
    regex: str | None = None

    @classmethod
    def parse(cls, spec: str) -> SessionKey:
        """A column name of the events table, else a regex (RE2 syntax); ValueError if invalid."""
        spec = spec.strip()
        if not spec:
            raise ValueError("empty session key")
        if spec in _KEY_COLUMNS:
            return cls(column=spec)
        try:
            re.compile(spec)
            pc.extract_regex(pa.array(["x"]), f"(?P<key>{spec})")
        except (re.error, pa.ArrowInvalid) as exc:
            raise ValueError(f"not a column ({', '.join(_KEY_COLUMNS)}) nor a valid regex: {spec!r}") from exc
        return cls(regex=spec)

    def extract(self, events: pa.Table) -> pa.Array:
        """The key of every event (null where it has none)."""
        if self.column:
            col = events.column(self.column)
            return col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
        found = pc.extract_regex(events.column("message"), f"(?P<key>{self.regex})")
        keys = pc.struct_field(found, [0])
        return keys.combine_chunks() if isinstance(keys, pa.ChunkedArray) else keys


# One row per keyed event; sessions are merged across work units by (key, time, source, line_no).
# Strings are dictionary-encoded: a session's id, its file and its templates repeat on every event.
_DICT = pa.dictionary(pa.int32(), pa.string())
PARTS_SCHEMA = pa.schema([("service", _DICT), ("session_id", _DICT), ("event_time", pa.int64()),
                          ("source", _DICT), ("line_no", pa.int64()), ("template_id", _DICT)])


def session_parts(events: pa.Table, key: SessionKey) -> pa.Table:
    """The keyed events of one batch as a compact table (``PARTS_SCHEMA``); keyless events dropped.

    Columnar and dictionary-encoded on purpose: a Python tuple per event costs ~250 bytes, these rows ~30.
    """
    keys = key.extract(events)
    mask = pc.is_valid(keys)
    if not pc.any(mask).as_py():
        return PARTS_SCHEMA.empty_table()
    sub = events.filter(mask)
    columns = [sub.column("service"), pc.filter(keys, mask), sub.column("event_time").cast(pa.int64()),
               sub.column("source"), sub.column("line_no").cast(pa.int64()), sub.column("template_id")]
    return pa.table([pc.dictionary_encode(c) if f.type == _DICT else c for c, f in zip(columns, PARTS_SCHEMA,
                                                                                      strict=True)],
                    schema=PARTS_SCHEMA)


def _ranks(column: pa.ChunkedArray) -> tuple[np.ndarray, pa.Array]:
    """(rank of each row's value in the sorted distinct values, those sorted values) of a dictionary column."""
    arr = column.combine_chunks()
    if not isinstance(arr, pa.DictionaryArray):
        arr = pc.dictionary_encode(arr)
    order = np.asarray(pc.sort_indices(arr.dictionary))
    rank = np.empty(len(order), np.int64)
    rank[order] = np.arange(len(order))
    return rank[np.asarray(arr.indices)], arr.dictionary.take(pa.array(order))


class SessionSummary(NamedTuple):
    session_id: str
    first_time: int
    last_time: int
    templates: tuple[str, ...]  # template ids in event order


def summarise_all(chunks) -> list[SessionSummary]:
    """Merge part tables (one per work unit, any services) into one summary per session, sorted by id.

    Events of a session are ordered by time, then file position (logs of one second keep their order).
    """
    tables = [t for t in chunks if t.num_rows]
    if not tables:
        return []
    parts = pa.concat_tables(tables).unify_dictionaries()
    del tables
    # Sort on integer ranks (distinct values sorted once), not on the strings of every row.
    ids, id_values = _ranks(parts.column("session_id"))
    sources, _ = _ranks(parts.column("source"))
    tids, names_sorted = _ranks(parts.column("template_id"))
    times = np.asarray(parts.column("event_time").combine_chunks())
    line_nos = np.asarray(parts.column("line_no").combine_chunks())
    del parts
    order = np.lexsort((line_nos, sources, times, ids))
    ids, tids, times = ids[order], tids[order], times[order]
    del order, sources, line_nos
    starts = np.concatenate([[0], np.flatnonzero(np.diff(ids)) + 1])
    ends = np.concatenate([starts[1:], [len(ids)]])
    # each id string once (an object array): every tuple shares these objects
    seq = np.array(names_sorted.to_pylist(), dtype=object)[tids].tolist()
    firsts, lasts = times[starts].tolist(), times[ends - 1].tolist()
    id_list = id_values.take(pa.array(ids[starts])).to_pylist()
    return [SessionSummary(sid, lo, hi, tuple(seq[a:b]))
            for sid, lo, hi, a, b in zip(id_list, firsts, lasts, starts.tolist(), ends.tolist(), strict=True)]


def open_flags(sessions: list[SessionSummary], margin_us: float) -> list[bool]:
    """Sessions that may be cut by the input's ends: first or last event within ``margin_us`` of them.

    The sequence model judges those only on what a cut cannot explain (rare events, odd transitions).
    """
    if not sessions:
        return []
    firsts = np.fromiter((s.first_time for s in sessions), np.int64, len(sessions))
    lasts = np.fromiter((s.last_time for s in sessions), np.int64, len(sessions))
    cut = (firsts - firsts.min() < margin_us) | (lasts.max() - lasts < margin_us)
    return cut.tolist()


def session_table(service: str, sessions: list[SessionSummary], scores, run_id: str) -> pa.Table:
    """The ``sessions`` table rows (``SessionRow`` schema) of scored sessions, built column by column."""
    n = len(sessions)
    firsts = np.fromiter((s.first_time for s in sessions), np.int64, n)
    lasts = np.fromiter((s.last_time for s in sessions), np.int64, n)
    reasons = [reason for _, reason, _ in scores]
    columns = {
        "session_id": pa.array([s.session_id for s in sessions], pa.string()),
        "service": pa.array([service] * n, pa.string()),
        "first_time": pa.array(firsts).cast(_TIMESTAMP),
        "last_time": pa.array(lasts).cast(_TIMESTAMP),
        "events": pa.array([len(s.templates) for s in sessions], pa.int64()),
        "distinct_templates": pa.array([len(set(s.templates)) for s in sessions], pa.int64()),
        "score": pa.array(np.round(np.array([score for score, _, _ in scores], np.float64), 4)),
        "is_anomaly": pa.array([r is not None for r in reasons], pa.bool_()),
        "reason": pa.array(reasons, pa.string()),
        "run_id": pa.array([run_id] * n, pa.string()),
    }
    return pa.table([columns[name].cast(field.type) for name, field in zip(_SESSION_SCHEMA.names, _SESSION_SCHEMA,
                                                                            strict=True)], schema=_SESSION_SCHEMA)


def sequence_findings(service: str, sessions: list[SessionSummary], scores, window_us: int, cfg: AnomalyConfig,
                      run_id: str) -> list[AnomalyRow]:
    """Windows (by session end) with more anomalous sessions than the run's usual share predicts."""
    if not sessions:
        return []
    ends = np.array([s.last_time for s in sessions]) // window_us * window_us
    bad = np.array([reason is not None for _, reason, _ in scores])
    windows, inverse = np.unique(ends, return_inverse=True)
    per_window = np.bincount(inverse, weights=bad) / np.bincount(inverse)
    usual = min(float(bad.mean()), float(np.median(per_window)))  # robust to the incident's own windows
    rows = []
    for w in np.unique(ends[bad]):
        in_w = ends == w
        x, n = int(bad[in_w].sum()), int(in_w.sum())
        e = usual * n
        z = (x - e) / np.sqrt(e + 1)
        if x < cfg.sequence_min_sessions or z < cfg.sequence_z:
            continue
        idx = np.flatnonzero(in_w & bad).tolist()
        example = sessions[idx[0]].session_id
        reasons = sorted({scores[i][1] for i in idx})
        tids = [scores[i][2] for i in idx if scores[i][2]]
        tid = max(set(tids), key=tids.count) if tids else None
        rows.append(AnomalyRow(TimestampUs(int(w)), TimestampUs(int(w) + window_us), service, "sequence", tid,
                               round(float(z), 4), cfg.sequence_z, float(x), round(float(e), 4),
                               f"{x} of {n} sessions ending here are unusual, e.g. {example}: {reasons[0]}", run_id))
    return rows
