"""JSON-lines and logfmt records (aiops.parsing.structured) through the auto-mode parser.

Run: .venv/bin/python -m pytest tests/test_parsing_structured.py -q
"""

from aiops.parsing import LogParser, ParseConfig
from aiops.schema import TIME_RECORD


def parse_one(line: bytes):
    p = LogParser("svc/app.log", ParseConfig(default_service="svc", reference_time_us=5))
    out = p.feed(line, 1) + p.finish()
    assert len(out) == 1
    return out[0]


def test_json_core_fields_and_extras_in_order():
    ev = parse_one(
        b'{"ts": "2023-11-14T22:13:20.123Z", "level": "warning", "msg": "slow query", '
        b'"service": "orders", "host": "web-1", "logger": "db.pool", "trace_id": "abc", '
        b'"table": "orders", "rows": 3, "cached": false, "tags": ["a", "b"], "note": "two words"}'
    )
    assert ev.event_time == 1700000000123000
    assert ev.time_source == TIME_RECORD
    assert ev.level == "WARN"
    assert ev.service == "orders"
    assert ev.host == "web-1"
    assert ev.component == "db.pool"
    assert ev.trace_id == "abc"
    assert ev.message == 'slow query table=orders rows=3 cached=false tags=["a","b"] note="two words"'


def test_json_nested_service_and_http_fields():
    ev = parse_one(
        b'{"@timestamp": 1700000000123, "severity": "ERROR", "message": "done", "service": {"name": "api"}, '
        b'"status": 503, "method": "get", "url": "https://x.io/api/v1/items?id=3", "bytes": 120, '
        b'"duration_s": 0.25, "session_id": "s1", "span_id": "sp"}'
    )
    assert ev.event_time == 1700000000123000
    assert ev.service == "api"
    assert ev.level == "ERROR"
    assert ev.http_status == 503
    assert ev.http_method == "GET"
    assert ev.http_path == "/api/v1/items"
    assert ev.response_bytes == 120
    assert ev.latency_ms == 250.0
    assert ev.session_id == "s1"
    assert ev.message == "done span_id=sp"


def test_json_latency_units():
    assert parse_one(b'{"msg": "a", "latency_ms": 12.5}').latency_ms == 12.5
    assert parse_one(b'{"msg": "a", "duration": 40}').latency_ms == 40.0
    assert parse_one(b'{"msg": "a", "elapsed_seconds": 2}').latency_ms == 2000.0
    assert parse_one(b'{"msg": "a", "response_time_us": 1500}').latency_ms == 1.5


def test_json_without_time_or_level():
    ev = parse_one(b'{"msg": "FATAL disk gone", "user": "bob"}')
    assert ev.event_time == 5
    assert ev.time_source == "file"
    assert ev.level == "FATAL"
    assert ev.service == "svc"
    assert ev.message == "FATAL disk gone user=bob"


def test_json_unusable_values_stay_in_message():
    ev = parse_one(b'{"time": "yesterday", "status": "ok", "msg": "x"}')
    assert ev.time_source == "file"
    assert ev.http_status is None
    assert ev.message == "x time=yesterday status=ok"


def test_logfmt():
    ev = parse_one(
        b'ts=2023-11-14T22:13:20Z level=warn msg="slow \\"big\\" query" duration_ms=1500 app=billing table=orders'
    )
    assert ev.event_time == 1700000000000000
    assert ev.level == "WARN"
    assert ev.service == "billing"
    assert ev.latency_ms == 1500.0
    assert ev.message == 'slow "big" query table=orders'


def test_logfmt_needs_a_known_key_and_only_pairs():
    assert parse_one(b"a=1 b=2").message == "a=1 b=2"  # unrecognised, still an event
    ev = parse_one(b"level=info the user logged in")
    assert ev.message == "level=info the user logged in"
    assert ev.time_source == "file"
