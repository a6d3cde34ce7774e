"""KPI maths per service and window: mergeable accumulators and a latency sketch.

Accumulators are built vectorised from an Arrow table of templated events, merged
in any order (a Beam CombineFn wraps them) and finalised into ``KpiRow``. Latency
percentiles come from a log-bucketed sketch with 1% relative accuracy (DDSketch's
scheme), so memory per window is bounded however many events it holds.

Example::

    >>> from aiops.kpi import LatencySketch
    >>> s = LatencySketch.of([10.0, 20.0, 30.0, 40.0])
    >>> round(s.quantile(0.5))
    20
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from aiops.schema import KpiRow, TimestampUs

RELATIVE_ACCURACY = 0.01
_GAMMA = (1 + RELATIVE_ACCURACY) / (1 - RELATIVE_ACCURACY)
_LOG_GAMMA = math.log(_GAMMA)
ERROR_LEVELS = ("ERROR", "FATAL")
WARN_LEVELS = ("WARN",)


@dataclass
class LatencySketch:
    """Counts per logarithmic bucket; values <= 0 go to a zero bucket."""

    buckets: dict[int, int] = field(default_factory=dict)
    zeros: int = 0

    @staticmethod
    def bucket_of(values: np.ndarray) -> np.ndarray:
        return np.ceil(np.log(values) / _LOG_GAMMA).astype(np.int64)

    @classmethod
    def of(cls, values) -> LatencySketch:
        sketch = cls()
        arr = np.asarray(values, dtype=np.float64)
        sketch.zeros = int((arr <= 0).sum())
        keys, counts = np.unique(cls.bucket_of(arr[arr > 0]), return_counts=True)
        sketch.buckets = {int(k): int(c) for k, c in zip(keys, counts, strict=True)}
        return sketch

    @property
    def count(self) -> int:
        return self.zeros + sum(self.buckets.values())

    def merge(self, other: LatencySketch) -> None:
        self.zeros += other.zeros
        for key, n in other.buckets.items():
            self.buckets[key] = self.buckets.get(key, 0) + n

    def quantile(self, q: float) -> float | None:
        """Nearest-rank quantile estimate, within 1% of the true value."""
        total = self.count
        if total == 0:
            return None
        rank = max(1, math.ceil(q * total))
        if rank <= self.zeros:
            return 0.0
        seen = self.zeros
        for key in sorted(self.buckets):
            seen += self.buckets[key]
            if seen >= rank:
                return 2 * _GAMMA**key / (_GAMMA + 1)
        raise AssertionError("unreachable: rank exceeds count")


@dataclass
class KpiAccumulator:
    """Partial KPIs of one (service, window)."""

    events: int = 0
    errors: int = 0
    warnings: int = 0
    templates: set[str] = field(default_factory=set)
    latency: LatencySketch = field(default_factory=LatencySketch)
    status_count: int = 0
    status_4xx: int = 0
    status_5xx: int = 0

    def merge(self, other: KpiAccumulator) -> KpiAccumulator:
        self.events += other.events
        self.errors += other.errors
        self.warnings += other.warnings
        self.templates |= other.templates
        self.latency.merge(other.latency)
        self.status_count += other.status_count
        self.status_4xx += other.status_4xx
        self.status_5xx += other.status_5xx
        return self


def window_start(event_time_us: np.ndarray, window_us: int) -> np.ndarray:
    """The start of the fixed window each timestamp falls in (epoch-aligned)."""
    return (event_time_us // window_us) * window_us


def partial_kpis(table: pa.Table, window_us: int) -> dict[tuple[str, int], KpiAccumulator]:
    """Accumulators per (service, window_start) for a table of templated events.

    Needs columns service, event_time (int64 µs or timestamp), level, template_id,
    latency_ms and http_status.
    """
    times = table.column("event_time").cast(pa.int64()).to_numpy()
    level = table.column("level")
    status = table.column("http_status")
    latency = table.column("latency_ms")
    work = pa.table(
        {
            "service": table.column("service"),
            "window": pa.array(window_start(times, window_us)),
            "err": pc.cast(pc.is_in(level, pa.array(ERROR_LEVELS)), pa.int64()),
            "warn": pc.cast(pc.is_in(level, pa.array(WARN_LEVELS)), pa.int64()),
            "template_id": table.column("template_id"),
            "has_status": pc.cast(pc.is_valid(status), pa.int64()),
            "s4xx": pc.cast(pc.fill_null(pc.and_(pc.greater_equal(status, 400), pc.less(status, 500)), False), pa.int64()),
            "s5xx": pc.cast(pc.fill_null(pc.greater_equal(status, 500), False), pa.int64()),
        }
    )
    grouped = work.group_by(["service", "window"]).aggregate(
        [
            ("err", "sum"),
            ("err", "count"),
            ("warn", "sum"),
            ("template_id", "distinct"),
            ("has_status", "sum"),
            ("s4xx", "sum"),
            ("s5xx", "sum"),
        ]
    )
    out: dict[tuple[str, int], KpiAccumulator] = {}
    names = ("service", "window", "err_count", "err_sum", "warn_sum", "template_id_distinct", "has_status_sum",
             "s4xx_sum", "s5xx_sum")
    # column lists, not to_pylist(): one dict per row cost more than the aggregation
    for service, window, events, errors, warnings, templates, n_status, s4xx, s5xx in zip(
            *(grouped.column(n).to_pylist() for n in names), strict=True):
        out[(service, window)] = KpiAccumulator(events=events, errors=errors, warnings=warnings,
                                                templates=set(templates), status_count=n_status,
                                                status_4xx=s4xx, status_5xx=s5xx)
    _add_latency(out, work, latency)
    return out


def _add_latency(out: dict[tuple[str, int], KpiAccumulator], work: pa.Table, latency: pa.ChunkedArray) -> None:
    valid = pc.is_valid(latency)
    if not pc.any(valid).as_py():
        return
    lat = pc.filter(latency, valid).to_numpy()
    keys = work.filter(valid).select(["service", "window"])
    positive = lat > 0
    buckets = np.where(positive, LatencySketch.bucket_of(np.where(positive, lat, 1.0)), np.iinfo(np.int64).min)
    counts = (
        keys.append_column("bucket", pa.array(buckets))
        .group_by(["service", "window", "bucket"])
        .aggregate([("bucket", "count")])
    )
    zero = int(np.iinfo(np.int64).min)
    for service, window, bucket, n in zip(*(counts.column(c).to_pylist() for c in ("service", "window", "bucket",
                                                                                   "bucket_count")), strict=True):
        sketch = out[(service, window)].latency
        if bucket == zero:
            sketch.zeros += n
        else:
            sketch.buckets[bucket] = sketch.buckets.get(bucket, 0) + n


def finalize(
    service: str,
    start_us: int,
    window_us: int,
    acc: KpiAccumulator,
    first_seen: dict[str, int],
    run_id: str,
) -> KpiRow:
    """The KPI row of one window; ``first_seen`` maps template_id to its first time."""
    end_us = start_us + window_us
    new = sum(1 for t in acc.templates if start_us <= first_seen.get(t, -1) < end_us)
    return KpiRow(
        window_start=TimestampUs(start_us),
        window_end=TimestampUs(end_us),
        service=service,
        events=acc.events,
        errors=acc.errors,
        warnings=acc.warnings,
        error_rate=acc.errors / acc.events if acc.events else 0.0,
        distinct_templates=len(acc.templates),
        new_templates=new,
        latency_count=acc.latency.count,
        latency_p50_ms=acc.latency.quantile(0.50),
        latency_p95_ms=acc.latency.quantile(0.95),
        latency_p99_ms=acc.latency.quantile(0.99),
        status_count=acc.status_count,
        status_4xx=acc.status_4xx,
        status_5xx=acc.status_5xx,
        run_id=run_id,
    )
