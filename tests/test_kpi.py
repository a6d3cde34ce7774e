"""KPI maths without a pipeline: sketch quantiles, partials, merge, finalisation."""

import pyarrow as pa
import pytest

from aiops.kpi import KpiAccumulator, LatencySketch, finalize, partial_kpis
from aiops.windowing import DEFAULT_WINDOW_US, parse_duration_us

W = 300_000_000  # 5 minutes in µs


def test_durations():
    assert parse_duration_us("5m") == 300_000_000
    assert parse_duration_us("90s") == 90_000_000
    assert parse_duration_us("250ms") == 250_000
    assert parse_duration_us("1h") == 3_600_000_000
    assert DEFAULT_WINDOW_US == 300_000_000
    with pytest.raises(ValueError):
        parse_duration_us("five minutes")


def test_sketch_quantiles_within_one_percent():
    sketch = LatencySketch.of(list(range(1, 101)))  # 1..100 ms
    assert sketch.count == 100
    assert sketch.quantile(0.50) == pytest.approx(50, rel=0.01)
    assert sketch.quantile(0.95) == pytest.approx(95, rel=0.01)
    assert sketch.quantile(0.99) == pytest.approx(99, rel=0.01)
    assert LatencySketch().quantile(0.5) is None


def test_sketch_zeros_and_merge():
    a = LatencySketch.of([0.0, 0.0, 10.0])
    b = LatencySketch.of([1000.0])
    a.merge(b)
    assert a.count == 4
    assert a.quantile(0.5) == 0.0
    assert a.quantile(0.99) == pytest.approx(1000, rel=0.01)


def _events():
    return pa.table(
        {
            "service": ["web", "web", "web", "api", "web"],
            "event_time": pa.array([0, 1_000_000, 299_999_999, 5, 300_000_000], pa.int64()),
            "level": ["INFO", "ERROR", "WARN", "FATAL", "INFO"],
            "template_id": ["t1", "t2", "t1", "t9", "t1"],
            "latency_ms": pa.array([10.0, 20.0, None, None, 5.0]),
            "http_status": pa.array([200, 503, 404, None, 200], pa.int64()),
        }
    )


def test_partials_by_service_and_window():
    parts = partial_kpis(_events(), W)
    assert sorted(parts) == [("api", 0), ("web", 0), ("web", 300_000_000)]
    web0 = parts[("web", 0)]
    assert (web0.events, web0.errors, web0.warnings) == (3, 1, 1)
    assert web0.templates == {"t1", "t2"}
    assert (web0.status_count, web0.status_4xx, web0.status_5xx) == (3, 1, 1)
    assert web0.latency.count == 2
    assert parts[("api", 0)].errors == 1  # FATAL counts as an error


def test_finalize_row_and_new_templates():
    acc = partial_kpis(_events(), W)[("web", 0)]
    acc.merge(KpiAccumulator(events=1, templates={"t3"}))
    row = finalize("web", 0, W, acc, {"t1": -10, "t2": 1_000_000, "t3": 300_000_000}, "run1")
    assert row.window_start == 0 and row.window_end == W
    assert row.events == 4 and row.errors == 1 and row.error_rate == 0.25
    assert row.distinct_templates == 3
    assert row.new_templates == 1  # only t2 was first seen inside [0, 5m)
    assert row.latency_count == 2
    assert row.latency_p50_ms == pytest.approx(10, rel=0.01)
    assert row.latency_p99_ms == pytest.approx(20, rel=0.01)
    assert row.run_id == "run1"
