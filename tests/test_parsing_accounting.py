"""The accounting invariant (event lines + dead letter lines + blanks == lines fed), time
inheritance and is_event_start over a mixed sample.

Run: .venv/bin/python -m pytest tests/test_parsing_accounting.py -q
"""

import pytest

from aiops.parsing import LogParser, ParseConfig, is_event_start
from aiops.schema import LEVELS, DeadLetter, ParsedEvent

MIXED = [
    b"",
    b"continuation before anything \xe2\x9c\x93",
    b"   ",
    b'{"ts": 1700000000, "level": "info", "msg": "json"}',
    b"ts=2023-11-14T22:13:21Z level=error msg=logfmt",
    b'10.0.0.1 - - [14/Nov/2023:22:13:22 +0000] "GET / HTTP/1.1" 200 5',
    b"<13>Nov 14 22:13:23 h app: syslog",
    b"[2023-11-14 22:13:24] [warn] bracketed",
    b"2023-11-14 22:13:25,000 ERROR [t] a.B: generic",
    b"java.lang.RuntimeException: x",
    b"\tat a.B.c(B.java:1)",
    b"",
    b"\t... 3 more",
    b"\xff\xfe",
    b"nul\x00",
    b"{broken",
    b"x" * 300,
    b"plain line",
    b"\t",
    b"  indented after plain",
    b"{}",
]


@pytest.mark.parametrize("fmt", ["auto", "raw", "<Date> <Time> <Level> <Content>"])
def test_every_line_is_accounted_for(fmt):
    p = LogParser("svc/app.log", ParseConfig(format=fmt, reference_time_us=1, max_line_bytes=200))
    out = [item for n, raw in enumerate(MIXED, 1) for item in p.feed(raw, n)] + p.finish()
    events = [e for e in out if isinstance(e, ParsedEvent)]
    dead = [d for d in out if isinstance(d, DeadLetter)]
    assert len(events) + len(dead) == len(out)
    assert sum(e.line_count for e in events) + sum(d.line_count for d in dead) + p.blank_lines == len(MIXED)
    assert p.blank_lines == 4
    assert all(e.level in LEVELS for e in events)
    assert sorted(e.line_no for e in out) == sorted(set(e.line_no for e in out))


def test_auto_mode_sample_in_detail():
    p = LogParser("svc/app.log", ParseConfig(reference_time_us=1, max_line_bytes=200))
    out = [item for n, raw in enumerate(MIXED, 1) for item in p.feed(raw, n)] + p.finish()
    summary = [(e.line_no, e.line_count, getattr(e, "reason", e.time_source if hasattr(e, "time_source") else ""))
               for e in out]
    assert summary == [
        (2, 1, "file"), (4, 1, "record"), (5, 1, "record"), (6, 1, "record"), (7, 1, "record"),
        (8, 1, "record"), (9, 4, "record"), (14, 1, "invalid_utf8"), (15, 1, "nul_bytes"),
        (16, 1, "invalid_json"), (17, 1, "line_too_long"), (18, 2, "inherited"), (21, 1, "inherited"),
    ]
    assert out[0].event_time == 1  # nothing timestamped before it: the file's time
    assert out[-1].event_time == 1700000005000000  # "{}" inherits line 9's time
    assert out[-1].message == ""
    assert out[6].message == "generic\njava.lang.RuntimeException: x\n\tat a.B.c(B.java:1)\n\t... 3 more"


def test_is_event_start():
    assert is_event_start(b"2023-11-14 22:13:25,000 ERROR [t] a.B: generic")
    assert is_event_start(b'{"ts": 1700000000, "msg": "x"}')
    assert is_event_start(b"<13>Nov 14 22:13:23 h app: syslog")
    assert is_event_start(b'10.0.0.1 - - [14/Nov/2023:22:13:22 +0000] "GET / HTTP/1.1" 200 5')
    assert not is_event_start(b'{"msg": "no time"}')
    assert not is_event_start(b"	at a.B.c(B.java:1)")
    assert not is_event_start(b"  2023-11-14 22:13:25 indented")
    assert not is_event_start(b"plain line")
    assert not is_event_start(b"{broken")
    assert not is_event_start(b"\xff2023")
    assert not is_event_start(b"")
