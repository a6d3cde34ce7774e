"""The window scorers as pure functions: baselines, grid assembly, each kind, config overrides."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from aiops.anomaly.baseline import count_z, least_surprising, recent_baseline, seasonal_baseline
from aiops.anomaly.config import AnomalyConfig
from aiops.anomaly.grid import assemble
from aiops.anomaly.partial_tables import merge_partial_tables, rows_table, run_range, split_services
from aiops.anomaly.partials import (
    PARTIALS_SCHEMA,
    TemplateWindowAcc,
    accs_by_window,
    measure_positions,
    merge_partials,
    partials_table,
    to_rows,
    window_partials,
)
from aiops.anomaly.windows import missing_mass, score_service
from aiops.schema import TemplateWindowRow

W = 300_000_000  # 5 minutes in µs
DAY = 86_400_000_000


def test_recent_baseline_is_median_and_scaled_mad_of_previous_windows() -> None:
    b = recent_baseline(np.array([10.0, 12, 8, 10, 30]), recent=4, min_values=3)
    assert np.isnan(b.expected[:3]).all()  # warm-up
    assert b.expected[3] == 10.0 and b.expected[4] == 10.0
    assert b.spread[4] == pytest.approx(1.4826)
    assert b.values.tolist() == [0, 1, 2, 3, 4]


def test_seasonal_baseline_reads_same_window_on_earlier_days() -> None:
    series = np.arange(12, dtype=float)  # a "day" of 4 windows
    b = seasonal_baseline(series, period=4, days=2, min_values=3)
    # window 9: windows 4,5,6 one day earlier and 0,1,2 two days earlier -> median of 0,1,2,4,5,6
    assert b.expected[9] == 3.0
    assert np.isnan(b.expected[4]) and b.values[4] == 2  # only windows 0 and 1 exist a day earlier


def test_count_z_and_least_surprising() -> None:
    base = recent_baseline(np.array([100.0] * 6 + [200.0]), recent=6, min_values=3)
    assert count_z(np.array([200.0]), base._replace(expected=base.expected[-1:], spread=base.spread[-1:]))[0] == pytest.approx(100 / np.sqrt(101))
    assert least_surprising(np.array([8.0, 8.0, np.nan, 8.0]), np.array([3.0, -3.0, 5.0, np.nan])).tolist() == [3.0, 0.0, 5.0, 8.0]


def test_measure_positions_use_units_and_measure_words() -> None:
    assert measure_positions("Request done in <*> ms status=<*>") == [0]
    assert measure_positions("latency=<*> user=<*> size: <*>") == [0, 2]
    assert measure_positions("Order <*> placed by <*> (<*>%)") == [2]
    assert measure_positions("User <*> logged in from <*>") == []


def test_window_partials_group_by_window_and_template() -> None:
    times = pa.array([0, 10, 20, W + 5], pa.int64()).cast(pa.timestamp("us", tz="UTC"))
    events = pa.table({
        "service": ["a"] * 4, "event_time": times, "level": ["INFO", "ERROR", "INFO", "INFO"],
        "template_id": ["t1", "t1", "t2", "t1"],
        "params": [["9", "ok"], ["99", "ok"], [], ["9", "bad"]],
        "latency_ms": [1.0, None, None, 3.0], "response_bytes": pa.nulls(4, pa.int64()),
        "http_status": [200, 500, None, 200],
    })
    out = window_partials(events, W, {"t1": "took <*> ms: <*>", "t2": "idle"})
    assert sorted(out) == [("a", 0), ("a", W)]
    t1 = out[("a", 0)]["t1"]
    assert (t1.events, t1.errors) == (2, 1)
    assert t1.numeric["p0"][0] == 2 and t1.numeric["p0"][1] == pytest.approx(np.log(10) + np.log(100))
    assert t1.numeric["latency_ms"][0] == 1
    assert t1.values == {"p1": {"ok": 2}, "http_status": {"200": 1, "500": 1}}
    assert out[("a", 0)]["t2"].events == 1
    row = to_rows("a", 0, W, out[("a", 0)], "r1")[0]
    assert row.value_fields == ["latency_ms", "p0"]
    assert row.value_geomeans == pytest.approx([1.0, np.sqrt(10 * 100) - 1], rel=1e-9)
    assert row.top_keys == ["http_status=200", "http_status=500", "p1=ok"] and row.top_counts == [1, 1, 2]


def _events(times: list[int], templates: list[str], params: list[list[str]], latency: list) -> pa.Table:
    n = len(times)
    return pa.table({
        "service": ["a"] * n, "event_time": pa.array(times, pa.int64()).cast(pa.timestamp("us", tz="UTC")),
        "level": ["INFO"] * n, "template_id": templates, "params": params, "latency_ms": latency,
        "response_bytes": pa.nulls(n, pa.int64()), "http_status": pa.nulls(n, pa.int64()),
    })


def test_partial_tables_merge_to_the_rows_of_merged_accumulators() -> None:
    texts = {"t1": "took <*> ms: <*>", "t2": "idle"}
    unit1 = partials_table(_events([0, 10, W + 1], ["t1", "t1", "t1"], [["9", "ok"], ["99", "ok"], ["9", "bad"]],
                                   [1.0, None, 3.0]), W, texts)
    unit2 = partials_table(_events([20, 30], ["t1", "t2"], [["999", "late"], []], [7.0, None]), W, texts)
    merged = merge_partial_tables([unit1, PARTIALS_SCHEMA.empty_table(), unit2]).sort_by(
        [(c, "ascending") for c in ("service", "win", "template_id", "kind", "field", "value")])
    assert merged.filter(pc.equal(merged.column("kind"), "n")).select(["win", "template_id", "a"]).to_pylist() == [
        {"win": 0, "template_id": "t1", "a": 3.0}, {"win": 0, "template_id": "t2", "a": 1.0},
        {"win": W, "template_id": "t1", "a": 1.0}]
    rows = rows_table(merged, W, "r1").to_pylist()
    assert [(r["service"], r["template_id"], r["events"], r["value_fields"], r["value_counts"], r["top_keys"],
             r["top_counts"]) for r in rows] == [
        ("a", "t1", 3, ["latency_ms", "p0"], [2, 3], ["p1=ok", "p1=late"], [2, 1]),
        ("a", "t2", 1, [], [], [], []),
        ("a", "t1", 1, ["latency_ms", "p0"], [1, 1], ["p1=bad"], [1])]
    assert rows[0]["value_geomeans"] == pytest.approx([np.sqrt(2 * 8) - 1, np.cbrt(10 * 100 * 1000) - 1], rel=1e-9)
    assert rows[2]["window_end"] == dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(microseconds=2 * W)
    # the same rows as merging TemplateWindowAcc objects and to_rows
    accs = merge_partials(accs_by_window(unit1), accs_by_window(unit2))
    old = [r._asdict() for (svc, start), per in sorted(accs.items()) for r in to_rows(svc, start, W, per, "r1")]
    assert [{k: v for k, v in r.items() if k not in ("window_start", "window_end")} for r in rows] == [
        {k: v for k, v in r.items() if k not in ("window_start", "window_end")} for r in old]
    assert run_range(merged) == (0, W) and run_range(PARTIALS_SCHEMA.empty_table()) is None
    assert sorted(split_services(merged)) == ["a"]


def test_partial_tables_keep_the_most_common_values() -> None:
    n = 40
    many = pa.table({"service": ["a"] * n, "win": [0] * n, "template_id": ["t"] * n, "kind": ["c"] * n,
                     "field": ["p0"] * n, "value": [f"v{i:02d}" for i in range(n)], "a": [1.0] * n,
                     "b": [0.0] * n, "c": [0.0] * n}, schema=PARTIALS_SCHEMA)
    more = pa.table({"service": ["a"], "win": [0], "template_id": ["t"], "kind": ["c"], "field": ["p0"],
                     "value": ["v07"], "a": [5.0], "b": [0.0], "c": [0.0]}, schema=PARTIALS_SCHEMA)
    merged = merge_partial_tables([many, more], keep=4).sort_by("value")
    assert merged.column("value").to_pylist() == ["v00", "v01", "v02", "v07"]
    assert merged.column("a").to_pylist() == [1.0, 1.0, 1.0, 6.0]


def test_accumulator_merge_keeps_top_values_bounded() -> None:
    a = TemplateWindowAcc(events=3, values={"p0": {str(i): 1 for i in range(40)}})
    a.merge(TemplateWindowAcc(events=2, values={"p0": {"7": 5}}), keep=4)
    assert a.events == 5 and len(a.values["p0"]) == 4 and a.values["p0"]["7"] == 6


def _grid(counts: dict[int, dict[str, TemplateWindowAcc]], n: int, history=(), first_seen=None):
    templates = {t: f"template {t} <*>" for per in counts.values() for t in per}
    return assemble("svc", counts, list(history), first_seen or {t: 0 for t in templates}, templates,
                    (0, (n - 1) * W), W)


def test_spike_drop_and_silence_of_a_service() -> None:
    base = [100] * 40
    base[20], base[25], base[30] = 400, 20, 0
    g = _grid({i * W: {"t": TemplateWindowAcc(events=c)} for i, c in enumerate(base) if c}, 40)
    found = [(r.window_start // W, r.kind, r.template_id, r.observed) for r in score_service(g, AnomalyConfig(), "r")]
    assert found == [
        (20, "frequency", None, 400.0), (20, "frequency", "t", 400.0),
        (25, "frequency", None, 20.0), (25, "frequency", "t", 20.0),
        (30, "silence", None, 0.0),  # the template's silence is the service's: not repeated
    ]


def test_warm_up_and_irregular_templates_are_quiet() -> None:
    counts = {i * W: {"t": TemplateWindowAcc(events=100)} for i in range(10)}
    counts[3 * W] = {"t": TemplateWindowAcc(events=900)}  # before min_baseline_windows: warm-up
    for i in range(10):
        if i % 3 == 0:  # irregular: present in a third of the windows
            counts[i * W]["r"] = TemplateWindowAcc(events=5)
    g = _grid(counts, 10)
    assert [(r.window_start // W, r.template_id) for r in score_service(g, AnomalyConfig(), "r")] == []


def test_new_template_after_warm_up_only_and_not_when_seen_in_history() -> None:
    counts = {i * W: {"t": TemplateWindowAcc(events=50)} for i in range(80)}
    counts[0]["old"] = TemplateWindowAcc(events=1)
    counts[15 * W]["early"] = TemplateWindowAcc(events=2)
    counts[70 * W]["late"] = TemplateWindowAcc(events=7)
    counts[71 * W]["old"] = TemplateWindowAcc(events=3)
    first = {"t": 0, "early": 15 * W, "late": 70 * W, "old": 0}  # the service starts logging at window 0
    g = _grid(counts, 80, first_seen=first)
    rows = [r for r in score_service(g, AnomalyConfig(), "r") if r.kind == "new_template"]
    # "early": the vocabulary was still growing (a 13% chance of some new template in that window);
    # "late": after 70 windows with one singleton, 2/3503 per event, 57 events -> a 3.2% chance.
    assert [(r.window_start // W, r.template_id, r.observed, round(r.expected, 4)) for r in rows] == [
        (70, "late", 7.0, 0.032)]
    assert rows[0].detail == "new template 'template late <*>' (7 events; chance of any new template in this window 3.20%)"
    assert round(missing_mass(g)[1][15], 2) == 0.13


def test_numeric_content_shift_is_found_and_noise_is_not() -> None:
    rng = np.random.default_rng(1)
    counts = {}
    for i in range(40):
        lat = rng.lognormal(np.log(50), 0.3, 30) * (100 if i == 35 else 1)
        logs = np.log1p(lat)
        counts[i * W] = {"t": TemplateWindowAcc(events=30, numeric={"latency_ms": [30.0, logs.sum(), (logs**2).sum()]})}
    rows = score_service(_grid(counts, 40), AnomalyConfig(), "r")
    assert [(r.window_start // W, r.kind) for r in rows] == [(35, "content")]
    assert rows[0].observed == pytest.approx(5000, rel=0.15) and rows[0].expected == pytest.approx(50, rel=0.15)


def test_categorical_value_never_seen_before_that_dominates() -> None:
    counts = {}
    for i in range(40):
        values = {"p1": {"ok": 40, "declined": 2}} if i != 33 else {"p1": {"rate_limited": 30, "ok": 12}}
        counts[i * W] = {"t": TemplateWindowAcc(events=42, values=values)}
    rows = score_service(_grid(counts, 40), AnomalyConfig(), "r")
    assert [(r.window_start // W, r.kind, round(r.observed, 3), r.expected) for r in rows] == [(33, "content", 0.714, 0.0)]
    assert rows[0].detail.startswith("p1='rate_limited' in 71% of 42 events")


def test_history_from_earlier_runs_is_the_baseline_of_the_first_windows() -> None:
    history = [TemplateWindowRow(-(i + 1) * W, -i * W, "svc", "t", 100, 0, [], [], [], [], [], "old") for i in range(12)]
    g = assemble("svc", {0: {"t": TemplateWindowAcc(events=500)}, W: {"t": TemplateWindowAcc(events=100)}},
                 history, {"t": -DAY}, {"t": "x"}, (0, W), W)
    assert (g.scored_from, g.n) == (12, 14)
    rows = score_service(g, AnomalyConfig(), "r")
    assert [(r.window_start, r.template_id, r.expected) for r in rows] == [(0, None, 100.0), (0, "t", 100.0)]


def test_config_overrides_are_typed_and_checked() -> None:
    cfg = AnomalyConfig().with_overrides(["frequency_z=8", "recent-windows=24"])
    assert (cfg.frequency_z, cfg.recent_windows) == (8.0, 24)
    with pytest.raises(ValueError, match="unknown anomaly setting"):
        AnomalyConfig().with_overrides(["nope=1"])
    with pytest.raises(ValueError, match="bad value for recent_windows"):
        AnomalyConfig().with_overrides(["recent_windows=x"])


def test_a_periodic_line_that_stops_is_silent_after_two_windows_and_poisson_noise_is_not() -> None:
    periodic = [2 + (i % 2) for i in range(60)]  # a job every 2 minutes: 2 or 3 lines a window
    periodic[50] = periodic[51] = periodic[52] = 0
    counts = {i * W: {"job": TemplateWindowAcc(events=c), "busy": TemplateWindowAcc(events=100)}
              for i, c in enumerate(periodic)}
    rows = [r for r in score_service(_grid(counts, 60), AnomalyConfig(), "r") if r.kind == "silence"]
    # one quiet window is not enough evidence at 2.5 a window; the second and third are
    assert [(r.window_start // W, r.template_id, r.expected) for r in rows] == [(51, "job", 2.5), (52, "job", 2.5)]
    rng = np.random.default_rng(4)
    noisy = {i * W: {"p": TemplateWindowAcc(events=int(c))} for i, c in enumerate(rng.poisson(4, 200)) if c}
    assert [r for r in score_service(_grid(noisy, 200), AnomalyConfig(), "r") if r.kind == "silence"] == []


def test_assemble_from_a_partials_table_equals_assemble_from_accumulators() -> None:
    texts = {"t1": "took <*> ms: <*>", "t2": "idle"}
    events = _events([0, 10, 20, W + 1, 2 * W + 3, 2 * W + 4], ["t1", "t1", "t2", "t1", "t2", "t1"],
                     [["9", "ok"], ["99", "ok"], [], ["9", "bad"], [], ["5", "ok"]], [1.0, None, None, 3.0, None, 0.0])
    table = merge_partial_tables([partials_table(events, W, texts)])
    history = [TemplateWindowRow(-W, 0, "a", "t1", 4, 1, ["p0"], [9.0], [4], ["p1=ok"], [4], "r0")]
    by_acc = {start: per for (_, start), per in accs_by_window(table).items()}
    a = assemble("a", table, history, {"t1": -W}, texts, (0, 2 * W), W)
    b = assemble("a", by_acc, history, {"t1": -W}, texts, (0, 2 * W), W)
    np.testing.assert_array_equal(a.total, b.total)
    np.testing.assert_array_equal(a.errors, b.errors)
    assert list(a.counts) == list(b.counts) and sorted(a.counts) == ["t1", "t2"]
    for tid in a.counts:
        np.testing.assert_array_equal(a.counts[tid], b.counts[tid])
    assert sorted(a.numeric) == sorted(b.numeric) == [("t1", "latency_ms"), ("t1", "p0")]
    for key in a.numeric:
        np.testing.assert_array_equal(a.numeric[key][0], b.numeric[key][0])
        np.testing.assert_allclose(a.numeric[key][1], b.numeric[key][1], rtol=1e-12)
    assert a.values == b.values == {("t1", "p1"): {0: {"ok": 4}, 1: {"ok": 2}, 2: {"bad": 1}, 3: {"ok": 1}}}
    assert a.counts["t1"].tolist() == [4.0, 2.0, 1.0, 1.0]
    assert (a.first_seen, a.scored_from) == (b.first_seen, b.scored_from) == ({"t1": -W, "t2": 0}, 1)
