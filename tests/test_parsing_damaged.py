"""Damaged input becomes DeadLetters (invalid UTF-8, NUL bytes, too long, invalid JSON) and is
never joined into other events.

Run: .venv/bin/python -m pytest tests/test_parsing_damaged.py -q
"""

from aiops.parsing import LogParser, ParseConfig
from aiops.schema import MAX_DEAD_LETTER_BYTES, DeadLetter, ParsedEvent


def parse(lines, **config):
    p = LogParser("svc/app.log", ParseConfig(reference_time_us=9, **config))
    return [item for n, raw in enumerate(lines, 1) for item in p.feed(raw, n)] + p.finish()


def test_reasons():
    out = parse([b"bad \xff\xfe bytes", b"nul\x00byte", b'{"msg": "unterminated', b"x" * 101], max_line_bytes=100)
    assert all(isinstance(d, DeadLetter) for d in out)
    assert [(d.line_no, d.reason) for d in out] == [
        (1, "invalid_utf8"), (2, "nul_bytes"), (3, "invalid_json"), (4, "line_too_long")]
    assert out[0].raw == b"bad \xff\xfe bytes"
    assert out[0].raw_size == 12
    assert {d.run_id for d in out} == {""}
    assert {d.event_time for d in out} == {9}
    assert {d.line_count for d in out} == {1}


def test_raw_is_capped_but_size_is_full():
    big = b"\xff" * (MAX_DEAD_LETTER_BYTES + 10)
    [dead] = parse([big])
    assert dead.raw_size == MAX_DEAD_LETTER_BYTES + 10
    assert len(dead.raw) == MAX_DEAD_LETTER_BYTES


def test_damaged_indented_line_is_not_joined_and_ends_the_event():
    out = parse([
        b"2023-11-14 22:13:20 ERROR boom",
        b"\tat a.B.c(B.java:1)",
        b"\tat \xff broken",
        b"\tat a.B.d(B.java:2)",
    ])
    assert [type(e).__name__ for e in out] == ["ParsedEvent", "DeadLetter", "ParsedEvent"]
    assert out[0].line_count == 2
    assert out[1].event_time == 1700000000000000  # inherited like an event without a time
    assert out[2].time_source == "inherited"


def test_json_array_or_brace_text_is_not_invalid_json_unless_it_starts_with_brace():
    out = parse([b"[1, 2, 3]", b"{not json}"])
    assert isinstance(out[0], ParsedEvent) and out[0].message == "[1, 2, 3]"
    assert isinstance(out[1], DeadLetter) and out[1].reason == "invalid_json"
