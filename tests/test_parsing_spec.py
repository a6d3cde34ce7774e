"""Declared header SPECs (aiops.parsing.spec), including agreement with logparser's Loghub-2k
ground truth (skipped when /work/shared/data/loghub-2k is absent).

Run: .venv/bin/python -m pytest tests/test_parsing_spec.py -q
"""

import csv
import re
from pathlib import Path

import pytest

from aiops.parsing import LogParser, ParseConfig
from aiops.parsing.spec import compile_spec
from aiops.schema import DeadLetter, ParsedEvent

REF = 1700000000000000
DATA = Path("/work/shared/data")


def test_compile_spec_like_logparser():
    fields, regex = compile_spec(r"<Month>  <Date> <Time> <User> <Component>\[<PID>\]( \(<Address>\))?: <Content>")
    assert fields == ["Month", "Date", "Time", "User", "Component", "PID", "Address", "Content"]
    assert regex.pattern == (
        r"^(?P<Month>.*?)\s+(?P<Date>.*?)\s+(?P<Time>.*?)\s+(?P<User>.*?)\s+(?P<Component>.*?)"
        r"\[(?P<PID>.*?)\](\s+\((?P<Address>.*?)\))?:\s+(?P<Content>.*)$"
    )


def run(spec: str, lines: list[bytes]):
    p = LogParser("hdfs/x.log", ParseConfig(format=spec, default_service="hdfs", reference_time_us=REF))
    out = [item for n, raw in enumerate(lines, 1) for item in p.feed(raw, n)] + p.finish()
    return p, out


HDFS = "<Date> <Time> <Pid> <Level> <Component>: <Content>"


def test_spec_maps_fields_to_columns():
    _, [ev] = run(HDFS, [b"081109 203615 148 INFO dfs.DataNode$PacketResponder: PacketResponder 1 terminating"])
    assert ev.event_time == 1226262975000000
    assert ev.time_source == "record"
    assert ev.level == "INFO"
    assert ev.component == "dfs.DataNode$PacketResponder"
    assert ev.service == "hdfs"
    assert ev.host is None
    assert ev.message == "PacketResponder 1 terminating"


def test_spec_host_and_yearless_date():
    spec = "<Date> <Day> <Time> <Host> sshd\\[<Pid>\\]: <Content>"
    _, [ev] = run(spec, [b"Oct 11 22:14:15 LabSZ sshd[24200]: Invalid user webmaster"])
    assert ev.event_time == 1697062455000000
    assert ev.host == "LabSZ"
    assert ev.message == "Invalid user webmaster"


def test_unparseable_time_is_inherited_not_dead():
    _, out = run(HDFS, [b"081109 203615 1 INFO a: first", b"xx yy 2 WARN b: second"])
    assert [e.time_source for e in out] == ["record", "inherited"]
    assert out[1].event_time == 1226262975000000


def test_mismatch_is_dead_letter_unless_continuation():
    p, out = run(HDFS, [
        b"081109 203615 1 ERROR a: failed",
        b"java.io.IOException: boom",
        b"\tat a.B.c(B.java:1)",
        b"garbage",
    ])
    assert isinstance(out[0], ParsedEvent)
    assert out[0].line_count == 3
    assert out[0].message == "failed\njava.io.IOException: boom\n\tat a.B.c(B.java:1)"
    assert isinstance(out[1], DeadLetter)
    assert (out[1].reason, out[1].line_no, out[1].raw, out[1].event_time) == (
        "format_mismatch", 4, b"garbage", 1226262975000000)


def _specs():
    readme = DATA / "README.md"
    if not readme.exists():
        return {}
    return dict(re.findall(r"^\| (\w+) \| `(.+)` \|$", readme.read_text(), re.M))


# Share of lines whose message equals logparser's Content column, as measured (all 100%).
LOWER_BOUND = {
    "HDFS": 1.0, "Hadoop": 1.0, "Zookeeper": 1.0, "BGL": 1.0, "HPC": 1.0,
    "Windows": 1.0, "Android": 1.0, "Apache": 1.0, "OpenSSH": 1.0, "Mac": 1.0,
}


@pytest.mark.parametrize("system", sorted(LOWER_BOUND))
def test_loghub_content_matches_logparser(system):
    base = DATA / "loghub-2k" / system
    if not base.exists():
        pytest.skip("loghub-2k data not available")
    spec = _specs()[system]
    with open(base / f"{system}_2k.log_structured_corrected.csv", encoding="utf-8", newline="") as fh:
        truth = {int(r["LineId"]): r["Content"] for r in csv.DictReader(fh)}
    raw_lines = (base / f"{system}_2k.log").read_bytes().split(b"\n")
    lines = [line.removesuffix(b"\r") for line in raw_lines[: len(truth)]]
    p, out = run(spec, lines)
    messages = {e.line_no: e.message for e in out if isinstance(e, ParsedEvent)}
    share = sum(messages.get(n) == content for n, content in truth.items()) / len(truth)
    assert share >= LOWER_BOUND[system]
    assert all(e.time_source == "record" for e in out if isinstance(e, ParsedEvent))
