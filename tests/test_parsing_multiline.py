"""Multi-line joins (aiops.parsing.multiline): Java traces with Caused by, Python tracebacks.

Run: .venv/bin/python -m pytest tests/test_parsing_multiline.py -q
"""

from aiops.parsing import LogParser, ParseConfig
from aiops.parsing.multiline import is_continuation

JAVA = [
    b"2023-11-14 22:13:20,123 ERROR [main] com.acme.Db: query failed",
    b"java.lang.IllegalStateException: pool closed",
    b"\tat com.acme.Db.query(Db.java:42)",
    b"\tat com.acme.Main.main(Main.java:7)",
    b"Caused by: java.net.SocketException: reset",
    b"\tat java.net.Socket.read(Socket.java:1)",
    b"\t... 2 more",
    b"2023-11-14 22:13:21,000 INFO [main] com.acme.Db: recovered",
]

PYTHON = [
    b"2023-11-14 22:13:20,123 - app - ERROR - handler crashed",
    b"Traceback (most recent call last):",
    b'  File "app.py", line 3, in <module>',
    b"    main()",
    b"KeyError: 'user'",
    b"2023-11-14 22:13:22,000 - app - INFO - next",
]


def parse(lines):
    p = LogParser("svc/app.log", ParseConfig(reference_time_us=7))
    return p, [item for n, raw in enumerate(lines, 1) for item in p.feed(raw, n)] + p.finish()


def test_java_trace_with_caused_by_is_one_event():
    _, out = parse(JAVA)
    assert [(e.line_no, e.line_count) for e in out] == [(1, 7), (8, 1)]
    assert out[0].level == "ERROR"
    assert out[0].component == "com.acme.Db"
    assert out[0].message == "query failed\n" + "\n".join(raw.decode() for raw in JAVA[1:7])
    assert out[1].message == "recovered"


def test_python_traceback_is_one_event():
    _, out = parse(PYTHON)
    assert [(e.line_no, e.line_count) for e in out] == [(1, 5), (6, 1)]
    assert out[0].message.splitlines()[-1] == "KeyError: 'user'"
    assert out[0].event_time == 1700000000123000


def test_blank_line_inside_trace_counts_as_blank_and_keeps_joining():
    p, out = parse([JAVA[0], JAVA[1], b"", JAVA[2]])
    assert [e.line_count for e in out] == [3]
    assert p.blank_lines == 1


def test_continuation_without_event_is_its_own_event():
    _, out = parse([b"\tat com.acme.Db.query(Db.java:42)", b"Caused by: x.Y: z"])
    assert [(e.line_no, e.line_count) for e in out] == [(1, 2)]
    assert out[0].time_source == "file"


def test_undotted_error_line_joins_only_inside_a_trace():
    assert is_continuation("KeyError: 'x'", 3)
    assert not is_continuation("KeyError: 'x'", 1)
    assert is_continuation("java.lang.RuntimeException", 1)
    assert is_continuation("    at foo", 1)
    assert is_continuation("at com.acme.Foo.bar(Foo.java:1)", 1)
    assert not is_continuation("Starting server", 5)
    assert not is_continuation("ErrorHandler registered", 5)


def test_unrecognised_plain_lines_are_not_joined():
    _, out = parse([b"2023-11-14 22:13:20 INFO started", b"plain text line"])
    assert [(e.line_no, e.line_count) for e in out] == [(1, 1), (2, 1)]
    assert out[1].time_source == "inherited"
    assert out[1].event_time == 1700000000000000
