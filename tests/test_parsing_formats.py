"""Text formats of auto mode (aiops.parsing.formats): access logs, syslog, bracketed, generic.

Run: .venv/bin/python -m pytest tests/test_parsing_formats.py -q
"""

from aiops.parsing import LogParser, ParseConfig

REF = 1700000000000000  # 2023-11-14T22:13:20Z


def parse_one(line: bytes):
    p = LogParser("web/access.log", ParseConfig(default_service="web", reference_time_us=REF))
    out = p.feed(line, 1) + p.finish()
    assert len(out) == 1
    return out[0]


def test_access_combined_with_request_time():
    ev = parse_one(
        b'10.0.0.1 - bob [14/Nov/2023:23:13:20 +0100] "GET /api/orders/123?x=1 HTTP/1.1" 503 2326 '
        b'"http://ref/" "Mozilla/5.0 (X11)" 0.123'
    )
    assert ev.event_time == 1700000000000000
    assert ev.http_method == "GET"
    assert ev.http_path == "/api/orders/123"
    assert ev.http_status == 503
    assert ev.response_bytes == 2326
    assert ev.latency_ms == 123.0
    assert ev.level == "ERROR"
    assert ev.host is None
    assert ev.service == "web"
    assert ev.message == "GET /api/orders/123?x=1 HTTP/1.1 503 client=10.0.0.1 user=bob"


def test_access_common_dash_bytes_and_4xx():
    ev = parse_one(b'::1 - - [14/Nov/2023:22:13:20 +0000] "POST /login HTTP/1.0" 404 -')
    assert ev.response_bytes is None
    assert ev.level == "WARN"
    assert ev.latency_ms is None
    assert ev.message == "POST /login HTTP/1.0 404 client=::1"


def test_syslog_3164_with_pri_and_inferred_year():
    ev = parse_one(b"<34>Oct 11 22:14:15 mymachine su[123]: 'su root' failed for lonvick")
    assert ev.event_time == 1697062455000000
    assert ev.level == "FATAL"  # severity 2 (crit)
    assert ev.host == "mymachine"
    assert ev.service == "su"
    assert ev.component == "su"
    assert ev.message == "'su root' failed for lonvick"


def test_syslog_3164_without_pri():
    ev = parse_one(b"Dec 10 06:55:46 LabSZ sshd[24200]: error: Received disconnect")
    assert ev.event_time == 1670655346000000  # Dec 10 2023 is after REF: 2022
    assert ev.level == "INFO"  # lowercase "error" is not trusted
    assert ev.service == "sshd"
    assert ev.message == "error: Received disconnect"


def test_syslog_5424():
    ev = parse_one(
        b'<165>1 2003-10-11T22:14:15.003Z host.example.com evntslog - ID47 '
        b'[exampleSDID@32473 iut="3"] An application event'
    )
    assert ev.event_time == 1065910455003000
    assert ev.level == "INFO"  # severity 5 (notice)
    assert ev.host == "host.example.com"
    assert ev.service == "evntslog"
    assert ev.message == 'An application event [exampleSDID@32473 iut="3"]'


def test_bracketed_apache_error():
    ev = parse_one(b"[Sun Dec 04 04:47:44 2005] [error] mod_jk child workerEnv in error state 6")
    assert ev.event_time == 1133671664000000
    assert ev.level == "ERROR"
    assert ev.message == "mod_jk child workerEnv in error state 6"


def test_bracketed_with_component():
    ev = parse_one(b"[2023-11-14T22:13:20Z] [WARN] [db] pool exhausted")
    assert ev.event_time == 1700000000000000
    assert ev.level == "WARN"
    assert ev.component == "db"
    assert ev.message == "pool exhausted"


def test_generic_java_style():
    ev = parse_one(b"2023-11-14 22:13:20,123 WARN [main] com.acme.Db: slow query")
    assert ev.event_time == 1700000000123000
    assert ev.level == "WARN"
    assert ev.component == "com.acme.Db"
    assert ev.message == "slow query"


def test_generic_python_logging_style():
    ev = parse_one(b"2023-11-14 22:13:20,123 - myapp - ERROR - boom")
    assert ev.level == "ERROR"
    assert ev.component == "myapp"
    assert ev.message == "boom"


def test_generic_iso_z_epoch_and_short_date():
    assert parse_one(b"2023-11-14T22:13:20.123Z ERROR failed").event_time == 1700000000123000
    ev = parse_one(b"1700000000123 info started")
    assert (ev.event_time, ev.level, ev.message) == (1700000000123000, "INFO", "started")
    ev = parse_one(b"23/11/14 22:13:20 INFO spark.SparkContext: Running Spark")
    assert (ev.event_time, ev.component, ev.message) == (1700000000000000, "spark.SparkContext", "Running Spark")


def test_generic_without_level_infers_it():
    ev = parse_one(b"2023-11-14 22:13:20 Starting: job FATAL crash")
    assert ev.level == "FATAL"
    assert ev.component is None
    assert ev.message == "Starting: job FATAL crash"


def test_unrecognised_line_is_an_event_not_a_dead_letter():
    ev = parse_one(b"hello world, something happened")
    assert ev.message == "hello world, something happened"
    assert ev.time_source == "file"
    assert ev.event_time == REF
    assert ev.service == "web"
    assert ev.level == "INFO"


def test_raw_format():
    p = LogParser("a/b.log", ParseConfig(format="raw", reference_time_us=REF))
    out = p.feed(b"2023-11-14 22:13:20 ERROR x", 1) + p.feed(b"  indented", 2) + p.finish()
    assert [e.message for e in out] == ["2023-11-14 22:13:20 ERROR x", "  indented"]
    assert [e.level for e in out] == ["ERROR", "INFO"]
    assert {e.time_source for e in out} == {"file"}
